"""The pooled yearly model of every authority's published figures, as a PyMC model (no scan).

Units ``a`` (authorities, and combined units standing for reorganised ones:
``model.fit.published_data``), years ``y`` ending 31 March. Three parts, which share no
parameter (:data:`PARTS`; ``model.fit.run_published`` samples them one after the other).

**Exits.** Conditioning on the observed stock at the start of the year, the children at risk
in year ``y`` are ``n[a, y] = L[a, y-1] + started[a, y]``, and

    ceased[a, y] ~ BetaBinomial(n, p k, (1 - p) k),   k = 1 / exit_overdispersion^2,
    logit p[a, y] = exit_authority[a] + exit_drift[y],
    exit_authority[a] ~ Normal(exit_mean, exit_authority_sd),

``exit_drift`` a national random walk (steps ``~ Normal(0, exit_drift_sd)``; with the
config's ``national_momentum``, ``step[t] = exit_drift_momentum x step[t-1] + Normal(0,
exit_drift_sd)``: :func:`national_walk`) centred on its mean over the years.
Beta-binomial rather than binomial: a year's exit share varies about twice as much
between years as chance gives (residual variance 0.023 against a binomial
0.010 on the log-odds scale, 2011-2021), and binomial intervals would miss most years.

**Exit reasons.** Given the total ceased, the split by exit reason group is
Dirichlet-multinomial (concentration ``1 / reason_overdispersion^2``) with shares
``softmax(reason_authority[a, r] + reason_drift[y, r])`` (log-odds against returning home;
``reason_authority[a, r] ~ Normal(reason_mean[r], reason_authority_sd[r])``, the drift as
the exits'). DfE suppresses small reasons one by one (a year typically gives two of the
five), so each year uses the reasons it publishes and one remainder (the total minus them),
whose share is the sum of the unpublished reasons' shares: merging categories of a
Dirichlet-multinomial gives a Dirichlet-multinomial, so this is the exact likelihood of what
was published. Total plus composition, rather than one multinomial over reasons and
staying, because the total is published far more often than the reasons, and the exit rate
the forecast needs should not depend on them.

**Yearly counts per population** (``published_data.SERIES``: entries to care, referrals,
child protection plans started, children in need and on a plan at 31 March), each over the
years it has figures:

    count[a, y] ~ Poisson(population[a, y] / 10,000 x exp(rate[a, y])),
    rate[a, y] = mean + national[y] + level[a] + walk[a, y] + noise[a, y],

``level ~ Normal(0, authority_sd)``, ``walk`` a random walk from 0 in the first year with a
learned step ``walk_sd`` shared by the authorities, ``noise ~ Normal(0, noise_sd)`` the
year's own noise and ``national`` a random walk every authority shares (steps
``~ Normal(0, national_sd)``, persisting with ``<series>_national_momentum`` when the config
sets ``national_momentum``; centred on its mean over the years, as the exit drift). This
is the random walk per authority of the brief with the overdispersion of the counts written
as log-normal year noise (Poisson-lognormal) instead of a negative binomial: the same
mean-variance shape (``mu + mu^2 noise_sd^2``, nearly), but level and walk are then
Gaussian given the yearly rates and are integrated out exactly (one ``[T, T]`` covariance,
:func:`walk_covariance`, shared by every authority), so the sampler moves only the yearly
rates, which the counts pin down. With a negative binomial on a
latent walk the walk's step and the overdispersion trade off through every authority's walk
at once: bulk ESS 12 of 1,000 draws centred, and four times the leapfrog steps
non-centred, where this form gives 600. ``published_rates.trend_draws`` draws them back from
their exact conditional posterior. ``national`` was added when the national totals of 2013
and 2021 (2021: the pandemic year's fall in referrals) fell outside the intervals: the
authorities' own noise, independent, averages out over 150 authorities. It was a yearly
shock at first, and became a walk when the back-tests showed national trends persisting
(see :func:`_counts`); a momentum of its steps (:func:`national_walk`) was tried when the
back-tests against a naive random walk showed that the national trend is most of what a
forecast of children looked after can know beyond the last value, and is off by default:
the back-test of 2013-2018 found no gain from it (the momentum's posterior stays at its
prior).

Missing (suppressed) cells are left out of every likelihood (masks), never read as 0.

**Parameterisation.** The data pin every large authority's parameters and 150 authorities
pin each hyperparameter, so authority effects and yearly rates are centred; the yearly
rates of units with small or mostly suppressed counts (the Isles of Scilly, the City of
London) are non-centred (:func:`_informed`), and so are the steps of the national walk
of each measure. The drifts' parameters are their steps.

``model.fit.published_rates`` rebuilds the yearly rates from posterior or prior draws
(numpy), for the predictive checks and the forecast.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from model.config.published import PublishedPriorsConfig
from model.fit.likelihood import prior
from model.fit.published_data import PER_POPULATION, PublishedData

PARTS = ("exits", "reasons", "counts")
"""The model's parts: exits, exit reasons and the yearly counts. They share no parameter, so
their posteriors are independent and each can be sampled on its own (``only``)."""
INFORMED_COUNT = 20
"""Median yearly count from which an authority's yearly rates are sampled centred."""
REFERENCE_REASON = "return_home"
"""Exit reason whose log-odds are fixed at 0 (the others are against it)."""


def reason_others(reasons: tuple[str, ...]) -> list[str]:
    """The exit reasons with free log-odds (all but the reference)."""
    return [r for r in reasons if r != REFERENCE_REASON]


def parts(data: PublishedData) -> tuple[str, ...]:
    """The model's independent parts that ``data`` has figures for (see :data:`PARTS`)."""
    present = {
        "exits": bool(data.exit_observed.any()),
        "reasons": bool(data.reason_cells.any()),
        "counts": bool(data.series),
    }
    return tuple(part for part in PARTS if present[part])


def build_published_model(
    data: PublishedData,
    priors: PublishedPriorsConfig | None = None,
    only: tuple[str, ...] | None = None,
    generative: bool = False,
) -> pm.Model:
    """The PyMC model of every unit's published figures (``only``: of these parts).
    ``generative``: every unit's yearly log rates non-centred, so that all parameters can be
    drawn from the prior (the centred form's flat parameters have their prior in a
    potential); the same joint distribution, for prior predictive checks."""
    priors = priors or PublishedPriorsConfig()
    only = parts(data) if only is None else only
    coords: dict[str, list] = {"unit": list(data.units)}
    if "exits" in only:
        coords["exit_year"] = [str(y) for y in data.years[data.exit_first :]]
    if "reasons" in only:
        coords["reason_year"] = [str(y) for y in data.years[data.reason_first :]]
        coords["reason"] = reason_others(data.reasons)
    if "counts" in only:
        for name, series in data.series.items():
            coords[f"{name}_year"] = [str(y) for y in data.years[series.span]]
    with pm.Model(coords=coords) as model:
        if "exits" in only:
            _exits(data, priors, generative)
        if "reasons" in only:
            _reasons(data, priors)
        if "counts" in only:
            for name in data.series:
                _counts(data, priors, name, generative)
    return model


def _exits(data: PublishedData, priors: PublishedPriorsConfig, generative: bool) -> None:
    """Beta-binomial children ceasing of those at risk, on every (unit, exit year) cell."""
    first = data.exit_first
    n_years = len(data.years) - first
    mean = prior("exit_mean", priors.exit_log_odds)
    spread = prior("exit_authority_sd", priors.exit_authority_sd)
    authority = pm.Normal("exit_authority", mean, spread, dims="unit")
    drift = pt.zeros(n_years)
    if n_years > 1:
        step = prior("exit_drift_sd", priors.exit_drift_sd)
        # The drift's year-to-year steps are the parameters, and the drift is centred on
        # its mean over the years, so that the authority effects are each authority's
        # average log-odds. (Pinned at 0 in its first year, the drift leaves one direction,
        # every authority up and every later year down, that only the first year's data
        # decide: measured bulk ESS 39 of 600 draws; a centred walk leaves its mean to the
        # prior: 107 of 600.) Centred steps: every authority's exits pin them.
        drift = national_walk("exit_drift", n_years, step, priors, centred=not generative)
        drift = pm.Deterministic("exit_drift", drift, dims="exit_year")
    p = pm.math.sigmoid(authority[:, None] + drift[None, :])  # [A, Ye]
    concentration = 1.0 / pt.sqr(prior("exit_overdispersion", priors.exit_overdispersion))
    mask = data.exit_observed[:, first:]
    n = np.where(mask, data.at_risk[:, first:], 0)
    k = np.where(mask, data.ceased[:, first:], 0)
    alpha, beta = p * concentration, (1 - p) * concentration
    gl = pt.gammaln
    logp = (
        gl(k + alpha) + gl(n - k + beta) - gl(n + concentration)
        - gl(alpha) - gl(beta) + gl(concentration)
    )  # fmt: skip
    pm.Potential("ceased", (mask * logp).sum())


def _reasons(data: PublishedData, priors: PublishedPriorsConfig) -> None:
    """Dirichlet-multinomial exit reasons, the unpublished ones merged into a remainder."""
    cells = data.reason_cells
    if not cells.any():
        return
    others = reason_others(data.reasons)
    order = [data.reasons.index(REFERENCE_REASON)] + [data.reasons.index(r) for r in others]
    first = data.reason_first
    n_years = len(data.years) - first
    mean = prior("reason_mean", priors.reason_log_odds, dims="reason")
    spread = prior("reason_authority_sd", priors.reason_authority_sd, dims="reason")
    authority = pm.Normal("reason_authority", mean, spread, dims=("unit", "reason"))
    drift = pt.zeros((n_years, len(others)))
    if n_years > 1:
        step = prior("reason_drift_sd", priors.reason_drift_sd)
        steps = pm.Normal("reason_drift_step", 0.0, step, shape=(n_years - 1, len(others)))
        drift = pt.concatenate([pt.zeros((1, len(others))), pt.cumsum(steps, axis=0)], axis=0)
        drift = drift - drift.mean(axis=0)  # centred, as the exit drift
    pm.Deterministic("reason_drift", drift, dims=("reason_year", "reason"))
    free = authority[:, None, :] + drift[None, :, :]  # [A, Yr, R-1]
    logits = pt.concatenate([pt.zeros((*free.shape[:2], 1)), free], axis=-1)
    share = pt.special.softmax(logits, axis=-1)  # [A, Yr, R], reference reason first
    concentration = 1.0 / pt.sqr(prior("reason_overdispersion", priors.reason_overdispersion))
    mask = cells[:, first:]
    seen = data.reason_observed[:, first:][..., order] & mask[..., None]
    counts = np.where(seen, data.reason_counts[:, first:][..., order], 0)
    total = np.where(mask, data.ceased[:, first:], 0)
    rest = total - counts.sum(axis=-1)
    # log Gamma(n + a) - log Gamma(a) is 0 for n = 0: only the published reasons with
    # children, and the remainders with children, need it (gathered: a third of the dense
    # grid's special functions, the bulk of this part's cost).
    reason_cells = np.flatnonzero(counts.ravel() > 0)
    rest_cells = np.flatnonzero(rest.ravel() > 0)
    alpha = concentration * share.flatten()[reason_cells]
    remainder = (share * ~seen).sum(axis=-1).flatten()[rest_cells]
    alpha_rest = concentration * remainder
    n_reason, n_rest = counts.ravel()[reason_cells], rest.ravel()[rest_cells]
    gl = pt.gammaln
    logp = (
        mask.sum() * gl(concentration) - gl(total[mask] + concentration).sum()
        + (gl(n_reason + alpha) - gl(alpha)).sum()
        + (gl(n_rest + alpha_rest) - gl(alpha_rest)).sum()
    )  # fmt: skip
    pm.Potential("reasons", logp.sum())


def national_walk(
    name: str,
    length: int,
    step_sd: pt.TensorVariable,
    priors: PublishedPriorsConfig,
    centred: bool,
) -> pt.TensorVariable:
    """[length] a national walk from 0, centred on its mean over the years, whose steps
    persist: ``step[t] = momentum x step[t-1] + Normal(0, step_sd)`` (``step[1]`` a shock
    alone), ``<name>_momentum`` from ``priors.national_momentum`` (None: independent steps,
    a pure random walk). So a national trend, such as the rise in entries to care of
    2011-2017 or the fall in the exit probability of 2016-2021, carries on into the forecast,
    fading by ``momentum`` a year, instead of stopping dead at the last fitted year.

    ``centred``: the steps are the free parameters ``<name>_step`` (their AR(1) density,
    whose Jacobian from the shocks is 1, in a potential: for walks the data pin), else the
    standard-normal shocks ``<name>_z`` are (for walks mostly prior, and for drawing from
    the prior)."""
    n = length - 1
    momentum = (
        prior(f"{name}_momentum", priors.national_momentum)
        if priors.national_momentum is not None
        else None
    )
    if centred:
        steps = pm.Flat(f"{name}_step", shape=n)
        before = pt.concatenate([pt.zeros(1), steps[:-1]])
        shocks = steps - (momentum * before if momentum is not None else 0.0)
        pm.Potential(f"{name}_steps", pm.logp(pm.Normal.dist(0.0, step_sd), shocks).sum())
    else:
        shocks = step_sd * pm.Normal(f"{name}_z", 0.0, 1.0, shape=n)
        if momentum is None:
            steps = shocks
        else:
            # An explicit recursion: a handful of years, cheaper than a scan.
            steps_list, last = [], pt.zeros(())
            for t in range(n):
                last = momentum * last + shocks[t]
                steps_list.append(last)
            steps = pt.stack(steps_list)
    walk = pt.concatenate([pt.zeros(1), pt.cumsum(steps)])
    return walk - walk.mean()


def walk_covariance(
    length: int, spread: object, step: object | None, noise: object, module: object = pt
) -> object:
    """[T, T] covariance of one authority's yearly log rates: level (``spread``), random walk
    from the first year (``step``) and year noise (``noise``). ``module``: ``pt`` or ``np``."""
    years = np.arange(length)
    walk = np.minimum.outer(years, years).astype(float)
    cov = module.square(spread) * np.ones((length, length)) + module.square(noise) * np.eye(length)
    if step is not None and length > 1:
        cov = cov + module.square(step) * walk
    return cov


def _counts(
    data: PublishedData, priors: PublishedPriorsConfig, name: str, generative: bool
) -> None:
    """One series of yearly counts: Poisson given the year's rate; the log rates of each
    authority are its level, random walk and year noise, with the level and walk
    integrated out (one [T, T] covariance shared by every authority). ``generative``: see
    :func:`build_published_model`."""
    series = data.series[name]
    span = series.span
    length = span.stop - span.start
    mean = prior(f"{name}_mean", priors.rate_log_mean)
    spread = prior(f"{name}_authority_sd", priors.rate_authority_sd)
    step = prior(f"{name}_walk_sd", priors.rate_walk_sd) if length > 1 else None
    noise = prior(f"{name}_noise_sd", priors.rate_noise_sd)
    # A national random walk every authority shares: without a shared term the authorities'
    # own noise, independent, averages out nationally and the national totals fall outside
    # their predictive intervals in some years (2021's fall in referrals). A walk, not a
    # yearly shock: national entries to care rose steadily 2013-2019 and a shock drawn
    # afresh each year made forecasts fall back to the mean (the back-test from 2015-2018
    # forecast 7% too few starters a year ahead). Centred on its mean over the years, as
    # the exit drift, so that `mean` stays the average log rate.
    centre = mean
    if length > 1:
        national_sd = prior(f"{name}_national_sd", priors.rate_national_sd)
        # Non-centred: the national walk of some measures barely moves (children in need:
        # step sd 0.015, its 99% interval reaching 0.001), and centred steps then make a
        # funnel with their scale (measured on 150 units: tail ESS 371 of 4,000 draws; on
        # 15 units, yearly shocks centred: R-hat 1.035, bulk ESS 106, 7 divergences).
        walk = national_walk(f"{name}_national", length, national_sd, priors, centred=False)
        national = pm.Deterministic(f"{name}_national", walk, dims=f"{name}_year")
        centre = mean + national[None, :]
    mask = series.observed[:, span]
    y = np.where(mask, series.values[:, span], 0)
    offset = np.log(data.population[:, span] / PER_POPULATION)
    cholesky = pt.linalg.cholesky(walk_covariance(length, spread, step, noise))
    informed = np.zeros(len(data.units), bool) if generative else _informed(y, mask)
    rate = pt.zeros((len(data.units), length))
    if informed.any():
        # Centred: each year's figure pins the year's rate.
        rich = pm.Flat(
            f"{name}_log_rate_informed",
            shape=(int(informed.sum()), length),
            initval=_initial_rates(y, mask, offset)[informed],
        )
        standard = pt.linalg.solve_triangular(cholesky, (rich - centre).T, lower=True)  # [T, n]
        log_det = pt.log(pt.diagonal(cholesky)).sum()
        pm.Potential(f"{name}_prior", -0.5 * pt.sqr(standard).sum() - informed.sum() * log_det)
        rate = pt.set_subtensor(rate[np.flatnonzero(informed)], rich)
    if not informed.all():
        # Non-centred where the counts are small or mostly suppressed (the Isles of Scilly,
        # the City of London): their rates are mostly prior, strongly correlated over the
        # years, and a centred form samples them slowly (measured: bulk ESS 60 of 600).
        z = pm.Normal(f"{name}_log_rate_z", 0.0, 1.0, shape=(int((~informed).sum()), length))
        rate = pt.set_subtensor(rate[np.flatnonzero(~informed)], centre + z @ cholesky.T)
    rate = pm.Deterministic(f"{name}_log_rate", rate, dims=("unit", f"{name}_year"))
    log_mu = offset + rate
    # Poisson log-probability without its constant -log(y!).
    pm.Potential(f"{name}_count", (mask * (y * log_mu - pt.exp(log_mu))).sum())


def _informed(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[A] bool: units whose counts pin each year's rate (most years published, median count
    at least :data:`INFORMED_COUNT`)."""
    published = mask.sum(axis=1)
    median = np.array(
        [np.median(row[m]) if m.any() else 0.0 for row, m in zip(y, mask, strict=True)]
    )
    return (published * 2 >= mask.shape[1]) & (median >= INFORMED_COUNT)


def _initial_rates(y: np.ndarray, mask: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Starting point of the sampler: each observed year's log rate, else the authority's
    mean of them (else the national mean)."""
    observed = np.log(y + 0.5) - offset
    national = observed[mask].mean() if mask.any() else 0.0
    counts = mask.sum(axis=1)
    own = np.where(counts > 0, (observed * mask).sum(axis=1) / np.maximum(counts, 1), national)
    return np.where(mask, observed, own[:, None])
