"""The stock-flow model's likelihood and priors as a PyMC model (no ``scan``).

Transitions. For state ``s``, age band ``b`` and year ``w``, each destination ``d`` (a move,
an exit by reason, a case closing, ageing) has monthly log-odds against staying

    eta[w, s, b, d] = eta[s, d, b] + drift[w, s] + feedback[w, s, class(d)],
    eta[s, d, b] ~ Normal(alpha[s, d], age_sd)  (age-band effects around the pair's level),

``drift[w, s]`` a random walk over years (first year 0; same for every destination of the
state: its overall pace); feedback, when switched on, shifts exits from care with placement
pressure (``beta_exit_capacity * pressure[w]``) and a case's closure and escalation with
social workers' caseloads. The counts summed over the year's months are multinomial:
``log L = sum counts * (eta - log(1 + sum_d' exp(eta)))`` (the multinomial coefficient does
not depend on the parameters); :func:`transition_loglik` evaluates it without a
year x destination array, which halves the cost of a gradient.

Entries. Each entry stream ``k`` (referrals; entries to care from outside) has monthly
counts ``~ NegativeBinomial(mu[t, k], phi[k])``, ``log mu = level[k] + walk[t, k]
(+ beta_entry * pressure)``; the walk moves at yearly knots (``walk_sd[k]`` per step,
non-centred) and is interpolated linearly between them: a monthly walk gave divergent
geometry (DESIGN.md). Where the stream's children go (state x band) is multinomial with
constant probabilities, and exits from care land in an open case with a probability per exit
reason (CIN funnel only): both stand alone with conjugate priors (Dirichlet, beta), so
:func:`conjugate_draws` draws their posteriors exactly instead of sampling them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from model.config.fit import Prior, PriorsConfig, StructureConfig
from model.fit.data import FitData
from model.fit.knots import knot_weights
from model.fit.network import FEEDBACK_CLASSES, Network

DATA_RICH = 20
"""Children at risk (or entries) per month above which a cell's parameters are centred."""
EXCLUDED = -30.0
"""Log-odds standing for "impossible" (exp(-30) ~ 1e-13) where a cell has no such flow."""


def prior(name: str, spec: Prior, **kwargs: object) -> pt.TensorVariable:
    """A PyMC random variable from a configured prior."""
    return getattr(pm, spec.dist)(name, **spec.args, **kwargs)


def normal_cells(
    name: str,
    mu: pt.TensorLike,
    sigma: pt.TensorLike,
    centred: np.ndarray,
    dims: tuple[str, ...] | None = None,
) -> pt.TensorVariable:
    """Cells ``~ Normal(mu, sigma)`` of ``centred.shape`` (``mu``, ``sigma`` broadcast to it):
    centred where ``centred`` is true (the data pin the cell, and a non-centred form makes
    its mean and its deviation a ridge), non-centred elsewhere (the cell is then mostly
    prior, and a centred form makes a funnel with ``sigma``). Which cells are centred
    changes the sampler's geometry only, never the model. The free variables are
    ``<name>_rich`` and ``z_<name>``; the cells are the deterministic ``<name>``."""
    centred = np.asarray(centred, dtype=bool)
    on, off = np.flatnonzero(centred.ravel()), np.flatnonzero(~centred.ravel())
    mu = pt.flatten(pt.broadcast_to(pt.as_tensor(mu), centred.shape))
    sigma = pt.flatten(pt.broadcast_to(pt.as_tensor(sigma), centred.shape))
    cells = pt.zeros(centred.size)
    if on.size:
        rich = pm.Normal(f"{name}_rich", mu=mu[on], sigma=sigma[on], shape=on.size)
        cells = pt.set_subtensor(cells[on], rich)
    if off.size:
        z = pm.Normal(f"z_{name}", 0.0, 1.0, shape=off.size)
        cells = pt.set_subtensor(cells[off], mu[off] + sigma[off] * z)
    return pm.Deterministic(name, cells.reshape(centred.shape), dims=dims)


def rich_cells(data: FitData) -> np.ndarray:
    """[P, B] bool: cells with at least ``DATA_RICH`` children at risk a month on average
    over a year's worth of months (centred in :func:`normal_cells`)."""
    mask, pairs = data.network.mask, data.network.pairs
    at_risk = data.at_risk.sum(axis=0)  # [S, B]
    return (at_risk[pairs[:, 0], :] >= DATA_RICH * 12) & mask[pairs[:, 0], :, pairs[:, 1]]


@dataclass(frozen=True)
class InformedPrior:
    """A prior for each transition cell's log-odds, ``Normal(mean, sd)`` [P, B], in place
    of the weak hierarchy (``alpha``, ``age_sd``): typically what a pooled fit of other
    authorities predicts for a new one (:func:`model.fit.pooled.informed_prior`)."""

    pairs: tuple[str, ...]
    bands: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    source: str
    """What the prior came from (a file and its fingerprint): part of the model hash."""


def build_model(
    data: FitData,
    priors: PriorsConfig | None = None,
    structure: StructureConfig | None = None,
    *,
    centred: np.ndarray | None = None,
    informed: InformedPrior | None = None,
) -> pm.Model:
    """The PyMC model of one authority's data.

    The observed arrays are named data containers (``leavers`` [W, S, B, D-1], ``at_risk``
    [W, S, B], ``entries_observed`` [T, K]) so that a compiled model can be refitted to
    other data of the same shape (simulation-based calibration). ``centred`` ([P, B] bool)
    fixes which transition cells are centred (default: the data-rich ones); ``informed``
    replaces the weak prior of the transition cells.
    """
    priors = priors or PriorsConfig()
    structure = structure or StructureConfig()
    net = data.network
    coords = {
        "pair": net.pair_labels,
        "band": list(data.bands),
        "window": list(data.windows),
        "state": list(data.states),
        "stream": list(data.streams),
        "knot": [f"{data.months[0][:4]}+{j}y" for j in range(knot_weights(len(data.months))[1])],
    }
    centred = rich_cells(data) if centred is None else centred
    with pm.Model(coords=coords) as model:
        if informed is None:
            alpha = prior("alpha", priors.transition_log_odds, dims="pair")
            age_sd = prior("age_sd", priors.age_effect_sd)
            eta_pair = normal_cells("eta", alpha[:, None], age_sd, centred, ("pair", "band"))
        else:
            _check_informed(informed, coords)
            eta_pair = normal_cells("eta", informed.mean, informed.sd, centred, ("pair", "band"))
        pm.Potential(
            "transitions",
            transition_loglik(
                transition_grid(eta_pair, net),
                _drift(data, priors, structure),
                _feedback(data, priors, structure),
                net.classes,
                pm.Data("leavers", data.counts[..., 1:]),
                pm.Data("at_risk", data.at_risk),
            ),
        )
        _entries(data, priors, structure)
    return model


def transition_grid(
    eta_pair: pt.TensorVariable, net: Network, lead: tuple[int, ...] = ()
) -> pt.TensorVariable:
    """[*lead, P, B] cells -> the full [*lead, S, B, D-1] grid of the network; impossible
    cells take EXCLUDED. One gather from a flat vector: its gradient compiles and runs much
    faster than a batched one's."""
    index = net.grid_index
    n_cells = len(net.pairs) * len(net.bands)
    offsets = (np.arange(int(np.prod(lead))) * n_cells).reshape(*lead, 1, 1, 1)
    full = np.where(index > 0, index + offsets, 0)
    flat = pt.concatenate([pt.as_tensor([EXCLUDED]), eta_pair.ravel()])
    return flat[full.ravel()].reshape((*lead, *index.shape))


def multinomial_kernel(
    eta: pt.TensorVariable, leavers: pt.TensorLike, at_risk: pt.TensorLike
) -> pt.TensorVariable:
    """Multinomial log-likelihood (without its coefficient, which has no parameters) of
    ``leavers`` [..., D-1] out of ``at_risk`` [...] with log-odds ``eta`` against staying."""
    log_denominator = pt.log1p(pt.exp(eta).sum(axis=-1))
    return (leavers * eta).sum() - (at_risk * log_denominator).sum()


def transition_loglik(
    eta: pt.TensorVariable,
    drift: pt.TensorVariable | None,
    shift: pt.TensorVariable | None,
    classes: np.ndarray,
    leavers: pt.TensorLike,
    at_risk: pt.TensorLike,
) -> pt.TensorVariable:
    """The multinomial log-likelihood of every year's departures (without the coefficient,
    which has no parameters), factorised so that nothing is computed per year and
    destination: in year ``w`` the log-odds of destination ``d`` of state ``s`` are
    ``eta[s, b, d] + drift[w, s] + shift[w, s, class(d)]``, so the year's denominator is
    ``1 + exp(drift) * sum_c exp(shift_c) * E_c[s, b]`` with ``E_c`` the sum of
    ``exp(eta)`` over the class's destinations, computed once.

    Shapes (``...``: leading batch dimensions, e.g. authorities): ``eta`` [..., S, B, D-1]
    (impossible cells EXCLUDED), ``drift`` [..., W, S] or None, ``shift`` [..., W, S, C] or
    None, ``classes`` [C, D-1], ``leavers`` [..., W, S, B, D-1], ``at_risk`` [..., W, S, B].
    """
    classes_t = classes.T.astype("float64")  # [D-1, C]
    loglik = (leavers.sum(axis=-4) * eta).sum()
    scale = pt.zeros(at_risk.shape[:-1])[..., None, None]  # log scale [..., W, S, 1, 1]
    if drift is not None:
        loglik += (drift * leavers.sum(axis=(-1, -2))).sum()
        scale = scale + drift[..., None, None]
    if shift is not None:
        loglik += (shift * pt.dot(leavers, classes_t).sum(axis=-2)).sum()
        scale = scale + shift[..., None, :]
    by_class = pt.dot(pt.exp(eta), classes_t)  # [..., S, B, C]
    denominator = (pt.exp(scale) * by_class[..., None, :, :, :]).sum(axis=-1)
    return loglik - (at_risk * pt.log1p(denominator)).sum()


def _drift(
    data: FitData, priors: PriorsConfig, structure: StructureConfig
) -> pt.TensorVariable | None:
    """[W, S] yearly drift of each state's departure log-odds (None when off)."""
    n_windows, n_states = len(data.windows), len(data.states)
    if not structure.transition_drift or n_windows < 2:
        return None
    drift_sd = prior("drift_sd", priors.drift_sd)
    steps = walk_steps("drift_steps", drift_sd, n_windows - 1, drift_weight(data, priors.drift_sd))
    steps = pt.concatenate([pt.zeros((1, n_states)), steps], axis=0)
    return pm.Deterministic("drift", pt.cumsum(steps, axis=0), dims=("window", "state"))


def walk_steps(
    name: str, scale: pt.TensorVariable, n_steps: int, weight: np.ndarray
) -> pt.TensorVariable:
    """[n_steps, len(weight)] steps ``~ Normal(0, scale)`` of random walks (one a column),
    partially centred: the free variable ``<name>`` is ``~ Normal(0, scale ** weight)`` and
    the steps are it times ``scale ** (1 - weight)``, which is the same distribution for any
    weight. Weight 1 is the centred form (best where the data pin each step: a non-centred
    form then makes the steps and their scale a curved ridge), 0 the non-centred one (best
    where the steps are mostly prior: a centred form then makes a funnel with the scale);
    :func:`centring_weight` sets it between, column by column, from how well the data pin a
    step (Gorinova, Moore and Hoffman 2020, "Automatic reparameterisation of probabilistic
    programs"). The weights change the sampler's geometry only, never the model."""
    weight = np.clip(np.asarray(weight, dtype="float64"), 0.0, 1.0)
    raw = pm.Normal(name, 0.0, scale**weight, shape=(n_steps, len(weight)))
    return scale ** (1.0 - weight) * raw


def centring_weight(step_variance: np.ndarray, scale_variance: np.ndarray) -> np.ndarray:
    """Each walk's centring weight (:func:`walk_steps`): the share of a step's posterior
    precision that comes from the data, ``v / (v + s^2)``, with ``s^2`` [n] the sampling
    variance of a step's estimate from the data and ``v`` [n or scalar] the step's variance
    (the optimal weight of a normal-normal model; Gorinova et al. 2020)."""
    step_variance = np.asarray(step_variance, dtype="float64")
    return scale_variance / (scale_variance + step_variance)


def step_variance_estimate(
    steps: np.ndarray, sampling: np.ndarray, prior: Prior, shared: bool = False
) -> np.ndarray:
    """[n] a rough estimate of each walk's step variance from its observed yearly steps
    ``steps`` [Y, n] and their sampling variances ``sampling`` [n] (mean square step less the
    noise; ``shared``: one for all walks, from those whose steps the data pin better than
    the prior), kept between a hundredth of the prior's mean square scale and that mean
    square. Only the centring weights use it: it shapes the sampler's geometry, not the
    model."""
    typical = prior_moment(prior, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # walks without a finite step
        excess = np.nanmean(np.square(steps), axis=0) - sampling
        if shared:
            informative = np.isfinite(excess) & (sampling < typical)
            excess = np.full(
                len(excess), np.mean(excess[informative]) if informative.any() else np.nan
            )
    return np.clip(np.nan_to_num(excess, nan=typical), typical / 100.0, typical)


def prior_moment(spec: Prior, power: int) -> float:
    """Mean of a configured prior's draws to ``power`` (4,000 fixed-seed draws, so that any
    configured distribution works)."""
    draws = pm.draw(getattr(pm, spec.dist).dist(**spec.args), draws=4000, random_seed=0)
    return float(np.mean(np.asarray(draws, dtype="float64") ** power))


def drift_weight(data: FitData, spec: Prior) -> np.ndarray:
    """[S] centring weight of each state's drift steps. A year's log-odds of leaving a state
    (all destinations) is estimated with variance about 1 / departures; a step is the
    difference of two years."""
    departures = data.counts[..., 1:].sum(axis=(2, 3)).astype("float64")  # [W, S]
    at_risk = data.at_risk.sum(axis=2).astype("float64")  # [W, S]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds = np.log(departures / (at_risk - departures))
        steps = np.diff(np.where(np.isfinite(log_odds), log_odds, np.nan), axis=0)
        sampling = 2.0 / departures.mean(axis=0)
    return centring_weight(sampling, step_variance_estimate(steps, sampling, spec, True))


def entry_weight(data: FitData, priors: PriorsConfig) -> np.ndarray:
    """[K] centring weight of each entry stream's walk steps. A year's log mean entries has
    sampling variance about the months' variance within the year over 12 times the squared
    mean (overdispersion included); a step is the difference of two years."""
    n_years = len(data.entries) // 12
    months = data.entries[: 12 * n_years].reshape(n_years, 12, -1).astype("float64")  # [Y, 12, K]
    yearly = months.mean(axis=1)  # [Y, K]
    with np.errstate(divide="ignore", invalid="ignore"):
        sampling = 2.0 * np.mean(months.var(axis=1, ddof=1) / (12.0 * yearly**2), axis=0)
        steps = np.diff(np.log(yearly), axis=0)
    sampling = np.where(np.isfinite(sampling) & (sampling > 0), sampling, np.inf)
    steps = np.where(np.isfinite(steps), steps, np.nan)
    return centring_weight(sampling, step_variance_estimate(steps, sampling, priors.entry_walk_sd))


def pressures(data: FitData, structure: StructureConfig) -> dict[str, np.ndarray]:
    """[W] yearly pressure of each kind the fit's feedback terms read (``capacity``: placement
    pressure; ``caseload``: social workers' caseloads), those switched on only."""
    out = {}
    if structure.capacity_feedback:
        out["capacity"] = data.pressure
    if structure.workforce_feedback and data.caseload.size:
        out["caseload"] = data.caseload
    return out


def _feedback(
    data: FitData, priors: PriorsConfig, structure: StructureConfig
) -> pt.TensorVariable | None:
    """[W, S, C] shifts of departure log-odds by destination class (``FEEDBACK_CLASSES``):
    the network's feedback terms on departures whose pressure is switched on (exits from
    care with placement pressure; case closures and escalations with social workers'
    caseloads; None when none is)."""
    net = data.network
    n_windows, n_states = len(data.windows), len(data.states)
    yearly = pressures(data, structure)
    terms = net.departure_terms(yearly)
    betas = [prior(term.name, priors.feedback) for term in terms]
    if not terms:
        return None
    shift = pt.zeros((n_windows, n_states, len(FEEDBACK_CLASSES)))
    for beta, term in zip(betas, terms, strict=True):
        cells = np.zeros((n_windows, n_states, len(FEEDBACK_CLASSES)))
        cells[:, net.shifted_states(term), term.klass] = 1.0
        shift = shift + beta * yearly[term.pressure][:, None, None] * cells
    return shift


def _check_informed(informed: InformedPrior, coords: dict[str, list[str]]) -> None:
    """Refuse an informed prior whose cells are not this model's."""
    if list(informed.pairs) != coords["pair"] or list(informed.bands) != coords["band"]:
        raise ValueError(
            f"the prior from {informed.source} has other transitions or age bands than this "
            "structure: fit the pooled model with the same structure"
        )


def conjugate_draws(
    data: FitData, priors: PriorsConfig, chains: int, draws: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Exact posterior draws of the parts of the model that stand alone and are conjugate:
    where each entry stream's children go (Dirichlet-multinomial: ``composition_<stream>``,
    [chains, draws, S, B], probabilities summing to 1) and the share of exits from care by
    reason landing in an open case (beta-binomial: ``landing``, [chains, draws, R])."""
    out = {}
    for k, stream in enumerate(data.streams):
        allowed = np.repeat(data.network.enters[k][:, None], len(data.bands), axis=1).ravel()
        alpha = priors.composition_concentration + data.composition[k].ravel()[allowed]
        p = np.zeros((chains, draws, allowed.size))
        p[..., allowed] = rng.dirichlet(alpha, size=(chains, draws))
        out[f"composition_{stream}"] = p.reshape(chains, draws, *data.composition.shape[1:])
    if len(data.landing_total):
        a = priors.landing_concentration + data.landing_case
        b = priors.landing_concentration + data.landing_total - data.landing_case
        out["landing"] = rng.beta(a, b, size=(chains, draws, len(a)))
    return out


def negative_binomial_kernel(
    counts: pt.TensorLike, log_mu: pt.TensorVariable, phi: pt.TensorVariable
) -> pt.TensorVariable:
    """Negative binomial log-likelihood of ``counts`` with means ``exp(log_mu)`` and shape
    ``phi`` (broadcast), without ``-log(counts!)``, which has no parameters. Written out
    rather than PyMC's distribution: half the cost per gradient (no parameter checks)."""
    log_phi = pt.log(phi)
    return (
        pt.gammaln(counts + phi) - pt.gammaln(phi) + phi * log_phi + counts * log_mu
        - (counts + phi) * pt.logaddexp(log_mu, log_phi)
    ).sum()  # fmt: skip


def _entries(data: FitData, priors: PriorsConfig, structure: StructureConfig) -> None:
    """Entry streams: negative binomial monthly totals on a random walk, and where they go."""
    n_streams = data.entries.shape[1]
    weights, _ = knot_weights(len(data.entries))
    level = prior("entry_level", priors.entry_log_rate, dims="stream")
    walk_sd = prior("entry_walk_sd", priors.entry_walk_sd, dims="stream")
    # Partially centred (walk_steps): a stream's walk has only one step a year, so its
    # spread is learnt from few steps. Centred, a sparse stream's walk makes a funnel with
    # walk_sd (measured: ESS 50 vs 280 non-centred on a small authority; centring streams
    # of 20 or more entries a month gave divergences in 20 synthetic authorities);
    # non-centred, a rich stream's steps (referrals: hundreds a month) make a ridge with it
    # (SYN03: bulk ESS 986 of 8,000 draws, R-hat up to 1.011).
    steps = walk_steps("entry_walk_steps", walk_sd, len(weights[0]) - 1, entry_weight(data, priors))
    knots = pt.concatenate([pt.zeros((1, n_streams)), pt.cumsum(steps, axis=0)])
    pm.Deterministic("entry_walk", knots, dims=("knot", "stream"))
    log_mu = level + pt.dot(weights, knots)
    yearly = pressures(data, structure)
    for term in data.network.entry_terms(yearly):
        beta = prior(term.name, priors.feedback)
        log_mu = log_mu + beta * yearly[term.pressure][data.month_window][:, None]
    phi = prior("entry_dispersion", priors.entry_dispersion, dims="stream")
    observed = pm.Data("entries_observed", data.entries)
    pm.Potential("entries", negative_binomial_kernel(observed, log_mu, phi))
