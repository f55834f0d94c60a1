"""Rank-normalised split R-hat and bulk and tail effective sample sizes, vectorised.

The same estimators as ArviZ's ``rhat`` (method ``rank``) and ``ess`` (methods ``bulk`` and
``tail``), after Vehtari et al. (2021), "Rank-normalization, folding, and localization: an
improved R-hat", computed for every element of a parameter at once. ArviZ loops over the
elements in Python (rank, inverse normal, autocovariance each), which took 5-10 s of a 60 s
fit with about 700 parameters; here every step is one array operation over all of them.

Arrays are ``[..., chain, draw]``; results are ``[...]``.
"""

from __future__ import annotations

import numpy as np
from scipy import fft, special

BLOM_OFFSET = 3 / 8
"""Fractional offset of the ranks before the inverse normal (Blom, 1958)."""
TAIL_PROBABILITIES = (0.05, 0.95)
"""Quantiles whose indicators' ESS is the tail ESS (the smaller of the two)."""


def split_chains(draws: np.ndarray) -> np.ndarray:
    """[..., 2C, N // 2]: each chain's first and last halves as separate chains."""
    half = draws.shape[-1] // 2
    return np.concatenate([draws[..., :half], draws[..., -half:]], axis=-2)


def _ranks(flat: np.ndarray) -> np.ndarray:
    """Ranks 1..n along the last axis, ties given their average rank (as ``rankdata``)."""
    n = flat.shape[-1]
    order = np.argsort(flat, axis=-1)
    ordered = np.take_along_axis(flat, order, axis=-1)
    position = np.arange(n)
    starts = np.ones(flat.shape, dtype=bool)  # first of a run of equal values
    starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    ends = np.ones(flat.shape, dtype=bool)  # last of a run
    ends[..., :-1] = starts[..., 1:]
    first = np.maximum.accumulate(np.where(starts, position, 0), axis=-1)
    last = np.minimum.accumulate(np.where(ends, position, n)[..., ::-1], axis=-1)[..., ::-1]
    ranks = np.empty(flat.shape)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=-1)
    return ranks


def z_scale(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised draws: ranks over all chains (ties averaged) mapped to normal scores."""
    shape = draws.shape
    flat = draws.reshape(*shape[:-2], -1)
    size = flat.shape[-1]
    scores = (_ranks(flat) - BLOM_OFFSET) / (size - 2 * BLOM_OFFSET + 1)
    return special.ndtri(scores).reshape(shape)


def _rhat(draws: np.ndarray) -> np.ndarray:
    """Classic R-hat of ``[..., chain, draw]``."""
    n = draws.shape[-1]
    between = n * np.var(draws.mean(axis=-1), axis=-1, ddof=1)
    within = np.var(draws, axis=-1, ddof=1).mean(axis=-1)
    return np.sqrt((between / within + n - 1) / n)


def _folded(split: np.ndarray) -> np.ndarray:
    """Distances from the median over all chains (for the tails' R-hat)."""
    median = np.median(split.reshape(*split.shape[:-2], -1), axis=-1)
    return np.abs(split - median[..., None, None])


def _autocovariance(draws: np.ndarray) -> np.ndarray:
    """[..., chain, lag] autocovariance of each chain at every lag (FFT)."""
    n = draws.shape[-1]
    centred = draws - draws.mean(axis=-1, keepdims=True)
    size = fft.next_fast_len(2 * n)
    spectrum = np.fft.rfft(centred, n=size, axis=-1)
    return np.fft.irfft(spectrum * np.conjugate(spectrum), n=size, axis=-1)[..., :n] / n


def _ess(draws: np.ndarray) -> np.ndarray:
    """ESS of ``[..., chain, draw]`` with Geyer's initial positive and monotone sequences,
    as ArviZ sums them: pairs ``(rho[2k], rho[2k + 1])`` of autocorrelations are added while
    the previous pair's sum is positive (and lags remain), each pair's sum capped by the one
    before it, plus the first term of the pair that ends the sequence."""
    draws = np.asarray(draws, dtype=float)
    n_chain, n_draw = draws.shape[-2:]
    acov = _autocovariance(draws)
    mean_var = acov[..., 0].mean(axis=-1) * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus = var_plus + np.var(draws.mean(axis=-1), axis=-1, ddof=1)
    constant = (draws.max(axis=(-1, -2)) - draws.min(axis=(-1, -2))) < np.finfo(float).resolution
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[..., None] - acov.mean(axis=-2)) / var_plus[..., None]
    rho[..., 0] = 1.0
    n_pairs = n_draw // 2
    sums = rho[..., : 2 * n_pairs].reshape(*rho.shape[:-1], n_pairs, 2).sum(axis=-1)
    step = np.arange(1, n_pairs)  # pair k is added when every pair before it has a sum > 0
    runs = (2 * step - 1 < n_draw - 3) & (sums[..., :-1] > 0)
    added = np.cumprod(runs, axis=-1).sum(axis=-1)  # pairs after the first: K
    monotone = np.minimum.accumulate(sums, axis=-1)
    head = np.where(np.arange(n_pairs) < added[..., None], monotone, 0.0).sum(axis=-1)
    first = np.take_along_axis(rho, (2 * added)[..., None], axis=-1)[..., 0]
    ending = np.take_along_axis(sums, added[..., None], axis=-1)[..., 0]
    tail = np.where((ending >= 0) | (first > 0), first, 0.0)
    total = n_chain * n_draw
    tau = np.maximum(-1.0 + 2.0 * head + tail, 1.0 / np.log10(total))
    ess = np.where(np.isnan(rho).any(axis=-1), np.nan, total / tau)
    return np.where(constant, float(total), ess)


def ess_tail(draws: np.ndarray) -> np.ndarray:
    """Tail ESS: the smaller ESS of the indicators of the 5% and 95% quantiles (as the paper
    and Stan define it; ArviZ 1's default takes its interval probability, 11% and 89%)."""
    draws = np.asarray(draws, dtype=float)
    flat = draws.reshape(*draws.shape[:-2], -1)
    quantiles = np.quantile(flat, TAIL_PROBABILITIES, axis=-1)[..., None, None]
    low, high = (_ess(split_chains((draws <= q).astype(float))) for q in quantiles)
    return np.minimum(low, high)


def convergence(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R-hat, bulk ESS, tail ESS) of ``[..., chain, draw]``, sharing the ranks."""
    split = split_chains(np.asarray(draws, dtype=float))
    z = z_scale(split)
    return np.maximum(_rhat(z), _rhat(z_scale(_folded(split)))), _ess(z), ess_tail(draws)
