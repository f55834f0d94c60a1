"""Probabilistic baselines for the back-tests: forecasts with bands of their own, scored with
the same CRPS and coverage as carecast's draws (``model.evaluate.scores``), so that skill
compares like with like. (A point forecast's CRPS is its absolute error: any forecast with
sensible bands beats it, which says nothing.)

Every input is a count of children per period (a year ending 31 March, or a month end),
``[T]`` with NaN where nothing was published; a forecast of horizon ``H`` gives the ``H``
periods after the last one. Each baseline's forecast of a period is an *ensemble of
quantiles*: its predictive distribution's quantiles at the probabilities ``(i - 1/2) / n``,
``i = 1..n`` (:data:`QUANTILE_POINTS`), truncated at 0 (counts cannot be negative). The CRPS
of this ensemble differs from the distribution's own by less than 1e-3 of its standard
deviation for n = 200 (checked against the closed form in the tests), and its coverage is
that of the distribution.

- :func:`naive_walk`: the last value, with Gaussian increments whose standard deviation is
  the series' own period-to-period change up to the origin, times the square root of the
  number of periods ahead (a random walk without drift, with its own volatility);
- :func:`statistical_forecasts`: AutoETS (damped trends allowed) and AutoARIMA of
  ``statsforecast``, each with its own prediction intervals, fitted to the series' last
  unbroken run of published values, without seasonal terms (the back-tests score 31 March
  stocks and yearly flows, which have none).
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np
from scipy.stats import norm

PROBABILISTIC_BASELINES = ("naive_walk", "auto_ets", "auto_arima")
"""The baselines with bands, in the order tables list them."""
QUANTILE_POINTS = 200
"""Quantiles in each baseline's ensemble (even, so that they pair into central intervals)."""
SHORTEST_RUN = {"auto_ets": 7, "auto_arima": 3}
"""Fewest unbroken published values each statistical forecaster is fitted to: AutoETS
refuses fewer than 7 ("tiny datasets"; on a constant run of 3 it fails with an IndexError
instead), AutoARIMA fails on fewer than 3."""


def quantile_probabilities(n: int = QUANTILE_POINTS) -> np.ndarray:
    """[n] the probabilities ``(i - 1/2) / n`` of an ensemble of quantiles, increasing."""
    return (np.arange(1, n + 1) - 0.5) / n


def gaussian_ensemble(mean: np.ndarray, sd: np.ndarray, n: int = QUANTILE_POINTS) -> np.ndarray:
    """[..., n] quantiles of Normal(mean, sd) truncated at 0 (children), for each cell.

    mean, sd: [...] children (sd >= 0; 0 gives a point mass at the mean)."""
    z = norm.ppf(quantile_probabilities(n))
    mean, sd = np.asarray(mean, dtype=float), np.asarray(sd, dtype=float)
    return np.maximum(mean[..., None] + sd[..., None] * z, 0.0)


def _last_observed(history: np.ndarray) -> int:
    """Index of the last published value (ValueError when there is none)."""
    seen = np.flatnonzero(~np.isnan(history))
    if not len(seen):
        raise ValueError("history has no published value")
    return int(seen[-1])


def naive_walk(history: np.ndarray, horizon: int, n: int = QUANTILE_POINTS) -> np.ndarray:
    """[H, n] the naive random walk's quantiles: the last published value, with Gaussian
    increments of the standard deviation (``ddof=1``) of the series' changes between
    consecutive published periods, times ``sqrt(periods ahead)``; a period ahead of an
    unpublished last value counts from the last published one.

    history: [T] children per period, NaN where not published. ValueError when fewer than two
    changes between consecutive periods were published (no volatility to estimate)."""
    history = np.asarray(history, dtype=float)
    last = _last_observed(history)
    steps = np.diff(history)
    steps = steps[~np.isnan(steps)]
    if len(steps) < 2:
        raise ValueError(f"{len(steps)} period-to-period change(s) published; need 2")
    ahead = np.arange(1, horizon + 1) + (len(history) - 1 - last)
    sd = np.std(steps, ddof=1) * np.sqrt(ahead)
    return gaussian_ensemble(np.full(horizon, history[last]), sd, n)


def _levels(n: int) -> list[float]:
    """Central interval levels (percent) whose ends are the ensemble's quantiles."""
    below = quantile_probabilities(n)[: n // 2]
    return [round(100.0 * (1.0 - 2.0 * p), 10) for p in below]


def _interval_quantiles(forecast: dict, levels: list[float], horizon: int) -> np.ndarray:
    """[H, n] quantiles from statsforecast's ``lo-<level>``/``hi-<level>`` intervals."""
    lower = np.stack([np.asarray(forecast[f"lo-{level}"], float) for level in levels], axis=-1)
    upper = np.stack([np.asarray(forecast[f"hi-{level}"], float) for level in levels], axis=-1)
    quantiles = np.concatenate([lower, upper[:, ::-1]], axis=-1)[-horizon:]
    return np.sort(np.maximum(quantiles, 0.0), axis=-1)


def statistical_forecasts(
    history: np.ndarray, horizon: int, n: int = QUANTILE_POINTS
) -> dict[str, np.ndarray]:
    """``{"auto_ets": [H, n], "auto_arima": [H, n]}`` quantiles of each forecaster, fitted to
    the last unbroken run of published values (a model that cannot be fitted, as on a run
    shorter than :data:`SHORTEST_RUN`, gives NaN). ``n`` must be even."""
    from statsforecast.models import AutoARIMA, AutoETS

    history = np.asarray(history, dtype=float)
    out = {name: np.full((horizon, n), np.nan) for name in PROBABILISTIC_BASELINES[1:]}
    try:
        last = _last_observed(history)
    except ValueError:
        return out
    gaps = np.flatnonzero(np.isnan(history[: last + 1]))
    run = history[(gaps[-1] + 1 if len(gaps) else 0) : last + 1]
    ahead = horizon + len(history) - 1 - last
    levels = _levels(n)
    models = {"auto_ets": AutoETS(season_length=1, damped=None), "auto_arima": AutoARIMA()}
    for name, model in models.items():
        if len(run) < SHORTEST_RUN[name]:
            continue
        with warnings.catch_warnings():
            # Tiny series make statsforecast warn about its own variance estimates.
            warnings.simplefilter("ignore")
            try:
                forecast = model.forecast(y=run, h=ahead, level=levels)
            except (NotImplementedError, ValueError, ZeroDivisionError, np.linalg.LinAlgError):
                continue  # too short or degenerate for this model: missing
        quantiles = _interval_quantiles(forecast, levels, horizon)
        if np.isfinite(quantiles).all():
            out[name] = quantiles
    return out


def statistical_forecasts_many(
    histories: list[np.ndarray], horizon: int, n: int = QUANTILE_POINTS, workers: int | None = None
) -> list[dict[str, np.ndarray]]:
    """:func:`statistical_forecasts` of each history, in ``workers`` processes (default: one
    per core). AutoARIMA takes about 0.15 s a series (scipy's optimiser), and a national
    back-test fits about a thousand series an origin (150 units, 7 figures). Processes are
    spawned, not forked: a fork of a process whose numba and BLAS threads are running can
    hang."""
    workers = workers or os.cpu_count() or 1
    if workers == 1 or len(histories) < 2 * workers:
        return [statistical_forecasts(h, horizon, n) for h in histories]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        chunk = max(1, len(histories) // (4 * workers))
        return list(pool.map(partial(statistical_forecasts, horizon=horizon, n=n), histories,
                             chunksize=chunk))  # fmt: skip
