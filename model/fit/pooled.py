"""The pooled model: several authorities' child-level observations fitted jointly.

Each authority has the single-authority model's parameters (``model.fit.likelihood``), and
the authorities share what they have in common through hierarchical priors (partial
pooling), so that a small authority's sparse transitions borrow strength from the others:

    eta[a, p, b] ~ Normal(eta_mean[p, b], authority_sd)      (the authority's log-odds)
    eta_mean[p, b] ~ Normal(alpha[p], age_sd)                  (the population's)
    entry_level[a, k] ~ Normal(entry_level_mean[k], entry_level_sd[k])

and one drift step size, one entry-walk step size and one dispersion per stream (and the
feedback coefficients) for all. Authorities may cover different years: each contributes
only the years and months it has (missing cells carry no likelihood).

:func:`informed_prior` turns a pooled posterior into the prior of a *new* authority's
transition cells (the predictive distribution ``eta_mean + authority_sd * N(0, 1)``), so that
a single authority's fit can start from what the others show.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from model.config.fit import PriorsConfig, StructureConfig
from model.fit.data import FitData, FitDataError, window_of_month
from model.fit.likelihood import (
    InformedPrior,
    knot_weights,
    negative_binomial_kernel,
    normal_cells,
    prior,
    rich_cells,
    transition_grid,
    transition_loglik,
)
from model.fit.network import FEEDBACK_CLASSES

PREDICTIVE_DRAWS = 4000
"""Draws of a new authority's cells used to summarise the informed prior."""


@dataclass
class PooledData:
    """Several authorities' sufficient statistics on common years and months.

    Dimensions: ``A`` authorities, ``W`` years (the union of theirs), ``T`` months (the
    union), the rest as in :class:`~model.fit.data.FitData`.
    """

    members: list[FitData]
    windows: tuple[str, ...]
    months: tuple[str, ...]
    window_of: list[np.ndarray]
    """Per authority: [W_a] positions of its years among ``windows``."""
    month_of: list[np.ndarray]
    """Per authority: [T_a] positions of its months among ``months``."""
    leavers: np.ndarray
    """[A, W, S, B, D-1] children leaving by destination (0 in years an authority lacks)."""
    at_risk: np.ndarray
    """[A, W, S, B] children at risk."""
    entries: np.ndarray
    """[A, T, K] entries per month (0 where not observed)."""
    observed: np.ndarray
    """[A, T] bool: months each authority observed."""
    pressure: np.ndarray
    """[A, W] placement pressure (0 where not observed)."""

    @property
    def authorities(self) -> tuple[str, ...]:
        return tuple(m.authority for m in self.members)

    @property
    def template(self) -> FitData:
        """The first member: its labels (states, bands, destinations, streams) are all's."""
        return self.members[0]


def pool(members: list[FitData]) -> PooledData:
    """Align authorities' statistics on the union of their years and months."""
    if len(members) < 2:
        raise FitDataError("a pooled fit needs at least two authorities")
    first = members[0]
    for member in members[1:]:
        for label in ("states", "bands", "destinations", "streams"):
            if getattr(member, label) != getattr(first, label):
                raise FitDataError(
                    f"{member.authority} has other {label} than {first.authority} "
                    f"({', '.join(getattr(member, label))} against "
                    f"{', '.join(getattr(first, label))}): a pooled fit needs every authority "
                    "to have CIN observations, or none (set structure.cin_funnel: false)"
                )
    names = [m.authority for m in members]
    if len(set(names)) != len(names):
        raise FitDataError(f"authorities named twice in a pooled fit: {', '.join(names)}")
    windows = tuple(sorted({w for m in members for w in m.windows}))
    months = tuple(sorted({t for m in members for t in m.months}))
    window_of = [np.searchsorted(windows, m.windows) for m in members]
    month_of = [np.searchsorted(months, m.months) for m in members]
    for member, positions in zip(members, month_of, strict=True):
        if positions[0] % 12:
            raise FitDataError(
                f"{member.authority}'s observations start in {member.months[0]}, not in a "
                f"month of the year that {months[0]} starts: pooled years must align"
            )
    a, w, t = len(members), len(windows), len(months)
    leavers = np.zeros((a, w, *first.counts.shape[1:-1], first.counts.shape[-1] - 1), "int64")
    at_risk = np.zeros((a, w, *first.counts.shape[1:-1]), "int64")
    entries = np.zeros((a, t, len(first.streams)), "int64")
    observed = np.zeros((a, t), bool)
    pressure = np.zeros((a, w))
    for i, member in enumerate(members):
        leavers[i, window_of[i]] = member.counts[..., 1:]
        at_risk[i, window_of[i]] = member.at_risk
        entries[i, month_of[i]] = member.entries
        observed[i, month_of[i]] = True
        pressure[i, window_of[i]] = member.pressure
    return PooledData(
        members, windows, months, window_of, month_of, leavers, at_risk, entries, observed,
        pressure,
    )  # fmt: skip


def build_pooled_model(
    data: PooledData, priors: PriorsConfig | None = None, structure: StructureConfig | None = None
) -> pm.Model:
    """The PyMC model of several authorities with partially pooled rates."""
    priors = priors or PriorsConfig()
    structure = structure or StructureConfig()
    template = data.template
    net = template.network
    n_knots = knot_weights(len(data.months))[1]
    coords = {
        "authority": list(data.authorities),
        "pair": net.pair_labels,
        "band": list(template.bands),
        "window": list(data.windows),
        "state": list(template.states),
        "stream": list(template.streams),
        "knot": [f"{data.months[0][:4]}+{j}y" for j in range(n_knots)],
    }
    rich = np.stack([rich_cells(m) for m in data.members]).any(axis=0)  # [P, B]
    with pm.Model(coords=coords) as model:
        alpha = prior("alpha", priors.transition_log_odds, dims="pair")
        age_sd = prior("age_sd", priors.age_effect_sd)
        eta_mean = normal_cells("eta_mean", alpha[:, None], age_sd, rich, ("pair", "band"))
        # One spread for every transition: a spread per transition would be learnt from a
        # handful of authorities' cells, most of them sparse.
        authority_sd = prior("authority_sd", priors.authority_effect_sd)
        # Non-centred: where authorities differ little, authority_sd is small and a centred
        # cell makes a funnel with it (measured on three synthetic authorities that share
        # their rates: tree depth 10, R-hat 1.65).
        eta_pair = normal_cells(
            "eta", eta_mean[None], authority_sd, np.zeros((len(data.members), *rich.shape)),
            ("authority", "pair", "band"),
        )  # fmt: skip
        shift = None
        for term in net.departure_terms(_pressures(structure)):
            beta = prior(term.name, priors.feedback)
            cells = np.zeros((1, 1, len(template.states), len(FEEDBACK_CLASSES)))
            cells[..., net.shifted_states(term), term.klass] = 1.0
            term_shift = beta * data.pressure[:, :, None, None] * cells
            shift = term_shift if shift is None else shift + term_shift
        pm.Potential(
            "transitions",
            transition_loglik(
                transition_grid(eta_pair, net, (len(data.members),)),
                _drift(data, priors, structure),
                shift,
                net.classes,
                pm.Data("leavers", data.leavers),
                pm.Data("at_risk", data.at_risk),
            ),
        )
        _entries(data, priors, structure, n_knots)
    return model


def _pressures(structure: StructureConfig) -> tuple[str, ...]:
    """The pressures the pooled model's feedback reads: placement pressure, when switched on
    (caseload feedback is not pooled)."""
    return ("capacity",) if structure.capacity_feedback else ()


def _drift(
    data: PooledData, priors: PriorsConfig, structure: StructureConfig
) -> pt.TensorVariable | None:
    """[A, W, S] each authority's yearly drift, with one step size for all (None when off)."""
    n_auth, n_windows, n_states = len(data.members), len(data.windows), len(data.template.states)
    if not structure.transition_drift or n_windows < 2:
        return None
    drift_sd = prior("drift_sd", priors.drift_sd)
    z = pm.Normal("z_drift", 0.0, 1.0, shape=(n_auth, n_windows - 1, n_states))
    steps = pt.concatenate([pt.zeros((n_auth, 1, n_states)), drift_sd * z], axis=1)
    return pm.Deterministic(
        "drift", pt.cumsum(steps, axis=1), dims=("authority", "window", "state")
    )


def _entries(
    data: PooledData, priors: PriorsConfig, structure: StructureConfig, n_knots: int
) -> None:
    """Entry streams: each authority's level around a shared mean, its own yearly-knot walk
    with a shared step size, a shared dispersion; observed months only."""
    n_auth, n_streams = len(data.members), len(data.template.streams)
    weights, _ = knot_weights(len(data.months))
    level_mean = prior("entry_level_mean", priors.entry_log_rate, dims="stream")
    level_sd = prior("entry_level_sd", priors.authority_effect_sd, dims="stream")
    # Every authority's entries are plentiful: its level is pinned by them (centred).
    level = normal_cells(
        "entry_level", level_mean[None], level_sd[None], np.ones((n_auth, n_streams), bool),
        ("authority", "stream"),
    )  # fmt: skip
    walk_sd = prior("entry_walk_sd", priors.entry_walk_sd, dims="stream")
    z_walk = pm.Normal("z_walk", 0.0, 1.0, shape=(n_auth, n_knots - 1, n_streams))
    knots = pt.concatenate(
        [pt.zeros((n_auth, 1, n_streams)), pt.cumsum(walk_sd * z_walk, axis=1)], axis=1
    )
    pm.Deterministic("entry_walk", knots, dims=("authority", "knot", "stream"))
    log_mu = level[:, None, :] + pt.tensordot(knots, weights, axes=[[1], [1]]).transpose(0, 2, 1)
    month_window = np.searchsorted(
        np.array(data.windows, dtype=int), [window_of_month(m) for m in data.months]
    )
    for term in data.template.network.entry_terms(_pressures(structure)):
        beta = prior(term.name, priors.feedback)
        log_mu = log_mu + beta * data.pressure[:, month_window, None]
    phi = prior("entry_dispersion", priors.entry_dispersion, dims="stream")
    seen = np.flatnonzero(data.observed.ravel())
    observed = pm.Data("entries_observed", data.entries.reshape(-1, n_streams)[seen])
    log_mu = log_mu.reshape((-1, n_streams))[seen]
    pm.Potential("entries", negative_binomial_kernel(observed, log_mu, phi))


def member_draws(
    posterior: xr.Dataset, data: PooledData, index: int, names: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """One authority's draws [N, ...] from the pooled posterior, on its own years and months
    (the layout of a single-authority fit), for predictive checks and forecasts."""
    out = {}
    member = data.members[index]

    def draws(name: str) -> np.ndarray:
        values = posterior[name]
        if values.dims[2:3] == ("authority",):
            values = values.isel(authority=index)
        return np.asarray(values).reshape(-1, *values.shape[2:])

    for name in names:
        if name not in posterior:
            continue
        values = draws(name)
        if name == "drift":
            values = values[:, data.window_of[index]]
        elif name == "entry_walk":
            # The authority's months start on a whole year of the pooled months (pool()
            # checks), so its knots are the pooled knots from that year on.
            first = data.month_of[index][0] // 12
            values = values[:, first : first + knot_weights(len(member.months))[1]]
            values = values - values[:, :1]
        if name == "entry_level" and "entry_walk" in posterior:
            values = values + draws("entry_walk")[:, data.month_of[index][0] // 12]
        out[name] = values
    return out


def informed_prior(trace: xr.DataTree, source: str, seed: int = 0) -> InformedPrior:
    """The prior a pooled fit implies for a new authority's transition cells: moments of
    ``eta_mean + authority_sd * N(0, 1)`` over the posterior draws."""
    posterior = trace["posterior"].to_dataset()
    if "eta_mean" not in posterior or "authority_sd" not in posterior:
        raise ValueError(f"{source} is not a pooled fit (no eta_mean and authority_sd)")
    mean = np.asarray(posterior["eta_mean"]).reshape(-1, *posterior["eta_mean"].shape[2:])
    sd = np.asarray(posterior["authority_sd"]).reshape(-1)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(mean), size=PREDICTIVE_DRAWS, replace=len(mean) < PREDICTIVE_DRAWS)
    new = mean[pick] + sd[pick, None, None] * rng.standard_normal(mean[pick].shape)
    digest = hashlib.sha256(mean.tobytes() + sd.tobytes()).hexdigest()[:16]
    return InformedPrior(
        pairs=tuple(str(p) for p in posterior["eta_mean"].coords["pair"].values),
        bands=tuple(str(b) for b in posterior["eta_mean"].coords["band"].values),
        mean=new.mean(axis=0),
        sd=new.std(axis=0),
        source=f"{source} ({digest})",
    )
