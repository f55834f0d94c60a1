"""``carecast forecast`` of a national fit of published tables (:func:`forecast_national`):
every unit's yearly simulation (``model.forecast.national.simulate``) -> tables with a
``national`` sum, draws and fan charts.

**Outputs** (to ``out_dir``): ``forecast.csv``/``.parquet`` (columns
``model.forecast.tables.COLUMNS`` and ``fit_passed``; one row per authority, scenario,
31 March, measure and state; ``authority`` is the unit's code, and ``national`` the sum over
the units forecast, draw by draw), ``differences.csv``/``.parquet`` (scenario minus
baseline, draw by draw, for the measures scenarios change), ``probabilities.csv``
(P(at least k fewer / more children looked after than the baseline)), ``draws.nc``,
``forecast_info.json`` and ``figures/`` (fan charts of the national totals of every
measure, with the published totals before them). Measures and states (:data:`MEASURES`):

=====================  =================  =====  =========================================
simulated              measure            state  what
=====================  =================  =====  =========================================
``looked_after``       ``stock``          total  children looked after at 31 March
``started``            ``entries``        total  children starting to be looked after
``ceased``             ``exits``          total  children ceasing to be looked after
``referrals``          ``referrals``      total  referrals to children's social care
``plans_started``      ``plans_started``  cpp    child protection plans starting
``in_need``            ``in_need``        cin    children in need at 31 March (DfE's
                                                 count: every open CIN episode, plans and
                                                 looked-after children included)
``on_plan``            ``on_plan``        cpp    children on a protection plan at 31 March
=====================  =================  =====  =========================================

A fit that failed its diagnostics still forecasts, but every output says so
(``fit_passed``, the info file, the figures' titles).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from model.config.fit import StructureConfig
from model.config.forecast import ForecastConfig
from model.config.published import PublishedPriorsConfig
from model.config.seeds import derive_seed
from model.fit.published_data import SERIES, PublishedData
from model.forecast.national.changes import MONTHS_PER_YEAR
from model.forecast.national.simulate import CARE_FLOWS, NationalSimulation, simulate_national
from model.forecast.run import fit_provenance, stage_seconds, write_tables
from model.forecast.scenarios import load_scenarios
from model.forecast.tables import (
    COLUMNS,
    PROBABILITY_COLUMNS,
    TOTAL,
    differences,
    probability_table,
    quantile_table,
)

NATIONAL = "national"
"""``authority`` of the rows summed over every unit forecast (the fit's seed label too)."""
MEASURES: dict[str, tuple[str, str]] = {
    "looked_after": ("stock", TOTAL),
    "started": ("entries", TOTAL),
    "ceased": ("exits", TOTAL),
    **{name: (name, state or TOTAL) for name, (_, state) in SERIES.items() if name != "started"},
}
"""Simulated quantity -> (measure, state) in the tables (the module's table)."""
HISTORY_COVERAGE = 0.95
"""A year's published national total is drawn in the fan charts when at least this share
of the units forecast published the figure (DfE suppresses a few small authorities' cells;
a sum missing a large one would show a dip that is not there)."""


@dataclass
class NationalForecastResult:
    """What :func:`forecast_national` produced (tables as written)."""

    forecast: pd.DataFrame
    differences: pd.DataFrame
    probabilities: pd.DataFrame
    simulation: NationalSimulation
    fit_passed: bool
    seconds: dict[str, float]
    history: pd.DataFrame


def forecast_national(
    posterior: Path,
    obs_dir: Path,
    out_dir: Path,
    seed: int,
    horizon_months: int,
    scenarios_file: Path | None,
    forecast: ForecastConfig,
    priors: PublishedPriorsConfig | None = None,
    write_figures: bool = True,
) -> NationalForecastResult:
    """Forecast every unit of a saved national posterior (``posterior.nc``) year by year,
    ``horizon_months`` rounded up to whole years, from the ``ingest published`` folder
    ``obs_dir`` the fit used, under the baseline and every scenario of ``scenarios_file``;
    write the outputs to ``out_dir`` (see the module)."""
    from model.fit.published_data import published_data, read_published
    from model.fit.run_published import load_published_posterior

    clock = time.perf_counter()
    trace = load_published_posterior(Path(posterior), priors)
    data = published_data(*read_published(Path(obs_dir)))
    fit_passed = bool(int(trace.attrs.get("diagnostics_passed", 0)))
    scenarios = (
        load_scenarios(Path(scenarios_file), StructureConfig(), cin_funnel=True)
        if scenarios_file
        else []
    )
    horizon_years = max(1, math.ceil(horizon_months / MONTHS_PER_YEAR))
    prepared = time.perf_counter()
    sim = simulate_national(
        trace, data, horizon_years, forecast.draws, derive_seed(seed, NATIONAL, "forecast"),
        scenarios, str(scenarios_file),
    )  # fmt: skip
    simulated = time.perf_counter()
    table, diff, probabilities = summary_tables(sim, forecast.thresholds)
    for frame in (table, diff, probabilities):
        frame["fit_passed"] = fit_passed
    history = national_history(data, sim.units)
    summarised = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_tables(out, table, diff, probabilities)
    write_draws(out / "draws.nc", sim, trace)
    if write_figures:
        _fan_charts(out / "figures", table, history, not fit_passed)
    seconds = stage_seconds(clock, prepared, simulated, summarised)
    info = {
        "model": "published",
        "posterior": str(posterior),
        "observations": str(obs_dir),
        "fit_passed": fit_passed,
        "draws": len(sim.draw_index),
        "horizon_months": horizon_months,
        "horizon_years": horizon_years,
        "first_period_end": sim.period_ends[0],
        "last_period_end": sim.period_ends[-1],
        "units": len(sim.units),
        "left_out": [a for a in data.units if a not in set(sim.units)],
        "start_years": {u: y for u, y in sim.start_years.items() if y != data.years[-1]},
        "population": "held at each unit's last published figure (children aged 0-17, "
        f"{data.years[-1]} or the nearest year published)",
        "scenarios": {s.name: s.description for s in scenarios},
        "notes": sim.notes,
        "seed": seed,
        "seconds": seconds,
    }
    (out / "forecast_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return NationalForecastResult(table, diff, probabilities, sim, fit_passed, seconds, history)


def _with_national(values: np.ndarray) -> np.ndarray:
    """[N, C, A, Y] -> [N, C, Y, A + 1]: units last (as ``quantile_table``'s states), then
    their sum, draw by draw."""
    per_unit = np.moveaxis(values, 2, 3)
    return np.concatenate([per_unit, per_unit.sum(axis=3, keepdims=True)], axis=3)


def _by_unit(table: pd.DataFrame, state: str) -> pd.DataFrame:
    """A table made with the units as states -> the units as authorities, ``state`` as state."""
    table["authority"] = table["state"].to_numpy()
    table["state"] = state
    return table


def summary_tables(
    sim: NationalSimulation, thresholds: Sequence[int]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(forecast quantiles, scenario differences, probabilities) of every unit and of the
    national totals, as an authority's forecast tables (``model.forecast.tables``)."""
    columns = [*sim.units, NATIONAL]
    periods, names = sim.period_ends, sim.scenarios
    tables, diffs = [], []
    probabilities = pd.DataFrame(columns=PROBABILITY_COLUMNS)
    for key, (measure, state) in MEASURES.items():
        if key not in sim.values:
            continue
        values = _with_national(sim.values[key])  # [N, C, Y, A + 1]
        tables.append(_by_unit(quantile_table(values, "", names, periods, measure, columns), state))
        if key in CARE_FLOWS and len(names) > 1:
            diff = quantile_table(differences(values), "", names[1:], periods, measure, columns)
            diffs.append(_by_unit(diff, state))
        if key == "looked_after":
            found = probability_table(values, "", names, periods, measure, columns, thresholds)
            probabilities = _by_unit(found, state)
    table = _ordered(pd.concat(tables, ignore_index=True), columns)
    diff = pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame(columns=COLUMNS)
    return table, _ordered(diff, columns), _ordered(probabilities, columns)


def _ordered(table: pd.DataFrame, authorities: list[str]) -> pd.DataFrame:
    """Rows by authority (units in the fit's order, the national totals last), measure (as
    :data:`MEASURES`), scenario (baseline first), then period (stable)."""
    if table.empty:
        return table.reset_index(drop=True)
    measures = [m for m, _ in MEASURES.values()]
    scenarios = list(dict.fromkeys(table.scenario))
    keys = pd.DataFrame(
        {
            "a": pd.Categorical(table.authority, authorities, ordered=True).codes,
            "m": pd.Categorical(table.measure, measures, ordered=True).codes,
            "s": pd.Categorical(table.scenario, scenarios, ordered=True).codes,
        }
    )
    order = keys.sort_values(["a", "m", "s"], kind="stable").index
    return table.iloc[order].reset_index(drop=True)


def national_history(data: PublishedData, units: Sequence[str]) -> pd.DataFrame:
    """The published national totals over ``units``, as ``authority`` (``national``),
    ``period_end``, ``measure``, ``state``, ``value``: each year where at least
    :data:`HISTORY_COVERAGE` of the units published the figure (the sum of those)."""
    rows = [data.units.index(u) for u in units]
    figures = {
        "looked_after": (data.looked_after, data.looked_after_observed),
        "ceased": (data.ceased, data.ceased_observed),
        **{name: (s.values, s.observed) for name, s in data.series.items()},
    }
    frames = []
    for key, (measure, state) in MEASURES.items():
        if key not in figures:
            continue
        values, observed = (array[rows] for array in figures[key])
        shown = observed.mean(axis=0) >= HISTORY_COVERAGE
        years = [f"{year}-03-31" for year, s in zip(data.years, shown, strict=True) if s]
        frames.append(
            pd.DataFrame(
                {
                    "authority": NATIONAL,
                    "period_end": years,
                    "measure": measure,
                    "state": state,
                    "value": (values * observed).sum(axis=0)[shown],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def write_draws(path: Path, sim: NationalSimulation, trace: xr.DataTree) -> None:
    """Every simulated draw as netCDF (compressed): ``looked_after``, ``started`` and
    ``ceased`` over (draw, scenario, unit, period_end), the other series over (draw, unit,
    period_end) (scenarios do not change them), with the fit's provenance."""
    variables = {}
    for key, values in sim.values.items():
        measure, state = MEASURES[key]
        if key in CARE_FLOWS:
            dims, array = ("draw", "scenario", "unit", "period_end"), values
        else:
            dims, array = ("draw", "unit", "period_end"), values[:, 0]
        variables[key] = xr.Variable(
            dims, array.astype("int32"), attrs={"measure": measure, "state": state}
        )
    dataset = xr.Dataset(
        variables,
        coords={
            "draw": sim.draw_index,
            "scenario": sim.scenarios,
            "unit": sim.units,
            "unit_name": ("unit", sim.names),
            "period_end": sim.period_ends,
        },
        attrs=fit_provenance(trace, "model"),
    )
    # Level 1 with byte shuffling: two thirds smaller, in a fraction of level 4's time.
    encoding = {name: {"zlib": True, "complevel": 1, "shuffle": True} for name in variables}
    dataset.to_netcdf(path, engine="h5netcdf", encoding=encoding)


def _fan_charts(out: Path, table: pd.DataFrame, history: pd.DataFrame, flagged: bool) -> None:
    """A fan chart of the national total of every measure (``out/national_<measure>_<state>``
    PNG and SVG), the published totals before it."""
    from model.report.fan_charts import fan_chart, safe_stem

    national = table[table.authority == NATIONAL]
    for measure, state in dict.fromkeys(zip(national.measure, national.state, strict=True)):
        stem = out / safe_stem(NATIONAL, measure, state)
        fan_chart(national, history, NATIONAL, measure, state, stem, flagged)
