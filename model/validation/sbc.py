"""Simulation-based calibration (SBC) of a reduced stock-flow model.

If a model's inference is right, then for parameters drawn from the prior and data
simulated from them, the rank of each true value among posterior draws given the data is
uniform (Talts et al. 2018, "Validating Bayesian inference algorithms with
simulation-based calibration"). Ranks piling up at the ends mean posteriors too narrow,
in the middle too wide, at one end biased: a wrong likelihood, a simulator that does not
match it, or a sampler that does not explore the posterior.

The model here is :func:`model.fit.likelihood.build_model` under a reduced structure
(:data:`SBC_STRUCTURE`: two placement groups, two age bands, care only, yearly drift, no
feedback), so that a replicate fits in seconds. The simulator (:func:`simulate`) is the
forecast's own month step (:func:`model.forecast.simulate.simulate`, recording each cell's
flows), so calibration tests the code that forecasts. It is the model's generative story
month by month: each child at risk in a state and age band makes
one multinomial draw over staying and the destinations with the model's monthly
probabilities; movers arrive in their destination within the month and are at risk there
too (the convention of :mod:`model.fit.data`: at risk = stock at the month end + departures,
arrivals during the month included), so the multinomial kernel on the yearly sums is the
exact likelihood of the simulated data. Entries are negative binomial per month and stream
and go to states and bands with fixed shares (their composition is conjugate and not part
of the sampled model).

Units: stocks and counts are children; flows are events per month or summed over a year
(window, April to March); log-odds are monthly, against staying.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pymc as pm
from scipy import stats

from model.codes import AGE_BANDS, CARE_STATES, OUTSIDE, UPSTREAM_STATES
from model.config.fit import DiagnosticsConfig, PriorsConfig, StructureConfig
from model.fit.data import FitData, fit_data
from model.fit.diagnostics import diagnose
from model.fit.likelihood import build_model, knot_weights
from model.fit.network import KIND_CLOSED, KIND_EXIT, KIND_MOVE, Network
from model.forecast.simulate import FEEDBACK, no_changes
from model.forecast.simulate import simulate as simulate_months
from model.observations import OBSERVATION_COLUMNS

SBC_STRUCTURE = StructureConfig(
    placement_groups={g: "foster" if g.startswith("foster") else "non_foster" for g in CARE_STATES},
    age_bands={b: "under_10" if i < 3 else "10_to_17" for i, b in enumerate(AGE_BANDS)},
    cin_funnel=False,
    transition_drift=True,
    capacity_feedback=False,
)
"""The reduced structure: states (foster, non_foster), bands (under_10, 10_to_17), care only."""

OPENING = np.array([[150, 100], [50, 100]], dtype="int64")
"""[S, B] children in care at the start: (foster, non_foster) x (under_10, 10_to_17)."""

ENTRY_SHARES = np.array([[[0.40, 0.25], [0.10, 0.25]]])
"""[K, S, B] share of each entry stream's children going to each state and band."""

FIRST_YEAR = 2021
"""The first year simulated (year ending 31 March); the opening stock is at 31 March before."""

AT_18_REASON = "independence"
"""Exit reason recorded for children leaving care at 18 in :func:`to_observations`."""

PARAMETERS = (
    "alpha",
    "age_sd",
    "drift_sd",
    "entry_level",
    "entry_walk_sd",
    "entry_dispersion",
    "eta",
)
"""Variables whose every element is ranked (``eta``: each [pair, band] cell)."""


@dataclass(frozen=True)
class Truth:
    """One draw of the model's parameters, as the simulator needs them."""

    eta: np.ndarray
    """[P, B] monthly log-odds against staying of each (state, destination) pair and band."""
    drift: np.ndarray
    """[W, S] yearly drift of each state's departure log-odds (first year 0)."""
    entry_level: np.ndarray
    """[K] log mean entries per month of each stream in the first month."""
    entry_walk: np.ndarray
    """[J, K] log-rate random walk at the yearly knots (first knot 0)."""
    entry_dispersion: np.ndarray
    """[K] negative binomial shape of monthly entries."""


@dataclass
class Simulation:
    """Monthly output of :func:`simulate` (``T`` months, layout of the template)."""

    stock: np.ndarray
    """[T + 1, S, B] children at each month end, the opening stock first."""
    departures: np.ndarray
    """[T, S, B, D] children staying (d=0: the stock at the month end) or leaving to d."""
    entries: np.ndarray
    """[T, K] entries per month and stream."""
    placed: np.ndarray
    """[T, K, S, B] where each month's entries went."""


def representatives(structure: StructureConfig) -> tuple[dict[str, str], dict[str, str]]:
    """(model state -> an ingest state, model band -> a DfE band) used to write simulated
    flows as observations: the first placement group of each merged group, and the last DfE
    band of each merged band (so that ageing out of it reaches the next model band)."""
    states = {model: ingest for ingest, model in reversed(structure.placement_groups.items())}
    states |= {s: s for s in UPSTREAM_STATES}
    bands = {model: dfe for dfe, model in structure.age_bands.items()}
    return states, bands


def month_ends(n_years: int, first_year: int = FIRST_YEAR) -> list[str]:
    """ISO month ends: 31 March before ``first_year`` (the opening stock), then the
    ``12 * n_years`` month ends of the years simulated."""
    start = pd.Timestamp(f"{first_year - 1}-03-31")
    return [
        d.strftime("%Y-%m-%d") for d in pd.date_range(start, periods=12 * n_years + 1, freq="ME")
    ]


def layout(
    structure: StructureConfig = SBC_STRUCTURE, n_years: int = 4, opening: np.ndarray = OPENING
) -> FitData:
    """Sufficient statistics of ``n_years`` in which nobody moves (the stock stays at
    ``opening``): the states, bands, destinations, months and windows of the model, made by
    :func:`model.fit.data.fit_data` itself so that they follow its conventions."""
    state_name, band_name = representatives(structure)
    net = Network.build(structure, structure.cin_funnel)
    states, bands = net.states, net.bands
    if opening.shape != (len(states), len(bands)):
        raise ValueError(f"opening stock of shape {opening.shape}: need {len(states), len(bands)}")
    rows = [
        (month, "stock", state_name[s], band_name[b], "", "", int(opening[i, j]))
        for month in month_ends(n_years)
        for i, s in enumerate(states)
        for j, b in enumerate(bands)
    ]
    # fit_data fails on observations without a flow of some kind (an empty frame's indices
    # are floats): one zero-valued row of each keeps it going and counts nothing.
    first, care, band = month_ends(n_years)[1], state_name[states[-1]], band_name[bands[-1]]
    rows += [
        (first, "transition", care, band, OUTSIDE, AT_18_REASON, 0),
        (first, "transition", OUTSIDE, band, care, "", 0),
        (first, "ageing", care, band_name[bands[0]], "", "", 0),
        (first, "left_at_18", care, band, "", AT_18_REASON, 0),
    ]
    return fit_data(_table(rows), structure, "SBC", use_cin=structure.cin_funnel)


def entry_means(data: FitData, level: np.ndarray, walk: np.ndarray) -> np.ndarray:
    """[T, K] mean entries per month: ``exp(level + walk interpolated between knots)``."""
    weights, _ = knot_weights(len(data.months))
    return np.exp(np.asarray(level)[None, :] + weights @ np.asarray(walk))


def simulate(
    data: FitData,
    truth: Truth,
    rng: np.random.Generator,
    opening: np.ndarray = OPENING,
    shares: np.ndarray = ENTRY_SHARES,
) -> Simulation:
    """Simulate the model month by month on the layout of ``data`` (its counts unused), with
    the forecast's own month step (:func:`model.forecast.simulate.simulate`), so that
    calibration tests the code that forecasts.

    Month ``t`` (year ``w``): entries ``~ NegativeBinomial(mu[t, k], dispersion[k])`` go to
    (state, band) multinomially with ``shares[k]``; the children at the start and the
    entries each stay or leave with the odds ``exp(eta + drift[w])``; those who moved into
    a cell during the month (another state, the next band) are at risk there too, in
    further rounds until nobody moves (the data convention: arrivals within the month are
    at risk).
    Exits, closures and ageing out of the last band leave. ``rng`` gives the simulation's
    seed."""
    n_months, n_states = len(data.months), len(data.states)
    n_streams = shares.shape[0]
    mu = entry_means(data, truth.entry_level, truth.entry_walk)  # [T, K]
    changes = no_changes(
        1, n_months, (n_states, len(data.destinations), n_streams), 1e9, float("nan")
    )
    sim = simulate_months(
        np.asarray(opening, dtype="int64"),
        np.exp(data.network.log_odds(truth.eta))[None],  # [1, S, B, D]; stay unused
        np.asarray(truth.drift, dtype=float)[None],  # the kernel multiplies by exp(drift)
        np.asarray(data.month_window, dtype="int64"),
        np.log(mu)[None],
        np.asarray(truth.entry_dispersion, dtype=float)[None],
        np.asarray(shares, dtype=float)[None],
        np.zeros((1, len(data.reasons))),
        {name: np.zeros(1) for name in FEEDBACK},
        1.0, data.network, changes, int(rng.integers(2**62)), threads=1, record_flows=True,
    )  # fmt: skip
    departures = sim.moves[0, 0].astype("int64")  # [T, S, B, D]
    stock = np.concatenate([np.asarray(opening, dtype="int64")[None], departures[..., 0]])
    return Simulation(
        stock=stock,
        departures=departures,
        entries=sim.streams[0, 0].astype("int64"),
        placed=sim.placed[0, 0].astype("int64"),
    )


def sufficient_statistics(data: FitData, sim: Simulation) -> FitData:
    """The layout ``data`` with the simulation's sufficient statistics, as
    :func:`model.fit.data.fit_data` would compute them from its observations: yearly counts
    [W, S, B, D] (d=0: month-end stocks summed), monthly entries, composition and pressure
    (mean care population of each year over the whole period's, minus 1: no capacity set)."""
    counts = np.zeros((len(data.windows), *sim.departures.shape[1:]), dtype="int64")
    np.add.at(counts, data.month_window, sim.departures)
    in_care = sim.stock[1:, data.network.care, :].sum(axis=(1, 2)).astype(float)
    months = np.bincount(data.month_window, minlength=len(data.windows))
    mean = np.bincount(data.month_window, weights=in_care, minlength=len(data.windows))
    mean /= np.maximum(months, 1)
    return replace(
        data,
        counts=counts,
        stock=sim.stock.copy(),
        entries=sim.entries.copy(),
        composition=sim.placed.sum(axis=0),
        pressure=mean / (float(in_care.mean()) or 1.0) - 1.0,
    )


def to_observations(data: FitData, sim: Simulation, structure: StructureConfig) -> pd.DataFrame:
    """The simulation as a monthly observations table (``model.observations`` layout), in
    ingest state names and DfE bands (:func:`representatives`): what an ingest would have
    written for these children. ``fit_data`` of it gives :func:`sufficient_statistics`."""
    state_name, band_name = representatives(structure)
    months = [_month_before(data.months[0]), *data.months]
    rows = []
    for t, month in enumerate(months):
        for (s, b), value in np.ndenumerate(sim.stock[t]):
            rows.append((month, "stock", state_name[data.states[s]], band_name[data.bands[b]],
                         "", "", int(value)))  # fmt: skip
    net, last = data.network, len(data.bands) - 1
    for (t, s, b, d), value in np.ndenumerate(sim.departures):
        if d == 0 or not value:
            continue
        month, state, band = months[t + 1], state_name[data.states[s]], band_name[data.bands[b]]
        if net.kind[d] == KIND_MOVE:
            to = state_name[net.states[net.state[d]]]
            rows.append((month, "transition", state, band, to, "", int(value)))
        elif net.kind[d] == KIND_EXIT:
            reason = net.reasons[net.reason[d]]
            rows.append((month, "transition", state, band, OUTSIDE, reason, int(value)))
        elif net.kind[d] == KIND_CLOSED:
            rows.append((month, "transition", state, band, OUTSIDE, "", int(value)))
        elif b < last:
            rows.append((month, "ageing", state, band, "", "", int(value)))
        else:  # leaving care at 18: a left_at_18 row, and an exit by reason as the 903 has
            rows.append((month, "left_at_18", state, band, "", AT_18_REASON, int(value)))
            rows.append((month, "transition", state, band, OUTSIDE, AT_18_REASON, int(value)))
    for (t, _k, s, b), value in np.ndenumerate(sim.placed):
        if value:
            rows.append((months[t + 1], "transition", OUTSIDE, band_name[data.bands[b]],
                         state_name[data.states[s]], "", int(value)))  # fmt: skip
    return _table(rows)


def _table(rows: list[tuple]) -> pd.DataFrame:
    """Observation rows as a table with the columns and value type of the layout."""
    table = pd.DataFrame(rows, columns=OBSERVATION_COLUMNS)
    table["value"] = table["value"].astype("int64")
    return table


def _month_before(month_end: str) -> str:
    return (pd.Timestamp(month_end) - pd.offsets.MonthEnd(1)).strftime("%Y-%m-%d")


def nominal_truth(data: FitData, priors: PriorsConfig | None = None) -> Truth:
    """The prior's centre: every cell at the mean of the transition log-odds prior, no
    drift or walk, entries at the mean of the log-rate prior, dispersion at its mean."""
    priors = priors or PriorsConfig()
    n_pairs = len(data.network.pairs)
    n_streams, n_knots = len(data.streams), knot_weights(len(data.months))[1]
    dispersion = priors.entry_dispersion.args
    return Truth(
        eta=np.full((n_pairs, len(data.bands)), priors.transition_log_odds.args["mu"]),
        drift=np.zeros((len(data.windows), len(data.states))),
        entry_level=np.full(n_streams, priors.entry_log_rate.args["mu"]),
        entry_walk=np.zeros((n_knots, n_streams)),
        entry_dispersion=np.full(n_streams, dispersion["alpha"] / dispersion["beta"]),
    )


def template(
    structure: StructureConfig = SBC_STRUCTURE,
    n_years: int = 4,
    opening: np.ndarray = OPENING,
    seed: int = 0,
) -> FitData:
    """Sufficient statistics of one simulation at :func:`nominal_truth`: the data whose
    shape every replicate shares (the model is built, and compiled, from it once)."""
    bare = layout(structure, n_years, opening)
    sim = simulate(bare, nominal_truth(bare), np.random.default_rng(seed), opening)
    return sufficient_statistics(bare, sim)


# --- ranks and their uniformity -------------------------------------------------------------


def ranks(truth: np.ndarray, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[Q] rank of each true value (``truth`` [Q]) among ``draws`` [L, Q]: the number of
    draws below it, ties broken at random, in 0..L."""
    truth = np.asarray(truth)[None, :]
    below = (draws < truth).sum(axis=0)
    ties = (draws == truth).sum(axis=0)
    return below + rng.integers(0, ties + 1)


def thin(draws: np.ndarray, kept: int) -> np.ndarray:
    """[kept, ...] draws evenly spaced within each chain of ``draws`` [C, M, ...] (the
    chains share ``kept`` as evenly as they can)."""
    n_chains, n_draws = draws.shape[:2]
    per_chain = np.full(n_chains, kept // n_chains) + (np.arange(n_chains) < kept % n_chains)
    if per_chain.max() > n_draws:
        raise ValueError(f"{kept} draws kept from {n_chains} chains of {n_draws}")
    picks = [
        draws[c, np.linspace(0, n_draws - 1, m).round().astype(int)]
        for c, m in enumerate(per_chain)
    ]
    return np.concatenate(picks)


def n_bins(n_replicates: int, kept: int, min_expected: float = 10.0, most: int = 20) -> int:
    """Bins of the ranks 0..kept: the most (at most ``most``) that divide the ``kept + 1``
    possible ranks evenly and leave at least ``min_expected`` replicates per bin."""
    fits = [
        b for b in range(1, most + 1) if (kept + 1) % b == 0 and n_replicates / b >= min_expected
    ]
    return max(fits, default=1)


def rank_counts(ranks_: np.ndarray, kept: int, bins: int) -> np.ndarray:
    """[..., bins] counts of the ranks along the last axis in equal bins of 0..kept."""
    which = np.asarray(ranks_) * bins // (kept + 1)
    return (which[..., None] == np.arange(bins)).sum(axis=-2)


def uniformity_p(ranks_: np.ndarray, kept: int, bins: int) -> float:
    """p-value of Pearson's chi-square test that ranks ([N], independent replicates) are
    uniform on 0..kept, in ``bins`` equal bins (``bins - 1`` degrees of freedom)."""
    if bins < 2:
        return 1.0
    counts = rank_counts(np.asarray(ranks_), kept, bins)
    return float(stats.chisquare(counts).pvalue)


def pooled_p(ranks_: np.ndarray, kept: int, bins: int) -> float:
    """p-value that the ranks of all parameters pooled ([N, Q]) are uniform.

    The ranks of one replicate are correlated (the posteriors of ``alpha`` and of its
    ``eta`` cells move together), so their pooled histogram varies more than a multinomial
    and Pearson's chi-square of it would reject too often. Replicates are the clusters:
    Pearson's chi-square of the pooled counts with Rao and Scott's second-order correction
    (the design effects are the eigenvalues of the bins' covariance estimated over
    replicates against the multinomial one; statistic and degrees of freedom scaled to
    match the mean and variance of their weighted sum of chi-squares). With independent
    ranks it is the pooled chi-square; with Q identical ranks per replicate it is the
    chi-square of one. Checked by simulation under both: at most the nominal level."""
    ranks_ = np.asarray(ranks_)
    n, q = ranks_.shape
    if bins < 2 or n < 2:
        return 1.0
    share = rank_counts(ranks_, kept, bins) / q  # [N, bins]: each replicate's histogram
    pooled = share.mean(axis=0)
    p0 = np.full(bins, 1.0 / bins)
    pearson = n * q * float(((pooled - p0) ** 2 / p0).sum())
    v = np.atleast_2d(np.cov(share[:, :-1], rowvar=False)) / n
    v0 = (np.diag(p0[:-1]) - np.outer(p0[:-1], p0[:-1])) / (n * q)
    effects = np.linalg.eigvals(np.linalg.solve(v0, v)).real
    s1, s2 = float(effects.sum()), float((effects**2).sum())
    if s2 <= 0:
        return 1.0
    return float(stats.chi2.sf(pearson * s1 / s2, s1**2 / s2))


# --- the SBC run ----------------------------------------------------------------------------


@dataclass
class SBCResult:
    """Ranks of N replicates' true values among L posterior draws each, and their tests."""

    names: list[str]
    """[Q] parameter labels, e.g. ``eta[foster->age, under_10]``."""
    ranks: np.ndarray
    """[N, Q] rank of each true value among ``kept`` thinned posterior draws (0..kept)."""
    kept: int
    """L: posterior draws each rank is taken among."""
    bins: int
    p_values: dict[str, float]
    """Per parameter: chi-square test of uniform ranks."""
    pooled_p: float
    """All parameters pooled, corrected for ranks of one replicate moving together
    (:func:`pooled_p`)."""
    truth: np.ndarray
    """[N, Q] the true values."""
    posterior_mean: np.ndarray
    """[N, Q] posterior means (all draws, not only the kept)."""
    posterior_sd: np.ndarray
    """[N, Q] posterior standard deviations."""
    divergences: np.ndarray
    """[N] divergent transitions of each replicate's fit."""
    max_rhat: np.ndarray
    """[N] worst R-hat over the sampled variables of each fit."""
    min_ess_bulk: np.ndarray
    """[N] smallest bulk ESS over the sampled variables of each fit."""
    seconds: dict[str, float] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def n_tests(self) -> int:
        """Tests in the family: one per parameter and the pooled one."""
        return len(self.p_values) + 1

    @property
    def overall_p(self) -> float:
        """Bonferroni-corrected smallest p-value of the family (per-parameter tests and the
        pooled test): the chance of so extreme a worst test if every rank is uniform is at
        most this."""
        smallest = min([*self.p_values.values(), self.pooled_p])
        return min(1.0, self.n_tests * smallest)

    @property
    def worst(self) -> tuple[str, float]:
        """(parameter, p-value) of the least uniform parameter."""
        name = min(self.p_values, key=self.p_values.get)  # type: ignore[arg-type]
        return name, self.p_values[name]

    def passed(self, level: float = 0.01) -> bool:
        """Whether the ranks are consistent with uniform at family-wise ``level``."""
        return self.overall_p > level

    def table(self) -> pd.DataFrame:
        """Per parameter: the p-value, the mean rank / L (0.5 when unbiased), the share of
        ranks in the outer bins (``2 / bins`` when calibrated; more: posteriors too narrow),
        and the mean and sd of the z-scores (posterior mean - truth) / posterior sd (0 and
        about 1 when calibrated)."""
        z = (self.posterior_mean - self.truth) / np.where(
            self.posterior_sd > 0, self.posterior_sd, np.nan
        )
        outer = rank_counts(self.ranks.T, self.kept, self.bins)[:, [0, -1]].sum(axis=1)
        return pd.DataFrame(
            {
                "parameter": self.names,
                "p_value": [self.p_values[name] for name in self.names],
                "mean_rank": self.ranks.mean(axis=0) / self.kept,
                "outer_bins": outer / len(self.ranks),
                "z_mean": np.nanmean(z, axis=0),
                "z_sd": np.nanstd(z, axis=0),
            }
        )

    def save(self, path: str) -> None:
        """Every array of the result, the names and the settings, as a NumPy ``.npz``."""
        np.savez_compressed(
            path,
            names=np.array(self.names),
            ranks=self.ranks,
            truth=self.truth,
            posterior_mean=self.posterior_mean,
            posterior_sd=self.posterior_sd,
            divergences=self.divergences,
            max_rhat=self.max_rhat,
            min_ess_bulk=self.min_ess_bulk,
            kept=self.kept,
            bins=self.bins,
            settings=np.array(repr(self.settings | self.seconds)),
        )

    def summary(self) -> str:
        """A few lines for a log or a test failure message."""
        name, p = self.worst
        n = len(self.ranks)
        return (
            f"SBC: N={n} replicates, L={self.kept} draws, {self.bins} bins, "
            f"{len(self.names)} parameters; overall (Bonferroni x{self.n_tests}) "
            f"p={self.overall_p:.3g}; worst {name} p={p:.3g}; pooled p={self.pooled_p:.3g}; "
            f"replicates with divergences {int((self.divergences > 0).sum())}/{n}; "
            f"R-hat > 1.01 in {int((self.max_rhat > 1.01).sum())}/{n}; "
            f"min bulk ESS < L in {int((self.min_ess_bulk < self.kept).sum())}/{n}; "
            f"{self.seconds.get('total', float('nan')):.0f} s"
        )


def _labels(model: pm.Model, name: str, shape: tuple[int, ...]) -> list[str]:
    """``name[label, ...]`` of every element, from the model's dims and coords."""
    dims = model.named_vars_to_dims.get(name, ())
    if not shape:
        return [name]
    out = []
    for index in np.ndindex(*shape):
        parts = [
            str(model.coords[d][i]) if model.coords.get(d) else str(i)
            for d, i in zip(dims or [None] * len(index), index, strict=True)
        ]
        out.append(f"{name}[{', '.join(parts)}]")
    return out


def prior_draws(
    model: pm.Model, n: int, seed: int, names: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """[n, ...] prior draws of ``names`` (free variables and deterministics). The
    transitions' likelihood is a Potential, which prior sampling ignores: that is what SBC
    needs (draws from the prior alone)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The effect of Potentials")
        prior = pm.sample_prior_predictive(n, model=model, random_seed=seed, var_names=list(names))[
            "prior"
        ].to_dataset()
    return {name: np.asarray(prior[name])[0] for name in names}


def run_sbc(
    n_replicates: int,
    seed: int,
    *,
    structure: StructureConfig = SBC_STRUCTURE,
    priors: PriorsConfig | None = None,
    n_years: int = 4,
    kept: int = 99,
    chains: int = 4,
    draws: int = 250,
    tune: int = 300,
    target_accept: float = 0.95,
    cores: int = 2,
    centred: np.ndarray | None = None,
    plot: str | None = None,
    log: Callable[[str], None] | None = None,
) -> SBCResult:
    """Simulation-based calibration: ``n_replicates`` times, draw the parameters from the
    prior, simulate ``n_years`` of data (:func:`simulate`), fit the model to them with
    nutpie (compiled once, the data swapped in) and rank each true value among ``kept``
    posterior draws thinned evenly from ``chains x draws``.

    ``kept``: L = 99 of the default 4 x 250 draws, one in about ten, evenly spaced in each
    chain: the smallest bulk ESS of a fit is mostly 150-500 (measured), so the kept draws
    are about independent, and the 100 possible ranks split into 10 or 20 equal bins.
    ``centred`` ([P, B] bool, default all False: non-centred) fixes the parameterisation
    of the transition cells for every replicate, so it cannot depend on a replicate's data
    (measured on 8 replicates: all centred gave R-hat 1.28 and ESS 12 where data were
    sparse; all non-centred had no divergences and ESS >= 128, at the cost of deep trees,
    up to a minute, where data were rich).
    ``plot``: write the rank histograms to this PNG. ``log``: called with a line per
    replicate."""
    import nutpie

    clock = time.perf_counter()
    priors = priors or PriorsConfig()
    data = template(structure, n_years)
    n_pairs = len(data.network.pairs)
    if centred is None:
        centred = np.zeros((n_pairs, len(data.bands)), dtype=bool)
    model = build_model(data, priors, structure, centred=centred)
    present = {v.name for v in model.free_RVs + model.deterministics}
    ranked = [name for name in PARAMETERS if name in present]
    inputs = ["eta", "drift", "entry_level", "entry_walk", "entry_dispersion"]
    truths = prior_draws(
        model,
        n_replicates,
        seed,
        tuple(dict.fromkeys([*ranked, *(i for i in inputs if i in present)])),
    )
    if "drift" not in truths:
        truths["drift"] = np.zeros((n_replicates, len(data.windows), len(data.states)))
    names = [label for name in ranked for label in _labels(model, name, truths[name].shape[1:])]
    sampled = [v.name for v in model.free_RVs]
    compiled = nutpie.compile_pymc_model(model)
    compiled_at = time.perf_counter()
    children = np.random.SeedSequence(seed).spawn(n_replicates)
    n_q = len(names)
    out = {
        key: np.zeros((n_replicates, n_q)) for key in ("truth", "posterior_mean", "posterior_sd")
    }
    rank_table = np.zeros((n_replicates, n_q), dtype="int64")
    divergences = np.zeros(n_replicates, dtype="int64")
    max_rhat = np.zeros(n_replicates)
    min_ess = np.zeros(n_replicates)
    for i, child in enumerate(children):
        rng = np.random.default_rng(child)
        truth = Truth(**{name: truths[name][i] for name in inputs})
        sim = simulate(data, truth, rng)
        fitted = sufficient_statistics(data, sim)
        start = time.perf_counter()
        trace = nutpie.sample(
            compiled.with_data(
                leavers=fitted.counts[..., 1:],
                at_risk=fitted.at_risk,
                entries_observed=fitted.entries,
            ),
            draws=draws,
            tune=tune,
            chains=chains,
            cores=cores,
            seed=int(child.generate_state(1)[0]),
            progress_bar=False,
            target_accept=target_accept,
        )
        posterior = trace["posterior"].to_dataset()
        flat = np.concatenate(
            [np.asarray(posterior[name]).reshape(chains, draws, -1) for name in ranked], axis=-1
        )  # [C, M, Q]
        true = np.concatenate([truths[name][i].reshape(-1) for name in ranked])
        rank_table[i] = ranks(true, thin(flat, kept), rng)
        out["truth"][i] = true
        out["posterior_mean"][i] = flat.mean(axis=(0, 1))
        out["posterior_sd"][i] = flat.std(axis=(0, 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            diag = diagnose(trace, DiagnosticsConfig(), sampled)
        divergences[i] = diag["divergences"]
        max_rhat[i] = diag["max_rhat"]
        min_ess[i] = diag["min_ess_bulk"] or 0.0
        if log:
            log(
                f"replicate {i + 1}/{n_replicates}: {time.perf_counter() - start:.1f} s, "
                f"{divergences[i]} divergences, R-hat {max_rhat[i]:.3f}, "
                f"bulk ESS {min_ess[i]:.0f}, children at risk {int(fitted.at_risk.sum())}"
            )
    bins = n_bins(n_replicates, kept)
    result = SBCResult(
        names=names,
        ranks=rank_table,
        kept=kept,
        bins=bins,
        p_values={name: uniformity_p(rank_table[:, q], kept, bins) for q, name in enumerate(names)},
        pooled_p=pooled_p(rank_table, kept, bins),
        divergences=divergences,
        max_rhat=max_rhat,
        min_ess_bulk=min_ess,
        seconds={
            "compile": compiled_at - clock,
            "total": time.perf_counter() - clock,
        },
        settings={
            "seed": seed,
            "n_years": n_years,
            "chains": chains,
            "draws": draws,
            "tune": tune,
            "target_accept": target_accept,
            "centred": int(np.asarray(centred).sum()),
        },
        **out,
    )
    if plot:
        plot_ranks(result, plot)
    return result


def plot_ranks(result: SBCResult, path: str) -> None:
    """Rank histograms, one panel per parameter and one pooled, with the 99% band of a bin's
    count under uniformity (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, q = result.ranks.shape
    panels = q + 1
    columns = int(np.ceil(np.sqrt(panels)))
    rows = int(np.ceil(panels / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 1.8 * rows), squeeze=False)
    edges = np.linspace(0, result.kept + 1, result.bins + 1)
    for j, ax in enumerate(axes.ravel()):
        if j >= panels:
            ax.axis("off")
            continue
        values = result.ranks[:, j] if j < q else result.ranks.ravel()
        total = n if j < q else n * q
        expected = total / result.bins
        if j < q:  # (the pooled ranks are not independent: no binomial band)
            lo, hi = stats.binom.ppf([0.005, 0.995], total, 1 / result.bins)
            ax.axhspan(lo, hi, color="0.85")
        ax.axhline(expected, color="0.5", lw=0.8)
        ax.hist(values, bins=edges, color="tab:blue")
        title = (
            f"{result.names[j]}\np={result.p_values[result.names[j]]:.2g}"
            if j < q
            else f"all pooled\np={result.pooled_p:.2g}"
        )
        ax.set_title(title, fontsize=6)
        ax.tick_params(labelsize=5)
    fig.suptitle(
        f"SBC rank histograms: N={n}, L={result.kept}; overall p={result.overall_p:.2g}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
