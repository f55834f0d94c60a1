"""A per-authority posterior -> the arrays the month-by-month simulator needs, per draw.

The simulator (``model.forecast.simulate``) works on monthly odds, not on the model's
parameters: for each kept posterior draw,

- ``odds`` [N, S, B, D]: each destination's monthly odds against staying, in the last year
  fitted without its drift (``exp(eta)``; 0 where the structure has no such flow);
- ``drift`` [N, Y, S]: each forecast year's drift of a state's departure log-odds, the
  random walk continuing from the last year fitted (yearly steps of ``drift_sd``);
- ``log_entries`` [N, H, K]: each forecast month's log mean entries per stream, the yearly
  knot walk continuing (steps of ``entry_walk_sd``) and interpolated as in the likelihood;
- ``dispersion`` [N, K], ``composition`` [N, K, S, B], ``landing`` [N, R], and the
  network's feedback coefficients [N] (0 when a term is off).

The structure (states, destinations, who can take them, streams, feedback terms) is the
posterior's ``network`` group (``model.fit.network``); the odds are the network's
log-odds of the fitted ``eta`` (:meth:`~model.fit.network.Network.log_odds`).

The walks' continuations are random: they are drawn here from ``rng``, once per draw, so
that every scenario of a draw shares them (scenarios differ only by their changes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from model.fit.knots import knot_weights
from model.fit.network import Network, NetworkLabels


class ForecastInputError(ValueError):
    """The posterior cannot be forecast from (the message says why)."""


@dataclass(frozen=True)
class Layout(NetworkLabels):
    """The fitted model's structure and starting point: its ``network`` (the posterior's
    ``network`` group: states ``S``, bands ``B``, destinations ``D`` (``stay`` first),
    streams ``K``, exit reasons ``R``, whose labels it shows) and, from the posterior's
    ``data_layout`` attribute, the years fitted, ``last_stock`` [S, B] and ``stock_history``
    [T + 1, S] children; ``capacity`` children; ``caseload_mean`` children per social
    worker and ``workforce`` social workers (NaN without workforce feedback)."""

    authority: str
    network: Network
    windows: tuple[str, ...]
    last_month: str
    last_stock: np.ndarray
    stock_history: np.ndarray
    history_start: str
    capacity: float
    caseload_mean: float
    workforce: float

    @property
    def care(self) -> np.ndarray:
        """[S] bool: the care states."""
        return self.network.care

    def history_months(self) -> list[str]:
        """ISO month ends of ``stock_history``'s rows."""
        months = pd.date_range(self.history_start, periods=len(self.stock_history), freq="ME")
        return [m.date().isoformat() for m in months]


def read_layout(trace: xr.DataTree) -> Layout:
    """The layout saved with a per-authority fit (refused, with the reason, for a fit saved
    by an older carecast or a fit of another kind)."""
    attrs = trace.attrs
    if attrs.get("model") == "published" or "authorities" in attrs:
        raise ForecastInputError(
            "this is not a per-authority fit; forecast each authority's own fit "
            "(a national fit of published tables is forecast year by year)"
        )
    layout = json.loads(str(attrs.get("data_layout", "{}")))
    if "last_stock" not in layout or "network" not in trace.children:
        raise ForecastInputError(
            "the posterior has no starting stock or network (saved by an older carecast): "
            "refit it with `carecast fit`"
        )
    return Layout(
        authority=str(attrs.get("authority", "")),
        network=Network.from_dataset(trace["network"].to_dataset()),
        windows=tuple(layout["windows"]),
        last_month=layout["last_month"][0],
        last_stock=np.asarray(layout["last_stock"], dtype="int64"),
        stock_history=np.asarray(layout["stock_history"], dtype="int64"),
        history_start=layout["history_start"][0],
        capacity=float(layout["capacity"]),
        caseload_mean=float(layout["caseload_mean"]),
        workforce=float(layout["workforce"]),
    )


@dataclass
class DrawInputs:
    """Per-draw arrays of the simulator (see the module docstring for each)."""

    layout: Layout
    month_ends: list[str]
    """[H] ISO month ends forecast."""
    year_of_month: np.ndarray
    """[H] int: the forecast year (0: the last year fitted, if it has months left) of each
    month; indexes ``drift``."""
    odds: np.ndarray
    drift: np.ndarray
    log_entries: np.ndarray
    dispersion: np.ndarray
    composition: np.ndarray
    landing: np.ndarray
    feedback: dict[str, np.ndarray]
    draw_index: np.ndarray
    """[N] the kept draws' positions among all (chains one after the other)."""


def _flat(posterior: xr.Dataset, name: str, pick: np.ndarray) -> np.ndarray:
    values = np.asarray(posterior[name], dtype="float64")
    return values.reshape(-1, *values.shape[2:])[pick]


def forecast_months(last_month: str, horizon: int) -> list[str]:
    """The ``horizon`` month ends after ``last_month`` (ISO)."""
    months = pd.date_range(pd.Timestamp(last_month), periods=horizon + 1, freq="ME")[1:]
    return [m.date().isoformat() for m in months]


def draw_inputs(
    trace: xr.DataTree, horizon: int, n_draws: int, rng: np.random.Generator
) -> DrawInputs:
    """The simulator's arrays for ``n_draws`` draws spread evenly over the posterior (all
    of them when it has fewer) and ``horizon`` months after the last month fitted."""
    layout = read_layout(trace)
    posterior = trace["posterior"].to_dataset()
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    pick = np.unique(np.linspace(0, total - 1, min(n_draws, total)).round().astype(int))
    n = len(pick)
    months = forecast_months(layout.last_month, horizon)
    # Forecast years: April to March, as the fit's windows; year 0 is the last one fitted.
    window = np.array([int(m[:4]) + (int(m[5:7]) >= 4) for m in months])
    year_of_month = window - int(layout.windows[-1])
    n_years = int(year_of_month.max()) + 1 if horizon else 1

    odds = _odds(posterior, layout, pick)
    drift = np.zeros((n, n_years, len(layout.states)))
    if "drift" in posterior:
        last = _flat(posterior, "drift", pick)[:, -1, :]  # [N, S]
        step = _flat(posterior, "drift_sd", pick)[:, None, None]
        steps = step * rng.standard_normal((n, n_years, len(layout.states)))
        steps[:, 0] = 0.0  # year 0 is the last year fitted
        drift = last[:, None, :] + np.cumsum(steps, axis=1)
    feedback = {
        term.name: (_flat(posterior, term.name, pick) if term.name in posterior else np.zeros(n))
        for term in layout.network.feedback
    }
    return DrawInputs(
        layout=layout,
        month_ends=months,
        year_of_month=year_of_month,
        odds=odds,
        drift=drift,
        log_entries=_log_entries(posterior, layout, pick, horizon, rng),
        dispersion=_flat(posterior, "entry_dispersion", pick),
        composition=np.stack(
            [_flat(posterior, f"composition_{k}", pick) for k in layout.streams], axis=1
        ),
        landing=(
            _flat(posterior, "landing", pick)
            if "landing" in posterior
            else np.zeros((n, len(layout.reasons)))
        ),
        feedback=feedback,
        draw_index=pick,
    )


def _odds(posterior: xr.Dataset, layout: Layout, pick: np.ndarray) -> np.ndarray:
    """[N, S, B, D] monthly odds of each destination against staying (stay: 0)."""
    odds = np.exp(layout.network.log_odds(_flat(posterior, "eta", pick)))  # [N, S, B, D]
    odds[..., 0] = 0.0
    return odds


def _log_entries(
    posterior: xr.Dataset, layout: Layout, pick: np.ndarray, horizon: int, rng: np.random.Generator
) -> np.ndarray:
    """[N, H, K] log mean entries per forecast month: the knots' walk continued."""
    level = _flat(posterior, "entry_level", pick)  # [N, K]
    knots = _flat(posterior, "entry_walk", pick)  # [N, J, K]
    step = _flat(posterior, "entry_walk_sd", pick)  # [N, K]
    n_fitted = len(layout.stock_history) - 1  # months fitted
    weights, n_knots = knot_weights(n_fitted + horizon)
    extra = n_knots - knots.shape[1]
    if extra > 0:
        steps = step[:, None, :] * rng.standard_normal((len(pick), extra, knots.shape[2]))
        knots = np.concatenate([knots, knots[:, -1:, :] + np.cumsum(steps, axis=1)], axis=1)
    walk = np.einsum("tj,njk->ntk", weights[n_fitted:], knots[:, :n_knots])
    return level[:, None, :] + walk
