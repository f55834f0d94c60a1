"""The vectorised R-hat and ESS equal ArviZ's, element by element."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest
import xarray as xr

from model.fit.convergence import TAIL_PROBABILITIES, convergence


def _arviz(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ArviZ's rank R-hat, bulk and tail ESS of [k, chain, draw] draws."""
    da = xr.DataArray(np.moveaxis(draws, 0, -1), dims=("chain", "draw", "k"))
    return (
        np.asarray(az.rhat(da)),
        np.asarray(az.ess(da, method="bulk")),
        np.asarray(az.ess(da, method="tail", prob=TAIL_PROBABILITIES)),
    )


def _ar1(phi: float, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    """Autoregressive chains x[t] = phi x[t-1] + noise, [k, chain, draw]."""
    noise = rng.normal(size=shape)
    draws = np.zeros(shape)
    draws[..., 0] = noise[..., 0]
    for t in range(1, shape[-1]):
        draws[..., t] = phi * draws[..., t - 1] + noise[..., t]
    return draws


@pytest.mark.parametrize("phi", [0.995, 0.9, 0.3, 0.0, -0.7])
@pytest.mark.parametrize("n_draw", [7, 60, 501])
def test_equals_arviz_on_autocorrelated_chains(phi: float, n_draw: int) -> None:
    draws = _ar1(phi, (6, 4, n_draw), np.random.default_rng([n_draw, round(1000 * (phi + 1))]))
    draws[1] += np.arange(4)[:, None] * 30.0  # chains apart: R-hat far above 1
    for mine, theirs in zip(convergence(draws), _arviz(draws), strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-9)
    assert convergence(draws)[0][1] > 1.1


def test_equals_arviz_with_ties_and_constants() -> None:
    rng = np.random.default_rng(3)
    draws = np.round(rng.normal(size=(4, 4, 200)), 1)  # many ties
    draws[2] = 0.5  # a constant parameter
    draws[3, :, ::2] = 1.0  # half the draws one value
    mine, theirs = convergence(draws), _arviz(draws)
    for m, t in zip(mine[1:], theirs[1:], strict=True):
        np.testing.assert_allclose(m, t, rtol=1e-9)
    np.testing.assert_allclose(mine[0][[0, 1, 3]], theirs[0][[0, 1, 3]], rtol=1e-9)
    assert mine[1][2] == 800  # a constant: every draw counts, as ArviZ says
