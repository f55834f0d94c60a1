"""``carecast backtest`` of an ``ingest published`` folder: rolling origins on every
authority's published figures at once.

For each origin year ``y``: fit the national model to the figures up to 31 March ``y``,
forecast every unit ``horizon_years`` ahead (``model.forecast.national``), and score the
forecast of the children looked after at each later 31 March against the published figure,
with the same three point baselines as an authority's back-test (``model.forecast.
backtest``) built from the published series: the last value, a linear trend of the last
five years, and the fixed-rate projection existing demand models make (entries per year
and the exit probability of the children at risk fixed at their last ``reference`` years;
``model.forecast.baselines.fixed_rate_projection``). A unit whose later figure is not
published (suppressed, or an authority reorganised after the origin) is not scored; a
baseline that cannot be built for a unit (too few figures) is missing for it, and the
model's scores are compared with each baseline's on the cells both have in the summary.

Each origin's fit uses only the figures the stock forecast needs (:data:`STOCK_MEASURES`).
Outputs as an authority's back-test (``scores.csv`` with a ``unit`` column instead of
``state``, ``summary.csv``, ``coverage.png``/``.svg``, ``fits.json``), one fit per origin
under ``origin_<y>/fit``.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from model.config import derive_seed
from model.config_fit import DiagnosticsConfig, SamplerConfig
from model.config_published import PublishedPriorsConfig
from model.fit.published_data import (
    AUTHORITIES_FILE,
    PUBLISHED_FILE,
    PublishedData,
    published_data,
    read_published,
)
from model.fit.run_published import fit_published, load_published_posterior
from model.forecast.backtest import BacktestError, BacktestResult, point_scores, write_scores
from model.forecast.baselines import fixed_rate_projection, last_value, linear_trend
from model.forecast.national import simulate_national
from model.forecast.scores import score_cells

DEFAULT_ORIGINS = (2015, 2016, 2017, 2018)


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
    origins = list(origins or DEFAULT_ORIGINS)
    last = full.years[-1]
    late = [y for y in origins if y >= last or y not in full.years]
    if late:
        raise BacktestError(
            f"{obs_dir}: origins {late} leave nothing to compare: the figures run "
            f"{full.years[0]}-{last}, so an origin must be a year before {last}"
        )
    out = Path(out_dir)
    frames, passed = [], {}
    for origin in origins:
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
    summary = write_scores(out, scores, "Published tables", passed)
    return BacktestResult(scores, summary, passed)


STOCK_MEASURES = ("dfe_looked_after", "dfe_started", "dfe_ceased", "population")
"""What the forecast of children looked after needs: the stock, starters, all who ceased
(not by reason) and the population. The national model's parts share no parameter, so the
exit reasons and the CIN series would only add fitting time."""


def _cut(folder: Path, obs: pd.DataFrame, out: Path, origin: int) -> Path:
    """An ``ingest published`` folder holding the figures the stock forecast needs, up to
    31 March ``origin``."""
    out.mkdir(parents=True, exist_ok=True)
    needed = obs.measure.isin(STOCK_MEASURES) & (obs.reason == "")
    kept = obs[needed & (obs.period <= f"{origin}-03-31")]
    kept.to_csv(out / PUBLISHED_FILE, index=False, lineterminator="\n")
    shutil.copy(folder / AUTHORITIES_FILE, out / AUTHORITIES_FILE)
    return out


def _score_origin(
    full: PublishedData, fitted: PublishedData, sim: object, origin: int, reference: int
) -> pd.DataFrame:
    """Scores of every unit's stock at each later 31 March: the model and the baselines."""
    stock = sim.values["looked_after"][:, 0]  # [N, A, Y]
    rows = []
    for a, unit in enumerate(sim.units):
        if unit not in full.units:
            continue  # reorganised after the origin: no later figure of this unit
        u = full.units.index(unit)
        history = _history(fitted, fitted.units.index(unit))
        horizon = len(sim.years)
        baselines = _baselines(fitted, fitted.units.index(unit), history, horizon, reference)
        for h, year in enumerate(sim.years, start=1):
            y = full.years.index(year) if year in full.years else None
            if y is None or not full.looked_after_observed[u, y]:
                continue
            observed = np.array([float(full.looked_after[u, y])])
            frames = [score_cells(stock[:, a, h - 1][None, :], observed).assign(method="carecast")]
            for method, forecast in baselines.items():
                frames.append(point_scores(forecast[h - 1 : h], observed).assign(method=method))
            table = pd.concat(frames, ignore_index=True)
            table["unit"], table["origin"], table["horizon"] = unit, origin, h
            rows.append(table)
    if not rows:
        raise BacktestError(f"origin {origin}: no unit has a later published figure to compare")
    frame = pd.concat(rows, ignore_index=True)
    frame["measure"], frame["state"] = "stock", "total"
    keys = ["unit", "origin", "horizon", "method", "measure", "state"]
    return frame[[*keys, *[c for c in frame.columns if c not in keys]]]


def _history(data: PublishedData, u: int) -> np.ndarray:
    """[Y] a unit's children looked after at each 31 March fitted (NaN: not published)."""
    return np.where(data.looked_after_observed[u], data.looked_after[u], np.nan).astype(float)


def _baselines(
    data: PublishedData, u: int, history: np.ndarray, horizon: int, reference: int
) -> dict[str, np.ndarray]:
    """Each baseline's [H] forecast of a unit's stock (NaN where it cannot be built)."""
    missing = np.full(horizon, np.nan)
    out = {"last_value": missing, "linear_trend": missing, "fixed_rates": missing}
    if np.isnan(history).all():
        return out
    out["last_value"] = last_value(history, horizon)
    with contextlib.suppress(ValueError):  # nothing published in its window: missing
        out["linear_trend"] = linear_trend(history, horizon)
    started = data.series["started"]
    span = slice(len(data.years) - reference - 1, len(data.years))
    stock = history[span]
    entries = np.where(started.observed[u], started.values[u], np.nan)[span][1:].astype(float)
    exits = np.where(data.ceased_observed[u], data.ceased[u], np.nan)[span][1:].astype(float)
    # Inconsistent published figures (exits above the children at risk) leave it missing.
    with contextlib.suppress(ValueError):
        if np.isfinite(np.concatenate([stock, entries, exits])).all():
            out["fixed_rates"] = fixed_rate_projection(stock, entries, exits, horizon, reference)
    return out
