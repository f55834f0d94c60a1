"""Scores of probabilistic forecasts against what happened: CRPS, central-interval coverage,
per-cell tables and the coverage chart of the back-test (``model.evaluate.skill`` summarises
them).

A *cell* is one forecast quantity (say: children looked after in placement group g at the
end of year y + h, forecast from data up to year y). Its forecast is an ensemble of N
posterior predictive draws (a point forecast is the ensemble of one draw). All quantities are
counts of children; CRPS and absolute error are in children too.

CRPS (continuous ranked probability score) of the ensemble's empirical distribution F_N at
the observation y (Gneiting and Raftery 2007, eq. 21):

    CRPS(F_N, y) = (1/N) sum_i |x_i - y|  -  (1/(2 N^2)) sum_i sum_j |x_i - x_j|.

The double sum needs no N^2 pairs: with the draws sorted, x_(1) <= ... <= x_(N) (1-based),
the draw x_(i) is the larger of a pair with the i - 1 draws below it and the smaller with
the N - i above it, so

    sum_i sum_j |x_i - x_j| = 2 sum_{i<j} (x_(j) - x_(i)) = 2 sum_i (2i - N - 1) x_(i),

and CRPS(F_N, y) = mean_i |x_i - y| - (1/N^2) sum_i (2i - N - 1) x_(i). For N = 1 the second
term is zero and CRPS is the absolute error, so point forecasts and ensembles share a scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_LEVELS = (0.5, 0.8, 0.9, 0.95)


def _draws_and_observed(draws: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both as float arrays, with the draws' leading axes equal to the observed shape."""
    draws = np.asarray(draws, dtype=float)
    observed = np.asarray(observed, dtype=float)
    if draws.ndim == 0 or draws.shape[-1] == 0:
        raise ValueError(f"draws need a last axis of at least one draw; got shape {draws.shape}")
    if draws.shape[:-1] != observed.shape:
        raise ValueError(
            f"draws of shape {draws.shape} (cells..., draws) do not match observed of shape "
            f"{observed.shape}: the draws' leading axes must equal the observed shape"
        )
    return draws, observed


def _check_level(level: float) -> float:
    if not 0 < level < 1:
        raise ValueError(f"interval level must be strictly between 0 and 1; got {level}")
    return float(level)


def level_name(level: float) -> str:
    """The percentage naming a level's columns: 0.5 -> '50', 0.95 -> '95', 0.975 -> '97.5'."""
    # (rounding first: 0.07 * 100 is 7.000000000000001 in floating point)
    return f"{round(_check_level(level) * 100, 6):g}"


def crps(draws: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """CRPS of each cell's ensemble at its observation, exact for the draws' empirical
    distribution (see the module docstring for the sorted O(N log N) formula).

    draws: [..., N] counts of children, last axis the N draws of each cell.
    observed: [...] the observed counts; NaN where nothing was observed (its score is NaN).
    Returns [...] the CRPS in children (lower is better; the absolute error when N = 1).
    """
    draws, observed = _draws_and_observed(draws, observed)
    n = draws.shape[-1]
    to_observed = np.abs(draws - observed[..., None]).mean(axis=-1)
    weights = 2.0 * np.arange(1, n + 1) - n - 1  # (2i - N - 1), i = 1..N
    # half the mean pairwise distance, (1/(2 N^2)) sum_i sum_j |x_i - x_j|
    spread = (np.sort(draws, axis=-1) @ weights) / n**2
    return to_observed - spread


def central_interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The central ``level`` interval of each cell's draws: the (1 - level)/2 and
    (1 + level)/2 quantiles (numpy's default linear interpolation).

    draws: [..., N] counts of children. Returns (lower, upper), each [...].
    """
    level = _check_level(level)
    draws = np.asarray(draws, dtype=float)
    if draws.ndim == 0 or draws.shape[-1] == 0:
        raise ValueError(f"draws need a last axis of at least one draw; got shape {draws.shape}")
    lower, upper = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=-1)
    return lower, upper


def covered(draws: np.ndarray, observed: np.ndarray, level: float) -> np.ndarray:
    """How far each observation lies in its cell's central ``level`` interval: the chance
    that its randomised PIT falls in [(1 - level)/2, (1 + level)/2].

    Counts are discrete, and a forecast of a few children puts much of its mass on single
    values: an interval with its ends included then covers more often than its level, even
    when the forecast is exactly right (honest Poisson(2) forecasts, measured: 0.983 of
    2,000 outcomes in the central 95% interval; this function gives 0.952). The randomised
    probability integral transform, ``F(y-1) + V (F(y) - F(y-1))`` with ``V ~ Uniform(0,
    1)`` and ``F`` the draws' distribution function, is uniform for an honest forecast of a
    discrete count (Czado, Gneiting and Held 2009), so its share in the central band is the
    level. This returns
    that share's expectation over ``V``, not one random draw of it: 1 or 0 when the draws
    put no mass on ``y``, else the part of ``[F(y-1), F(y)]`` inside the band. For large
    counts it is nearly the ends-included interval's answer.

    draws: [..., N]; observed: [...]. Returns floats in [0, 1], [...]; a NaN observation
    gives 0 (``score_cells`` marks it missing instead, so it does not count as a miss).
    """
    draws, observed = _draws_and_observed(draws, observed)
    lo, hi = (1 - _check_level(level)) / 2, (1 + level) / 2
    below = (draws < observed[..., None]).mean(axis=-1)  # F(y-1)
    at_most = (draws <= observed[..., None]).mean(axis=-1)  # F(y)
    width = at_most - below
    inside = np.clip(np.minimum(at_most, hi) - np.maximum(below, lo), 0.0, None)
    point = ((lo <= below) & (below <= hi)).astype(float)
    return np.where(width > 0, inside / np.where(width > 0, width, 1.0), point)


def score_cells(
    draws: np.ndarray, observed: np.ndarray, levels: tuple[float, ...] = DEFAULT_LEVELS
) -> pd.DataFrame:
    """One row per cell: ``median`` of the draws, ``observed``, ``crps``, ``abs_error``
    (|median - observed|) and ``covered_{pct}`` for each level (pct from ``level_name``;
    :func:`covered`: 0 to 1, fractional when the observation's value straddles an end).

    draws: [K, N] counts of children, K cells by N draws; observed: [K].
    Rows keep the cells' order, so the caller can attach its own keys (year, horizon, state,
    method) column by column. A cell observed as NaN gets NaN scores and missing (<NA>)
    coverage: nullable floats, so a missing observation never counts as a miss.
    """
    draws, observed = _draws_and_observed(draws, observed)
    if draws.ndim != 2:
        raise ValueError(f"draws must be [cells, draws]; got shape {draws.shape}")
    median = np.median(draws, axis=-1)
    table = pd.DataFrame(
        {
            "median": median,
            "observed": observed,
            "crps": crps(draws, observed),
            "abs_error": np.abs(median - observed),
        }
    )
    missing = np.isnan(observed)
    for level in levels:
        flags = pd.array(covered(draws, observed, level), dtype="Float64")
        flags[missing] = pd.NA
        table[f"covered_{level_name(level)}"] = flags
    return table


def _nominal_levels(summary: pd.DataFrame) -> list[tuple[float, str]]:
    """(nominal level, column) of each ``coverage_{pct}`` column, in increasing level."""
    columns = [c for c in summary.columns if c.startswith("coverage_") and not c.endswith("_se")]
    return sorted((float(c.removeprefix("coverage_")) / 100, c) for c in columns)


def plot_coverage(summary: pd.DataFrame, path_stem: str, title: str) -> None:
    """Empirical coverage against nominal, one series per row of ``summary`` (labelled by its
    ``label`` column, e.g. a horizon or a method), with error bars of +-2 standard errors and
    the diagonal of honest intervals; written to ``path_stem + ".png"`` and ``".svg"``.

    ``summary``: one row per series, ``coverage_{pct}`` and ``coverage_{pct}_se`` columns
    (``model.evaluate.skill.skill_summary`` makes them) and a ``label`` column.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "label" not in summary.columns:
        raise ValueError("summary needs a 'label' column naming each series")
    levels = _nominal_levels(summary)
    if not levels:
        raise ValueError("summary has no coverage_{pct} columns to plot")
    nominal = np.array([level for level, _ in levels]) * 100
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 100], [0, 100], color="0.5", lw=0.8, ls="--", label="nominal")
    # Series side by side around each nominal level, so their error bars do not overlap.
    offsets = np.linspace(-1.5, 1.5, len(summary)) if len(summary) > 1 else np.zeros(1)
    for offset, (_, row) in zip(offsets, summary.iterrows(), strict=True):
        empirical = np.array([row[c] for _, c in levels], dtype=float) * 100
        se = np.array([row.get(f"{c}_se", np.nan) for _, c in levels], dtype=float) * 100
        ax.errorbar(
            nominal + offset, empirical, yerr=2 * se, marker="o", ms=4, capsize=2,
            label=str(row["label"]),
        )  # fmt: skip
    ax.set_xlim(max(0.0, nominal.min() - 10), 100)
    ax.set_ylim(0, 102)  # (room for the error bars of full coverage)
    ax.set_xticks(nominal)
    ax.set_xlabel("nominal coverage of the central interval (%)")
    ax.set_ylabel("share of outcomes inside it (%), bars ±2 SE")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    Path(path_stem).parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".png", ".svg"):
        fig.savefig(path_stem + suffix, dpi=100)
    plt.close(fig)
