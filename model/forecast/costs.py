"""Placement costs of a forecast: unit cost and inflation draws, and pounds per month.

Each posterior draw of a forecast gets its own weekly unit costs and inflation rate, drawn
here from the costs config (``model.config.costs``), so cost forecasts carry the cost
assumptions' uncertainty as well as the model's.

- Unit costs are lognormal: the log of the median is the mean, and the log-sd is the
  distance on the log scale from the median to the 90% interval's end divided by 1.645
  (the standard normal's 95% quantile). An interval that is not symmetric on the log
  scale takes its wider side, so that side's end is the 5% or 95% quantile exactly and
  the narrower side's quantile falls beyond its end (cautious: never narrower than asked).
- Inflation is normal on the log scale, log(1 + rate), in the same way, so that the rate
  stays above -100% and its median and (wider side's) interval end are as configured.
- A merged model group (e.g. ``foster`` = ``foster_kin`` + ``foster_other``) costs the
  equal-weight mean of its members' draws, unless ``merged_groups`` configures its cost.
  Every placement group is drawn in the same order whatever is merged or asked for, so a
  seed gives the same member costs under any structure.

Cost per month (:func:`cost_per_period`): child-weeks x weekly cost x price index x the
scenario's multiplier, where child-weeks approximate the month's time in care by the mean
of its opening and closing stock times its days / 7 (the trapezium rule: exact when the
stock changes at an even pace through the month; children who come and go within the
month count only through the stocks), and the price index compounds the annual inflation
rate from ``price_date`` to the middle of the month (days / 365.25 years).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np

from model.codes import CARE_STATES
from model.config.costs import CostsConfig, InflationRate, WeeklyCost
from model.forecast.scenarios import (
    CARE,
    ChangeBase,
    MultiplyUnitCost,
    SetInflation,
    effect,
    month_numbers,
)

Z95 = 1.6448536269514722
"""The standard normal's 95% quantile: a 90% central interval is median x/÷ exp(Z95 sd)."""

DAYS_PER_YEAR = 365.25
DAYS_PER_WEEK = 7

MonthEnds = Sequence[date] | Sequence[str] | np.ndarray


# --- draws -----------------------------------------------------------------------------------


def lognormal_parameters(cost: WeeklyCost) -> tuple[float, float]:
    """(mu, sigma) of the lognormal with the cost's median and, on its wider side, its 90%
    interval end."""
    mu = float(np.log(cost.median))
    wider = max(np.log(cost.high) - mu, mu - np.log(cost.low))
    return mu, float(wider / Z95)


def log_inflation_parameters(rate: InflationRate) -> tuple[float, float]:
    """(mean, sd) of the normal distribution of log(1 + rate), as for unit costs."""
    mu = float(np.log1p(rate.median))
    wider = max(np.log1p(rate.high) - mu, mu - np.log1p(rate.low))
    return mu, float(wider / Z95)


def unit_cost_draws(
    config: CostsConfig,
    groups: Sequence[str],
    n_draws: int,
    rng: np.random.Generator,
    placement_groups: Mapping[str, str] | None = None,
) -> np.ndarray:
    """[N, G] weekly cost per child (pounds, at ``config.price_date``) of each model group.

    ``groups``: the model's care states (after merging); ``placement_groups``: the
    structure's mapping of each placement group to its model group
    (``StructureConfig.placement_groups``; default: none merged). A group made of several
    placement groups costs the mean of their draws (equal weights) unless
    ``config.merged_groups`` names it. Draws are independent between groups.
    """
    mapping = dict(placement_groups) if placement_groups is not None else {}
    # Always all seven placement groups, in a fixed order, then the configured merged ones
    # by name: the rng's stream, so the draws, do not depend on the structure or ``groups``.
    members = np.exp(_lognormal_z(rng, n_draws, [config.unit_costs.of(g) for g in CARE_STATES]))
    merged_names = sorted(config.merged_groups)
    merged = np.exp(
        _lognormal_z(rng, n_draws, [config.merged_groups[name] for name in merged_names])
    )
    out = np.empty((n_draws, len(groups)))
    for column, group in enumerate(groups):
        if group in config.merged_groups:
            out[:, column] = merged[:, merged_names.index(group)]
            continue
        inside = [i for i, g in enumerate(CARE_STATES) if mapping.get(g, g) == group]
        if not inside:
            known = dict.fromkeys(mapping.get(g, g) for g in CARE_STATES)
            raise ValueError(
                f"no unit cost for placement group {group!r}: the model's groups are "
                f"{', '.join(known)}"
            )
        out[:, column] = members[:, inside].mean(axis=1)
    return out


def _lognormal_z(rng: np.random.Generator, n_draws: int, costs: list[WeeklyCost]) -> np.ndarray:
    """[N, len(costs)] log weekly costs."""
    z = rng.standard_normal((n_draws, len(costs)))
    if not costs:
        return z
    mu, sigma = np.array([lognormal_parameters(c) for c in costs]).T
    return mu + sigma * z


def inflation_draws(config: CostsConfig, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """[N] annual inflation rates (fractions), log(1 + rate) normal (see the module)."""
    mu, sigma = log_inflation_parameters(config.inflation)
    return np.expm1(mu + sigma * rng.standard_normal(n_draws))


# --- months and prices -----------------------------------------------------------------------


def month_days(month_ends: MonthEnds) -> np.ndarray:
    """[T] int: days in the calendar month of each month end."""
    months = np.asarray(month_numbers(month_ends)).astype("datetime64[M]")
    following = months + np.timedelta64(1, "M")
    return (following.astype("datetime64[D]") - months.astype("datetime64[D]")).astype("int64")


def price_index(
    month_ends: MonthEnds, price_date: date, inflation: np.ndarray | float
) -> np.ndarray:
    """[N, T] prices in the middle of each month relative to ``price_date``.

    ``inflation``: annual rates (fractions), [N] constant per draw, or [N, T] the rate in
    force in each month (e.g. from :func:`inflation_path`). The index compounds each
    month's rate over its days: (1 + r)^(days / 365.25). Before the first month the first
    month's rate applies (also backwards, when ``price_date`` is later than a month).
    With a constant rate this is (1 + r)^(years from price_date to the month's middle).
    """
    days = month_days(month_ends)
    start = np.asarray(month_numbers(month_ends)).astype("datetime64[M]").astype("datetime64[D]")
    start_day = start.astype("int64").astype("float64")  # days since 1970-01-01
    middle = start_day + days / 2
    end = start_day + days  # the day after the month's last
    rate = np.asarray(inflation, dtype="float64")
    rate = np.broadcast_to(rate[:, None] if rate.ndim == 1 else rate, (rate.shape[0], len(days)))
    growth = np.log1p(rate) / DAYS_PER_YEAR  # log growth per day, [N, T]
    price_day = float(np.datetime64(price_date, "D").astype("int64"))
    # Log index at each middle: from price_date to the first middle at the first rate, then
    # from one middle to the next at the earlier month's rate to its end and the later's
    # after (a gap between months counts at the later month's rate).
    steps = np.empty_like(growth)
    steps[:, 0] = growth[:, 0] * (middle[0] - price_day)
    steps[:, 1:] = growth[:, :-1] * (end[:-1] - middle[:-1]) + growth[:, 1:] * (
        middle[1:] - end[:-1]
    )
    return np.exp(np.cumsum(steps, axis=1))


# --- costs -----------------------------------------------------------------------------------


def cost_per_period(
    stock_start: np.ndarray,
    stock_end: np.ndarray,
    month_ends: MonthEnds,
    weekly: np.ndarray,
    inflation: np.ndarray,
    price_date: date,
    multipliers: np.ndarray | None = None,
) -> np.ndarray:
    """[N, ..., T, G] pounds spent in each month on each placement group.

    ``stock_start``, ``stock_end`` [N, ..., T, G]: children at the start and end of each
    month (draws first, any axes between, e.g. scenarios); ``weekly`` [N, G] weekly unit
    costs at ``price_date`` (:func:`unit_cost_draws`); ``inflation`` [N] or [N, T] annual
    rates (:func:`inflation_draws`, :func:`inflation_path`); ``multipliers``: the
    scenario's unit cost multipliers, broadcast against [N, ..., T, G] (e.g. [T, G] from
    :func:`unit_cost_multipliers`), or None. Cost = (mean of the opening and closing stock
    x days in the month / 7) x weekly cost x price index (:func:`price_index`) x multiplier.
    """
    stock_start = np.asarray(stock_start, dtype="float64")
    stock_end = np.asarray(stock_end, dtype="float64")
    weekly = np.asarray(weekly, dtype="float64")
    days = month_days(month_ends)
    _check_shapes(stock_start, stock_end, weekly, len(days))
    n_draws, *middle, _, n_groups = stock_start.shape
    child_weeks = (stock_start + stock_end) / 2 * days[:, None] / DAYS_PER_WEEK
    index = price_index(month_ends, price_date, inflation)
    if index.shape[0] != n_draws:
        raise ValueError(f"inflation has {index.shape[0]} draws, the stocks {n_draws}")
    ones = [1] * len(middle)
    cost = child_weeks * weekly.reshape(n_draws, *ones, 1, n_groups)
    cost = cost * index.reshape(n_draws, *ones, len(days), 1)
    if multipliers is not None:
        cost = cost * np.asarray(multipliers, dtype="float64")
    return cost


def _check_shapes(
    stock_start: np.ndarray, stock_end: np.ndarray, weekly: np.ndarray, n_months: int
) -> None:
    """Refuse stocks and costs that do not line up (numpy would broadcast some silently)."""
    if stock_start.shape != stock_end.shape:
        raise ValueError(f"stock_start {stock_start.shape} and stock_end {stock_end.shape} differ")
    if stock_start.ndim < 3 or stock_start.shape[-2] != n_months:
        raise ValueError(
            f"stocks must be [N, ..., T, G] with T = {n_months} months; got {stock_start.shape}"
        )
    if weekly.shape != (stock_start.shape[0], stock_start.shape[-1]):
        raise ValueError(
            f"weekly costs must be [N, G] = {(stock_start.shape[0], stock_start.shape[-1])}; "
            f"got {weekly.shape}"
        )


# --- scenario changes to costs ---------------------------------------------------------------


def unit_cost_multipliers(
    changes: Sequence[ChangeBase], groups: Sequence[str], month_ends: MonthEnds
) -> np.ndarray:
    """[T, G] the product of a scenario's ``multiply_unit_cost`` changes in each month
    (1 where none applies); ``groups``: the model's care states."""
    out = np.ones((len(month_numbers(month_ends)), len(groups)))
    for change in changes:
        if not isinstance(change, MultiplyUnitCost):
            continue
        if change.group != CARE and change.group not in groups:
            raise ValueError(f"unit cost change of {change.group!r}, not one of {list(groups)}")
        columns = list(range(len(groups))) if change.group == CARE else [groups.index(change.group)]
        out[:, columns] *= effect(change, month_ends)[:, None]
    return out


def inflation_path(
    changes: Sequence[ChangeBase], month_ends: MonthEnds, inflation: np.ndarray
) -> np.ndarray:
    """[N, T] the annual inflation rate in force each month: the draws' rates ``inflation``
    [N], changed by the scenario's ``set_inflation`` changes in the order listed (each
    ramps from the rate in force before it)."""
    rate = np.asarray(inflation, dtype="float64")
    path = np.repeat(rate[:, None], len(month_numbers(month_ends)), axis=1)
    for change in changes:
        if isinstance(change, SetInflation):
            path = effect(change, month_ends, baseline=path)
    return path
