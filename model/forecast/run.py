"""``carecast forecast``: a per-authority posterior -> probabilistic forecasts of every
scenario, with costs, scenario comparisons, figures and a workbook.

Writes to ``out_dir``:

- ``forecast.csv`` / ``forecast.parquet``: mean and quantiles per scenario, month end,
  measure (``stock``, ``entries``, ``exits``, ``cost``) and state (``total``: every
  looked-after child), columns ``model.forecast.tables.COLUMNS`` and ``fit_passed``;
- ``differences.csv`` / ``.parquet``: each scenario minus the baseline, draw by draw,
  summarised alike; ``probabilities.csv``: P(at least k fewer / more than the baseline)
  at each 31 March;
- ``draws.nc``: the simulated draws (stock, entries, exits, cost) for anyone who wants them;
- ``forecast_info.json``: what was run (draws, horizon, scenarios, seeds, the fit's
  diagnostics verdict, the seconds of each stage: prepare, simulate, summarise, write the
  tables and draws, figures, workbook);
- ``figures/``: the headline fan charts, placement groups, costs and the scenario page (PNG
  and SVG, ``model.report.forecast_figures``); ``forecast.xlsx``: every table.

A fit that failed its diagnostics still forecasts, but every output says so.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from model.config.costs import CostsConfig
from model.config.fit import PriorsConfig, StructureConfig
from model.config.forecast import ForecastConfig
from model.config.seeds import derive_seed
from model.fit.posterior import load_posterior
from model.forecast.costs import (
    cost_per_period,
    inflation_draws,
    inflation_path,
    unit_cost_draws,
    unit_cost_multipliers,
)
from model.forecast.effects import build_changes, check_against_fit
from model.forecast.inputs import DrawInputs, ForecastInputError, Layout, draw_inputs
from model.forecast.scenarios import BASELINE, Scenario, ScenarioError, load_scenarios
from model.forecast.simulate import Simulation, SimulationLimitError, simulate
from model.forecast.tables import (
    TOTAL,
    differences,
    probability_table,
    quantile_table,
)
from model.logs import starting
from model.report.forecast_figures import forecast_figures
from model.report.workbook import write_workbook


@dataclass
class ForecastResult:
    """What :func:`forecast_authority` produced (tables as written)."""

    forecast: pd.DataFrame
    differences: pd.DataFrame
    probabilities: pd.DataFrame
    simulation: Simulation
    cost: np.ndarray
    """[N, C, H, G + 1] pounds per month by care state, then the total."""
    inputs: DrawInputs
    scenarios: list[str]
    fit_passed: bool
    seconds: dict[str, float]


def forecast_authority(
    posterior: Path,
    out_dir: Path,
    seed: int,
    horizon: int | None = None,
    scenarios_file: Path | None = None,
    structure: StructureConfig | None = None,
    priors: PriorsConfig | None = None,
    forecast: ForecastConfig | None = None,
    costs: CostsConfig | None = None,
    write_figures: bool = True,
    only: str | None = None,
    threads: int | None = None,
) -> ForecastResult:
    """Forecast the baseline and every scenario in ``scenarios_file`` from a saved
    per-authority posterior; write the outputs to ``out_dir`` (see the module). ``only``:
    the baseline and just that scenario (``baseline``: the baseline alone), as the workflow
    runs them one job each; the baseline's draws are the same in every job. ``threads``:
    the simulation's (default: one per core); the results do not depend on it."""
    structure = structure or StructureConfig()
    forecast = forecast or ForecastConfig()
    costs = costs or CostsConfig()
    horizon = horizon or forecast.horizon_months
    clock = time.perf_counter()
    trace = load_posterior(Path(posterior), structure, priors)
    authority = str(trace.attrs.get("authority", ""))
    fit_passed = bool(int(trace.attrs.get("diagnostics_passed", 0)))
    rng = np.random.default_rng(derive_seed(seed, authority, "forecast"))
    inputs = draw_inputs(trace, horizon, forecast.draws, rng)
    layout = inputs.layout
    scenarios: list[Scenario] = (
        load_scenarios(Path(scenarios_file), layout.network) if scenarios_file else []
    )
    # Bounds that need the fit and the horizon, checked on the whole file (its positions).
    check_against_fit(scenarios, inputs, str(scenarios_file))
    if only is not None:
        scenarios = _only(scenarios, only, scenarios_file)
    names = [BASELINE, *(s.name for s in scenarios)]
    changes = build_changes(scenarios, layout, inputs.month_ends)
    prepared = time.perf_counter()
    starting(f"{authority}: simulating {len(inputs.draw_index)} draws x {len(names)} scenarios "
             f"x {horizon} months")  # fmt: skip
    try:
        sim = simulate(
            layout.last_stock, inputs.odds, inputs.drift, inputs.year_of_month,
            inputs.log_entries, inputs.dispersion, inputs.composition, inputs.landing,
            inputs.feedback, layout.caseload_mean, layout.network, changes,
            derive_seed(seed, authority, "forecast", "simulate"), threads=threads,
        )  # fmt: skip
    except SimulationLimitError as error:
        raise _limit_error(error, names, inputs.month_ends, posterior, scenarios_file) from None
    simulated = time.perf_counter()
    cost = _costs(sim, inputs, scenarios, costs, structure, rng)
    states = [*layout.states, TOTAL]
    care_states = [*layout.care_states, TOTAL]
    months = inputs.month_ends
    measures = {"stock": sim.stock, "entries": sim.entries, "exits": sim.exits}
    tables = [quantile_table(v, authority, names, months, m, states) for m, v in measures.items()]
    tables.append(quantile_table(cost, authority, names, months, "cost", care_states))
    table = pd.concat(tables, ignore_index=True)
    table["fit_passed"] = fit_passed
    diff = _difference_table(measures | {"cost": cost}, authority, names, months, states,
                             care_states)  # fmt: skip
    diff["fit_passed"] = fit_passed
    probabilities = pd.concat(
        [
            probability_table(sim.stock, authority, names, months, "stock", states,
                              forecast.thresholds),
            probability_table(cost, authority, names, months, "cost", care_states,
                              [1000 * k for k in forecast.thresholds]),
        ],
        ignore_index=True,
    )  # fmt: skip
    probabilities["fit_passed"] = fit_passed
    summarised = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    starting(f"{authority}: writing the tables and draws")
    write_tables(out, table, diff, probabilities)
    _write_draws(out / "draws.nc", measures, cost, names, months, states, care_states, trace)
    history = history_table(layout, authority)
    seconds = stage_seconds(clock, prepared, simulated, summarised)  # write: tables and draws
    if write_figures:
        starting(f"{authority}: writing the figures and workbook")
        seconds |= write_reports(out, table, diff, probabilities, history, Path(posterior),
                                 fit_passed)  # fmt: skip
    info = {
        "authority": authority,
        "posterior": str(posterior),
        "fit_passed": fit_passed,
        "draws": len(inputs.draw_index),
        "horizon_months": horizon,
        "first_month": months[0],
        "last_month": months[-1],
        "scenarios": {s.name: s.description for s in scenarios},
        "seed": seed,
        "seconds": seconds,
    }
    (out / "forecast_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return ForecastResult(table, diff, probabilities, sim, cost, inputs, names, fit_passed, seconds)


def _limit_error(
    error: SimulationLimitError,
    names: list[str],
    months: list[str],
    posterior: Path,
    scenarios_file: Path | None,
) -> ValueError:
    """The simulator's stop as a user's error: a scenario's (``ScenarioError``, naming the
    file and scenario) or, in the baseline, the fit's (``ForecastInputError``)."""
    where = f"in {months[error.month]} (draw {error.draw})"
    if error.scenario == 0:
        return ForecastInputError(
            f"{posterior}: the baseline forecast stopped {where}: {error.reason}; the fit's "
            "rates grow beyond any authority's (check its diagnostics)"
        )
    return ScenarioError(
        f"{scenarios_file}: scenario {names[error.scenario]}: the forecast stopped {where}: "
        f"{error.reason}; make its changes smaller"
    )


def _only(scenarios: list[Scenario], name: str, source: Path | None) -> list[Scenario]:
    """The scenario called ``name`` (none for the baseline); refused when absent."""
    if name == BASELINE:
        return []
    chosen = [s for s in scenarios if s.name == name]
    if not chosen:
        raise ScenarioError(
            f"{source}: no scenario called {name} (it has {', '.join(s.name for s in scenarios)})"
        )
    return chosen


def _costs(
    sim: Simulation,
    inputs: DrawInputs,
    scenarios: list[Scenario],
    costs: CostsConfig,
    structure: StructureConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """[N, C, H, G + 1] pounds per month by care state (then their total): each draw's own
    unit costs and inflation, each scenario's cost changes."""
    layout = inputs.layout
    care = [layout.states.index(s) for s in layout.care_states]
    n = sim.stock.shape[0]
    weekly = unit_cost_draws(costs, layout.care_states, n, rng, structure.placement_groups)
    inflation = inflation_draws(costs, n, rng)
    end = sim.stock[..., care].astype("float64")  # [N, C, H, G]
    opening = np.broadcast_to(layout.last_stock.sum(axis=1)[care], end[:, :, :1].shape)
    start = np.concatenate([opening, end[:, :, :-1]], axis=2)
    out = np.zeros((*end.shape[:3], len(care) + 1))
    months = inputs.month_ends
    for c in range(end.shape[1]):
        changed = scenarios[c - 1].changes if c else []
        out[:, c, :, :-1] = cost_per_period(
            start[:, c], end[:, c], months, weekly, inflation_path(changed, months, inflation),
            costs.price_date, unit_cost_multipliers(changed, layout.care_states, months),
        )  # fmt: skip
    out[..., -1] = out[..., :-1].sum(axis=-1)
    return out


def _difference_table(
    measures: dict[str, np.ndarray],
    authority: str,
    names: list[str],
    months: list[str],
    states: list[str],
    care_states: list[str],
) -> pd.DataFrame:
    """Quantiles of every scenario minus the baseline, draw by draw, per measure."""
    if len(names) < 2:
        return quantile_table(np.zeros((1, 0, len(months), 1)), authority, [], months, "", [""])
    return pd.concat(
        [
            quantile_table(
                differences(values),
                authority,
                names[1:],
                months,
                measure,
                care_states if measure == "cost" else states,
            )
            for measure, values in measures.items()
        ],
        ignore_index=True,
    )


def history_table(layout: Layout, authority: str) -> pd.DataFrame:
    """Observed children at each month end fitted, per state and in total (care), as
    ``authority, period_end, measure, state, value``."""
    stock = layout.stock_history  # [T + 1, S]
    values = np.concatenate([stock, stock[:, layout.care].sum(axis=1, keepdims=True)], axis=1)
    states = [*layout.states, TOTAL]
    months = layout.history_months()
    return pd.DataFrame(
        {
            "authority": authority,
            "period_end": np.repeat(months, len(states)),
            "measure": "stock",
            "state": np.tile(states, len(months)),
            "value": values.ravel(),
        }
    )


def stage_seconds(
    clock: float, prepared: float, simulated: float, summarised: float
) -> dict[str, float]:
    """Seconds of a forecast's stages from the ``time.perf_counter()`` at its start and at
    the end of each stage (writing: until now)."""
    return {
        "prepare": prepared - clock,
        "simulate": simulated - prepared,
        "summarise": summarised - simulated,
        "write": time.perf_counter() - summarised,
    }


def fit_provenance(trace: xr.DataTree, label: str) -> dict:
    """The attributes of the fit that a forecast's draws keep: package version, model hash,
    data fingerprint, ``label`` (what was fitted: ``authority`` or ``model``) and the
    diagnostics' verdict, those the fit has."""
    keys = ("carecast_version", "model_hash", "data_fingerprint", label, "diagnostics_passed")
    return {key: trace.attrs[key] for key in keys if key in trace.attrs}


def write_tables(
    out: Path, table: pd.DataFrame, diff: pd.DataFrame, probabilities: pd.DataFrame
) -> None:
    """``forecast`` and ``differences`` as CSV and parquet, ``probabilities`` as CSV."""
    for name, frame in (("forecast", table), ("differences", diff)):
        frame.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
        frame.to_parquet(out / f"{name}.parquet", index=False)
    probabilities.to_csv(out / "probabilities.csv", index=False, lineterminator="\n")


def _write_draws(
    path: Path,
    measures: dict[str, np.ndarray],
    cost: np.ndarray,
    names: list[str],
    months: list[str],
    states: list[str],
    care_states: list[str],
    trace: xr.DataTree,
) -> None:
    """Every simulated draw as netCDF, with the fit's provenance."""
    dims = ("draw", "scenario", "period_end", "state")
    data = {m: (dims, v) for m, v in measures.items()}
    data["cost"] = (("draw", "scenario", "period_end", "care_state"), cost.astype("float32"))
    dataset = xr.Dataset(
        data,
        coords={
            "scenario": names,
            "period_end": months,
            "state": states,
            "care_state": care_states,
        },
        attrs=fit_provenance(trace, "authority"),
    )
    dataset.to_netcdf(path, engine="h5netcdf")


def write_reports(
    out: Path,
    table: pd.DataFrame,
    diff: pd.DataFrame,
    probabilities: pd.DataFrame,
    history: pd.DataFrame,
    posterior: Path,
    fit_passed: bool,
) -> dict[str, float]:
    """The figures (``out/figures``, ``model.report.forecast_figures``) and the workbook
    (``out/forecast.xlsx``) of the tables :func:`forecast_authority` writes; the seconds of
    each (``figures``, ``workbook``)."""
    start = time.perf_counter()
    forecast_figures(table, diff, history, out / "figures", not fit_passed)
    drawn = time.perf_counter()
    write_workbook(
        out / "forecast.xlsx",
        table[table.measure != "cost"],
        diff,
        probabilities,
        table[table.measure == "cost"],
        pd.DataFrame(),
        _diagnostics(posterior),
        history=history,
    )
    return {"figures": drawn - start, "workbook": time.perf_counter() - drawn}


def _diagnostics(posterior: Path) -> dict:
    """The fit's diagnostics (``diagnostics.json`` beside the posterior)."""
    path = posterior.parent / "diagnostics.json"
    if not path.is_file():
        return {"passed": False, "problems": [f"no diagnostics found beside {posterior}"]}
    return json.loads(path.read_text())
