"""Back-test summaries: skill against the naive walk on shared cells, the error of the median
against the last value's, cluster-bootstrap standard errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.evaluate.skill import skill_summary


def _scores(rows: list[tuple]) -> pd.DataFrame:
    """Scores of one measure from (authority, horizon, method, crps, abs_error, covered_80)."""
    table = pd.DataFrame(
        rows, columns=["authority", "horizon", "method", "crps", "abs_error", "covered_80"]
    )
    table["origin"], table["measure"], table["state"], table["observed"] = (
        2015,
        "stock",
        "total",
        1.0,
    )
    table["covered_80"] = table["covered_80"].astype("Float64")
    return table


def test_skill_is_one_minus_the_ratio_of_summed_crps_on_shared_cells() -> None:
    nan = np.nan
    scores = _scores([
        ("A", 1, "carecast", 2.0, 3.0, 1.0), ("A", 1, "naive_walk", 4.0, 4.0, 0.0),
        ("A", 1, "auto_ets", 3.0, 3.5, 1.0), ("A", 1, "last_value", nan, 4.0, None),
        ("B", 1, "carecast", 6.0, 5.0, 0.0), ("B", 1, "naive_walk", 6.0, 8.0, 1.0),
        ("B", 1, "auto_ets", nan, nan, None), ("B", 1, "last_value", nan, 8.0, None),
        # C has no naive walk: left out of every method's summary.
        ("C", 1, "carecast", 1.0, 1.0, 1.0), ("C", 1, "naive_walk", nan, nan, None),
        ("C", 1, "last_value", nan, 2.0, None),
    ])  # fmt: skip
    summary = skill_summary(scores, ["horizon"], "authority").set_index("method")
    model = summary.loc["carecast"]
    assert model.cells == 2 and model.clusters == 2
    assert model.crps_skill == pytest.approx(1 - 8 / 10)
    assert model.abs_error_ratio == pytest.approx(8 / 12)
    assert model.coverage_80 == pytest.approx(0.5)
    # AutoETS only where it was built (A): its skill and carecast's on the same cell.
    ets = summary.loc["auto_ets"]
    assert ets.cells == 1
    assert ets.crps_skill == pytest.approx(1 - 3 / 4)
    assert ets.carecast_crps_skill == pytest.approx(1 - 2 / 4)
    assert ets.abs_error_ratio == pytest.approx(3.5 / 4)
    # A point method has no CRPS, skill or coverage, only the error of its median.
    last = summary.loc["last_value"]
    assert np.isnan(last.crps) and np.isnan(last.crps_skill) and np.isnan(last.coverage_80)
    assert last.abs_error_ratio == 1.0
    assert summary.loc["naive_walk", "crps_skill"] == 0.0
    # One cluster: no standard error to be had.
    assert np.isnan(ets.crps_skill_se) and model.crps_skill_se > 0


def test_bootstrap_standard_error_of_coverage_matches_the_binomial_for_independent_cells():
    # One cell per cluster, covered with probability 0.8: the cluster bootstrap's standard
    # error estimates sqrt(p (1 - p) / n). With B = 1,000 resamples the estimate's own
    # relative standard deviation is about 1 / sqrt(2 B) = 2.2%; 4 of them is 9%.
    rng = np.random.default_rng(21)
    n = 400
    hit = (rng.random(n) < 0.8).astype(float)
    rows = []
    for i in range(n):
        rows.append((f"U{i}", 1, "carecast", 1.0, 1.0, hit[i]))
        rows.append((f"U{i}", 1, "naive_walk", 2.0, 1.0, 1.0))
        rows.append((f"U{i}", 1, "last_value", np.nan, 1.0, None))
    summary = skill_summary(_scores(rows), [], "authority", seed=4)
    model = summary[summary.method == "carecast"].iloc[0]
    p = hit.mean()
    assert model.coverage_80 == pytest.approx(p)
    assert model.coverage_80_se == pytest.approx(np.sqrt(p * (1 - p) / n), rel=0.09)
    assert model.crps_skill == 0.5 and model.crps_skill_se == 0.0  # the same ratio everywhere


def test_cells_of_one_cluster_move_together_in_the_bootstrap() -> None:
    # Two clusters of 50 cells each: the model wins every cell of one and loses every cell
    # of the other. Resampling whole clusters gives a large standard error; resampling
    # cells one by one (100 clusters) would claim a small one.
    rows = []
    for i in range(100):
        cluster = "good" if i < 50 else "bad"
        model = 1.0 if cluster == "good" else 3.0
        rows.append((cluster, 1, "carecast", model, 1.0, 1.0))
        rows.append((cluster, 1, "naive_walk", 2.0, 1.0, 1.0))
        rows.append((cluster, 1, "last_value", np.nan, 1.0, None))
    scores = _scores(rows)
    scores["origin"] = np.repeat(np.arange(100), 3)  # one cell per origin
    clustered = skill_summary(scores, [], "authority").set_index("method")
    by_cell = skill_summary(scores, [], "origin").set_index("method")
    assert clustered.loc["carecast", "crps_skill"] == pytest.approx(0.0)
    assert clustered.loc["carecast", "crps_skill_se"] > 3 * by_cell.loc["carecast", "crps_skill_se"]
