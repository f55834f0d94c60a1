"""Issue 15, scenarios: bounded values, starts inside the forecast window, counts that cannot
wrap (the simulator stops with an error past its safe maximum), and the same bounds in the
national forecast. Each case is one that used to pass silently (or hang)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import model.forecast.run as forecast_run
from model.cli import main
from model.config.fit import StructureConfig
from model.config.forecast import ForecastConfig
from model.fit.run import load_posterior
from model.forecast.effects import build_changes, check_against_fit, expected_flow
from model.forecast.inputs import DrawInputs, draw_inputs
from model.forecast.national.changes import check_national_additions, national_changes
from model.forecast.run import forecast_authority
from model.forecast.scenarios import (
    ADD_FLOOR,
    MAX_FACTOR,
    ScenarioError,
    addition_limit,
    load_scenarios,
    resolve_flow,
    validate_scenarios,
)
from model.forecast.simulate import (
    SAFE_MAX_CHILDREN,
    Changes,
    Simulation,
    SimulationLimitError,
    simulate,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "config" / "scenarios" / "examples.yaml"
FIRST, LAST = "2024-04-01", "2026-03-31"
"""The forecast window of the fixture's fit (it ends in March 2024) over 24 months."""
HORIZON = 24


@pytest.fixture(scope="module")
def posterior(small_fit: Path) -> Path:
    """The shared short fit of a small synthetic authority (``conftest.small_fit``)."""
    return small_fit


@pytest.fixture(scope="module")
def inputs(posterior: Path) -> DrawInputs:
    return draw_inputs(load_posterior(posterior), HORIZON, 200, np.random.default_rng(3))


def write(tmp_path: Path, changes: str, name: str = "s.yaml") -> Path:
    """A file of one scenario, ``pushed``, with ``changes`` (YAML flow mappings ``{...}``)."""
    lines = "".join(f"      - {' '.join(c.split())}\n" for c in re.findall(r"\{[^{}]*\}", changes))
    path = tmp_path / name
    path.write_text(f"scenarios:\n  - name: pushed\n    changes:\n{lines}", encoding="utf-8")
    return path


def refusal(path: Path, cin_funnel: bool = True) -> list[str]:
    """The lines of the ScenarioError loading ``path``, each naming the file."""
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(path, StructureConfig(), cin_funnel)
    lines = str(caught.value).splitlines()
    assert lines and all(line.startswith(f"{path}: ") for line in lines), lines
    return [line.removeprefix(f"{path}: ") for line in lines]


def run(inputs: DrawInputs, changes: Changes, seed: int = 11) -> Simulation:
    layout = inputs.layout
    return simulate(
        layout.last_stock, inputs.odds, inputs.drift, inputs.year_of_month, inputs.log_entries,
        inputs.dispersion, inputs.composition, inputs.landing, inputs.feedback,
        layout.caseload_mean, layout.network, changes, seed,
    )  # fmt: skip


# --- values bounded in the file ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "{type: multiply_rate, flow: outside -> care, factor: 1000000000, start: 2024-04-01}",
            "change 1 (multiply_rate): factor: got 1000000000",
        ),
        (
            "{type: multiply_rate, flow: care -> exit, factor: 10.5, start: 2024-04-01}",
            "change 1 (multiply_rate): factor: got 10.5",
        ),
        (
            "{type: multiply_unit_cost, group: care, factor: 1000, start: 2024-04-01}",
            "change 1 (multiply_unit_cost): factor: got 1000",
        ),
        (
            "{type: add_children, flow: outside -> care, per_month: 1000000000, start: 2024-04-01}",
            "change 1 (add_children): per_month: got 1000000000",
        ),
        (
            "{type: add_children, flow: residential -> foster_other, per_month: -1000000000, "
            "start: 2024-04-01}",
            "change 1 (add_children): per_month: got -1000000000",
        ),
        (
            "{type: set_capacity, children: 1000000000, start: 2024-04-01}",
            "change 1 (set_capacity): children: got 1000000000",
        ),
        (
            "{type: set_workforce, social_workers: 1000000000000, start: 2024-04-01}",
            "change 1 (set_workforce): social_workers: got 1000000000000",
        ),
    ],
)
def test_values_beyond_the_documented_bounds_are_refused(tmp_path, change, expected):
    (line,) = refusal(write(tmp_path, change))
    assert line.startswith(f"scenario 1 (pushed), {expected}"), line
    assert "allowed: " in line and ("less than or equal to" in line or "greater than" in line)


def test_the_bounds_themselves_are_allowed(tmp_path):
    path = write(
        tmp_path,
        f"""\
        {{type: multiply_rate, flow: outside -> care, factor: {MAX_FACTOR}, start: 2024-04-01}}
        {{type: multiply_unit_cost, group: care, factor: {MAX_FACTOR}, start: 2024-04-01}}
        {{type: add_children, flow: outside -> care, per_month: -1000, start: 2024-04-01}}
        {{type: set_capacity, children: 100000, start: 2024-04-01}}
        {{type: set_workforce, social_workers: 50000, start: 2024-04-01}}
        {{type: redirect, flow: outside -> residential, to: foster_other, share: 1,
          start: 2024-04-01}}
        """,
    )
    (scenario,) = load_scenarios(path, StructureConfig(), cin_funnel=True)
    assert len(scenario.changes) == 6


def test_a_cli_forecast_with_a_huge_factor_exits_2_and_writes_nothing(
    posterior: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It used to exit 0 with negative stocks, entries and costs (int32 wrapping).
    path = write(
        tmp_path,
        "{type: multiply_rate, flow: outside -> care, factor: 1000000000, start: 2024-04-01}",
    )
    out = tmp_path / "out"
    status = main(["forecast", str(posterior), "--out", str(out), "--scenarios", str(path),
                   "--horizon", "3"])  # fmt: skip
    message = capsys.readouterr().err
    assert status == 2
    assert str(path) in message and "scenario 1 (pushed), change 1 (multiply_rate)" in message
    assert "factor: got 1000000000" in message and "less than or equal to 10" in message
    assert "Traceback" not in message
    assert not (out / "forecast.csv").exists()


# --- starts inside the forecast window -----------------------------------------------------------


@pytest.mark.parametrize("start", ["2019-04-01", "2024-03-31", "2026-04-01", "2062-04-01"])
def test_a_start_outside_the_forecast_window_is_refused(inputs, tmp_path, start):
    path = write(
        tmp_path,
        f"""\
        {{type: set_capacity, children: 400, start: {FIRST}}}
        {{type: multiply_rate, flow: cpp -> care, factor: 0.8, start: {start}}}
        """,
    )
    scenarios = load_scenarios(path, StructureConfig(), cin_funnel=True)  # fine without a fit
    with pytest.raises(ScenarioError) as caught:
        check_against_fit(scenarios, inputs, str(path))
    (line,) = str(caught.value).splitlines()
    assert line == (
        f"{path}: scenario 1 (pushed), change 2 (multiply_rate): start: got {start}; expected "
        f"a date in the forecast window, {FIRST} to {LAST} (the months after the fit's last, "
        f"2024-03-31, to the {HORIZON}-month horizon)"
    )


def test_the_window_s_ends_and_a_ramp_past_the_horizon_are_fine(inputs, tmp_path):
    path = write(
        tmp_path,
        f"""\
        {{type: multiply_rate, flow: cpp -> care, factor: 0.8, start: {FIRST}}}
        {{type: multiply_rate, flow: cpp -> care, factor: 0.9, start: {LAST}, ramp_months: 600}}
        """,
    )
    check_against_fit(load_scenarios(path, StructureConfig(), True), inputs, str(path))


def test_a_cli_forecast_names_a_start_decades_after_the_horizon(
    posterior: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "{type: set_capacity, children: 400, start: 2062-04-01}")
    status = main(["forecast", str(posterior), "--out", str(tmp_path / "o"), "--scenarios",
                   str(path), "--horizon", "12"])  # fmt: skip
    message = capsys.readouterr().err
    assert status == 2 and "Traceback" not in message
    assert f"{path}: scenario 1 (pushed), change 1 (set_capacity): start: got 2062-04-01" in message
    assert "forecast window, 2024-04-01 to 2025-03-31" in message


def test_the_shipped_examples_pass_the_bounds_of_a_fit_whose_window_holds_them(posterior):
    # The examples start in 2026; a forecast of this fit reaching 2027 holds them.
    wide = draw_inputs(load_posterior(posterior), 36, 50, np.random.default_rng(1))
    check_against_fit(load_scenarios(EXAMPLES, StructureConfig(), True), wide, str(EXAMPLES))


# --- additions against their flow ---------------------------------------------------------------


def test_an_addition_far_beyond_its_flow_is_refused(inputs, tmp_path):
    flow = expected_flow(resolve_flow("outside -> care", StructureConfig(), True), inputs)
    limit = addition_limit(flow)
    assert 0 < flow < 100 and limit == max(10 * flow, ADD_FLOOR)
    path = write(
        tmp_path,
        f"""\
        {{type: add_children, flow: outside -> care, per_month: {limit}, start: {FIRST}}}
        {{type: add_children, flow: outside -> care, per_month: 1000, start: {FIRST}}}
        {{type: add_children, flow: residential -> foster_other, per_month: -500, start: {FIRST}}}
        """,
    )
    with pytest.raises(ScenarioError) as caught:
        check_against_fit(load_scenarios(path, StructureConfig(), True), inputs, str(path))
    lines = str(caught.value).splitlines()
    assert len(lines) == 2, lines  # the first, at the limit, is fine
    assert lines[0].startswith(
        f"{path}: scenario 1 (pushed), change 2 (add_children): per_month: got 1000; allowed: "
        f'at most {limit:.4g} children a month either way on "outside -> care" with this fit'
    )
    assert "change 3 (add_children): per_month: got -500" in lines[1]
    assert "or 10 a month if larger" in lines[1]  # a small flow: the floor applies


def test_a_move_s_expected_flow_is_its_stock_times_its_probability(inputs):
    flow = resolve_flow("residential -> foster_other", StructureConfig(), True)
    layout = inputs.layout
    s, d = layout.states.index("residential"), layout.destinations.index("foster_other")
    odds = inputs.odds[:, s] * np.exp(inputs.drift[:, inputs.year_of_month[0], s])[:, None, None]
    by_hand = (odds[..., d] / (1 + odds.sum(-1)) * layout.last_stock[s]).sum(-1).mean()
    assert expected_flow(flow, inputs) == pytest.approx(by_hand)
    assert 0 <= by_hand < layout.last_stock[s].sum()


# --- counts that cannot wrap -------------------------------------------------------------------


def test_a_forecast_at_the_bounds_is_finite_non_negative_and_conserves_children(
    posterior: Path, inputs: DrawInputs, tmp_path: Path
) -> None:
    # The largest multipliers and additions the bounds allow, on a small authority.
    care = addition_limit(expected_flow(resolve_flow("outside -> care", StructureConfig(), True),
                                        inputs))  # fmt: skip
    move = addition_limit(expected_flow(
        resolve_flow("residential -> foster_other", StructureConfig(), True), inputs))  # fmt: skip
    path = write(
        tmp_path,
        f"""\
        {{type: multiply_rate, flow: outside -> care, factor: {MAX_FACTOR}, start: {FIRST}}}
        {{type: multiply_rate, flow: outside -> referral, factor: {MAX_FACTOR}, start: {FIRST}}}
        {{type: multiply_rate, flow: cpp -> care, factor: {MAX_FACTOR}, start: {FIRST}}}
        {{type: add_children, flow: outside -> care, per_month: {care}, start: {FIRST}}}
        {{type: add_children, flow: residential -> foster_other, per_month: {move}, start: {FIRST}}}
        {{type: multiply_unit_cost, group: care, factor: {MAX_FACTOR}, start: {FIRST}}}
        {{type: set_inflation, annual: 0.99, start: {FIRST}}}
        """,
    )
    out = tmp_path / "out"
    result = forecast_authority(
        posterior, out, seed=5, horizon=HORIZON, scenarios_file=path,
        forecast=ForecastConfig(draws=200), write_figures=False,
    )  # fmt: skip
    sim, layout = result.simulation, result.inputs.layout
    for values in (sim.stock, sim.entries, sim.exits, sim.streams):
        assert (values >= 0).all() and values.max() <= SAFE_MAX_CHILDREN
    assert np.isfinite(result.cost).all() and (result.cost >= 0).all()
    # Children are conserved: each state changes by its arrivals minus its departures.
    stock = sim.stock.astype("int64")
    opening = np.concatenate(
        [layout.last_stock.sum(axis=1), [layout.last_stock[layout.care].sum()]]
    )
    before = np.concatenate(
        [np.broadcast_to(opening, (*stock.shape[:2], 1, stock.shape[3])), stock[:, :, :-1]], axis=2
    )
    assert (stock - before == sim.entries.astype("int64") - sim.exits).all()
    # The scenario really pushed: far more children in care than the baseline.
    assert stock[:, 1, -1, -1].mean() > 3 * stock[:, 0, -1, -1].mean()
    # What was written is what was simulated: nothing negative or wrapped in the files.
    table = pd.read_csv(out / "forecast.csv")
    assert (table[["mean", "q05", "q50", "q95"]] >= 0).all().all()
    draws = xr.open_dataset(out / "draws.nc", engine="h5netcdf")
    assert float(draws["stock"].min()) >= 0 and np.isfinite(draws["cost"].values).all()


def test_the_simulator_stops_with_an_error_instead_of_wrapping(inputs: DrawInputs) -> None:
    # A multiplier no file may give (validation refuses it), straight into the simulator:
    # it used to wrap int32 into negative stocks.
    changes = build_changes([], inputs.layout, inputs.month_ends)
    changes.entry = np.concatenate([changes.entry, changes.entry * 1e9])
    changes.rate = np.concatenate([changes.rate, changes.rate])
    changes.capacity = np.concatenate([changes.capacity, changes.capacity])
    changes.workforce = np.concatenate([changes.workforce, changes.workforce])
    with pytest.raises(SimulationLimitError) as caught:
        run(inputs, changes)
    assert caught.value.scenario == 1 and caught.value.month == 0
    assert f"mean entries in a month exceeded {SAFE_MAX_CHILDREN:,}" in str(caught.value)


def test_odds_that_overflow_stop_the_simulation(inputs: DrawInputs) -> None:
    # Exit feedback on a capacity of a millionth of a child: exp(beta x pressure) is inf.
    pressed = replace(
        inputs, feedback={**inputs.feedback, "beta_exit_capacity": np.ones(len(inputs.odds))}
    )
    changes = build_changes([], inputs.layout, inputs.month_ends)
    changes.capacity[:] = 1e-6
    with pytest.raises(SimulationLimitError, match="odds of leaving a state were not finite"):
        run(pressed, changes)


def test_changes_that_are_not_finite_are_refused_by_the_simulator(inputs: DrawInputs) -> None:
    changes = build_changes([], inputs.layout, inputs.month_ends)
    changes.rate[0, 0, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"changes\.rate: every value must be finite"):
        run(inputs, changes)


def test_a_stopped_simulation_is_a_named_error_not_a_traceback(
    posterior: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    def stopped(*args, **kwargs):
        raise SimulationLimitError(3, 1, 2, "the children in the system exceeded 10,000,000")

    monkeypatch.setattr(forecast_run, "simulate", stopped)
    path = write(tmp_path, "{type: multiply_rate, flow: cpp -> care, factor: 2, start: 2024-04-01}")
    status = main(["forecast", str(posterior), "--out", str(tmp_path / "o"), "--scenarios",
                   str(path), "--horizon", "6"])  # fmt: skip
    message = capsys.readouterr().err
    assert status == 2 and "Traceback" not in message
    assert f"{path}: scenario pushed: the forecast stopped in 2024-06-30 (draw 3)" in message


# --- the national forecast -----------------------------------------------------------------------

YEAR_ENDS = ["2022-03-31", "2023-03-31", "2024-03-31"]


def national_scenarios(*changes: dict) -> list:
    return validate_scenarios(
        {"scenarios": [{"name": "pushed", "changes": list(changes)}]}, StructureConfig(), True
    )


def test_national_huge_values_are_refused_by_the_same_bounds():
    with pytest.raises(ScenarioError, match=r"factor: got 1000000000; allowed: less than or"):
        national_scenarios(
            {"type": "multiply_rate", "flow": "outside -> care", "factor": 1_000_000_000,
             "start": "2021-04-01"}
        )  # fmt: skip


@pytest.mark.parametrize("start", ["2010-04-01", "2021-03-31", "2024-04-01", "2080-01-01"])
def test_national_starts_outside_the_forecast_years_are_refused(start):
    scenarios = national_scenarios(
        {"type": "multiply_rate", "flow": "care -> exit", "factor": 0.9, "start": start}
    )
    with pytest.raises(ScenarioError) as caught:
        national_changes(scenarios, YEAR_ENDS, None, "n.yaml")
    assert str(caught.value) == (
        f"n.yaml: scenario 1 (pushed), change 1 (multiply_rate): start: got {start}; expected "
        "a date in the forecast window, 2021-04-01 to 2024-03-31 (the forecast years ending "
        "31 March 2022 to 2024)"
    )
    # The window's ends are fine.
    for fine in ("2021-04-01", "2024-03-31"):
        national_changes(
            national_scenarios(
                {"type": "multiply_rate", "flow": "care -> exit", "factor": 0.9, "start": fine}
            ),
            YEAR_ENDS, None, "n.yaml",
        )  # fmt: skip


def test_national_additions_are_bounded_by_the_smallest_unit():
    # Two units starting 600 and 1,200 children a year: 50 and 100 a month.
    log_mean = np.log(np.array([[600.0, 1200.0]] * 4))
    add = {"type": "add_children", "flow": "outside -> care", "start": "2021-04-01"}
    check_national_additions(
        national_scenarios({**add, "per_month": 500}), log_mean, ["E1", "E2"], "n.yaml"
    )
    with pytest.raises(ScenarioError) as caught:
        check_national_additions(
            national_scenarios({**add, "per_month": 501}), log_mean, ["E1", "E2"], "n.yaml"
        )
    assert str(caught.value).startswith(
        "n.yaml: scenario 1 (pushed), change 1 (add_children): per_month: got 501; allowed: at "
        'most 500 children a month either way on "outside -> care" with this fit (10 x the 50 '
        "a month the fit expects in its smallest unit, E1"
    )
