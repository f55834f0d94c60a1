"""Configuration of placement costs: weekly unit costs with their uncertainty, and inflation.

:class:`CostsConfig` is the ``costs`` section of the workflow config. The forecast turns
children in each placement group into pounds with it (``model.forecast.costs``): each
posterior draw gets its own unit costs and inflation rate, drawn from the medians and 90%
intervals given here, so the cost forecast carries this uncertainty as well as the model's.

The default figures are ILLUSTRATIVE national orders of magnitude, written down so that the
pipeline runs end to end. They are not sourced figures for any authority, and they are no
basis for a budget: replace every one with your authority's own unit costs (e.g. from its
finance team or its Section 251 outturn) and your own inflation assumption.

Merged placement groups: when the structure config maps several placement groups to one
model group (e.g. ``foster_kin`` and ``foster_other`` to ``foster``), that group's weekly
cost is the mean of its members' costs, weighting each member equally, draw by draw,
unless ``merged_groups`` gives the merged group a cost of its own. Equal weights are right
only when the members are about equally common; otherwise give the merged group's cost.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from model.codes import CARE_STATES
from model.config.fit import Name

DEFAULT_PRICE_DATE = date(2025, 3, 31)
"""End of the financial year 2024-25: the date the illustrative default costs stand for."""


class _Interval(BaseModel):
    """A median and a 90% interval, with low < median < high."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("low", check_fields=False)
    @classmethod
    def _below_median(cls, low: float, info: ValidationInfo) -> float:
        median = info.data.get("median")  # absent when the median itself was invalid
        if median is not None and not low < median:
            raise PydanticCustomError(
                "interval_order", "less than median ({median})", {"median": median}
            )
        return low

    @field_validator("high", check_fields=False)
    @classmethod
    def _above_median(cls, high: float, info: ValidationInfo) -> float:
        median = info.data.get("median")
        if median is not None and not high > median:
            raise PydanticCustomError(
                "interval_order", "more than median ({median})", {"median": median}
            )
        return high


class WeeklyCost(_Interval):
    """The cost of one child's placement for a week, in pounds: a median and a 90% interval
    (a 5% chance that the true cost is below ``low``, 5% that it is above ``high``)."""

    median: float = Field(gt=0, allow_inf_nan=False, description="Median, pounds a week.")
    low: float = Field(
        gt=0, allow_inf_nan=False, description="Lower end of the 90% interval, pounds a week."
    )
    high: float = Field(
        gt=0, allow_inf_nan=False, description="Upper end of the 90% interval, pounds a week."
    )


class InflationRate(_Interval):
    """The annual rate at which unit costs rise, a fraction (0.03: 3% a year): a median and
    a 90% interval."""

    median: float = Field(gt=-0.5, lt=1, description="Median annual rate.")
    low: float = Field(gt=-0.5, lt=1, description="Lower end of the 90% interval.")
    high: float = Field(gt=-0.5, lt=1, description="Upper end of the 90% interval.")


def _weekly(median: float, low: float, high: float) -> WeeklyCost:
    return WeeklyCost(median=median, low=low, high=high)


ILLUSTRATIVE = (
    "ILLUSTRATIVE default, not a sourced figure for any authority: replace it with your own."
)


class UnitCosts(BaseModel):
    """Weekly unit cost of each placement group (the ingest's groups), in pounds per child
    per week at ``price_date``. Name only the groups you change: the others keep their
    defaults."""

    model_config = ConfigDict(extra="forbid", strict=True)

    foster_kin: WeeklyCost = Field(
        default_factory=lambda: _weekly(300, 200, 450),
        description="Foster care with relatives or friends (kinship): median 300, 90% "
        f"interval 200-450. {ILLUSTRATIVE}",
    )
    foster_other: WeeklyCost = Field(
        default_factory=lambda: _weekly(650, 450, 950),
        description="Other foster care: a mix of in-house fostering (around 450 a week) and "
        "independent fostering agencies (around 900), so median 650, 90% interval 450-950; "
        f"your own mix moves it. {ILLUSTRATIVE}",
    )
    residential: WeeklyCost = Field(
        default_factory=lambda: _weekly(5000, 3500, 8000),
        description="Children's homes and other residential settings: median 5,000, 90% "
        f"interval 3,500-8,000. {ILLUSTRATIVE}",
    )
    supported: WeeklyCost = Field(
        default_factory=lambda: _weekly(1500, 700, 3000),
        description="Supported accommodation and independent living (mostly 16-17 year "
        f"olds): median 1,500, 90% interval 700-3,000. {ILLUSTRATIVE}",
    )
    with_parents: WeeklyCost = Field(
        default_factory=lambda: _weekly(150, 50, 400),
        description="Placed with parents (no placement fee; support and supervision): median "
        f"150, 90% interval 50-400. {ILLUSTRATIVE}",
    )
    adoption: WeeklyCost = Field(
        default_factory=lambda: _weekly(250, 100, 600),
        description="Placed for adoption (allowances and support until the order): median "
        f"250, 90% interval 100-600. {ILLUSTRATIVE}",
    )
    other: WeeklyCost = Field(
        default_factory=lambda: _weekly(1500, 400, 5000),
        description="Other placements (secure units, hospitals, custody, other): a wide mix, "
        f"median 1,500, 90% interval 400-5,000. {ILLUSTRATIVE}",
    )

    def of(self, group: str) -> WeeklyCost:
        """The weekly cost of an ingest placement group (one of ``model.codes.CARE_STATES``)."""
        if group not in CARE_STATES:
            raise KeyError(f"{group} is not a placement group ({', '.join(CARE_STATES)})")
        return getattr(self, group)


class CostsConfig(BaseModel):
    """Unit costs of placements and their inflation, with uncertainty; the defaults are
    illustrative (see the module)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    currency: Literal["GBP"] = Field(
        default="GBP", description="Currency of every amount: pounds sterling."
    )
    price_date: date = Field(
        default=DEFAULT_PRICE_DATE,
        strict=False,  # YAML gives a date, --config and JSON give ISO text
        description="The date the unit costs are priced at (ISO, e.g. 2025-03-31); "
        "inflation runs from it.",
    )
    unit_costs: UnitCosts = Field(
        default_factory=UnitCosts,
        description="Weekly unit cost per child of each placement group (median and 90% "
        "interval, pounds). The defaults are illustrative national orders of magnitude "
        "(residential around 5,000 a week, independent fostering agency around 900, "
        "in-house fostering around 450, kinship around 300), not sourced figures for any "
        "authority: replace them with your own.",
    )
    merged_groups: dict[Name, WeeklyCost] = Field(
        default_factory=dict,
        description="Weekly cost of a merged model group (structure.placement_groups), e.g. "
        "{foster: {median: 500, low: 350, high: 700}}. A merged group not listed costs the "
        "equal-weight mean of its members' unit costs.",
    )
    inflation: InflationRate = Field(
        default_factory=lambda: InflationRate(median=0.03, low=0.01, high=0.06),
        description="Annual rate at which unit costs rise from price_date (a fraction): "
        "median 0.03, 90% interval 0.01-0.06. ILLUSTRATIVE default: replace it with your "
        "own assumption.",
    )

    @field_validator("merged_groups")
    @classmethod
    def _merged_only(cls, groups: dict[str, WeeklyCost]) -> dict[str, WeeklyCost]:
        own = sorted(set(groups) & set(CARE_STATES))
        if own:
            raise PydanticCustomError(
                "merged_group_name",
                "names of merged groups; {own} is a placement group: give its cost under "
                "unit_costs",
                {"own": ", ".join(own)},
            )
        return groups
