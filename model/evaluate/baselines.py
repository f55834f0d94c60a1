"""Point-forecast baselines of the kind existing deterministic demand models produce, for the
back-test to set beside the model's probabilistic forecasts.

Every input is a count of children per period (a period is a year ending 31 March, or a
month: the functions only see its index). A forecast of horizon H gives the H periods after
the last one observed. Point forecasts are scored as one-draw ensembles (``scores.crps`` of
one draw is the absolute error).

- ``last_value``: the last observed value carried forward.
- ``linear_trend``: a least-squares line through the last few values, extrapolated.
- ``fixed_rate_projection``: a stock-flow projection with entries and the exit probability
  fixed at their values over the last few periods.
- ``fixed_rate_projection_by_state``: the same with moves between states (placement groups).
"""

from __future__ import annotations

import numpy as np


def _check_horizon(horizon: int) -> int:
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a whole number of periods >= 1; got {horizon}")
    return int(horizon)


def _counts(values: np.ndarray, name: str, ndim: int, allow_nan: bool = False) -> np.ndarray:
    """``values`` as a float array of ``ndim`` dimensions of non-negative counts."""
    values = np.asarray(values, dtype=float)
    if values.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s); got shape {values.shape}")
    finite = values[~np.isnan(values)] if allow_nan else values
    if not np.isfinite(finite).all():
        raise ValueError(f"{name} has missing or infinite values; counts must be finite")
    if (finite < 0).any():
        raise ValueError(f"{name} has negative values; counts of children cannot be negative")
    return values


def _observed_history(history: np.ndarray) -> np.ndarray:
    """A [T] series with at least one observed value (NaN marks an unobserved period)."""
    history = _counts(history, "history", 1, allow_nan=True)
    if np.isnan(history).all():
        raise ValueError(f"history needs at least one observed value; got {len(history)} period(s)")
    return history


def last_value(history: np.ndarray, horizon: int) -> np.ndarray:
    """The last observed count carried forward.

    history: [T] counts of children per period, NaN where not observed (the last non-NaN
    value is carried). Returns [H] counts for the H periods after period T - 1.
    """
    horizon = _check_horizon(horizon)
    history = _observed_history(history)
    return np.full(horizon, history[~np.isnan(history)][-1])


def linear_trend(history: np.ndarray, horizon: int, window: int = 5) -> np.ndarray:
    """A least-squares straight line through the last ``window`` periods, extrapolated and
    floored at 0 (counts of children cannot fall below it).

    history: [T] counts of children per period, NaN where not observed; the line is fitted
    to the observed values among the last ``window`` periods (all of them if T < window).
    With one observed value there is no slope: the forecast is flat at it.
    Returns [H] counts for periods T, ..., T + H - 1.
    """
    horizon = _check_horizon(horizon)
    if int(window) != window or window < 1:
        raise ValueError(f"window must be a whole number of periods >= 1; got {window}")
    history = _observed_history(history)
    t = np.arange(len(history), dtype=float)[-window:]
    y = history[-window:]
    t, y = t[~np.isnan(y)], y[~np.isnan(y)]
    if len(y) == 0:
        raise ValueError(f"no observed value in the last {window} period(s) of history")
    future = np.arange(len(history), len(history) + horizon, dtype=float)
    if len(y) == 1:
        return np.full(horizon, y[0])
    slope, intercept = np.polyfit(t, y, deg=1)
    return np.maximum(intercept + slope * future, 0.0)


def _reference_periods(periods: int, reference: int) -> slice:
    """The last ``reference`` of ``periods`` periods; an error if there are fewer."""
    if int(reference) != reference or reference < 1:
        raise ValueError(f"reference must be a whole number of periods >= 1; got {reference}")
    if periods < reference:
        raise ValueError(
            f"history too short: {periods} period(s) of flows, reference needs {reference}; "
            "pass a smaller reference"
        )
    return slice(periods - reference, periods)


def _probability(leaving: np.ndarray, at_risk: np.ndarray, what: str) -> np.ndarray:
    """leaving / at_risk, 0 where nobody was at risk (there is nobody to leave)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(at_risk > 0, leaving / at_risk, 0.0)
    if (p > 1 + 1e-12).any():
        raise ValueError(
            f"{what} exceed the children at risk (stock at the start + entries) over the "
            "reference periods: check that stocks and flows are consistent"
        )
    return p


def fixed_rate_projection(
    stock: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    horizon: int,
    reference: int = 3,
) -> np.ndarray:
    """A deterministic stock-flow projection with rates fixed over the last ``reference``
    periods.

    stock: [T + 1] children at the start of each period; stock[T] (the end of the last
    observed period) is where the projection starts.
    entries, exits: [T] children entering and leaving during each period.

    Over the reference periods, entries per period e = their mean, and the exit probability
    p = sum(exits) / sum(stock at the start + entries) (0 if nobody was at risk). Each
    projected period: stock_{t+1} = stock_t + e - p (stock_t + e), i.e. everyone at risk
    (stock at the start and that period's entries) leaves with probability p. From any start
    the stock tends to the steady state e (1 - p) / p.

    Returns [H] children at the end of each of the next H periods.
    """
    horizon = _check_horizon(horizon)
    stock = _counts(stock, "stock", 1)
    entries = _counts(entries, "entries", 1)
    exits = _counts(exits, "exits", 1)
    if not len(entries) == len(exits) == len(stock) - 1:
        raise ValueError(
            f"entries ({len(entries)}) and exits ({len(exits)}) need one value per period and "
            f"stock ({len(stock)}) one more (the start of each period and the end of the last)"
        )
    ref = _reference_periods(len(entries), reference)
    e = entries[ref].mean()
    p = _probability(exits[ref].sum(), (stock[:-1][ref] + entries[ref]).sum(), "exits")
    projected = np.empty(horizon)
    current = stock[-1]
    for h in range(horizon):  # (a loop over H periods, not over cells: H is a few years)
        current = (current + e) * (1 - p)
        projected[h] = current
    return projected


def reference_rates_by_state(
    stock: np.ndarray,
    moves: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    reference: int = 3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed rates of ``fixed_rate_projection_by_state``, from the last ``reference``
    periods.

    stock: [T + 1, S] children in each state at the start of each period (row T: the end of
    the last period); moves: [T, S, S] children moving from state i to state j during
    period t (the diagonal, moves within a state, is not a transition and is ignored);
    entries, exits: [T, S] children entering the system into, and leaving it from, each state.

    At risk in state i = sum over the reference periods of (stock at the start + entries
    into i). Children who move into i during a period are not at risk of leaving i in the
    same period: this keeps the projection a one-step recursion with each child making at
    most one transition per period.

    Returns (entries per period [S], move probability [S, S] from row state to column state
    with a zero diagonal, exit probability [S]); a state's move and exit probabilities sum to
    at most 1.
    """
    stock = _counts(stock, "stock", 2)
    moves = _counts(moves, "moves", 3)
    entries = _counts(entries, "entries", 2)
    exits = _counts(exits, "exits", 2)
    periods, states = entries.shape
    expected = {
        "stock": (stock.shape, (periods + 1, states)),
        "moves": (moves.shape, (periods, states, states)),
        "exits": (exits.shape, (periods, states)),
    }
    for name, (shape, want) in expected.items():
        if shape != want:
            raise ValueError(
                f"{name} has shape {shape}; with entries of shape {entries.shape} "
                f"(periods T, states S) it must be {want}"
            )
    ref = _reference_periods(periods, reference)
    moved = moves[ref].sum(axis=0) * (1 - np.eye(states))  # [S, S], diagonal ignored
    at_risk = (stock[:-1][ref] + entries[ref]).sum(axis=0)  # [S]
    move_probability = _probability(moved, at_risk[:, None], "moves")
    exit_probability = _probability(exits[ref].sum(axis=0), at_risk, "exits")
    _probability(moved.sum(axis=1) + exits[ref].sum(axis=0), at_risk, "moves and exits")
    return entries[ref].mean(axis=0), move_probability, exit_probability


def project_by_state(
    start: np.ndarray,
    entries: np.ndarray,
    move_probability: np.ndarray,
    exit_probability: np.ndarray,
    horizon: int,
) -> np.ndarray:
    """The expected-value recursion of a fixed-rate stock-flow system with moves.

    start: [S] children in each state at the start; entries: [S] per period;
    move_probability: [S, S] (row: from, column: to, zero diagonal); exit_probability: [S].
    Each period, the children at risk a = stock + entries leave with the exit probability,
    move with the move probabilities or stay: stock' = a (1 - exit - moves out) + a @ moves.
    Returns [H, S] children in each state at the end of each of the next H periods; the total
    changes each period by sum(entries) - sum(exit_probability * a) exactly.
    """
    horizon = _check_horizon(horizon)
    stay = 1 - exit_probability - move_probability.sum(axis=1)
    # One matrix: a row of at-risk children in, a row of where they are at the end out.
    transition = move_probability + np.diag(stay)
    projected = np.empty((horizon, len(start)))
    current = np.asarray(start, dtype=float)
    for h in range(horizon):
        current = (current + entries) @ transition
        projected[h] = current
    return projected


def fixed_rate_projection_by_state(
    stock: np.ndarray,
    moves: np.ndarray,
    entries: np.ndarray,
    exits: np.ndarray,
    horizon: int,
    reference: int = 3,
) -> np.ndarray:
    """``fixed_rate_projection`` with S states and moves between them: rates from the last
    ``reference`` periods (``reference_rates_by_state``: entries at their mean, move and
    exit probabilities per child at risk = stock at the start + entries), projected from
    stock[T] by ``project_by_state``.

    stock: [T + 1, S], moves: [T, S, S] (from, to), entries and exits: [T, S], all children.
    Returns [H, S] children in each state at the end of each of the next H periods. Children
    are conserved: each period the total changes by the entries less the projected exits.
    """
    rates = reference_rates_by_state(stock, moves, entries, exits, reference)
    return project_by_state(np.asarray(stock, dtype=float)[-1], *rates, horizon)
