"""The stock-flow model's likelihood and priors as a PyMC model (no ``scan``).

Transitions. For state ``s``, age band ``b`` and year ``w``, each destination ``d`` (a move,
an exit by reason, a case closing, ageing) has monthly log-odds against staying

    eta[w, s, b, d] = eta[s, d, b] + drift[w, s] + feedback,
    eta[s, d, b] ~ Normal(alpha[s, d], age_sd)  (age-band effects around the pair's level),

``drift[w, s]`` a random walk over years (first year 0; same for every destination of the
state: its overall pace), ``feedback = beta_exit * pressure[w]`` on exits from care when
capacity feedback is on. The counts summed over the year's months are multinomial:
``log L = sum counts * (eta - log(1 + sum_d' exp(eta)))`` (the multinomial coefficient does
not depend on the parameters).

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

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from model.config_fit import Prior, PriorsConfig, StructureConfig
from model.fit.data import FitData

DATA_RICH = 20
"""Children at risk (or entries) per month above which a cell's parameters are centred."""
EXCLUDED = -30.0
"""Log-odds standing for "impossible" (exp(-30) ~ 1e-13) where a cell has no such flow."""


def prior(name: str, spec: Prior, **kwargs: object) -> pt.TensorVariable:
    """A PyMC random variable from a configured prior."""
    return getattr(pm, spec.dist)(name, **spec.args, **kwargs)


def transition_mask(data: FitData) -> np.ndarray:
    """[S, B, D-1] bool: destinations (not stay) each state and band can have (no ageing
    out of the last band: children leave care at 18 by an exit)."""
    mask = np.repeat(data.allowed[:, None, 1:], len(data.bands), axis=1)
    age = data.destinations.index("age") - 1
    mask[:, -1, age] = False
    return mask


def _band_effects(
    data: FitData,
    mask: np.ndarray,
    pairs: np.ndarray,
    alpha: pt.TensorVariable,
    age_sd: pt.TensorVariable,
) -> pt.TensorVariable:
    """[P, B] log-odds of each pair and band, ``~ Normal(alpha[p], age_sd)``: centred where
    the cell has many children at risk (the data pin it, and a non-centred form makes the
    pair's level and its band effects a ridge), non-centred where it has few (the cell is
    then mostly prior, and a centred form makes a funnel with ``age_sd``)."""
    at_risk = data.at_risk.sum(axis=0)  # [S, B]
    rich = (at_risk[pairs[:, 0], :] >= DATA_RICH * 12) & mask[pairs[:, 0], :, pairs[:, 1]]
    centred = np.flatnonzero(rich.ravel())
    other = np.flatnonzero(~rich.ravel())
    mu = pt.flatten(pt.broadcast_to(alpha[:, None], rich.shape))
    cells = pt.zeros(rich.size)
    cells = pt.set_subtensor(
        cells[centred], pm.Normal("eta_rich", mu=mu[centred], sigma=age_sd, shape=len(centred))
    )
    z = pm.Normal("z_eta", 0.0, 1.0, shape=len(other))
    cells = pt.set_subtensor(cells[other], mu[other] + age_sd * z)
    return pm.Deterministic("eta", cells.reshape(rich.shape), dims=("pair", "band"))


def grid_index(mask: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """[S, B, D-1] positions in ``[EXCLUDED, eta_pair.flatten()...]``: 1 + p * B + b for a
    cell of pair p that exists, 0 otherwise."""
    n_bands = mask.shape[1]
    index = np.zeros(mask.shape, dtype="int64")
    for p, (s, d) in enumerate(pairs):
        index[s, :, d] = np.where(mask[s, :, d], 1 + p * n_bands + np.arange(n_bands), 0)
    return index


def knot_weights(n_months: int) -> tuple[np.ndarray, int]:
    """([T, J] linear interpolation weights of month t between yearly knots, J)."""
    position = np.arange(n_months) / 12.0
    n_knots = int(np.floor(position[-1])) + 2 if n_months else 1
    weights = np.zeros((n_months, n_knots))
    left = np.floor(position).astype(int)
    frac = position - left
    weights[np.arange(n_months), left] = 1 - frac
    weights[np.arange(n_months), left + 1] = frac
    return weights, n_knots


def build_model(
    data: FitData, priors: PriorsConfig | None = None, structure: StructureConfig | None = None
) -> pm.Model:
    """The PyMC model of one authority's data."""
    priors = priors or PriorsConfig()
    structure = structure or StructureConfig()
    mask = transition_mask(data)
    pairs = np.argwhere(mask.any(axis=1))  # (state, destination-1) pairs that exist
    coords = {
        "pair": [f"{data.states[s]}->{data.destinations[d + 1]}" for s, d in pairs],
        "band": list(data.bands),
        "window": list(data.windows),
        "state": list(data.states),
        "stream": list(data.streams),
        "knot": [f"{data.months[0][:4]}+{j}y" for j in range(knot_weights(len(data.months))[1])],
    }
    n_windows, n_states = len(data.windows), len(data.states)
    with pm.Model(coords=coords) as model:
        alpha = prior("alpha", priors.transition_log_odds, dims="pair")
        age_sd = prior("age_sd", priors.age_effect_sd)
        eta_pair = _band_effects(data, mask, pairs, alpha, age_sd)
        # Gather into the full [S, B, D-1] grid; impossible cells take EXCLUDED.
        flat = pt.concatenate([pt.as_tensor([EXCLUDED]), eta_pair.flatten()])
        eta = flat[grid_index(mask, pairs)][None]
        if structure.transition_drift and n_windows > 1:
            drift_sd = prior("drift_sd", priors.drift_sd)
            z_drift = pm.Normal("z_drift", 0.0, 1.0, shape=(n_windows - 1, n_states))
            steps = pt.concatenate([pt.zeros((1, n_states)), drift_sd * z_drift], axis=0)
            drift = pm.Deterministic("drift", pt.cumsum(steps, axis=0), dims=("window", "state"))
            eta = eta + drift[:, :, None, None]
        pressure = pt.as_tensor(data.pressure)
        if structure.capacity_feedback:
            beta_exit = prior("beta_exit_capacity", priors.feedback)
            exits = np.array([d.startswith("exit:") for d in data.destinations[1:]])
            eta = eta + beta_exit * pressure[:, None, None, None] * exits
        eta = pt.where(mask, eta, EXCLUDED)
        log_denominator = pt.log1p(pt.exp(eta).sum(axis=-1))  # [W, S, B]
        leavers = data.counts[..., 1:]
        pm.Potential(
            "transitions",
            (leavers * eta).sum() - (data.at_risk * log_denominator).sum(),
        )
        _entries(data, priors, structure, pressure)
    return model


def conjugate_draws(
    data: FitData, priors: PriorsConfig, chains: int, draws: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Exact posterior draws of the parts of the model that stand alone and are conjugate:
    where each entry stream's children go (Dirichlet-multinomial: ``composition_<stream>``,
    [chains, draws, S, B], probabilities summing to 1) and the share of exits from care by
    reason landing in an open case (beta-binomial: ``landing``, [chains, draws, R])."""
    out = {}
    for k, stream in enumerate(data.streams):
        allowed = data.composition_allowed[k].ravel()
        alpha = priors.composition_concentration + data.composition[k].ravel()[allowed]
        p = np.zeros((chains, draws, allowed.size))
        p[..., allowed] = rng.dirichlet(alpha, size=(chains, draws))
        out[f"composition_{stream}"] = p.reshape(chains, draws, *data.composition.shape[1:])
    if len(data.landing_total):
        a = priors.landing_concentration + data.landing_case
        b = priors.landing_concentration + data.landing_total - data.landing_case
        out["landing"] = rng.beta(a, b, size=(chains, draws, len(a)))
    return out


def _entries(
    data: FitData, priors: PriorsConfig, structure: StructureConfig, pressure: pt.TensorVariable
) -> None:
    """Entry streams: negative binomial monthly totals on a random walk, and where they go."""
    n_months, n_streams = data.entries.shape
    weights, n_knots = knot_weights(n_months)
    level = prior("entry_level", priors.entry_log_rate, dims="stream")
    walk_sd = prior("entry_walk_sd", priors.entry_walk_sd, dims="stream")
    # Non-centred: a stream's walk has only one step a year, so its spread is learnt from
    # few steps, and a centred walk makes a funnel with walk_sd (measured: ESS 50 vs 280).
    z_walk = pm.Normal("z_walk", 0.0, 1.0, shape=(n_knots - 1, n_streams))
    knots = pt.concatenate([pt.zeros((1, n_streams)), pt.cumsum(walk_sd * z_walk, axis=0)])
    pm.Deterministic("entry_walk", knots, dims=("knot", "stream"))
    log_mu = level + pt.dot(weights, knots)
    if structure.capacity_feedback:
        beta_entry = prior("beta_entry_capacity", priors.feedback)
        log_mu = log_mu + beta_entry * pressure[data.month_window][:, None]
    phi = prior("entry_dispersion", priors.entry_dispersion, dims="stream")
    pm.NegativeBinomial("entries", mu=pt.exp(log_mu), alpha=phi, observed=data.entries)
