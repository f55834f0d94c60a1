"""The national model's yearly rates in NumPy, from posterior or prior draws: one definition
that the predictive checks (``model.fit.published_checks``) and the national forecast
(``model.forecast.national``) both read, so that the model of ``model.fit.published`` is
written once in PyMC and once here.

Dimensions: ``N`` draws (chains one after the other, or those a ``pick`` [N] of positions
selects), ``A`` units (``data.units``), ``J`` the years asked for (``years`` [J]: indices of
``data.years``, which may run past the last fitted year), ``T`` a series' fitted years
(``series.span``), ``R`` exit reason groups (``data.reasons``). Rates:

- exits: log-odds that a child at risk ceases within the year, ``exit_authority[a] +
  exit_drift[y]`` (:func:`exit_log_odds`), the drift continued past the fitted years as the
  model's national walk (:func:`continue_walk`); each year's own probability is
  ``Beta(p k, (1 - p) k)`` (:func:`beta_probability`);
- exit reasons: shares of the children ceasing, ``softmax`` of the log-odds against
  returning home (:func:`reason_shares`);
- yearly counts: log count per 10,000 children aged 0-17, ``mean + level + walk + national
  + noise`` (:func:`count_log_rates`): the fitted log rate, or the trend (:func:`trend_draws`)
  and the national walk with the year's noise drawn again, continued past the fitted years
  by the walks' steps; the count is Poisson with mean ``population / 10,000 x exp(log
  rate)`` (:func:`log_count_mean`).

Random numbers: every function that draws takes the generator and draws in a fixed order,
so that a caller's stream, and so its results, are reproducible.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from model.fit.published import reason_others
from model.fit.published_data import PER_POPULATION, PublishedData

PROBABILITY_FLOOR = 1e-12
"""A probability is kept this far from 0 and 1 before a beta draw (whose shapes must be
positive)."""


def flat_draws(posterior: xr.Dataset, name: str, pick: np.ndarray | None = None) -> np.ndarray:
    """A variable's draws with chains and draws flattened into one axis, [N, ...] (``pick``:
    which)."""
    values = np.asarray(posterior[name])
    values = values.reshape(-1, *values.shape[2:])
    return values if pick is None else values[pick]


def draws_or_zeros(
    posterior: xr.Dataset, name: str, pick: np.ndarray | None, shape: tuple[int, ...]
) -> np.ndarray:
    """A variable's flattened draws (:func:`flat_draws`), or zeros of ``shape`` when the
    draws have no such variable (a walk of one year has no step; a fit without momentum)."""
    return flat_draws(posterior, name, pick) if name in posterior else np.zeros(shape)


def continue_walk(
    walk: np.ndarray, step_sd: np.ndarray, momentum: np.ndarray, shocks: np.ndarray
) -> np.ndarray:
    """[N, J] a national walk continued ``J`` years past its fitted ``walk`` [N, T]: each
    step ``momentum x`` the last plus ``step_sd x`` a standard-normal ``shocks`` [N, J]
    (``model.fit.published.national_walk``); the last fitted step is the walk's last
    change (0 for a walk of one year). ``step_sd``, ``momentum`` [N] (log-odds or log rate
    a year; momentum 0: a pure random walk)."""
    step = walk[:, -1] - walk[:, -2] if walk.shape[1] > 1 else np.zeros(len(walk))
    level = walk[:, -1].copy()
    out = np.empty(shocks.shape)
    for j in range(shocks.shape[1]):
        step = momentum * step + step_sd * shocks[:, j]
        level = level + step
        out[:, j] = level
    return out


def _continued(
    posterior: xr.Dataset,
    walk: str,
    fitted: np.ndarray,
    pick: np.ndarray | None,
    ahead: int,
    step_sd: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """[N, ahead] the national walk ``walk`` (its fitted values ``fitted`` [N, T]) continued
    ``ahead`` years with the steps of ``step_sd`` and the walk's momentum, if any."""
    n = len(fitted)
    return continue_walk(
        fitted,
        draws_or_zeros(posterior, step_sd, pick, (n,)),
        draws_or_zeros(posterior, f"{walk}_momentum", pick, (n,)),
        rng.standard_normal((n, ahead)),
    )


def exit_log_odds(
    posterior: xr.Dataset,
    data: PublishedData,
    pick: np.ndarray | None,
    years: np.ndarray,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """([N, A, J] log-odds that a child at risk in each unit ceases within each of
    ``years``, [N] the beta-binomial's concentration ``1 / exit_overdispersion^2``).
    Fitted years: ``exit_authority + exit_drift``; later ones continue the drift from its
    last year and step (:func:`continue_walk`, drawing from ``rng``; None: NaN there, as
    before the first year with exit rates)."""
    authority = flat_draws(posterior, "exit_authority", pick)  # [N, A]
    n = len(authority)
    first, last = data.exit_first, len(data.years) - 1
    drift = draws_or_zeros(posterior, "exit_drift", pick, (n, last - first + 1))
    ahead = int(max(years.max() - last, 0)) if rng is not None else 0
    if ahead:
        walk = _continued(posterior, "exit_drift", drift, pick, ahead, "exit_drift_sd", rng)
        drift = np.concatenate([drift, walk], axis=1)  # [N, years from exit_first]
    logit = np.full((n, authority.shape[1], len(years)), np.nan)
    # (Summed in the draws' own precision when nothing is continued, in double otherwise:
    # as the checks and the forecast always did.)
    usable = (years >= first) & (years < first + drift.shape[1])
    logit[:, :, usable] = authority[:, :, None] + drift[:, None, years[usable] - first]
    concentration = 1.0 / flat_draws(posterior, "exit_overdispersion", pick) ** 2
    return logit, concentration


def exit_probability(logit: np.ndarray) -> np.ndarray:
    """The probability of log-odds ``logit`` (any shape)."""
    return 1.0 / (1.0 + np.exp(-logit))


def beta_probability(
    rng: np.random.Generator, p: np.ndarray, concentration: np.ndarray
) -> np.ndarray:
    """A year's own probability ``q ~ Beta(p k, (1 - p) k)`` around the rate ``p`` (kept
    :data:`PROBABILITY_FLOOR` from 0 and 1), ``k = concentration`` broadcast against ``p``:
    with ``Binomial(n, q)``, a beta-binomial draw (children ceasing; one exit reason of the
    children ceasing, the Dirichlet-multinomial's margin)."""
    p = np.clip(p, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR)
    return rng.beta(p * concentration, (1 - p) * concentration)


def reason_shares(
    posterior: xr.Dataset, data: PublishedData, pick: np.ndarray | None, years: np.ndarray
) -> np.ndarray:
    """[N, A, J, R] shares of the children ceasing by exit reason group (``data.reasons``)
    in each of ``years`` (fitted years from ``data.reason_first``; NaN before):
    ``softmax(reason_authority + reason_drift)``, returning home's log-odds 0."""
    free = [data.reasons.index(r) for r in reason_others(data.reasons)]
    start = data.reason_first
    authority = flat_draws(posterior, "reason_authority", pick)  # [N, A, R-1]
    drift = flat_draws(posterior, "reason_drift", pick)  # [N, years from start, R-1]
    n, n_units = authority.shape[:2]
    usable = years >= start
    fitted = np.zeros((n, n_units, int(usable.sum()), len(data.reasons)))
    fitted[..., free] = authority[:, :, None, :] + drift[:, None, years[usable] - start]
    logits = np.full((n, n_units, len(years), len(data.reasons)), np.nan)
    logits[:, :, usable] = fitted
    logits -= np.max(logits, axis=-1, keepdims=True)
    share = np.exp(logits)
    return share / share.sum(axis=-1, keepdims=True)


def trend_draws(
    posterior: xr.Dataset, name: str, rng: np.random.Generator, pick: np.ndarray | None = None
) -> np.ndarray:
    """[N, A, T] draws of a series' log rate without the year's own noise and the national
    walk (``mean`` + level + the authority's walk: what a forecast continues, with the
    national walk), from their exact conditional posterior given each draw's yearly log
    rates and hyperparameters (Gaussian: the model integrates them out)."""
    rate = flat_draws(posterior, f"{name}_log_rate", pick)  # [N, A, T]
    n, _, length = rate.shape
    mean = flat_draws(posterior, f"{name}_mean", pick)[:, None, None]
    if f"{name}_national" in posterior:
        rate = rate - flat_draws(posterior, f"{name}_national", pick)[:, None, :]
    spread = flat_draws(posterior, f"{name}_authority_sd", pick)
    noise = flat_draws(posterior, f"{name}_noise_sd", pick)
    step = draws_or_zeros(posterior, f"{name}_walk_sd", pick, (n,))
    years = np.arange(length)
    walk = np.minimum.outer(years, years).astype(float)
    prior_cov = spread[:, None, None] ** 2 + step[:, None, None] ** 2 * walk[None]  # [N, T, T]
    total = prior_cov + noise[:, None, None] ** 2 * np.eye(length)[None]
    gain = np.linalg.solve(total, prior_cov).swapaxes(-1, -2)  # prior_cov @ inv(total)
    centre = mean + np.einsum("nst,nat->nas", gain, rate - mean)
    cov = prior_cov - gain @ prior_cov
    cov = (cov + cov.swapaxes(-1, -2)) / 2 + 1e-12 * np.eye(length)
    factor = np.linalg.cholesky(cov)
    return centre + np.einsum("nst,nat->nas", factor, rng.standard_normal(rate.shape))


def count_log_rates(
    posterior: xr.Dataset,
    data: PublishedData,
    name: str,
    pick: np.ndarray | None,
    years: np.ndarray,
    rng: np.random.Generator | None = None,
    new_noise: bool = False,
) -> np.ndarray:
    """[N, A, J] log yearly count per 10,000 children aged 0-17 of series ``name`` in each
    of ``years``; NaN before the series' first year.

    Within the series' fitted years: the fitted log rate (year noise included), or with
    ``new_noise`` the trend (:func:`trend_draws`) plus the national walk plus the year's
    noise drawn again (``<name>_noise_sd``: a replicate of the figures, for predictive
    checks). After them (only with ``rng``; None: NaN): the trend of the last fitted year
    continued by random-walk steps of ``<name>_walk_sd``, new year noise, and the national
    walk every unit shares continued with its momentum and shocks of ``<name>_national_sd``
    (:func:`continue_walk`). Draws from ``rng`` in this order: the trend, the fitted years'
    noise, the later years' steps, their noise, the national walk's shocks."""
    series = data.series[name]
    rate = flat_draws(posterior, f"{name}_log_rate", pick)  # [N, A, T]
    n, n_units, _ = rate.shape
    out = np.full((n, n_units, len(years)), np.nan)
    fitted = (years >= series.first) & (years <= series.last)
    later = (years > series.last) & (rng is not None)
    if not (new_noise or later.any()):
        out[:, :, fitted] = rate[:, :, years[fitted] - series.first]
        return out
    if rng is None:
        raise ValueError("new_noise draws the trend and the noise again: give rng")
    trend = trend_draws(posterior, name, rng, pick)  # [N, A, T]
    national = f"{name}_national" in posterior
    if new_noise:
        noise_sd = flat_draws(posterior, f"{name}_noise_sd", pick)[:, None, None]
        rate = trend + noise_sd * rng.standard_normal(trend.shape)
        if national:
            rate += flat_draws(posterior, f"{name}_national", pick)[:, None, :]
    out[:, :, fitted] = rate[:, :, years[fitted] - series.first]
    if not later.any():
        return out
    ahead = int(years.max() - series.last)
    shape = (n, n_units, ahead)
    steps = draws_or_zeros(posterior, f"{name}_walk_sd", pick, (n,))[:, None, None]
    steps = steps * rng.standard_normal(shape)
    noise = draws_or_zeros(posterior, f"{name}_noise_sd", pick, (n,))[:, None, None]
    noise = noise * rng.standard_normal(shape)
    walk = np.zeros((n, ahead))
    if national:
        fitted_walk = flat_draws(posterior, f"{name}_national", pick)
        walk = _continued(
            posterior, f"{name}_national", fitted_walk, pick, ahead, f"{name}_national_sd", rng
        )
    continued = trend[:, :, -1:] + np.cumsum(steps, axis=2) + noise + walk[:, None, :]
    out[:, :, later] = continued[:, :, years[later] - series.last - 1]
    return out


def log_count_mean(log_rate: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Log of a yearly count's Poisson mean, ``population / 10,000 x exp(log_rate)``:
    ``log_rate`` per 10,000 children aged 0-17 and ``population`` (children aged 0-17)
    broadcast against each other."""
    return np.log(population / PER_POPULATION) + log_rate


def yearly_rates(
    posterior: xr.Dataset, data: PublishedData, pick: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Each draw's yearly rates over the fitted years, [N, A, Y] (NaN outside a figure's
    years):

    - ``exit_probability``: probability that a child at risk ceases within the year;
    - ``reason_share`` [N, A, Y, R]: shares of the children ceasing by exit reason group
      (``data.reasons``);
    - ``<series>_rate``: the year's count per 10,000 children aged 0-17 (its year noise
      included; :func:`trend_draws` gives the walk without it);
    - ``exit_concentration``, ``reason_concentration`` [N]: of the beta-binomial and the
      Dirichlet-multinomial.
    """
    years = np.arange(len(data.years))
    logit, concentration = exit_log_odds(posterior, data, pick, years)
    out = {"exit_probability": exit_probability(logit), "exit_concentration": concentration}
    if "reason_authority" in posterior:
        out["reason_share"] = reason_shares(posterior, data, pick, years)
        out["reason_concentration"] = (
            1.0 / flat_draws(posterior, "reason_overdispersion", pick) ** 2
        )
    for name, series in data.series.items():
        rate = np.full(out["exit_probability"].shape, np.nan)
        # The exponential in the draws' own precision (the saved draws are single).
        rate[:, :, series.span] = np.exp(flat_draws(posterior, f"{name}_log_rate", pick))
        out[f"{name}_rate"] = rate
    return out
