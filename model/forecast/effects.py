"""Scenarios (``model.forecast.scenarios``) -> the simulator's arrays of changes
(:class:`model.forecast.simulate.Changes`), month by month; scenario 0 is the baseline.

Cost changes (unit costs, inflation) do not touch the simulation: ``model.forecast.costs``
applies them to the simulated stocks.

:func:`check_against_fit` applies the bounds that need the fit (the forecast window, the
size of additions against their flow) before anything is simulated.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np

from model.forecast.inputs import DrawInputs, Layout
from model.forecast.scenarios import (
    AddChildren,
    Flow,
    MultiplyRate,
    Redirect,
    Scenario,
    SetCapacity,
    SetWorkforce,
    check_additions,
    check_window,
    effect,
)
from model.forecast.simulate import Changes, no_changes


def check_against_fit(scenarios: Sequence[Scenario], inputs: DrawInputs, source: str) -> None:
    """Refuse (``ScenarioError``, naming ``source``, scenario, change and field) changes that
    start outside the forecast window of ``inputs`` (its first month's first day to its last
    month's end) and additions above ``model.forecast.scenarios.addition_limit`` of the
    children a month this fit expects along their flow (:func:`expected_flow`). Pass the
    file's whole list, so that positions match the file."""
    months = inputs.month_ends
    if not months:
        return
    first = date.fromisoformat(months[0]).replace(day=1)
    context = (
        f" (the months after the fit's last, {inputs.layout.last_month}, to the "
        f"{len(months)}-month horizon)"
    )
    check_window(scenarios, first, date.fromisoformat(months[-1]), source, context)
    check_additions(scenarios, lambda flow: expected_flow(flow, inputs), source)


def expected_flow(flow: Flow, inputs: DrawInputs) -> float:
    """Children a month the fit expects along ``flow`` in the first month forecast (the
    mean over draws, without feedback or changes): entries, the stream's mean times the
    share placed in the flow's states; a move, the children in its source at the start
    times each band's monthly probability of taking it (drift of the first forecast year
    included). 0 for a move the structure does not have."""
    layout = inputs.layout
    if flow.is_entry:
        targets = [layout.states.index(s) for s in flow.destination]
        total = 0.0
        for stream in flow.streams:
            k = layout.streams.index(stream)
            share = inputs.composition[:, k, targets, :].sum(axis=(1, 2))  # [N]
            total += float(np.mean(np.exp(inputs.log_entries[:, 0, k]) * share))
        return total
    (source,), (destination,) = flow.source, flow.destination  # add_children: one pair
    if destination not in layout.destinations:
        return 0.0
    s, d = layout.states.index(source), layout.destinations.index(destination)
    scale = np.exp(inputs.drift[:, inputs.year_of_month[0], s])  # [N]
    odds = inputs.odds[:, s] * scale[:, None, None]  # [N, B, D]
    probability = odds[..., d] / (1.0 + odds.sum(axis=-1))  # [N, B]
    return float(np.mean((probability * layout.last_stock[s]).sum(axis=-1)))


def build_changes(
    scenarios: Sequence[Scenario], layout: Layout, month_ends: Sequence[str]
) -> Changes:
    """The baseline (no change) followed by every scenario's changes over ``month_ends``."""
    states, destinations, streams = layout.states, layout.destinations, layout.streams
    changes = no_changes(
        len(scenarios) + 1,
        len(month_ends),
        (len(states), len(destinations), len(streams)),
        layout.capacity,
        layout.workforce,
    )
    redirects: list[tuple[tuple[int, int, int, int], np.ndarray]] = []
    entry_redirects: list[tuple[tuple[int, int, int, int], np.ndarray]] = []
    adds: list[tuple[tuple[int, int, int], np.ndarray, np.ndarray, np.ndarray]] = []
    width = changes.add_targets.shape[1]
    for c, scenario in enumerate(scenarios, start=1):
        for change in scenario.changes:
            match change:
                case MultiplyRate(flow=flow):
                    factor = effect(change, month_ends)
                    if flow.is_entry:
                        for k, s in _entry_cells(flow, layout):
                            changes.entry[c, :, k, s] *= factor
                    else:
                        for s, d in _pairs(flow, layout):
                            changes.rate[c, :, s, d] *= factor
                case Redirect(flow=flow, to=to):
                    share = effect(change, month_ends)
                    if flow.is_entry:
                        target = states.index(to)
                        for k, s in _entry_cells(flow, layout):
                            entry_redirects.append(((c, k, s, target), share))
                    else:
                        target = destinations.index(to)
                        for s, d in _pairs(flow, layout):
                            redirects.append(((c, s, d, target), share))
                case AddChildren(flow=flow):
                    amount = effect(change, month_ends)
                    sources = np.zeros(len(states), dtype=bool)
                    targets = np.zeros(width, dtype=bool)
                    if flow.is_entry:
                        ks = [streams.index(k) for k in flow.streams]
                        targets[[states.index(s) for s in flow.destination]] = True
                        for k in ks:  # spread evenly over the streams named
                            adds.append(((c, k, -1), sources, targets, amount / len(ks)))
                    else:
                        sources[[states.index(s) for s in flow.source]] = True
                        targets[[destinations.index(d) for d in flow.destination]] = True
                        adds.append(((c, -1, -1), sources, targets, amount))
                case SetCapacity():
                    changes.capacity[c] = effect(change, month_ends, changes.capacity[c])
                case SetWorkforce():
                    changes.workforce[c] = effect(change, month_ends, changes.workforce[c])
    if redirects:
        changes.redirect = np.array([r for r, _ in redirects], dtype=np.int64)
        changes.redirect_share = np.stack([share for _, share in redirects])
    if entry_redirects:
        changes.entry_redirect = np.array([r for r, _ in entry_redirects], dtype=np.int64)
        changes.entry_redirect_share = np.stack([share for _, share in entry_redirects])
    if adds:
        changes.add = np.array([a[0] for a in adds], dtype=np.int64)
        changes.add_sources = np.stack([a[1] for a in adds])
        changes.add_targets = np.stack([a[2] for a in adds])
        changes.add_amount = np.stack([a[3] for a in adds])
    return changes


def _pairs(flow: Flow, layout: Layout) -> list[tuple[int, int]]:
    """(state, destination) indices of a flow between states, those the structure has."""
    found = [
        (layout.states.index(s), layout.destinations.index(d))
        for s, d in flow.pairs
        if d in layout.destinations
    ]
    return [(s, d) for s, d in found if layout.network.pair_allowed[s, d]]


def _entry_cells(flow: Flow, layout: Layout) -> list[tuple[int, int]]:
    """(stream, state) indices of a flow of entries."""
    return [
        (layout.streams.index(k), layout.states.index(s))
        for k in flow.streams
        for s in flow.destination
    ]
