"""Costs: the costs config, unit cost and inflation draws, and pounds per month."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from pydantic import ValidationError

from model.codes import CARE_STATES
from model.config.costs import CostsConfig, UnitCosts
from model.forecast.costs import (
    Z95,
    cost_per_period,
    inflation_draws,
    inflation_path,
    month_days,
    price_index,
    unit_cost_draws,
    unit_cost_multipliers,
)
from model.forecast.scenarios import MultiplyUnitCost, SetInflation

N = 200_000  # draws for the quantile checks: about 0.1 s each


def costs(**unit_costs: dict[str, float]) -> CostsConfig:
    return CostsConfig.model_validate({"unit_costs": unit_costs})


# --- config ----------------------------------------------------------------------------------


def test_defaults_cover_every_placement_group_and_say_they_are_illustrative():
    config = CostsConfig()
    assert list(UnitCosts.model_fields) == list(CARE_STATES)
    assert config.unit_costs.residential.median == 5000
    assert (config.currency, config.price_date) == ("GBP", date(2025, 3, 31))
    for name, field in UnitCosts.model_fields.items():
        assert "ILLUSTRATIVE" in field.description, name
    assert "illustrative" in CostsConfig.model_fields["unit_costs"].description


def test_a_partial_file_keeps_the_other_defaults_and_reads_iso_dates():
    config = CostsConfig.model_validate(
        {
            "price_date": "2024-03-31",
            "unit_costs": {"residential": {"median": 6000, "low": 4000, "high": 9000}},
        }
    )
    assert config.price_date == date(2024, 3, 31)
    assert config.unit_costs.residential.high == 9000
    assert config.unit_costs.foster_kin == CostsConfig().unit_costs.foster_kin


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        (
            {"unit_costs": {"residential": {"median": 5000, "low": 6000, "high": 8000}}},
            ("unit_costs", "residential", "low"),
            "less than median (5000.0)",
        ),
        (
            {"inflation": {"median": 0.03, "low": 0.01, "high": 0.02}},
            ("inflation", "high"),
            "more than median (0.03)",
        ),
        (
            {"unit_costs": {"residential": {"median": 0, "low": 1, "high": 2}}},
            ("unit_costs", "residential", "median"),
            "Input should be greater than 0",
        ),
        (
            {"unit_costs": {"fostering": {"median": 1, "low": 0.5, "high": 2}}},
            ("unit_costs", "fostering"),
            "Extra inputs are not permitted",
        ),
        (
            {"merged_groups": {"foster_kin": {"median": 1, "low": 0.5, "high": 2}}},
            ("merged_groups",),
            "foster_kin is a placement group: give its cost under unit_costs",
        ),
        ({"currency": "EUR"}, ("currency",), "Input should be 'GBP'"),
    ],
)
def test_bad_costs_config(data, loc, message):
    with pytest.raises(ValidationError) as caught:
        CostsConfig.model_validate(data)
    (error,) = caught.value.errors()
    assert error["loc"] == loc
    assert message in error["msg"]


# --- draws -----------------------------------------------------------------------------------


def quantile_tolerance(p: float, quantile: float, sigma: float, n: int) -> float:
    """Four standard errors of a lognormal's sample ``p`` quantile (p = 0.05, 0.5 or 0.95):
    sqrt(p (1 - p) / n) over the density at the quantile, phi(z_p) / (quantile sigma)."""
    z = {0.05: -Z95, 0.5: 0.0, 0.95: Z95}[p]
    density = math.exp(-(z**2) / 2) / math.sqrt(2 * math.pi) / (quantile * sigma)
    return 4 * math.sqrt(p * (1 - p) / n) / density


def test_lognormal_draws_have_the_configured_median_and_interval():
    # symmetric on the log scale: 700 x/÷ 1.5
    config = costs(foster_other={"median": 700, "low": 700 / 1.5, "high": 700 * 1.5})
    draws = unit_cost_draws(config, ["foster_other"], N, np.random.default_rng(1))[:, 0]
    sigma = math.log(1.5) / Z95
    for p, target in [(0.05, 700 / 1.5), (0.5, 700), (0.95, 700 * 1.5)]:
        assert abs(np.quantile(draws, p) - target) < quantile_tolerance(p, target, sigma, N), p


def test_an_asymmetric_interval_takes_its_wider_side():
    # log-distance 0.2 below the median, 0.5 above: sd from the upper side
    median, low, high = 1000.0, 1000 * math.exp(-0.2), 1000 * math.exp(0.5)
    config = costs(residential={"median": median, "low": low, "high": high})
    draws = unit_cost_draws(config, ["residential"], N, np.random.default_rng(2))[:, 0]
    sigma = 0.5 / Z95
    assert abs(np.quantile(draws, 0.95) - high) < quantile_tolerance(0.95, high, sigma, N)
    assert abs(np.quantile(draws, 0.5) - median) < quantile_tolerance(0.5, median, sigma, N)
    wide_low = 1000 * math.exp(-0.5)  # the 5% quantile mirrors the wider side
    assert abs(np.quantile(draws, 0.05) - wide_low) < quantile_tolerance(0.05, wide_low, sigma, N)
    assert np.quantile(draws, 0.05) < low


def test_inflation_draws_have_the_configured_median_and_interval():
    config = CostsConfig.model_validate({"inflation": {"median": 0.03, "low": 0.0, "high": 0.0609}})
    draws = inflation_draws(config, N, np.random.default_rng(3))
    # log(1 + r) is normal with sd from the wider (upper) side: check on the log scale
    mu = math.log1p(0.03)
    sd = (math.log1p(0.0609) - mu) / Z95
    density = math.exp(-(Z95**2) / 2) / math.sqrt(2 * math.pi) / sd
    tolerance = 4 * math.sqrt(0.05 * 0.95 / N) / density
    assert abs(np.log1p(np.quantile(draws, 0.95)) - math.log1p(0.0609)) < tolerance
    assert abs(np.log1p(np.quantile(draws, 0.05)) - (mu - Z95 * sd)) < tolerance
    # the median of r: density phi(0) / (sd (1 + median)) there
    median_se = math.sqrt(0.25 / N) * math.sqrt(2 * math.pi) * sd * 1.03
    assert abs(np.median(draws) - 0.03) < 4 * median_se
    assert draws.min() > -1


def test_merged_groups_cost_the_mean_of_their_members():
    merged = {g: "foster" if g.startswith("foster") else g for g in CARE_STATES}
    config = CostsConfig()
    model_groups = ["foster", "residential"]
    together = unit_cost_draws(config, model_groups, 500, np.random.default_rng(4), merged)
    apart = unit_cost_draws(
        config, ["foster_kin", "foster_other", "residential"], 500, np.random.default_rng(4)
    )
    np.testing.assert_allclose(together[:, 0], apart[:, :2].mean(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(together[:, 1], apart[:, 2])
    # a configured merged cost wins over the mean, and leaves the members' draws as they were
    config = CostsConfig.model_validate(
        {"merged_groups": {"foster": {"median": 500, "low": 400, "high": 600}}}
    )
    own = unit_cost_draws(config, model_groups, 500, np.random.default_rng(4), merged)
    np.testing.assert_array_equal(own[:, 1], apart[:, 2])
    assert 400 < np.median(own[:, 0]) < 600
    assert not np.allclose(own[:, 0], together[:, 0])
    with pytest.raises(ValueError, match="no unit cost for placement group 'foster_kin'"):
        unit_cost_draws(config, ["foster_kin"], 5, np.random.default_rng(4), merged)


def test_draws_are_reproducible_whatever_groups_are_asked_for():
    config = CostsConfig()
    all_groups = unit_cost_draws(config, CARE_STATES, 50, np.random.default_rng(5))
    one = unit_cost_draws(config, ["other"], 50, np.random.default_rng(5))
    np.testing.assert_array_equal(one[:, 0], all_groups[:, -1])


# --- pounds per month ------------------------------------------------------------------------

APRIL = [date(2025, 4, 30)]


def constant(children: float, n_months: int = 1) -> np.ndarray:
    """[N=1, T, G=1] a constant stock."""
    return np.full((1, n_months, 1), children)


def test_constant_stock_for_a_30_day_month_without_inflation():
    cost = cost_per_period(
        constant(10), constant(10), APRIL, np.array([[700.0]]), np.array([0.0]), date(2025, 3, 31)
    )
    assert cost.shape == (1, 1, 1)
    assert cost[0, 0, 0] == 10 * 30 / 7 * 700


def test_child_weeks_use_the_mean_of_opening_and_closing_stock():
    cost = cost_per_period(
        constant(10),
        constant(20),
        [date(2025, 2, 28)],
        np.array([[700.0]]),
        np.array([0.0]),
        date(2025, 3, 31),
    )
    assert cost[0, 0, 0] == pytest.approx(15 * 28 / 7 * 700, rel=1e-12)


def test_inflation_compounds_from_the_price_date_to_the_middle_of_each_month():
    months = [date(2025, 4, 30), date(2025, 5, 31), date(2026, 4, 30), date(2027, 4, 30)]
    price_date = date(2025, 3, 31)
    rate = 0.05
    cost = cost_per_period(
        constant(10, 4), constant(10, 4), months, np.array([[700.0]]), np.array([rate]), price_date
    )[0, :, 0]
    middles = [
        (date(2025, 4, 16) - price_date).days,  # 1 April + 15 days of 30
        (date(2025, 5, 16) - price_date).days + 0.5,  # 1 May + 15.5 days of 31
        (date(2026, 4, 16) - price_date).days,
        (date(2027, 4, 16) - price_date).days,
    ]
    base = 10 * np.array([30, 31, 30, 30]) / 7 * 700
    expected = base * (1 + rate) ** (np.array(middles) / 365.25)
    np.testing.assert_allclose(cost, expected, rtol=1e-12)
    # April to April: a year of 365 days of compounding
    assert cost[3] / cost[2] == pytest.approx(1.05 ** (365 / 365.25), rel=1e-12)


def test_a_changing_rate_compounds_month_by_month():
    months = [date(2025, 4, 30), date(2025, 5, 31), date(2025, 6, 30)]
    r1, r2 = 0.02, 0.10
    path = np.array([[r1, r2, r2]])
    index = price_index(months, date(2025, 3, 31), path)[0]
    year = 365.25
    april = (1 + r1) ** (16 / year)  # 31 March to mid-April (1 April + 15 days)
    may = april * (1 + r1) ** (15 / year) * (1 + r2) ** (15.5 / year)  # rest of April, half May
    june = may * (1 + r2) ** (15.5 / year) * (1 + r2) ** (15 / year)
    np.testing.assert_allclose(index, [april, may, june], rtol=1e-12)
    # a constant path is the constant rate
    np.testing.assert_allclose(
        price_index(months, date(2025, 3, 31), np.array([[r1] * 3])),
        price_index(months, date(2025, 3, 31), np.array([r1])),
        rtol=1e-12,
    )


def test_costs_broadcast_over_draws_scenarios_and_groups():
    rng = np.random.default_rng(6)
    months = [date(2025, 4, 30), date(2025, 5, 31)]
    stock = rng.integers(0, 50, size=(3, 2, 2, 4)).astype(float)  # [N, scenario, T, G]
    weekly = rng.uniform(100, 1000, size=(3, 4))
    inflation = np.array([0.0, 0.03, 0.1])
    multipliers = np.ones((2, 4))
    multipliers[1, 2] = 1.1  # May, group 2
    cost = cost_per_period(stock, stock, months, weekly, inflation, date(2025, 3, 31), multipliers)
    index = price_index(months, date(2025, 3, 31), inflation)
    n, s, t, g = 2, 1, 1, 2
    expected = stock[n, s, t, g] * 31 / 7 * weekly[n, g] * index[n, t] * 1.1
    assert cost[n, s, t, g] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match=r"weekly costs must be \[N, G\]"):
        cost_per_period(stock, stock, months, weekly[:, :3], inflation, date(2025, 3, 31))
    with pytest.raises(ValueError, match="T = 3 months"):
        cost_per_period(
            stock, stock, [*months, date(2025, 6, 30)], weekly, inflation, date(2025, 3, 31)
        )


def test_month_days():
    assert month_days(["2024-02-29", "2025-02-28", "2025-04-30", "2025-12-31"]).tolist() == [
        29,
        28,
        30,
        31,
    ]


# --- scenario changes to costs ---------------------------------------------------------------


def test_unit_cost_multipliers_and_inflation_path_from_scenario_changes():
    months = [date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)]
    groups = ["foster", "residential"]
    changes = [
        MultiplyUnitCost(
            type="multiply_unit_cost",
            group="residential",
            factor=1.2,
            start=date(2026, 4, 1),
            ramp_months=2,
        ),
        MultiplyUnitCost(
            type="multiply_unit_cost", group="care", factor=1.5, start=date(2026, 5, 1)
        ),
        SetInflation(type="set_inflation", annual=0.05, start=date(2026, 4, 1), ramp_months=2),
    ]
    multipliers = unit_cost_multipliers(changes, groups, months)
    np.testing.assert_allclose(multipliers, [[1, 1], [1, 1.1], [1.5, 1.2 * 1.5]])
    path = inflation_path(changes, months, np.array([0.01, 0.03]))
    np.testing.assert_allclose(path, [[0.01, 0.03, 0.05], [0.03, 0.04, 0.05]])
    with pytest.raises(ValueError, match="unit cost change of 'residential'"):
        unit_cost_multipliers(changes, ["foster"], months)
