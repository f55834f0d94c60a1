"""Back-test summaries that compare like with like: every method on the cells it shares with
carecast and the naive random walk, skill against the naive walk with standard errors from a
bootstrap over clusters of correlated cells.

A *cell* is one forecast quantity scored in a back-test (a unit's figure at one 31 March,
from one origin: the rows of ``scores.csv`` without their method). The summary's cells are
those that carecast and the reference (:data:`REFERENCE`, the naive random walk) both scored;
each method is summarised on the part of them it scored too (AutoETS needs 7 published
values, for one), with carecast's skill on those same cells beside it.

- ``crps_skill`` = ``1 - sum CRPS(method) / sum CRPS(naive walk)`` over the cells: above 0
  beats the naive walk, 1 would be perfect. Probabilistic methods only: a point forecast's
  CRPS is its absolute error, and comparing it with bands says nothing.
- ``abs_error_ratio`` = ``sum |median - observed| / sum |last value - observed|``: the
  error of the median against carrying the last value forward (every method).
- ``coverage_{pct}``: mean of the randomised-PIT coverage (``scores.covered``).

Standard errors (``*_se``) come from :data:`BOOTSTRAP` resamples of whole clusters (a unit's
cells share its history and its errors, so they are not independent): the standard
deviation of the statistic over the resamples, with a fixed seed (missing for a group of one
cluster).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REFERENCE = "naive_walk"
"""The probabilistic baseline skill is measured against."""
POINT_REFERENCE = "last_value"
"""The point baseline the error of the median is measured against."""
MODEL = "carecast"
BOOTSTRAP = 1000
"""Cluster bootstrap resamples behind each standard error."""
CELL_KEYS = ("authority", "origin", "horizon", "measure", "state")


def _sums(frame: pd.DataFrame, cluster: str, columns: list[str]) -> pd.DataFrame:
    """Per cluster: the sum of each column and the number of cells."""
    grouped = frame.groupby(cluster, sort=True)
    return grouped[columns].sum().assign(cells=grouped.size())


def _statistics(sums: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Summary statistics from (weighted) sums over clusters; ``sums``: [..., columns]."""
    total = dict(zip(names, np.moveaxis(sums.astype(float), -1, 0), strict=True))
    cells = total["cells"]
    out = {"crps": total["crps"] / cells, "abs_error": total["abs_error"] / cells}
    with np.errstate(divide="ignore", invalid="ignore"):
        out["crps_skill"] = 1.0 - total["crps"] / total["crps_reference"]
        out["carecast_crps_skill"] = 1.0 - total["crps_model"] / total["crps_reference"]
        out["abs_error_ratio"] = total["abs_error"] / total["abs_error_last"]
    for name in names:
        if name.startswith("covered_"):
            out[name.replace("covered_", "coverage_")] = total[name] / cells
    return out


def _spread(resampled: np.ndarray) -> float:
    """Standard deviation of a statistic over the resamples (a resample whose reference
    has no error gives no ratio: left out)."""
    finite = resampled[np.isfinite(resampled)]
    return float(np.std(finite)) if len(finite) > 1 else np.nan


def skill_summary(
    scores: pd.DataFrame,
    by: list[str],
    cluster: str,
    seed: int = 0,
    resamples: int = BOOTSTRAP,
) -> pd.DataFrame:
    """One row per group of ``by`` and method (see the module): ``cells``, ``clusters``,
    ``crps``, ``abs_error`` (children), ``coverage_{pct}``, ``crps_skill``,
    ``carecast_crps_skill``, ``abs_error_ratio``, each statistic with its bootstrap ``_se``.

    ``scores``: rows as the back-tests write them (``method``, ``crps``, ``abs_error``,
    ``covered_{pct}`` and the cell keys of :data:`CELL_KEYS` present); a point method has
    NaN CRPS. ``cluster``: the key column whose values are resampled whole."""
    keys = [k for k in CELL_KEYS if k in scores.columns]
    coverage = [c for c in scores.columns if c.startswith("covered_")]
    scored = scores[scores["observed"].notna()].astype({c: float for c in coverage})
    wide = scored.set_index([*keys, "method"])[["crps", "abs_error"]].unstack("method")
    shared = wide["crps"][MODEL].notna() & wide["crps"][REFERENCE].notna()
    wide = wide[shared]
    rows = []
    rng = np.random.default_rng(seed)
    for method in scored["method"].unique():
        own = scored[scored["method"] == method].set_index(keys)
        own = own.loc[own.index.intersection(wide.index)]
        probabilistic = bool(own["crps"].notna().any())
        own = own[own["crps" if probabilistic else "abs_error"].notna()]
        if not probabilistic:
            own = own.assign(crps=np.nan, **{c: np.nan for c in coverage})
        own = own.assign(
            crps_model=wide["crps"][MODEL].reindex(own.index),
            crps_reference=wide["crps"][REFERENCE].reindex(own.index),
            abs_error_last=wide["abs_error"][POINT_REFERENCE].reindex(own.index),
        ).reset_index()
        columns = ["crps", "abs_error", "crps_model", "crps_reference", "abs_error_last"]
        columns += coverage
        for group, frame in own.groupby(by, sort=True) if by else [((), own)]:
            sums = _sums(frame, cluster, columns)
            names = [*columns, "cells"]
            point = _statistics(sums[names].sum(axis=0).to_numpy(), names)
            weights = rng.multinomial(len(sums), np.full(len(sums), 1 / len(sums)), resamples)
            spread = _statistics(weights @ sums[names].to_numpy(), names)
            row = dict(zip(by, group if isinstance(group, tuple) else (group,), strict=True))
            row |= {"method": method, "cells": len(frame), "clusters": len(sums)}
            for name, value in point.items():
                kept = probabilistic or not (name.startswith("coverage_") or "crps" in name)
                row[name] = float(value) if kept else np.nan
                # One cluster: every resample is the same, which says nothing of the error.
                alone = len(sums) < 2
                row[f"{name}_se"] = _spread(spread[name]) if kept and not alone else np.nan
            rows.append(row)
    return pd.DataFrame(rows)
