"""The ``demo`` section of :class:`model.config.carecast.CarecastConfig`: the synthetic
authorities the workflow runs when it is given no real ones, and their codes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from model.config.fields import Bool, Int, LooseFilePath, Year

MAX_DEMO_AUTHORITIES = 200
"""Upper bound on synthetic authorities: more than England's ~150 (a national run can be
planned and timed), and no more than 200, as authority i's 3-digit LEA code in its returns
is ``i`` and real LEA codes start at 201."""

DEMO_CODE_PREFIX = "SYN"
"""Synthetic authorities are SYN01, SYN02, ...: never a real DfE or ONS code."""


class DemoConfig(BaseModel):
    """The synthetic demo: authorities simulated with known truth, written as real returns."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: Bool = Field(
        default=True,
        description="Run the demo authorities when `authorities` is empty.",
    )
    authorities: Int = Field(
        default=3,
        ge=1,
        le=MAX_DEMO_AUTHORITIES,
        description="Number of synthetic authorities (codes SYN01, SYN02, ...).",
    )
    first_year: Year = Field(
        default=2016,
        description="First year of returns written, as the year ending 31 March.",
    )
    last_year: Year = Field(
        default=2025,
        description="Last year of returns written, as the year ending 31 March; "
        "must be later than first_year.",
    )
    faults: Bool = Field(
        default=True,
        description="Inject the data-quality faults seen in real returns "
        "(stale open episodes, overlaps, format drift) so ingest repairs are exercised.",
    )
    truth_file: LooseFilePath | None = Field(
        default=None,
        description="YAML file of the true rates the generator simulates; "
        "null uses the generator's default (model/synth/default_truth.yaml).",
    )

    @field_validator("last_year")
    @classmethod
    def _after_first_year(cls, last_year: int, info: ValidationInfo) -> int:
        first_year = info.data.get("first_year")  # absent when first_year itself was invalid
        if first_year is not None and last_year <= first_year:
            raise PydanticCustomError(
                "year_order",
                "a year after first_year ({first_year})",
                {"first_year": first_year},
            )
        return last_year


def demo_authority_codes(n: int) -> list[str]:
    """Codes of ``n`` synthetic authorities: ``SYN01`` ... ``SYN99``, then ``SYN100`` ...
    (at least two digits, so that the first 99 keep their codes whatever ``n``)."""
    return [f"{DEMO_CODE_PREFIX}{i:02d}" for i in range(1, n + 1)]
