"""Keyed random numbers and counts by inversion (``model.forecast.streams``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from model.forecast import streams


def uniforms(count: int, tag: int = 1) -> np.ndarray:
    key = np.uint64(streams.event_key(7, 3, 11, tag, 0, 0, 0))
    return np.array([streams.uniform(key, i) for i in range(count)])


def test_a_key_gives_the_same_numbers_and_other_keys_other_ones() -> None:
    assert np.array_equal(uniforms(100), uniforms(100))
    assert not np.isin(uniforms(100), uniforms(100, tag=2)).any()
    keys = {streams.event_key(1, d, m, 1, 0, 0, 0) for d in range(50) for m in range(50)}
    assert len(keys) == 2500  # no two events of a draw-month grid share a key


def test_keyed_uniforms_are_uniform() -> None:
    u = uniforms(50_000)
    assert ((u > 0) & (u < 1)).all()
    assert stats.kstest(u, "uniform").pvalue > 0.001
    # Neighbouring numbers of one key are not correlated (SE of r: 1 / sqrt(n)).
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 4 / np.sqrt(len(u))


@pytest.mark.parametrize(
    ("n", "p"), [(1, 0.5), (10, 0.3), (300, 0.01), (50, 0.97), (2000, 0.3), (100_000, 0.4)]
)
def test_binomial_is_the_inverse_of_its_distribution_function(n: int, p: float) -> None:
    u = uniforms(2000)
    mine = np.array([streams.binomial(n, p, v) for v in u])
    assert np.array_equal(mine, stats.binom.ppf(u, n, p).astype(int))


@pytest.mark.parametrize("mean", [0.2, 5.0, 19.9, 20.1, 300.0, 5000.0])
def test_poisson_is_the_inverse_of_its_distribution_function(mean: float) -> None:
    u = uniforms(2000)
    mine = np.array([streams.poisson(mean, v) for v in u])
    assert np.array_equal(mine, stats.poisson.ppf(u, mean).astype(int))


def test_counts_are_monotone_in_their_rate_and_size_at_the_same_number() -> None:
    for u in uniforms(300):
        by_p = [streams.binomial(200, p, u) for p in np.linspace(0, 1, 41)]
        by_n = [streams.binomial(n, 0.2, u) for n in range(0, 300, 7)]
        stayers = [n - streams.binomial(n, 0.2, u) for n in range(0, 300, 7)]
        by_mean = [streams.poisson(m, u) for m in np.linspace(0, 60, 61)]
        for seq in (by_p, by_n, stayers, by_mean):
            assert (np.diff(seq) >= 0).all()


@pytest.mark.parametrize("shape", [0.5, 2.0, 30.0])
def test_standard_gamma_has_its_distribution(shape: float) -> None:
    draws = np.array(
        [streams.standard_gamma(shape, np.uint64(streams.event_key(9, i, 0, 1, 0, 0, 0)))
         for i in range(20_000)]
    )  # fmt: skip
    assert stats.kstest(draws, stats.gamma(shape).cdf).pvalue > 0.001


def test_split_places_every_child_and_is_monotone_in_the_total() -> None:
    weights = np.array([0.5, 0.0, 2.0, 1.0])
    ids = np.arange(4)
    key = np.uint64(streams.event_key(1, 2, 3, 4, 5, 6, 7))
    previous = np.zeros(4, dtype=np.int64)
    for total in range(0, 200, 3):
        out = np.zeros(4, dtype=np.int64)
        streams.split(total, weights, ids, out, key)
        assert out.sum() == total and out[1] == 0
        assert (out >= previous).all()  # a larger total never takes children from a category
        previous = out


def test_prepared_counts_equal_the_counts_drawn_call_by_call() -> None:
    """The kernel works a cell's probabilities out once (``prepare_binomial``,
    ``prepare_split``): the counts must be the ones drawn from the raw probabilities."""
    row = np.zeros(4)
    for p in (0.0, 1e-6, 0.03, 0.4, 0.97, 1.0):
        streams.prepare_binomial(p, row)
        for n in (0, 1, 7, 60, 300, 5000):
            for u in uniforms(50):
                assert streams.binomial_prepared(n, row, u) == streams.binomial(n, p, u)
    weights = np.array([0.5, 0.0, 2.0, 1e-9, 1.0])
    table = np.zeros((5, 4))
    streams.prepare_split(weights, table)
    ids = np.arange(5)
    for total in range(0, 400, 7):
        key = np.uint64(streams.event_key(1, 2, 3, 4, total, 6, 7))
        raw, prepared = np.zeros(5, dtype=np.int64), np.zeros(5, dtype=np.int64)
        streams.split(total, weights, ids, raw, key)
        streams.split_prepared(total, table, ids, prepared, key)
        assert np.array_equal(raw, prepared)


@pytest.mark.parametrize(("n", "p"), [(400, 0.2), (20_000, 0.6), (3_000_000, 0.01)])
def test_large_counts_invert_at_the_far_tails(n: int, p: float) -> None:
    """Counts above the small-mean walk sum the lower tail only as far as the answer needs
    (``_invert_lazy``); at uniforms deep in either tail they still equal SciPy's quantile.
    (Not below about 1e-13 from either end: the sums' rounding is that large there, for
    the previous full sum too.)"""
    for u in (1e-9, 1e-4, 0.3, 0.5, 0.9, 1 - 1e-6):
        assert streams.binomial(n, p, u) == int(stats.binom.ppf(u, n, p))
        assert streams.poisson(n * p, u) == int(stats.poisson.ppf(u, n * p))
