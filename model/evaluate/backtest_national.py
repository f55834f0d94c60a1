"""``carecast backtest`` of an ``ingest published`` folder: rolling origins on every
authority's published figures at once.

For each origin year ``y``: fit the national model to the figures up to 31 March ``y``,
forecast every unit ``horizon_years`` ahead (``model.forecast.national``), and score every
figure the forecast makes (``model.forecast.national.run.MEASURES``: children looked after,
in need and on a plan at each later 31 March; starters, children ceasing, referrals and plans
started in each later year) against the published figure, beside the baselines of an
authority's back-test (``model.evaluate.backtest``) built from the unit's published series
up to the origin: the naive random walk (the last value with Gaussian year-on-year
increments of the unit's own volatility), AutoETS and AutoARIMA with their own intervals
(``model.evaluate.probabilistic_baselines``), and, for the error of the median, the last
value, a linear trend of the last five years and, for the stock, the fixed-rate projection
existing demand models make (entries per year and the exit probability of the children at
risk fixed at their last ``reference`` years; ``model.evaluate.baselines.
fixed_rate_projection``). A unit whose later figure is not published (suppressed, or an
authority reorganised after the origin) is not scored; a baseline that cannot be built for
a unit (too few figures) is missing for it, and ``summary.csv`` compares each method with
carecast and the naive walk on the cells they share (``model.evaluate.skill``, standard
errors from a bootstrap over authorities).

Outputs as an authority's back-test (``scores.csv`` with an ``authority`` column,
``summary.csv``, ``coverage.png``/``.svg``, ``fits.json``), one fit per origin under
``origin_<y>/fit``.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from model.config.fit import DiagnosticsConfig, SamplerConfig
from model.config.published import PublishedPriorsConfig
from model.config.seeds import derive_seed
from model.evaluate.backtest import (
    POINT_BASELINES,
    BacktestError,
    BacktestResult,
    point_scores,
    write_scores,
)
from model.evaluate.baselines import fixed_rate_projection, last_value, linear_trend
from model.evaluate.probabilistic_baselines import (
    PROBABILISTIC_BASELINES,
    QUANTILE_POINTS,
    naive_walk,
    statistical_forecasts_many,
)
from model.evaluate.scores import score_cells
from model.evaluate.skill import MODEL
from model.fit.published_data import (
    AUTHORITIES_FILE,
    CEASED,
    FIT_MEASURES,
    LOOKED_AFTER,
    POPULATION,
    PUBLISHED_FILE,
    STARTED,
    PublishedData,
    published_data,
    read_published,
)
from model.fit.run_published import fit_published, load_published_posterior
from model.forecast.national.run import MEASURES
from model.forecast.national.simulate import NationalSimulation, simulate_national
from model.logs import steps

FIRST_CHANGES = 3
"""Year-on-year changes of the stock published before the first default origin (the naive
walk's volatility needs 2; 3 give it a little more to go on)."""


def backtest_national(
    obs_dir: Path,
    out_dir: Path,
    seed: int,
    origins: list[int] | None = None,
    horizon_years: int = 3,
    priors: PublishedPriorsConfig | None = None,
    sampler: SamplerConfig | None = None,
    thresholds: DiagnosticsConfig | None = None,
    draws: int = 1000,
    reference: int = 3,
) -> BacktestResult:
    """Back-test the national model against the baselines on the published figures in
    ``obs_dir``; write the outputs to ``out_dir`` (see the module)."""
    obs, authorities, fingerprint = read_published(Path(obs_dir))
    full = published_data(obs, authorities, fingerprint)
    last = full.years[-1]
    # By default every origin with FIRST_CHANGES changes before it and every horizon after.
    origins = list(origins or range(full.years[0] + FIRST_CHANGES, last - horizon_years + 1))
    if not origins:
        raise BacktestError(
            f"{obs_dir}: the figures run {full.years[0]}-{last}: too few years for a default "
            f"origin ({FIRST_CHANGES} changes before it, {horizon_years} years after); "
            "name the origins"
        )
    late = [y for y in origins if y >= last or y not in full.years]
    if late:
        raise BacktestError(
            f"{obs_dir}: origins {late} leave nothing to compare: the figures run "
            f"{full.years[0]}-{last}, so an origin must be a year before {last}"
        )
    out = Path(out_dir)
    frames, passed = [], {}
    for origin in steps(origins, "national back-test", "origin"):
        folder = out / f"origin_{origin}"
        cut = _cut(Path(obs_dir), obs, folder / "observations", origin)
        result = fit_published(cut, folder / "fit", seed, priors, sampler, thresholds)
        passed[origin] = bool(result.diagnostics["passed"])
        trace = load_published_posterior(folder / "fit" / "posterior.nc", priors)
        horizon = min(horizon_years, last - origin)
        sim = simulate_national(
            trace, result.data, horizon, draws, derive_seed(seed, "backtest", str(origin))
        )
        frames.append(_score_origin(full, result.data, sim, origin, reference))
    scores = pd.concat(frames, ignore_index=True)
    scores.insert(0, "authority", scores.pop("unit"))
    summary = write_scores(out, scores, "Published tables", passed, cluster="authority")
    return BacktestResult(scores, summary, passed)


FITTED_MEASURES = (*FIT_MEASURES, POPULATION)
"""What each origin's fit reads: every figure the forecast makes and the population. Exit
reasons are left out: the national model's parts share no parameter, so they would only
add fitting time."""
STOCK_FLOWS = (LOOKED_AFTER, STARTED, CEASED)
"""The figures the stock forecast needs, fitted from the first year whatever their length."""


SHORTEST_SERIES = 5
"""Fewest years of a yearly count (the CIN census figures start in 2013) that an origin's fit
takes: in fewer, a level, an authority walk, year noise and a national walk cannot be told
apart (measured: fits with 2-4 years of the CIN figures missed the R-hat and ESS thresholds
on their walk and spread parameters), and the naive walk needs 3 to be scored against."""


def _cut(folder: Path, obs: pd.DataFrame, out: Path, origin: int) -> Path:
    """An ``ingest published`` folder holding the figures the forecast makes, up to 31 March
    ``origin`` (a count series only with :data:`SHORTEST_SERIES` years)."""
    out.mkdir(parents=True, exist_ok=True)
    needed = obs.measure.isin([m for m, _ in FITTED_MEASURES]) & (obs.reason == "")
    kept = obs[needed & (obs.period <= f"{origin}-03-31")]
    years = kept.groupby("measure").period.transform("nunique")
    stock_flows = kept.measure.isin([m for m, _ in (*STOCK_FLOWS, POPULATION)])
    kept = kept[stock_flows | (years >= SHORTEST_SERIES)]
    kept.to_csv(out / PUBLISHED_FILE, index=False, lineterminator="\n")
    shutil.copy(folder / AUTHORITIES_FILE, out / AUTHORITIES_FILE)
    return out


def _score_origin(
    full: PublishedData, fitted: PublishedData, sim: NationalSimulation, origin: int, reference: int
) -> pd.DataFrame:
    """Scores of every unit's figures (:data:`MEASURES`) at each later 31 March, or in each
    later year: the model and the baselines."""
    units = [(a, unit) for a, unit in enumerate(sim.units) if unit in full.units]
    # (a unit reorganised after the origin has no later figure of its own)
    horizon = len(sim.years)
    later = [full.years.index(y) if y in full.years else None for y in sim.years]
    rows_of = [fitted.units.index(u) for _, u in units]
    names = [name for name in MEASURES if name in sim.values]  # (the series the fit had)
    histories = {name: published_history(fitted, name)[rows_of] for name in names}
    # Every series' statistical forecasts in one pool of workers (starting one costs seconds).
    statistical = statistical_forecasts_many(
        [h for name in names for h in histories[name]], horizon
    )
    rows = []
    for i, name in enumerate(names):
        measure, state = MEASURES[name]
        published = published_history(full, name)[[full.units.index(u) for _, u in units]]
        observed = np.stack(
            [published[:, y] if y is not None else np.full(len(units), np.nan) for y in later],
            axis=1,
        )  # [units, H]
        cells = np.argwhere(~np.isnan(observed))  # (unit row, horizon index)
        if not len(cells):
            continue
        model = sim.values[name][:, 0][:, [a for a, _ in units]]  # [N, units, H]
        own = statistical[i * len(units) : (i + 1) * len(units)]
        forecasts = {MODEL: model.transpose(1, 2, 0)} | _baselines(
            fitted, rows_of, name, histories[name], own, horizon, reference
        )
        for method, forecast in forecasts.items():
            values = forecast[cells[:, 0], cells[:, 1]]
            truth = observed[cells[:, 0], cells[:, 1]]
            if method in POINT_BASELINES:
                table = point_scores(values, truth)
            else:
                table = score_cells(values, truth)
                missing = np.isnan(values).any(axis=-1)  # a baseline not built for the unit
                table.loc[missing, ["median", "crps", "abs_error"]] = np.nan
                for column in [c for c in table.columns if c.startswith("covered_")]:
                    table.loc[missing, column] = pd.NA
            table.insert(0, "state", state)
            table.insert(0, "measure", measure)
            table.insert(0, "method", method)
            table.insert(0, "horizon", cells[:, 1] + 1)
            table.insert(0, "origin", origin)
            table.insert(0, "unit", [units[i][1] for i in cells[:, 0]])
            rows.append(table)
    if not rows:
        raise BacktestError(f"origin {origin}: no unit has a later published figure to compare")
    return pd.concat(rows, ignore_index=True)


def published_history(data: PublishedData, name: str) -> np.ndarray:
    """[A, Y] a simulated quantity's published figures (:data:`MEASURES`; NaN: not
    published)."""
    if name == "looked_after":
        values, seen = data.looked_after, data.looked_after_observed
    elif name == "ceased":
        values, seen = data.ceased, data.ceased_observed
    else:
        values, seen = data.series[name].values, data.series[name].observed
    return np.where(seen, values, np.nan).astype(float)


def _baselines(
    data: PublishedData,
    rows: list[int],
    name: str,
    histories: np.ndarray,
    statistical: list[dict[str, np.ndarray]],
    horizon: int,
    reference: int,
) -> dict[str, np.ndarray]:
    """Each baseline's forecast of the figures of ``name`` of the units ``rows`` of ``data``
    from their ``histories`` [units, Y] ([units, H, n] quantiles of the probabilistic ones,
    [units, H] of the point ones; NaN where one cannot be built); ``statistical``: each
    unit's ``statistical_forecasts``, in the histories' order. The fixed-rate projection is
    of the stock only."""
    n_units = len(rows)
    out = {m: np.full((n_units, horizon, QUANTILE_POINTS), np.nan) for m in PROBABILISTIC_BASELINES}
    out |= {m: np.full((n_units, horizon), np.nan) for m in ("last_value", "linear_trend")}
    for i, history in enumerate(histories):
        for method, quantiles in statistical[i].items():
            out[method][i] = quantiles
        if np.isnan(history).all():
            continue
        with contextlib.suppress(ValueError):  # fewer than two published changes: missing
            out["naive_walk"][i] = naive_walk(history, horizon)
        out["last_value"][i] = last_value(history, horizon)
        with contextlib.suppress(ValueError):  # nothing published in its window: missing
            out["linear_trend"][i] = linear_trend(history, horizon)
    if name == "looked_after":
        out["fixed_rates"] = _fixed_rates(data, rows, histories, horizon, reference)
    return out


def _fixed_rates(
    data: PublishedData, rows: list[int], histories: np.ndarray, horizon: int, reference: int
) -> np.ndarray:
    """[units, H] the fixed-rate projection of the stock of the units ``rows`` from their
    ``histories`` [units, Y] (NaN where it cannot be built)."""
    span = slice(len(data.years) - reference - 1, len(data.years))
    entries = published_history(data, "started")[rows, span][:, 1:]
    exits = published_history(data, "ceased")[rows, span][:, 1:]
    out = np.full((len(rows), horizon), np.nan)
    for i, stock in enumerate(histories[:, span]):
        # Inconsistent published figures (exits above the children at risk) leave it missing.
        with contextlib.suppress(ValueError):
            if np.isfinite(np.concatenate([stock, entries[i], exits[i]])).all():
                out[i] = fixed_rate_projection(stock, entries[i], exits[i], horizon, reference)
    return out
