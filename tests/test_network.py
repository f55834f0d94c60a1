"""The stock-flow network (``model.fit.network``): built once from the structure, saved with
the posterior, read by the likelihood, the probabilities, the scenarios and the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytensor.tensor as pt
import pytest
import xarray as xr

import model.fit.network as nw
from model.codes import EXIT_REASONS
from model.config.fit import StructureConfig
from model.fit.likelihood import EXCLUDED, build_model, transition_grid
from model.fit.network import FEEDBACK, Destination, Network
from model.forecast.inputs import ForecastInputError, read_layout
from model.forecast.scenarios import ScenarioError, resolve_flow, validate_scenarios
from model.forecast.simulate import no_changes, simulate
from model.validation import sbc

MERGED = StructureConfig(
    placement_groups={**StructureConfig().placement_groups, "foster_kin": "foster",
                      "foster_other": "foster"},
    age_bands={b: "all_ages" for b in StructureConfig().age_bands},
    cin_funnel=False,
)  # fmt: skip
"""Merged groups, a single age band, no CIN funnel."""


def allowed(net: Network, state: str, destination: str) -> np.ndarray:
    """[B] whether ``state`` has ``destination`` in each band."""
    return net.allowed[net.states.index(state), :, net.destinations.index(destination)]


def test_the_default_network_follows_the_structure() -> None:
    net = Network.build(StructureConfig(), use_cin=True)
    care = tuple(StructureConfig().placement_groups.values())
    assert net.states == ("cin", "cpp", *care) and net.care_states == care
    assert net.destinations == (
        "stay", *net.states, *(f"exit:{r}" for r in EXIT_REASONS), "closed", "age",
    )  # fmt: skip
    kind = dict(zip(net.destinations, net.kind, strict=True))
    assert kind["stay"] == nw.KIND_STAY and kind["cpp"] == kind["residential"] == nw.KIND_MOVE
    assert kind["exit:adoption"] == nw.KIND_EXIT and kind["closed"] == nw.KIND_CLOSED
    assert kind["age"] == nw.KIND_AGE
    d = net.destinations.index
    assert net.state[d("residential")] == net.states.index("residential") and net.state[0] == -1
    assert net.reason[d("exit:sgo_cao")] == EXIT_REASONS.index("sgo_cao")
    assert net.cin == 0 and net.streams == ("referral", "care")
    assert net.stream_states("referral") == ("cin", "cpp") and net.stream_of("adoption") == "care"
    # Feedback classes: exits, closures, escalations (up to a plan or into care), the rest.
    klass = dict(zip(net.destinations, net.klass, strict=True))
    assert klass["exit:other"] == nw.CLASS_EXIT and klass["closed"] == nw.CLASS_CLOSED
    assert klass["cpp"] == klass["foster_kin"] == nw.CLASS_ESCALATION
    assert klass["cin"] == klass["age"] == klass["stay"] == nw.CLASS_OTHER
    # Who can take what: no move from care to a case (an exit instead), no closing in care,
    # no exit from a case, no staying-put move; at 18 only children in care age out.
    assert not allowed(net, "residential", "cin").any() and allowed(net, "cpp", "cin").all()
    assert not allowed(net, "residential", "closed").any() and allowed(net, "cin", "closed").all()
    assert not allowed(net, "cin", "exit:adoption").any()
    assert not allowed(net, "cin", "cin").any() and allowed(net, "cin", "residential").all()
    assert list(allowed(net, "cin", "age")) == [True] * 4 + [False]
    assert allowed(net, "adoption", "age").all() and net.allowed[..., 0].all()
    assert [term.name for term in net.feedback] == list(FEEDBACK)


def test_one_band_and_no_funnel() -> None:
    net = Network.build(MERGED, use_cin=False)
    assert net.states[0] == "foster" and "cin" not in net.states and net.cin == -1
    assert net.bands == ("all_ages",) and net.streams == ("care",)
    # Nobody moves to another band, but children in care still turn 18; nothing closes.
    assert net.allowed[:, 0, net.destinations.index("age")].all()
    assert not net.pair_allowed[:, net.destinations.index("closed")].any()


def test_fit_data_carry_the_network(tmp_path: Path) -> None:
    data = sbc.layout(StructureConfig(), 2, np.full((9, 5), 10))
    assert data.network.same_as(Network.build(StructureConfig(), use_cin=True))
    assert data.states == data.network.states and data.reasons == EXIT_REASONS


def test_the_network_round_trips_through_the_posterior(tmp_path: Path) -> None:
    for i, net in enumerate((Network.build(StructureConfig(), True), Network.build(MERGED, False))):
        tree = xr.DataTree.from_dict({"/network": net.to_dataset()})
        tree.to_netcdf(tmp_path / f"{i}.nc", engine="h5netcdf")
        with xr.open_datatree(tmp_path / f"{i}.nc", engine="h5netcdf") as opened:
            saved = opened["network"].load()
        assert set(saved.dims) >= {"state", "band", "destination", "stream", "feedback_term"}
        back = Network.from_dataset(saved.to_dataset())
        assert back.same_as(net)
        for name in ("care", "kind", "state", "reason", "klass", "allowed", "enters"):
            ours, theirs = getattr(net, name), getattr(back, name)
            assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs), name
        assert back.cin == net.cin and back.feedback == net.feedback
        assert (back.states, back.bands, back.destinations, back.streams, back.reasons) == (
            net.states, net.bands, net.destinations, net.streams, net.reasons,
        )  # fmt: skip


def test_a_posterior_without_the_network_is_refused() -> None:
    tree = xr.DataTree.from_dict({"/posterior": xr.Dataset()})
    tree.attrs["data_layout"] = json.dumps({"last_stock": [[1]], "windows": ["2024"]})
    with pytest.raises(ForecastInputError, match="no starting stock or network"):
        read_layout(tree)


def test_probabilities_sum_to_one_and_match_the_likelihood() -> None:
    net = Network.build(StructureConfig(), use_cin=True)
    rng = np.random.default_rng(1)
    eta = rng.normal(-3.0, 1.0, (6, len(net.pairs), len(net.bands)))  # [N, P, B]
    drift = rng.normal(0.0, 0.3, (6, 3, len(net.states)))  # [N, W, S]
    p = net.probabilities(eta, drift)
    assert p.shape == (6, 3, len(net.states), len(net.bands), len(net.destinations))
    assert np.allclose(p.sum(axis=-1), 1.0)
    assert (p[..., 1:][:, :, ~net.mask] == 0).all() and (p[..., 1:][:, :, net.mask] > 0).all()
    # Without drift: one year; odds against staying are exp(log-odds) where allowed.
    p0 = net.probabilities(eta)
    odds = np.exp(net.log_odds(eta))
    assert np.allclose(p0[..., 1:] / p0[..., :1], odds[..., 1:])
    # The likelihood's grid of the same cells: the same log-odds, EXCLUDED where impossible.
    grid = transition_grid(pt.as_tensor(eta[0]), net).eval()
    assert np.array_equal(np.where(net.mask, grid, -np.inf), net.log_odds(eta[0])[..., 1:])
    assert (grid[~net.mask] == EXCLUDED).all()


TABLE = nw.destination_table


def _transfers(
    upstream: tuple[str, ...], care: tuple[str, ...], reasons: tuple[str, ...]
) -> tuple[Destination, ...]:
    """The toy structure change: one more destination, a case transferred to another
    authority (it leaves the system, as a closure does), from cin or cpp."""
    return (*TABLE(upstream, care, reasons), Destination("transferred", nw.KIND_CLOSED, upstream))


def test_a_new_destination_is_one_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """One entry added to ``destination_table``: the data, the likelihood, the scenarios and
    the simulator all have the new destination, with nothing else changed."""
    monkeypatch.setattr(nw, "destination_table", _transfers)
    net = Network.build(StructureConfig(), use_cin=True)
    new = net.destinations.index("transferred")
    assert new == len(net.destinations) - 1 and net.kind[new] == nw.KIND_CLOSED
    assert list(net.pair_allowed[:, new]) == [True, True] + [False] * 7
    # The fit's data and model: two more rates (cin and cpp), no children taking them yet.
    data = sbc.layout(StructureConfig(), 2, np.full((9, 5), 10))
    assert data.destinations == net.destinations and data.counts.shape[-1] == len(net.destinations)
    pairs = build_model(data).coords["pair"]
    assert "cin->transferred" in pairs and "cpp->transferred" in pairs
    assert len(pairs) == len(Network.build(StructureConfig(), True).pairs)
    # Probabilities over the longer list of destinations still sum to one.
    p = net.probabilities(np.full((len(net.pairs), len(net.bands)), -3.0))
    assert (
        np.allclose(p.sum(-1), 1.0) and (p[..., new][2:] == 0).all() and (p[:2, :, new] > 0).all()
    )
    # Scenarios may name it where the network has it, and are refused elsewhere.
    assert resolve_flow("cpp -> transferred", net).destination == ("transferred",)
    with pytest.raises(ScenarioError, match="transferred ends a cin or cpp case"):
        validate_scenarios(
            {"scenarios": [{"name": "x", "changes": [{"type": "multiply_rate", "flow":
             "residential -> transferred", "factor": 2, "start": "2026-04-01"}]}]}, net,
        )  # fmt: skip
    # The simulator: children in cin with odds 1 of transfer leave the system.
    odds = np.zeros((1, len(net.states), len(net.bands), len(net.destinations)))
    odds[0, 0, :, new] = 1.0
    start = np.zeros((len(net.states), len(net.bands)), dtype=np.int64)
    start[0, 2] = 1000
    n_streams, n_reasons = len(net.streams), len(net.reasons)
    sim = simulate(
        start, odds, np.zeros((1, 1, len(net.states))), np.zeros(3, dtype=np.int64),
        np.full((1, 3, n_streams), -50.0), np.ones((1, n_streams)),
        np.zeros((1, n_streams, len(net.states), len(net.bands))), np.zeros((1, n_reasons)),
        {name: np.zeros(1) for name in FEEDBACK}, float("nan"), net,
        no_changes(1, 3, (len(net.states), len(net.destinations), n_streams), 1.0, np.nan), 3,
    )  # fmt: skip
    cin = sim.stock[0, 0, :, 0]
    assert 0 < cin[0] < 1000 and cin[-1] < cin[0]
    assert (sim.exits[0, 0, :, 0] == np.concatenate([[1000], cin[:-1]]) - cin).all()
    assert sim.stock[0, 0, :, 1:].sum() == 0  # nobody went anywhere else
