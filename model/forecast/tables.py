"""Forecast draws -> the tidy tables analysts read: quantiles of each measure, scenario
differences from the baseline (draw by draw) and the probabilities of stated differences.

Every table is long ("tidy"): one row per authority, scenario, period end, measure and
state, with the mean and the quantiles in ``model.config.forecast.QUANTILES`` (columns
``q05`` ... ``q95``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from model.config.forecast import QUANTILES

TOTAL = "total"
"""The state of every looked-after child together."""
QUANTILE_COLUMNS = [f"q{round(q * 100):02d}" for q in QUANTILES]
KEYS = ["authority", "scenario", "period_end", "measure", "state"]
COLUMNS = [*KEYS, "mean", *QUANTILE_COLUMNS]
PROBABILITY_COLUMNS = [*KEYS, "statement", "probability"]


def quantile_table(
    values: np.ndarray,
    authority: str,
    scenarios: Sequence[str],
    period_ends: Sequence[str],
    measure: str,
    states: Sequence[str],
) -> pd.DataFrame:
    """Mean and quantiles over draws of ``values`` [N, C, H, S] (children, or pounds) as
    rows (``COLUMNS``), scenarios x periods x states."""
    values = np.asarray(values)
    means, quantiles = draw_summaries(values)  # [C, H, S], [Q, C, H, S]
    c, h, s = np.meshgrid(
        np.arange(values.shape[1]), np.arange(values.shape[2]), np.arange(values.shape[3]),
        indexing="ij",
    )  # fmt: skip
    table = pd.DataFrame(
        {
            "authority": authority,
            "scenario": np.asarray(scenarios, dtype=object)[c.ravel()],
            "period_end": np.asarray(period_ends, dtype=object)[h.ravel()],
            "measure": measure,
            "state": np.asarray(states, dtype=object)[s.ravel()],
            "mean": means.ravel(),
        }
    )
    for name, q in zip(QUANTILE_COLUMNS, quantiles, strict=True):
        table[name] = q.ravel()
    return table


def draw_summaries(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [...], quantiles [Q, ...]) over the first axis (draws) of finite ``values``
    [N, ...], the quantiles ``QUANTILES`` exactly as ``np.quantile``'s default (linear)
    method gives them, bit for bit. ``np.quantile`` partitions along the draws' axis where
    it lies, strided through memory; sorting each cell's draws contiguously is several
    times faster."""
    n = values.shape[0]
    by_cell = np.ascontiguousarray(np.moveaxis(values, 0, -1))  # [..., N]
    means = by_cell.mean(axis=-1, dtype="float64")
    ordered = np.sort(by_cell, axis=-1)
    position = (n - 1) * np.asarray(QUANTILES)  # numpy's virtual index of "linear"
    below = np.floor(position)
    gamma = position - below
    lower = ordered[..., below.astype(np.intp)].astype("float64")
    upper = ordered[..., np.minimum(below.astype(np.intp) + 1, n - 1)].astype("float64")
    step = upper - lower
    # numpy's lerp: from the nearer end, so a quantile between equal values is that value.
    quantiles = np.where(gamma >= 0.5, upper - step * (1 - gamma), lower + step * gamma)
    return means, np.moveaxis(quantiles, -1, 0)


def differences(values: np.ndarray) -> np.ndarray:
    """[N, C - 1, H, S] each scenario minus the baseline (scenario 0), draw by draw."""
    values = np.asarray(values, dtype="float64")
    return values[:, 1:] - values[:, :1]


def probability_table(
    values: np.ndarray,
    authority: str,
    scenarios: Sequence[str],
    period_ends: Sequence[str],
    measure: str,
    states: Sequence[str],
    thresholds: Sequence[int],
) -> pd.DataFrame:
    """Probabilities, at each 31 March of the horizon (the last period end when there is
    none), that a scenario has at least ``k`` fewer (and at least ``k`` more) than the
    baseline, for every threshold ``k``: ``values`` [N, C, H, S] with scenario 0 the
    baseline. Columns: authority, scenario, period_end, measure, state, statement,
    probability."""
    if len(scenarios) < 2:
        return pd.DataFrame(columns=PROBABILITY_COLUMNS)
    marches = [h for h, p in enumerate(period_ends) if p[5:7] == "03"] or [len(period_ends) - 1]
    diff = differences(values)[:, :, marches]  # [N, C-1, M, S]
    rows = []
    unit = "children" if measure != "cost" else "pounds"
    for k in thresholds:
        for label, hit in ((f"at least {k} fewer", diff <= -k), (f"at least {k} more", diff >= k)):
            share = hit.mean(axis=0)  # [C-1, M, S]
            for c, scenario in enumerate(scenarios[1:]):
                for m, h in enumerate(marches):
                    for s, state in enumerate(states):
                        rows.append(
                            (authority, scenario, period_ends[h], measure, state,
                             f"{label} {unit} than baseline", float(share[c, m, s]))
                        )  # fmt: skip
    return pd.DataFrame(rows, columns=PROBABILITY_COLUMNS)
