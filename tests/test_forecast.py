"""Per-authority forecasts: the simulator's conservation, its probabilities, scenarios, and
the outputs of ``carecast forecast``."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from model.cli import main
from model.config.fit import StructureConfig
from model.config.forecast import ForecastConfig
from model.evaluate.backtest import _routed
from model.fit.run import load_posterior
from model.forecast.effects import build_changes
from model.forecast.inputs import DrawInputs, draw_inputs
from model.forecast.run import forecast_authority
from model.forecast.scenarios import MultiplyRate, Scenario, resolve_flow
from model.forecast.simulate import Changes, Simulation, simulate
from model.forecast.tables import COLUMNS

START = date(2024, 4, 1)
"""The first forecast month of the fixture's fit (it ends in March 2024)."""


@pytest.fixture(scope="module")
def posterior(small_fit: Path) -> Path:
    """The shared short fit of a small synthetic authority (``conftest.small_fit``)."""
    return small_fit


@pytest.fixture(scope="module")
def inputs(posterior: Path) -> DrawInputs:
    return draw_inputs(load_posterior(posterior), 24, 300, np.random.default_rng(3))


def run(inputs: DrawInputs, changes: Changes, seed: int = 11) -> Simulation:
    layout = inputs.layout
    return simulate(
        layout.last_stock, inputs.odds, inputs.drift, inputs.year_of_month, inputs.log_entries,
        inputs.dispersion, inputs.composition, inputs.landing, inputs.feedback,
        layout.caseload_mean, layout.network, changes, seed,
    )  # fmt: skip


def scenario(name: str, flow: str, factor: float) -> Scenario:
    change = MultiplyRate(
        type="multiply_rate", flow=resolve_flow(flow, StructureConfig(), True), factor=factor,
        start=START,
    )  # fmt: skip
    return Scenario(name=name, changes=[change])


def test_children_are_conserved_and_never_negative(inputs: DrawInputs) -> None:
    changes = build_changes(
        [scenario("fewer", "cpp -> care", 0.5), scenario("more", "care -> exit", 2.0)],
        inputs.layout,
        inputs.month_ends,
    )
    sim = run(inputs, changes)
    layout = inputs.layout
    stock = sim.stock.astype("int64")
    assert (stock >= 0).all() and (sim.entries >= 0).all() and (sim.exits >= 0).all()
    opening = np.concatenate(
        [layout.last_stock.sum(axis=1), [layout.last_stock[layout.care].sum()]]
    )
    before = np.concatenate(
        [np.broadcast_to(opening, (*stock.shape[:2], 1, stock.shape[3])), stock[:, :, :-1]],
        axis=2,
    )
    # Each state (and care as a whole) changes by its arrivals minus its departures.
    assert (stock - before == sim.entries - sim.exits).all()
    # The total is the care states' sum.
    assert (stock[..., -1] == stock[..., :-1][..., layout.care].sum(axis=-1)).all()
    assert sim.stock[:, 0].std(axis=0).max() > 0  # the draws differ


def test_a_scenario_without_changes_equals_the_baseline_draw_by_draw(inputs: DrawInputs) -> None:
    changes = build_changes(
        [scenario("same", "cpp -> care", 1.0), scenario("halved", "outside -> care", 0.5)],
        inputs.layout,
        inputs.month_ends,
    )
    sim = run(inputs, changes)
    for values in (sim.stock, sim.entries, sim.exits, sim.streams):
        assert (values[:, 1] == values[:, 0]).all()
        assert (values[:, 2] != values[:, 0]).any()
    # Fixed seeds give identical results; another seed gives others.
    again = run(inputs, changes)
    assert (again.stock == sim.stock).all()
    assert (run(inputs, changes, seed=12).stock != sim.stock).any()


def test_halving_entries_halves_them_in_expectation(inputs: DrawInputs) -> None:
    scenarios = [
        scenario("half", "outside -> care", 0.5),
        scenario("half_referrals", "outside -> referral", 0.5),
    ]
    sim = run(inputs, build_changes(scenarios, inputs.layout, inputs.month_ends))
    streams = list(inputs.layout.streams)
    for c, stream in ((1, "care"), (2, "referral")):
        k = streams.index(stream)
        total = sim.streams[:, :, :, k].sum(axis=2).astype(float)  # [N, C] over the months
        # Per draw, the scenario's mean is exactly half the baseline's (same mean, same
        # dispersion, no feedback): d has expectation 0; 4 standard errors of its mean.
        d = total[:, c] - 0.5 * total[:, 0]
        assert abs(d.mean()) < 4 * d.std() / np.sqrt(len(d)), (stream, d.mean(), d.std())
        assert total[:, c].mean() < 0.6 * total[:, 0].mean()
        # The other stream is unchanged draw by draw: its random numbers are keyed by its
        # own events (and this fit has no capacity feedback on entries).
        other = streams.index("referral" if stream == "care" else "care")
        assert np.array_equal(sim.streams[:, c, :, other], sim.streams[:, 0, :, other])


def test_first_month_departures_follow_the_model_probabilities(inputs: DrawInputs) -> None:
    # One posterior draw repeated, no entries: a state's departures in the first month
    # average its children at risk times the probability of leaving, odds / (1 + sum of
    # odds), where the children at risk are those there at the start and those who moved or
    # aged in during the month (the second round); moving up a band within a state is not
    # leaving it, except the 18th birthday in care.
    n = 4000
    one = replace(
        inputs,
        odds=np.repeat(inputs.odds[:1], n, axis=0),
        drift=np.repeat(inputs.drift[:1], n, axis=0),
        log_entries=np.repeat(inputs.log_entries[:1], n, axis=0),
        dispersion=np.repeat(inputs.dispersion[:1], n, axis=0),
        composition=np.zeros((n, *inputs.composition.shape[1:])),
        landing=np.repeat(inputs.landing[:1], n, axis=0),
        feedback={k: np.repeat(v[:1], n) for k, v in inputs.feedback.items()},
    )
    sim = run(one, build_changes([], one.layout, one.month_ends))
    layout = one.layout
    odds = one.odds[0] * np.exp(one.drift[0, one.year_of_month[0]])[:, None, None]  # [S, B, D]
    probability = odds / (1 + odds.sum(axis=-1, keepdims=True))
    probability[..., 0] = 1 - probability[..., 1:].sum(axis=-1)
    landing = one.landing[0]
    cin = layout.states.index("cin")
    at_risk = layout.last_stock + _routed(layout.last_stock, probability, layout, landing, cin)
    leaving = probability[..., 1:].sum(axis=-1)
    age = layout.destinations.index("age")
    leaving[:, :-1] -= probability[:, :-1, age]  # moving up a band is not leaving the state
    expected = (at_risk * leaving).sum(axis=1)  # [S]
    exits = sim.exits[:, 0, 0, :-1].astype(float)
    sd = exits.std(axis=0)
    assert (np.abs(exits.mean(axis=0) - expected) <= 4 * sd / np.sqrt(n) + 1e-9).all(), (
        exits.mean(axis=0),
        expected,
    )
    assert (sim.streams == 0).all()
    # Without the second round (children at risk only from the start), the cin departures
    # would fall short by more than the tolerance: the test can tell the two apart.
    first_round = (layout.last_stock * leaving).sum(axis=1)
    assert abs(exits.mean(axis=0)[cin] - first_round[cin]) > 4 * sd[cin] / np.sqrt(n)


def test_forecast_writes_tidy_quantiles_draws_and_reports(posterior: Path, tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(
        "scenarios:\n"
        "  - name: edge_of_care\n"
        "    changes:\n"
        "      - {type: multiply_rate, flow: cpp -> care, factor: 0.5, start: 2024-04-01}\n"
    )
    out = tmp_path / "out"
    result = forecast_authority(
        posterior, out, seed=5, horizon=14, scenarios_file=scenarios,
        forecast=ForecastConfig(draws=200),
    )  # fmt: skip
    table = pd.read_csv(out / "forecast.csv")
    assert list(table.columns) == [*COLUMNS, "fit_passed"]
    assert set(table.scenario) == {"baseline", "edge_of_care"}
    assert set(table.measure) == {"stock", "entries", "exits", "cost"}
    months = sorted(set(table.period_end))
    assert len(months) == 14 and months[0] == "2024-04-30" and months[-1] == "2025-05-31"
    states = set(result.inputs.layout.states) | {"total"}
    assert set(table[table.measure == "stock"].state) == states
    quantiles = table[COLUMNS[6:]].to_numpy()
    assert (np.diff(quantiles, axis=1) >= 0).all()  # q05 <= q10 <= ... <= q95
    assert pd.read_parquet(out / "forecast.parquet").equals(pd.read_csv(out / "forecast.csv"))
    # The total stock's quantiles are those of the simulated draws.
    row = table[(table.measure == "stock") & (table.state == "total")].iloc[-1]
    draws = xr.open_dataset(out / "draws.nc", engine="h5netcdf")
    last = draws["stock"].sel(scenario=row.scenario, state="total").values[:, -1]
    assert row.q50 == pytest.approx(np.quantile(last, 0.5))
    # Costs: every draw positive, the total the sum of the groups.
    cost = draws["cost"].values
    assert (cost[..., :-1] >= 0).all()
    assert np.allclose(cost[..., -1], cost[..., :-1].sum(axis=-1), rtol=1e-5)
    differences = pd.read_csv(out / "differences.csv")
    assert set(differences.scenario) == {"edge_of_care"}
    probabilities = pd.read_csv(out / "probabilities.csv")
    assert probabilities.probability.between(0, 1).all()
    assert (out / "forecast.xlsx").stat().st_size > 5_000
    assert {path.name for path in (out / "figures").iterdir()} == {
        f"SYN01_{name}{ext}"
        for name in ("looked_after", "children_in_need", "child_protection", "placements",
                     "costs", "scenarios")
        for ext in (".png", ".svg")
    }  # fmt: skip
    info = json.loads((out / "forecast_info.json").read_text())
    assert info["draws"] == 200 and info["fit_passed"] == result.fit_passed
    # Nothing identifying a child: only aggregate columns.
    assert not {"CHILD", "child_id", "DOB", "postcode"} & set(table.columns)


def test_a_scenario_alone_gives_the_same_results_as_beside_the_others(
    posterior: Path, tmp_path: Path
) -> None:
    """The workflow forecasts every scenario in one job; a user may ask for one alone. A
    scenario's draws (and so its tables) must not depend on which others run beside it, and
    the baseline's are the same in every run."""
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(
        "scenarios:\n"
        "  - name: edge_of_care\n"
        "    changes:\n"
        "      - {type: multiply_rate, flow: cpp -> care, factor: 0.5, start: 2024-04-01}\n"
        "  - name: more_exits\n"
        "    changes:\n"
        "      - {type: multiply_rate, flow: care -> exit:return_home, factor: 1.5,\n"
        "         start: 2024-06-01}\n"
    )
    runs = {
        only: forecast_authority(
            posterior,
            tmp_path / str(only),
            seed=5,
            horizon=12,
            scenarios_file=scenarios,
            forecast=ForecastConfig(draws=150),
            write_figures=False,
            only=only,
        )
        for only in (None, "more_exits", "baseline")
    }
    together, alone, baseline = runs[None], runs["more_exits"], runs["baseline"]
    assert together.scenarios == ["baseline", "edge_of_care", "more_exits"]
    assert alone.scenarios == ["baseline", "more_exits"] and baseline.scenarios == ["baseline"]
    for name in ("stock", "entries", "exits", "streams"):
        both = getattr(together.simulation, name)
        assert np.array_equal(getattr(alone.simulation, name), both[:, [0, 2]]), name
        assert np.array_equal(getattr(baseline.simulation, name), both[:, [0]]), name
    assert np.array_equal(alone.cost, together.cost[:, [0, 2]])
    assert np.array_equal(baseline.cost, together.cost[:, [0]])
    # The change does something, so the equality above is not of two baselines.
    stock = together.simulation.stock
    assert (stock[:, 2] != stock[:, 0]).any()
    # The written tables agree row for row.
    kept = together.forecast[together.forecast.scenario != "edge_of_care"]
    pd.testing.assert_frame_equal(alone.forecast, kept.reset_index(drop=True))
    kept = together.differences[together.differences.scenario == "more_exits"]
    pd.testing.assert_frame_equal(alone.differences, kept.reset_index(drop=True))


def test_cli_names_the_scenario_file_and_field_of_a_bad_change(
    posterior: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "scenarios:\n"
        "  - name: reunification\n"
        "    changes:\n"
        "      - {type: multiply_rate, flow: care -> exit:home, factor: 1.2, start: 2024-04-01}\n"
    )
    status = main(["forecast", str(posterior), "--out", str(tmp_path / "o"), "--scenarios",
                   str(bad), "--horizon", "3"])  # fmt: skip
    message = capsys.readouterr().err
    assert status == 2
    assert str(bad) in message and "reunification" in message and "exit:home" in message
    assert "Traceback" not in message
