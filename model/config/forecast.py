"""The ``forecast`` section of :class:`model.config.carecast.CarecastConfig`: how forecasts
are drawn and summarised."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

QUANTILES: tuple[float, ...] = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
"""Quantiles every forecast table has (columns q05 ... q95)."""


class ForecastConfig(BaseModel):
    """Forecast settings."""

    model_config = ConfigDict(extra="forbid", strict=True)

    draws: int = Field(
        default=4000,
        ge=10,
        le=100_000,
        description="Posterior draws simulated (spread evenly over the chains' draws; all "
        "of them when the fit has fewer). Each is one possible future.",
    )
    horizon_months: int = Field(
        default=60,
        ge=1,
        le=240,
        description="Months forecast after the last month fitted (a national fit of "
        "published tables forecasts whole years: the horizon is rounded up to years).",
    )
    scenarios: str = Field(
        default="config/scenarios/examples.yaml",
        description="The scenario file the workflow forecasts besides the baseline (a path "
        "from the working directory; empty: the baseline only).",
    )
    thresholds: list[int] = Field(
        default_factory=lambda: [1, 10, 20],
        description="Differences from the baseline (children) whose probabilities each "
        "scenario comparison states, e.g. 20: 'P(at least 20 fewer children than the "
        "baseline)' and 'P(at least 20 more)', at each 31 March of the horizon.",
    )

    @field_validator("thresholds")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(v <= 0 for v in values) or len(set(values)) != len(values):
            raise ValueError("distinct positive numbers of children")
        return sorted(values)
