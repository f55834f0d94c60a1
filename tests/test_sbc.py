"""Simulation-based calibration of the reduced stock-flow model (``model.validation.sbc``): the
simulator, the ranks and their tests (fast), and the calibration itself (slow)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from model.fit.data import FitData, fit_data
from model.fit.likelihood import knot_weights
from model.fit.network import KIND_AGE, KIND_MOVE
from model.validation import sbc


@pytest.fixture(scope="module")
def bare() -> FitData:
    return sbc.layout(n_years=2)


def _truth(data: FitData, rng: np.random.Generator, level: float) -> sbc.Truth:
    """Varied parameters: moves likely enough that children move twice in a month."""
    n_pairs = len(data.network.pairs)
    eta = rng.normal(-3.0, 1.0, size=(n_pairs, len(data.bands)))
    eta[:2] = -1.0  # foster <-> non_foster moves (the first pair of each state)
    n_knots = knot_weights(len(data.months))[1]
    return sbc.Truth(
        eta=eta,
        drift=np.vstack(
            [
                np.zeros((1, len(data.states))),
                rng.normal(0, 0.5, (len(data.windows) - 1, len(data.states))),
            ]
        ),
        entry_level=np.array([level]),
        entry_walk=np.concatenate([[[0.0]], rng.normal(0, 0.2, (n_knots - 1, 1)).cumsum(0)]),
        entry_dispersion=np.array([20.0]),
    )


def _targets(data: FitData) -> np.ndarray:
    """[S, B, D-1] flat index (s' * B + b') of the cell a departure to d arrives in, -1 when
    it leaves (exits, closures, ageing out of the last band)."""
    net, n_bands = data.network, len(data.bands)
    target = np.full((len(net.states), n_bands, len(net.destinations) - 1), -1)
    for (s, b, d), _ in np.ndenumerate(target):
        if net.kind[d + 1] == KIND_MOVE:
            target[s, b, d] = net.state[d + 1] * n_bands + b
        elif net.kind[d + 1] == KIND_AGE and b < n_bands - 1:
            target[s, b, d] = s * n_bands + b + 1
    return target


def test_simulation_conserves_children_and_matches_fit_data(bare: FitData) -> None:
    rng = np.random.default_rng(3)
    sim = sbc.simulate(bare, _truth(bare, rng, level=3.0), rng)
    n_states, n_bands = len(bare.states), len(bare.bands)
    target = _targets(bare)
    leaving = target < 0
    arrivals = 0
    for t in range(len(bare.months)):
        moved = sim.departures[t, ..., 1:]
        arrived = np.bincount(
            target[~leaving], weights=moved[~leaving], minlength=n_states * n_bands
        ).reshape(n_states, n_bands)
        placed = sim.placed[t].sum(axis=0)
        arrivals += arrived.sum()
        # Each cell: stock at the end = at the start + entries + arrivals - departures.
        assert (sim.stock[t + 1] == sim.stock[t] + placed + arrived - moved.sum(-1)).all()
        # The whole care population changes only by entries and leavers.
        assert (
            sim.stock[t + 1].sum()
            == sim.stock[t].sum() + sim.entries[t].sum() - moved[leaving].sum()
        )
        # At risk (stayers + departures) = at the start + entries + arrivals.
        at_risk = sim.departures[t].sum(-1)
        assert (at_risk == sim.stock[t] + placed + arrived).all()
    assert (sim.placed.sum(axis=(1, 2, 3)) == sim.entries.sum(axis=1)).all()
    # Nobody goes where the model has no such flow.
    assert (sim.departures[..., 1:][:, ~bare.network.mask] == 0).all()
    # The statistics are what fit_data makes of the same children as observations.
    stats = sbc.sufficient_statistics(bare, sim)
    reference = fit_data(sbc.to_observations(bare, sim, sbc.SBC_STRUCTURE), sbc.SBC_STRUCTURE,
                         "SBC", use_cin=False)  # fmt: skip
    for name in ("states", "bands", "destinations", "windows", "months", "streams"):
        assert getattr(stats, name) == getattr(reference, name), name
    for name in ("counts", "stock", "entries", "composition", "month_window"):
        assert np.array_equal(getattr(stats, name), getattr(reference, name)), name
    assert stats.network.same_as(reference.network)
    assert np.allclose(stats.pressure, reference.pressure)
    assert arrivals > 0  # children arriving within a month were at risk there


def test_monthly_frequencies_match_the_model_probabilities(bare: FitData) -> None:
    """With a million children per cell and no entries, each year's counts over its
    children at risk estimate the monthly probabilities to within sampling error."""
    rng = np.random.default_rng(5)
    truth = _truth(bare, rng, level=-50.0)
    opening = np.full((len(bare.states), len(bare.bands)), 1_000_000)
    sim = sbc.simulate(bare, truth, rng, opening=opening)
    assert sim.entries.sum() == 0
    stats = sbc.sufficient_statistics(bare, sim)
    p = bare.network.probabilities(truth.eta, truth.drift)  # [W, S, B, D]
    n = stats.at_risk[..., None]
    freq = stats.counts / n
    assert np.allclose(p.sum(-1), 1.0) and (p[..., 1:][:, ~bare.network.mask] == 0).all()
    se = np.sqrt(p * (1 - p) / n)
    z = np.where(p > 0, (freq - p) / np.where(se > 0, se, 1), 0.0)
    assert np.abs(z).max() < 5, np.abs(z).max()  # 160 cells: 5 sd is never reached by chance
    # A chi-square over all cells: the counts are multinomial with these probabilities.
    possible = p > 0
    chi2 = (((stats.counts - n * p) ** 2 / np.where(possible, n * p, 1))[possible]).sum()
    dof = possible.sum() - stats.at_risk.size
    assert chi2 < dof + 5 * np.sqrt(2 * dof)
    assert (sim.departures[0].sum(-1) > opening).all()  # arrivals in the month are at risk
    # Drift shifts a state's departures from the second year on.
    assert not np.allclose(p[0], p[1])


def test_probabilities_are_the_likelihoods(bare: FitData) -> None:
    """The simulator's probabilities are those of the likelihood: its own grid of the
    [pair, band] cells plus drift, in its multinomial kernel, gives the log-probability of
    counts under them."""
    import pytensor.tensor as pt

    from model.fit.likelihood import EXCLUDED, multinomial_kernel, transition_grid

    rng = np.random.default_rng(8)
    truth = _truth(bare, rng, level=1.0)
    mask = bare.network.mask
    eta = transition_grid(pt.as_tensor(truth.eta), bare.network).eval()[None]
    eta = np.where(mask, eta + truth.drift[:, :, None, None], EXCLUDED)
    p = bare.network.probabilities(truth.eta, truth.drift)
    counts = rng.integers(0, 50, size=p.shape)
    counts[..., 1:][:, ~mask] = 0
    kernel = multinomial_kernel(pt.as_tensor(eta), counts[..., 1:], counts.sum(-1)).eval()
    expected = (counts * np.log(np.where(counts > 0, p, 1))).sum()
    assert np.isclose(kernel, expected, rtol=1e-9, atol=1e-6)


def test_ranks_count_the_draws_below_the_truth() -> None:
    rng = np.random.default_rng(0)
    draws = np.arange(1.0, 100.0)[:, None] * np.ones((1, 3))  # 99 draws: 1..99
    assert list(sbc.ranks(np.array([0.5, 99.5, 10.5]), draws, rng)) == [0, 99, 10]
    tied = np.ones((99, 1))
    assert {int(sbc.ranks(np.array([1.0]), tied, rng)[0]) for _ in range(5000)} == set(range(100))
    chains = np.arange(4 * 250).reshape(4, 250)
    kept = sbc.thin(chains, 99)
    assert len(kept) == 99 and len(set(kept)) == 99
    assert np.diff(kept[:25]).min() >= 10  # evenly spread within a chain
    assert sbc.n_bins(100, 99) == 10 and sbc.n_bins(200, 99) == 20 and sbc.n_bins(60, 99) == 5


def test_uniform_ranks_pass_and_skewed_ranks_fail() -> None:
    rng = np.random.default_rng(1)
    n, kept, q = 200, 99, 40
    bins = sbc.n_bins(n, kept)
    uniform = rng.integers(0, kept + 1, size=(n, q))
    result = _result(uniform, kept, bins)
    assert result.passed(0.01), result.overall_p
    # Posteriors too narrow: true values fall outside them often, ranks pile up at the ends.
    u_shaped = np.minimum((rng.beta(0.6, 0.6, size=(n, q)) * (kept + 1)).astype(int), kept)
    assert not _result(u_shaped, kept, bins).passed(0.01)
    # One biased parameter among many is caught after the multiple-testing correction.
    one_off = uniform.copy()
    one_off[:, 0] = np.minimum((rng.beta(1.0, 2.0, size=n) * (kept + 1)).astype(int), kept)
    biased = _result(one_off, kept, bins)
    assert not biased.passed(0.01) and biased.worst[0] == "p0"
    # The pooled test allows for ranks of one replicate moving together: identical ranks
    # for every parameter are still uniform (Pearson's chi-square of the pooled
    # counts would reject).
    together = np.repeat(rng.integers(0, kept + 1, size=(n, 1)), q, axis=1)
    assert sbc.pooled_p(together, kept, bins) > 0.01


def _result(ranks: np.ndarray, kept: int, bins: int) -> sbc.SBCResult:
    n, q = ranks.shape
    names = [f"p{j}" for j in range(q)]
    return sbc.SBCResult(
        names=names,
        ranks=ranks,
        kept=kept,
        bins=bins,
        p_values={name: sbc.uniformity_p(ranks[:, j], kept, bins) for j, name in enumerate(names)},
        pooled_p=sbc.pooled_p(ranks, kept, bins),
        truth=np.zeros((n, q)),
        posterior_mean=np.zeros((n, q)),
        posterior_sd=np.zeros((n, q)),
        divergences=np.zeros(n, dtype=int),
        max_rhat=np.ones(n),
        min_ess_bulk=np.full(n, 1000.0),
    )


SBC_REPLICATES = 100
SBC_KEPT = 99


@pytest.mark.slow
def test_sbc_ranks_are_uniform(tmp_path: Path) -> None:
    """Simulation-based calibration of the reduced model (``model.validation.sbc``: two placement
    groups, two age bands, care only, yearly drift; 4 years; 47 parameters: alpha,
    age_sd, drift_sd, the entry level, walk sd and dispersion, and every eta cell).

    N = 100 replicates: parameters drawn from the prior, data simulated, the model refitted
    with nutpie (4 chains x 250 draws after 300 tuning, non-centred cells), and each true
    value ranked among L = 99 draws thinned evenly from the 1000 (about one per ESS).
    Test: per parameter, Pearson's chi-square of the ranks in 10 equal bins (10 expected per
    bin); the pooled ranks by Pearson's chi-square with Rao and Scott's correction for
    ranks of one replicate moving together; Bonferroni over the 48 tests,
    the smallest corrected p-value must exceed 0.01 (a correct model fails 1% of the time).
    A failure means some posterior is miscalibrated: too narrow or wide, or biased, from a
    simulator that is not the likelihood's model, a wrong likelihood, or a sampler that
    does not explore it; look at the rank histograms (``CARECAST_SBC_OUT``) before
    anything else. Divergences: at most 5% of replicates may have any (a fit of the
    configured thresholds allows none; a few in extreme corners of the prior do not move
    ranks, more would mean part of the prior is out of the sampler's reach). About 20
    minutes on 2 busy cores.
    """
    out = Path(os.environ.get("CARECAST_SBC_OUT", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    result = sbc.run_sbc(
        SBC_REPLICATES, seed=20240331, kept=SBC_KEPT, plot=str(out / "sbc_ranks.png"), log=print
    )
    result.table().to_csv(out / "sbc_ranks.csv", index=False)
    result.save(str(out / "sbc_result.npz"))
    (out / "sbc_summary.txt").write_text(result.summary() + "\n")
    print(result.summary())
    assert result.bins == 10
    assert result.passed(0.01), result.summary()
    assert (result.divergences > 0).mean() <= 0.05, result.summary()
