"""Back-test scores: CRPS of ensembles (checked against scoringrules too), central-interval
coverage, per-cell tables and the coverage chart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from model.evaluate.scores import (
    central_interval,
    covered,
    crps,
    level_name,
    plot_coverage,
    score_cells,
)


def brute_force_crps(draws: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The O(N^2) definition: mean |X - y| - (1/2) mean over all pairs |X_i - X_j|."""
    to_observed = np.abs(draws - observed[..., None]).mean(axis=-1)
    pairs = np.abs(draws[..., :, None] - draws[..., None, :]).mean(axis=(-2, -1))
    return to_observed - pairs / 2


def normal_crps(mu: float, sigma: float, y: np.ndarray) -> np.ndarray:
    """Closed-form CRPS of N(mu, sigma^2) at y (Gneiting and Raftery 2007)."""
    z = (y - mu) / sigma
    return sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


def normal_mean_abs(mu: float, sigma: float, y: np.ndarray) -> np.ndarray:
    """E|X - y| for X ~ N(mu, sigma^2)."""
    z = (y - mu) / sigma
    return sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z))


@pytest.mark.parametrize("shape", [(7,), (4, 5), (2, 3, 6), (3, 1), (5, 40)])
def test_crps_equals_brute_force(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(20240501)
    draws = rng.gamma(2.0, 30.0, size=shape)
    observed = rng.gamma(2.0, 30.0, size=shape[:-1])
    np.testing.assert_allclose(crps(draws, observed), brute_force_crps(draws, observed), rtol=1e-12)


def test_crps_equals_scoringrules_ensemble_crps() -> None:
    # The same estimator as scoringrules' "nrg" (energy form: E|X - y| - E|X - X'| / 2).
    import scoringrules

    rng = np.random.default_rng(14)
    draws = rng.poisson(rng.uniform(1, 300, size=(40, 1)), size=(40, 500)).astype(float)
    observed = rng.poisson(150, size=40).astype(float)
    expected = scoringrules.crps_ensemble(observed, draws, estimator="nrg")
    np.testing.assert_allclose(crps(draws, observed), expected, rtol=1e-10)


def test_crps_with_tied_integer_draws() -> None:
    # Counts of children repeat: ties must not upset the sorted formula.
    rng = np.random.default_rng(7)
    draws = rng.poisson(3.0, size=(50, 30)).astype(float)
    observed = rng.poisson(3.0, size=50).astype(float)
    np.testing.assert_allclose(crps(draws, observed), brute_force_crps(draws, observed), rtol=1e-12)


def test_crps_hand_worked() -> None:
    # draws 1..5 at 3: mean |x - 3| = 6/5; sum over pairs |x_i - x_j| = 40, /(2 * 25) = 0.8.
    assert crps(np.array([1.0, 2, 3, 4, 5]), np.array(3.0)) == pytest.approx(0.4)


def test_crps_of_one_draw_is_the_absolute_error() -> None:
    rng = np.random.default_rng(3)
    point = rng.normal(100, 20, size=(6, 4))
    observed = rng.normal(100, 20, size=(6, 4))
    np.testing.assert_allclose(crps(point[..., None], observed), np.abs(point - observed))


def test_crps_nan_observation_gives_nan_only_there() -> None:
    draws = np.arange(12.0).reshape(3, 4)
    result = crps(draws, np.array([1.0, np.nan, 9.0]))
    assert np.isnan(result[1])
    assert np.isfinite(result[[0, 2]]).all()


def test_crps_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="do not match observed"):
        crps(np.zeros((3, 10)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one draw"):
        crps(np.zeros((3, 0)), np.zeros(3))


Y = np.array([4.0, 8.5, 10.0, 11.0, 16.0])  # observations around N(10, 2^2): z = -3 ... 3
MU, SIGMA = 10.0, 2.0


def test_crps_of_normal_draws_matches_closed_form_over_replicates() -> None:
    # Bias, exactly: E[(1/(2N^2)) sum_ij |X_i - X_j|] = (N - 1)/(2N) E|X - X'| with
    # E|X - X'| = 2 sigma / sqrt(pi), so E[crps] = CRPS + sigma / (sqrt(pi) N).
    # Sampling error: R independent replicates, so the mean over them has standard error
    # sd / sqrt(R), sd estimated from the replicates themselves; 4 standard errors fail a
    # correct implementation with probability about 6e-5 per observation.
    rng = np.random.default_rng(11)
    replicates, n = 200, 500
    draws = rng.normal(MU, SIGMA, size=(len(Y), replicates, n))
    scores = crps(draws, np.broadcast_to(Y[:, None], (len(Y), replicates)))
    expected = normal_crps(MU, SIGMA, Y) + SIGMA / (np.sqrt(np.pi) * n)
    standard_error = scores.std(axis=1, ddof=1) / np.sqrt(replicates)
    assert (np.abs(scores.mean(axis=1) - expected) < 4 * standard_error).all()


def test_crps_of_one_large_normal_ensemble_within_analytic_bound() -> None:
    # Analytic bound on the sampling error of one ensemble of N draws. To first order
    # (Hoeffding projection of the V-statistic) crps - E[crps] = (1/N) sum_i (g(X_i) - E g)
    # with g(x) = |x - y| - E|x - X'|. The triangle inequality gives
    # |x - y| <= E|x - X'| + E|X' - y| and E|x - X'| <= |x - y| + E|X' - y|, so
    # |g(x)| <= m = E|X - y|, Var g <= m^2 and sd(crps) <= m / sqrt(N) (the next term is
    # O(sigma / N), negligible at this N). Allow 4 of these bounds plus the bias above.
    rng = np.random.default_rng(12)
    n = 20_000
    draws = rng.normal(MU, SIGMA, size=(len(Y), n))
    bias = SIGMA / (np.sqrt(np.pi) * n)
    tolerance = 4 * normal_mean_abs(MU, SIGMA, Y) / np.sqrt(n) + bias
    error = np.abs(crps(draws, Y) - normal_crps(MU, SIGMA, Y))
    assert (error < tolerance).all()


def test_central_interval_quantiles_and_level_checks() -> None:
    draws = np.arange(101.0)[None, :].repeat(2, axis=0)
    lower, upper = central_interval(draws, 0.8)
    np.testing.assert_allclose(lower, [10.0, 10.0])
    np.testing.assert_allclose(upper, [90.0, 90.0])
    # 10 is the 10% quantile: F(9) = 10/101 and F(10) = 11/101, of which 0.9 of the step
    # lies above 0.1; 90.5 is above 91 of the 101 draws, beyond 0.9.
    np.testing.assert_allclose(covered(draws, np.array([10.0, 90.5]), 0.8), [0.9, 0.0])
    with pytest.raises(ValueError, match="between 0 and 1"):
        central_interval(draws, 1.0)
    assert [level_name(v) for v in (0.5, 0.8, 0.95, 0.975, 0.07)] == [
        "50", "80", "95", "97.5", "7",
    ]  # fmt: skip


def _coverage_experiment(spread: float) -> tuple[dict[float, float], int]:
    """Share of K observations inside the central intervals of N draws per cell, the draws
    from each cell's true normal with its sd multiplied by ``spread``."""
    rng = np.random.default_rng(99)
    cells, n = 4000, 400
    mu = rng.uniform(50, 500, size=cells)
    sigma = rng.uniform(5, 40, size=cells)
    draws = rng.normal(mu[:, None], spread * sigma[:, None], size=(cells, n))
    observed = rng.normal(mu, sigma)
    return {level: covered(draws, observed, level).mean() for level in (0.5, 0.8, 0.95)}, cells


def test_coverage_of_honest_intervals_is_nominal() -> None:
    # Cells are independent, so the count covered is binomial(K, p) with p the marginal
    # coverage, which is the level up to O(1/N) from estimating the quantiles from N draws.
    shares, cells = _coverage_experiment(spread=1.0)
    for level, share in shares.items():
        assert abs(share - level) < 4 * np.sqrt(level * (1 - level) / cells), level


def test_coverage_of_honest_forecasts_of_a_few_children_is_nominal() -> None:
    # Honest forecasts of small counts: each cell's draws and its observation come from the
    # same Poisson. Intervals with their ends included cover far more than their level (ties
    # at the ends); the randomised PIT's coverage is the level, within 4 binomial standard
    # errors of the K cells (an upper bound: fractional coverage varies less).
    rng = np.random.default_rng(5)
    cells, n = 4000, 1000
    mean = rng.uniform(0.5, 5.0, size=cells)
    draws = rng.poisson(mean[:, None], size=(cells, n)).astype(float)
    observed = rng.poisson(mean).astype(float)
    for level in (0.5, 0.8, 0.95):
        share = covered(draws, observed, level).mean()
        assert abs(share - level) < 4 * np.sqrt(level * (1 - level) / cells), level
        lower, upper = central_interval(draws, level)
        ends_included = ((lower <= observed) & (observed <= upper)).mean()
        assert ends_included > level + 4 * np.sqrt(level * (1 - level) / cells), level


def test_coverage_of_overconfident_intervals_is_flagged() -> None:
    # Half the spread: the 95% interval is +-0.98 sd, covering about 67%.
    shares, cells = _coverage_experiment(spread=0.5)
    for level, share in shares.items():
        assert share < level - 4 * np.sqrt(level * (1 - level) / cells), level


def test_score_cells_hand_worked() -> None:
    draws = np.array([[1.0, 2, 3, 4, 5], [10.0] * 5, [0.0, 1, 2, 3, 4]])
    table = score_cells(draws, np.array([3.0, 12.0, np.nan]))
    assert list(table.columns) == [
        "median", "observed", "crps", "abs_error", "covered_50", "covered_80", "covered_90",
        "covered_95",
    ]  # fmt: skip
    np.testing.assert_allclose(table["median"], [3.0, 10.0, 2.0])
    np.testing.assert_allclose(table.crps[:2], [0.4, 2.0])
    np.testing.assert_allclose(table.abs_error[:2], [0.0, 2.0])
    assert table[["crps", "abs_error"]].iloc[2].isna().all()
    # 3 holds F in [0.4, 0.6], inside the 50% band [0.25, 0.75]; 12 is above every draw.
    assert table.covered_50[:2].tolist() == [1.0, 0.0]
    assert table.covered_95[:2].tolist() == [1.0, 0.0]
    assert table[["covered_50", "covered_80", "covered_95"]].iloc[2].isna().all()


def test_score_cells_other_levels_and_bad_shapes() -> None:
    table = score_cells(np.arange(10.0).reshape(2, 5), np.array([0.0, 9.0]), levels=(0.9,))
    assert [c for c in table.columns if c.startswith("covered")] == ["covered_90"]
    with pytest.raises(ValueError, match=r"\[cells, draws\]"):
        score_cells(np.zeros((2, 3, 4)), np.zeros((2, 3)))


def test_plot_coverage_writes_png_and_svg(tmp_path) -> None:
    summary = pd.DataFrame(
        {"coverage_50": [0.6, 0.4], "coverage_50_se": [0.05, 0.08], "coverage_95": [1.0, 0.9],
         "coverage_95_se": [0.0, 0.03], "label": ["1 year(s) ahead", "2 year(s) ahead"]}
    )  # fmt: skip
    stem = str(tmp_path / "figures" / "coverage")
    plot_coverage(summary, stem, "Back-test coverage")
    for suffix in (".png", ".svg"):
        path = tmp_path / "figures" / f"coverage{suffix}"
        assert path.exists() and path.stat().st_size > 0
    with pytest.raises(ValueError, match="label"):
        plot_coverage(summary.drop(columns="label"), stem, "no labels")
