"""The whole workflow configuration: :class:`CarecastConfig`, the single source of truth
for ``config/config.yaml``.

It holds the top-level keys of its own (``seed``, ``authorities``) and one section per
module of this package (``paths``, ``demo``, ``categories``, the fit's ``structure``,
``priors``, ``sampler`` and ``diagnostics``, ``published``, ``forecast``, ``costs``).
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from model.config.categories import CategoriesConfig
from model.config.costs import CostsConfig
from model.config.demo import DemoConfig, demo_authority_codes
from model.config.fields import Int
from model.config.fit import DiagnosticsConfig, PriorsConfig, SamplerConfig, StructureConfig
from model.config.forecast import ForecastConfig
from model.config.paths import PathsConfig
from model.config.published import PublishedPriorsConfig

AUTHORITY_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
"""An authority code is a folder name; no spaces or dots, so it is safe in paths and shells."""

AuthorityCode = Annotated[str, Field(pattern=AUTHORITY_CODE_PATTERN, min_length=1, max_length=40)]


class CarecastConfig(BaseModel):
    """Configuration of a carecast run: one seed, the folders, the demo and the authorities."""

    model_config = ConfigDict(extra="forbid", strict=True)

    seed: Int = Field(
        default=20250331,
        ge=0,
        description="The one random seed every stage derives its own seed from.",
    )
    paths: PathsConfig = Field(default_factory=PathsConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)
    categories: CategoriesConfig = Field(default_factory=CategoriesConfig)
    structure: StructureConfig = Field(default_factory=StructureConfig)
    priors: PriorsConfig = Field(default_factory=PriorsConfig)
    published: PublishedPriorsConfig = Field(default_factory=PublishedPriorsConfig)
    sampler: SamplerConfig = Field(default_factory=SamplerConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    forecast: ForecastConfig = Field(default_factory=ForecastConfig)
    costs: CostsConfig = Field(default_factory=CostsConfig)
    authorities: list[AuthorityCode] = Field(
        default_factory=list,
        json_schema_extra={"uniqueItems": True},
        description="Codes (folder names under raw_data_dir) of the real authorities to "
        "process. Empty: run the demo authorities instead.",
    )

    @field_validator("authorities")
    @classmethod
    def _no_duplicates(cls, codes: list[str]) -> list[str]:
        repeated = sorted({code for code in codes if codes.count(code) > 1})
        if repeated:
            raise PydanticCustomError(
                "duplicate_authorities",
                "each code once (repeated: {repeated})",
                {"repeated": ", ".join(repeated)},
            )
        return codes

    @model_validator(mode="after")
    def _something_to_run(self) -> Self:
        if not self.authorities and not self.demo.enabled:
            raise PydanticCustomError(
                "nothing_to_run",
                "`authorities` is empty and `demo.enabled` is false, so there is nothing "
                "to run: list authority folders under `authorities` or set "
                "`demo.enabled: true`",
            )
        return self

    def demo_authority_codes(self) -> list[str]:
        """Codes of the synthetic authorities the workflow runs (empty when it runs real ones)."""
        if self.authorities or not self.demo.enabled:
            return []
        return demo_authority_codes(self.demo.authorities)
