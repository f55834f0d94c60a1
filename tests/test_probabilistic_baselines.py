"""Probabilistic baselines of the back-tests: the naive random walk, AutoETS and AutoARIMA as
ensembles of quantiles."""

from __future__ import annotations

import numpy as np
import pytest
import scoringrules
from scipy.stats import norm

from model.evaluate.probabilistic_baselines import (
    QUANTILE_POINTS,
    gaussian_ensemble,
    naive_walk,
    quantile_probabilities,
    statistical_forecasts,
    statistical_forecasts_many,
)
from model.evaluate.scores import covered, crps


def test_quantile_ensemble_crps_matches_the_normal_closed_form() -> None:
    # n midpoint quantiles integrate the CRPS with an error of order sd / n^2 (2.5e-5 sd
    # for n = 200) plus the tails beyond the extreme quantiles (0.25% each side), which
    # the energy form weighs by far less than 1e-3 sd.
    mean, sd = 100.0, 10.0
    observed = np.array([70.0, 95.0, 100.0, 112.0, 160.0])
    ensemble = np.repeat(gaussian_ensemble(np.array([mean]), np.array([sd])), 5, axis=0)
    expected = scoringrules.crps_normal(observed, mean, sd)
    np.testing.assert_allclose(crps(ensemble, observed), expected, atol=1e-3 * sd)


def test_quantile_ensemble_covers_at_its_level() -> None:
    # An outcome at the distribution's q-quantile sits at PIT q: inside the central 80%
    # band exactly when 0.1 <= q <= 0.9 (away from the ends by more than a grid step).
    ensemble = gaussian_ensemble(np.full(4, 50.0), np.full(4, 5.0))
    quantiles = np.array([0.05, 0.12, 0.88, 0.95])
    flags = covered(ensemble, 50.0 + 5.0 * norm.ppf(quantiles), 0.8)
    np.testing.assert_array_equal(flags, [0.0, 1.0, 1.0, 0.0])


def test_gaussian_ensemble_is_truncated_at_zero() -> None:
    ensemble = gaussian_ensemble(np.array([2.0]), np.array([5.0]))
    assert ensemble.shape == (1, QUANTILE_POINTS)
    assert ensemble.min() == 0.0 and (np.diff(ensemble) >= 0).all()
    assert quantile_probabilities(4).tolist() == [0.125, 0.375, 0.625, 0.875]


def test_naive_walk_uses_the_series_own_volatility_and_widens_with_the_horizon() -> None:
    history = np.array([100.0, 110.0, 104.0, 120.0, 118.0])
    sd = np.std(np.diff(history), ddof=1)
    forecast = naive_walk(history, 3)
    assert forecast.shape == (3, QUANTILE_POINTS)
    np.testing.assert_allclose(np.median(forecast, axis=1), 118.0)
    # Each quantile is the last value plus sd x sqrt(years ahead) x the normal quantile.
    z = norm.ppf(quantile_probabilities())
    np.testing.assert_allclose(forecast, 118.0 + sd * np.sqrt([[1], [2], [3]]) * z)


def test_naive_walk_counts_unpublished_years_as_ahead_and_skips_gaps() -> None:
    history = np.array([10.0, 12.0, np.nan, 15.0, 14.0, np.nan])
    # Changes between consecutive published years only: 12-10 and 14-15.
    sd = np.std([2.0, -1.0], ddof=1)
    forecast = naive_walk(history, 1)
    z = norm.ppf(quantile_probabilities())
    # One year ahead of a missing last year is two years ahead of the last published one.
    np.testing.assert_allclose(forecast[0], np.maximum(14.0 + sd * np.sqrt(2) * z, 0.0))
    with pytest.raises(ValueError, match="need 2"):
        naive_walk(np.array([3.0, np.nan, 4.0, 5.0]), 1)


def test_statistical_forecasts_follow_a_trend_with_widening_bands() -> None:
    rng = np.random.default_rng(3)
    history = 200.0 + 10.0 * np.arange(12) + rng.normal(0, 2.0, 12)
    forecasts = statistical_forecasts(history, 3)
    assert set(forecasts) == {"auto_ets", "auto_arima"}
    for name, quantiles in forecasts.items():
        assert quantiles.shape == (3, QUANTILE_POINTS) and np.isfinite(quantiles).all(), name
        assert (np.diff(quantiles, axis=1) >= 0).all()
        median = np.median(quantiles, axis=1)
        # A clear trend of 10 a year, noise sd 2: the forecasts carry it on.
        np.testing.assert_allclose(median, 200.0 + 10.0 * np.arange(12, 15), atol=15.0)
        spread = quantiles[:, -1] - quantiles[:, 0]
        assert (np.diff(spread) > 0).all(), name


def test_statistical_forecasts_missing_when_too_short() -> None:
    short = statistical_forecasts(np.array([5.0, 6.0, 7.0, 6.0]), 2)
    assert np.isnan(short["auto_ets"]).all()  # AutoETS needs 7 values
    assert np.isfinite(short["auto_arima"]).all()
    constant = statistical_forecasts(np.array([np.nan, 0.0, 0.0, 0.0]), 2)
    assert np.isnan(constant["auto_ets"]).all()
    assert np.isnan(statistical_forecasts(np.array([1.0, np.nan, 2.0, 3.0]), 2)["auto_arima"]).all()
    assert np.isnan(statistical_forecasts(np.full(5, np.nan), 2)["auto_arima"]).all()


def test_statistical_forecasts_many_equals_one_by_one() -> None:
    rng = np.random.default_rng(8)
    histories = [50.0 + np.cumsum(rng.normal(0, 3, 9)) for _ in range(5)]
    many = statistical_forecasts_many(histories, 2, workers=2)
    for history, result in zip(histories, many, strict=True):
        alone = statistical_forecasts(history, 2)
        for name in alone:
            np.testing.assert_array_equal(result[name], alone[name])
