"""Forecasts from the national fit of published tables: conservation, scenarios as the yearly
model can represent them, common random numbers, the outputs, refusals and the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from model.cli import main
from model.config.fit import SamplerConfig, StructureConfig
from model.config.forecast import ForecastConfig
from model.fit.published_data import published_data, read_published
from model.fit.run_published import load_published_posterior
from model.forecast.inputs import ForecastInputError
from model.forecast.national import forecast_national
from model.forecast.national.simulate import simulate_national
from model.forecast.scenarios import Scenario, ScenarioError, validate_scenarios
from model.forecast.tables import COLUMNS, PROBABILITY_COLUMNS
from model.outputs import STAGING_PREFIX

FAST = SamplerConfig(chains=2, draws=200, national_draws=200, tune=200, national_tune=200)
START = "2021-04-01"  # the first forecast year (ending 31 March 2022) is changed in full
HORIZON = 4


def scenarios(*items: dict) -> list[Scenario]:
    """Validated scenarios from their YAML-like dictionaries."""
    return validate_scenarios({"scenarios": list(items)}, StructureConfig(), cin_funnel=True)


def rate_change(name: str, flow: str, factor: float) -> dict:
    change = {"type": "multiply_rate", "flow": flow, "factor": factor, "start": START}
    return {"name": name, "changes": [change]}


@pytest.fixture(scope="module")
def national(published_observations: Path, national_fit: SimpleNamespace) -> SimpleNamespace:
    """A short national fit of the cut-down tables (7 units; exits, reasons, entries to care
    and children in need: the shared ``conftest.national_fit``, as ``test_fit_published``'s
    ``fitted``), with the ingest of every series beside it (a folder the fit did not use)."""
    posterior = national_fit.out / "posterior.nc"
    return SimpleNamespace(
        full=published_observations,
        folder=national_fit.folder,
        posterior=posterior,
        trace=load_published_posterior(posterior),
        data=published_data(*read_published(national_fit.folder)),
    )


@pytest.fixture(scope="module")
def simulated(national: SimpleNamespace):
    """Every draw under the baseline and five scenarios, four years ahead."""
    changes = scenarios(
        rate_change("same", "outside -> care", 1.0),
        rate_change("half", "outside -> care", 0.5),
        rate_change("fewer_exits", "care -> exit", 0.7),
        rate_change("home", "care -> exit:return_home", 1.5),
        {
            "name": "more",
            "changes": [
                {"type": "add_children", "flow": "outside -> care", "per_month": 1.5,
                 "start": START, "ramp_months": 24},
                {"type": "set_inflation", "annual": 0.05, "start": START},
            ],
        },
    )  # fmt: skip
    return simulate_national(national.trace, national.data, HORIZON, 4000, 11, changes)


def test_children_are_conserved_and_never_negative(national, simulated) -> None:
    sim = simulated
    data = national.data
    assert sim.scenarios == ["baseline", "same", "half", "fewer_exits", "home", "more"]
    assert sim.years == [2022, 2023, 2024, 2025]
    assert sim.units == list(data.units)  # every unit has its 2021 stock
    assert len(sim.draw_index) == 400  # all of the fit's 2 x 200 draws
    stock, started, ceased = (sim.values[k] for k in ("looked_after", "started", "ceased"))
    shape = (400, 6, len(sim.units), HORIZON)
    assert stock.shape == started.shape == ceased.shape == sim.values["in_need"].shape == shape
    opening = np.broadcast_to(data.looked_after[:, -1][None, None, :, None], (*shape[:3], 1))
    before = np.concatenate([opening, stock[..., :-1]], axis=-1)
    # Conserved up to the published remainder, which every scenario shares, and never
    # below none.
    remainder = sim.remainder[:, None]  # [N, 1, A, H]
    assert remainder.shape == (400, 1, len(sim.units), HORIZON)
    assert (stock == np.maximum(before + started - ceased + remainder, 0)).all()
    for values in sim.values.values():
        assert (values >= 0).all()
    assert (ceased <= before + started).all()
    # Each unit's remainders are its own published ones (stock change minus starters plus
    # ceased, over the years with all four figures), and the tables have some.
    started_ = data.series["started"]
    seen = data.looked_after_observed[:, 1:] & data.looked_after_observed[:, :-1]
    seen &= started_.observed[:, 1:] & data.ceased_observed[:, 1:]
    gaps = data.looked_after[:, 1:] - data.looked_after[:, :-1]
    gaps = gaps - started_.values[:, 1:] + data.ceased[:, 1:]
    for a in range(len(sim.units)):
        assert set(np.unique(sim.remainder[:, a])) <= set(gaps[a][seen[a]]) | {0}
    assert (sim.remainder != 0).mean() > 0.5
    # Not trivially so: children come and go in every unit.
    assert (started.mean(axis=(0, 1)) > 0).all() and (ceased.mean(axis=(0, 1)) > 0).all()


def test_a_scenario_without_changes_is_the_baseline_draw_by_draw(national, simulated) -> None:
    for values in simulated.values.values():
        assert np.array_equal(values[:, 1], values[:, 0])
    stock = simulated.values["looked_after"]
    assert not np.array_equal(stock[:, 2], stock[:, 0])  # a scenario with changes differs
    # Each scenario has its own stream: the baseline does not depend on the others.
    alone = simulate_national(national.trace, national.data, HORIZON, 4000, 11)
    assert alone.scenarios == ["baseline"]
    for key, values in alone.values.items():
        assert np.array_equal(values[:, 0], simulated.values[key][:, 0]), key


def test_halving_entries_to_care_halves_the_expected_starters(simulated) -> None:
    started = simulated.values["started"].astype(float)
    base, half = started[:, 0], started[:, 2]
    # Per draw, the starters of the halved scenario over every unit and year, less half the
    # baseline's: 0 in expectation; its standard error from the spread over the draws.
    gap = (half - 0.5 * base).sum(axis=(1, 2))
    error = gap.std(ddof=1) / np.sqrt(len(gap))
    assert abs(gap.mean()) < 4 * error
    assert error < 0.02 * 0.5 * base.sum(axis=(1, 2)).mean()  # a sharp test: within 2%
    ratio = half.sum() / base.sum()
    assert abs(ratio - 0.5) < 4 * error / base.sum(axis=(1, 2)).mean()
    # Fewer starters, fewer children in care, and the stock keeps falling against the baseline.
    stock = simulated.values["looked_after"]
    shortfall = (stock[:, 0] - stock[:, 2]).sum(axis=1).mean(axis=0)  # [years]
    assert (np.diff(shortfall) > 0).all() and shortfall[0] > 0


def test_exit_changes_multiply_the_exit_odds(simulated) -> None:
    ceased = simulated.values["ceased"].astype(float)
    first = ceased[..., 0].sum(axis=(0, 2))  # [C] children ceasing in the first year
    # Same children at risk in the first year: odds x 0.7 lower the exits by less than 30%
    # (q' / q = 0.7 / (1 - 0.3 q) with q the year's exit probability).
    ratio = first[3] / first[0]
    assert 0.7 < ratio < 0.95
    # Returns home x 1.5 raise all exits by half of return home's share of them.
    assert 1.02 < first[4] / first[0] < 1.5
    # 1.5 extra starters a month, phased in over two years: 9 then 18 a year in each unit.
    started = simulated.values["started"]
    extra = (started[:, 5] - started[:, 0]).mean(axis=(0, 1))
    assert np.allclose(extra, [9, 18, 18, 18])
    assert any("set_inflation" in note and "ignored" in note for note in simulated.notes)


def test_a_unit_without_a_recent_stock_starts_from_its_last_one(national) -> None:
    observed = national.data.looked_after_observed.copy()
    data = dataclasses.replace(national.data, looked_after_observed=observed)
    late, gone = np.flatnonzero(observed[:, -3])[:2]  # published on 31 March 2019
    observed[late, -2:] = False  # 2019 is now its last stock
    observed[gone] = False  # it has none
    late, missing = data.units[late], data.units[gone]
    sim = simulate_national(national.trace, data, 2, 50, 3)
    assert missing not in sim.units and late in sim.units
    assert sim.start_years[late] == 2019
    assert {year for unit, year in sim.start_years.items() if unit != late} == {2021}
    assert any(missing in note and "left out" in note for note in sim.notes)
    assert any(late in note and "2019" in note for note in sim.notes)
    assert (sim.values["looked_after"] >= 0).all()


def test_changes_the_yearly_model_cannot_represent_are_refused(national, tmp_path) -> None:
    refused = scenarios(
        {"name": "foster_recruitment", "changes": [
            {"type": "redirect", "flow": "outside -> residential", "to": "foster_other",
             "share": 0.3, "start": START}]},
        rate_change("edge_of_care", "cpp -> care", 0.8),
    )  # fmt: skip
    with pytest.raises(ScenarioError) as error:
        simulate_national(national.trace, national.data, 2, 50, 3, refused)
    lines = str(error.value).splitlines()
    assert len(lines) == 2
    assert "scenario 1 (foster_recruitment), change 1 (redirect)" in lines[0]
    assert "cannot represent redirect" in lines[0]
    assert 'scenario 2 (edge_of_care), change 1 (multiply_rate): flow "cpp -> care"' in lines[1]
    assert 'multiply_rate on "outside -> care"' in lines[1]  # what it can do instead
    # From a file, the file is named too.
    path = tmp_path / "scenarios.yaml"
    path.write_text(yaml.safe_dump({"scenarios": [rate_change("x", "care -> residential", 2)]}))
    with pytest.raises(ScenarioError, match=rf"{path.name}: scenario 1 \(x\), change 1"):
        forecast_national(
            national.posterior, national.folder, tmp_path / "out", 1, 12, path,
            ForecastConfig(draws=20),
        )  # fmt: skip


def test_forecast_writes_tables_draws_and_a_flagged_fan_chart(national, tmp_path) -> None:
    path = tmp_path / "scenarios.yaml"
    changes = [
        rate_change("half", "outside -> care", 0.5),
        {"name": "costly", "changes": [
            {"type": "multiply_unit_cost", "group": "care", "factor": 1.2, "start": START}]},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump({"scenarios": changes}, sort_keys=False))
    out = tmp_path / "forecast"
    config = ForecastConfig(draws=100, thresholds=[5, 50])
    result = forecast_national(
        national.posterior, national.folder, out, 1, 30, path, config
    )  # 30 months: 3 years
    units = list(national.data.units)
    authorities, names, years = len(units) + 1, 3, 3
    fit_passed = bool(national.trace.attrs["diagnostics_passed"])
    table = pd.read_csv(out / "forecast.csv")
    assert list(table.columns) == [*COLUMNS, "fit_passed"]
    assert len(table) == authorities * names * years * 4
    assert len(pd.read_parquet(out / "forecast.parquet")) == len(table)
    assert list(dict.fromkeys(table.authority)) == [*units, "national"]
    assert set(zip(table.measure, table.state, strict=True)) == {
        ("stock", "total"), ("entries", "total"), ("exits", "total"), ("in_need", "cin")
    }  # fmt: skip
    assert sorted(set(table.period_end)) == ["2022-03-31", "2023-03-31", "2024-03-31"]
    assert (table.fit_passed == fit_passed).all()
    # The national rows are the units' sums draw by draw: their means add up.
    keys = ["scenario", "period_end", "measure"]
    means = table[table.authority != "national"].groupby(keys)["mean"].sum()
    national_means = table[table.authority == "national"].set_index(keys)["mean"]
    assert np.allclose(means.sort_index(), national_means.sort_index())
    assert (table.q05 <= table.q50).all() and (table.q50 <= table.q95).all()
    diff = pd.read_csv(out / "differences.csv")
    assert list(diff.columns) == [*COLUMNS, "fit_passed"]
    assert len(diff) == authorities * (names - 1) * years * 3  # stock, entries, exits
    costly = diff[diff.scenario == "costly"]
    assert (costly[["mean", "q05", "q95"]] == 0).all().all()  # cost changes are ignored
    probabilities = pd.read_csv(out / "probabilities.csv")
    assert list(probabilities.columns) == [*PROBABILITY_COLUMNS, "fit_passed"]
    assert len(probabilities) == authorities * (names - 1) * years * 2 * 2
    draws = xr.open_dataset(out / "draws.nc", engine="h5netcdf")
    assert dict(draws["looked_after"].sizes) == {
        "draw": 100, "scenario": names, "unit": len(units), "period_end": years
    }  # fmt: skip
    assert draws["in_need"].dims == ("draw", "unit", "period_end")
    assert np.array_equal(draws["started"].values, result.simulation.values["started"])
    draws.close()
    info = json.loads((out / "forecast_info.json").read_text())
    assert info["fit_passed"] is fit_passed and info["draws"] == 100
    assert info["horizon_years"] == 3 and info["units"] == len(units)
    assert any("costly" in note for note in info["notes"])
    figure = out / "figures" / "national_stock_total"
    assert figure.with_suffix(".png").stat().st_size > 10_000
    assert ("DIAGNOSTICS FAILED" in figure.with_suffix(".svg").read_text()) is not fit_passed
    # The fan chart's history: the published national totals.
    history = result.history
    stock = history[history.measure == "stock"].set_index("period_end").value
    assert stock["2021-03-31"] == national.data.looked_after[:, -1].sum()


def test_a_posterior_that_does_not_match_the_observations_is_refused(national, tmp_path) -> None:
    # The folder with every series is not the one the fit used (three series dropped).
    with pytest.raises(ForecastInputError, match=r"series differ.*ingest published"):
        forecast_national(
            national.posterior, national.full, tmp_path, 1, 12, None, ForecastConfig(draws=20)
        )
    units = dataclasses.replace(national.data, units=(*national.data.units[:-1], "E99999999"))
    with pytest.raises(ForecastInputError, match=r"units differ.*E99999999"):
        simulate_national(national.trace, units, 1, 20, 1)


def test_cli_forecasts_a_national_posterior_from_its_observations(
    national, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["-q", "forecast", str(national.posterior.parent), "--out", str(tmp_path)]
    assert main(command) == 2
    assert "--observations DIR" in capsys.readouterr().err
    calls = []

    def fake(*args: object) -> SimpleNamespace:
        calls.append(args)
        sim = SimpleNamespace(draw_index=[0], scenarios=["baseline"], units=["x"], years=[2022])
        return SimpleNamespace(simulation=sim, seconds={"simulate": 1.0}, fit_passed=False)

    monkeypatch.setattr("model.forecast.national.forecast_national", fake)
    options = ["--observations", str(national.folder), "--horizon", "18"]
    assert main(command + options) == 0
    posterior, observations, out, _seed, horizon = calls[0][:5]
    assert (posterior, observations, out.parent, horizon) == (
        national.posterior, national.folder, tmp_path, 18
    )  # fmt: skip
    assert out.name.startswith(STAGING_PREFIX)  # moved into --out when the forecast succeeds


def test_national_backtest_scores_every_unit_against_the_baselines(
    national, tmp_path, stand_in_sampler
) -> None:
    # What is checked is the scoring, not the fits: their draws come from the stand-in.
    from model.evaluate.backtest import METHODS
    from model.evaluate.backtest_national import backtest_national, published_history

    result = backtest_national(
        national.folder, tmp_path, seed=5, origins=[2019], horizon_years=3, sampler=FAST,
        draws=200,
    )  # fmt: skip
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert set(scores.method) == set(METHODS)
    # 2019 is scored 1 and 2 years ahead, not 3: 2021 is the last year.
    assert set(zip(scores.origin, scores.horizon, strict=True)) == {(2019, 1), (2019, 2)}
    # Every figure the national forecast makes is scored against its published value.
    names = {"stock": "looked_after", "entries": "started", "exits": "ceased"}
    expected = {"stock", "entries", "exits", *national.data.series} - {"started"}
    assert set(scores.measure) == expected
    data = national.data
    for _, row in scores[scores.method == "carecast"].iterrows():
        u, y = data.units.index(row.authority), data.years.index(row.origin + row.horizon)
        assert row.observed == published_history(data, names.get(row.measure, row.measure))[u, y]
    stock = scores[scores.measure == "stock"]
    for method in ("last_value", "naive_walk"):  # the naive walk's median is the last value
        for _, row in stock[stock.method == method].iterrows():
            u, y = data.units.index(row.authority), data.years.index(row.origin)
            assert row["median"] == pytest.approx(data.looked_after[u, y])
    carecast = scores[scores.method == "carecast"]
    assert carecast.crps.notna().all() and carecast.covered_80.notna().all()
    # A baseline not built for a unit (too short a history) is missing, never a miss.
    baselines = scores[scores.method.isin(["naive_walk", "auto_ets", "auto_arima"])]
    built = baselines.crps.notna()
    assert built.mean() > 0.5
    assert (baselines.covered_80.notna() == built).all()
    assert (baselines["median"].notna() == built).all()
    points = scores[scores.method.isin(["last_value", "linear_trend", "fixed_rates"])]
    assert points.crps.isna().all() and points.covered_80.isna().all()
    assert set(scores[scores.method == "fixed_rates"].measure) == {"stock"}
    summary = pd.read_csv(tmp_path / "summary.csv")
    naive = summary[summary.method == "naive_walk"]
    assert np.allclose(naive.crps_skill, 0.0) and np.allclose(naive.abs_error_ratio.dropna(), 1)
    assert {"carecast", "fixed_rates", "auto_arima"} <= set(summary.method)
    assert (tmp_path / "coverage.png").is_file() and set(result.fits_passed) == {2019}


def test_continue_walk_carries_the_last_step_with_its_momentum() -> None:
    from model.fit.published_rates import continue_walk

    walk = np.array([[0.0, 1.0, 3.0], [0.0, 0.0, -2.0]])  # last steps +2 and -2
    no_shocks = np.zeros((2, 3))
    # Momentum 1: the trend carries on; 0.5: each step half the last; 0: the walk stops.
    np.testing.assert_allclose(
        continue_walk(walk, np.ones(2), np.array([1.0, 0.5]), no_shocks),
        [[5.0, 7.0, 9.0], [-3.0, -3.5, -3.75]],
    )
    shocks = np.array([[1.0, -1.0, 2.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(
        continue_walk(walk, np.array([0.5, 2.0]), np.zeros(2), shocks),
        [[3.5, 3.0, 4.0], [-2.0, 0.0, 0.0]],
    )


def test_the_forecast_continues_the_fitted_rates_the_checks_read(national) -> None:
    from model.fit.published_rates import (
        count_log_rates,
        exit_log_odds,
        exit_probability,
        reason_shares,
        yearly_rates,
    )

    posterior, data = national.trace["posterior"].to_dataset(), national.data
    pick = np.arange(0, 400, 7)
    last = len(data.years) - 1
    years = np.arange(last - 2, last + 3)  # the last three fitted years and two more
    rates = yearly_rates(posterior, data, pick)
    rng = np.random.default_rng(1)
    logit, _ = exit_log_odds(posterior, data, pick, years, rng)
    assert np.isfinite(logit).all()
    np.testing.assert_allclose(
        exit_probability(logit[..., :3]), rates["exit_probability"][..., -3:]
    )
    assert np.isnan(exit_log_odds(posterior, data, pick, years)[0][..., 3:]).all()  # no rng
    log_rate = count_log_rates(posterior, data, "started", pick, years, rng)
    assert np.isfinite(log_rate).all()
    np.testing.assert_allclose(np.exp(log_rate[..., :3]), rates["started_rate"][..., -3:], 1e-6)
    shares = reason_shares(posterior, data, pick, years[:3])
    np.testing.assert_allclose(shares.sum(axis=-1), 1.0)
    np.testing.assert_allclose(shares, rates["reason_share"][:, :, -3:])
