"""Month-by-month simulation of an authority's children, per posterior draw and scenario.

Each month, from the stock at its start (children by state ``s`` and age band ``b``):

1. **Entries.** Each stream's count is negative binomial (gamma-Poisson) with the month's
   mean, placed over (s, b) multinomially by the draw's composition (with the scenario's
   multipliers and redirections). They join the children at risk of leaving this month.
2. **Departures.** The children at risk in each (s, b) split multinomially between staying
   and each destination ``d``, with probabilities ``w_d / (1 + sum w)``: ``w_d`` is the
   draw's monthly odds (``model.forecast.inputs``) times ``exp(drift)`` of the forecast
   year, the feedback terms (placement pressure on exits from care; caseload on case
   closures and escalations) and the scenario's multiplier, with the scenario's
   redirections applied. Drawn as one binomial (leave or stay), then the leavers split
   between the destinations in care and the others, and each group over its destinations
   by conditional binomials (every count by inversion: see Common random numbers).
   The likelihood counts as at risk in a month every child in a state at some point of it
   (its end stock plus its leavers), so the children who moved or aged into a cell during
   the month are at risk there too: another round draws their departures, and so on until
   nobody moves (the rounds after the second rarely hold anyone), so the simulation is the
   likelihood's model exactly.
3. **Where they go.** A move goes to the destination state, same band; ``exit:<reason>``
   leaves care, and with the CIN funnel lands in an open case (``cin``) with the draw's
   probability for the reason; ``closed`` leaves the system; ``age`` goes to the next band
   of the same state, and from the last band (care states only) leaves care at 18.
4. **Scenario additions.** ``add_children`` moves extra children along a flow (or cancels
   children who took it this month, when negative), never more than there are.

**Bounds.** Counts are int64 while simulated and int32 in the outputs. Neither can wrap:
a draw that would exceed :data:`SAFE_MAX_CHILDREN` (ten million, a hundred times every
child looked after in England) children in the system, arriving or leaving in a month, or a
stream's mean entries in a month, or whose monthly odds are not finite (e.g. a capacity
pressure so large its feedback overflows), stops, and :func:`simulate` raises
:class:`SimulationLimitError` saying which draw, scenario and month; every value stored is
at most that (int32 holds 2,147,483,647). Scenario files are bounded well inside this
(``model.forecast.scenarios``, Bounds).

Conservation holds by construction: every child is counted once at the month's end, and
each state's stock changes by its arrivals minus its departures (ageing is neither).
**Common random numbers.** Every random decision has its own number, keyed by what it
decides (draw, month, kind of event, cell, round, destination or stream: see
:mod:`model.forecast.streams`), never by how many numbers came before, and every count is
drawn by inversion. So a scenario without changes reproduces the baseline draw by draw, and
a change moves only the counts it touches and their knock-on effects: a lower rate takes no
more children along its flow than the baseline from the same children, and a cell holding
fewer children sends no more along any flow, and keeps no more. With feedback off, a
scenario that only lowers entries therefore holds, in every draw and month, no more children
in any state than the baseline. A change to a rate out of a state cannot promise that for
every state: the children it keeps there (on a plan, say, when fewer move into care) are at
risk of the state's other flows, so a later month's count along another flow can exceed the
baseline's. Differences between scenarios are the changes' effects and the parameter
uncertainty about them, not two runs' noise.

The simulation is compiled with numba (``cache=True``: a second process loads it from
disk), on threads over ranges of draws (one plain compiled function, not numba's
``parallel=True``, which compiled it three times over: a cold compile takes about 30 s of
CPU, not 80). What makes it fast keeps every count it draws: a scenario
copies scenario 0's months before its first change (:func:`first_changes`; the keys make
them the same months), each cell's odds and the probabilities its binomials draw with are
worked out once and kept while they cannot change (``same_odds``, the same feedback), and
large counts sum their distribution only as far as the answer needs
(:mod:`model.forecast.streams`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from model.fit.network import (  # noqa: F401 - the kernel's constants, re-exported
    CLASS_CLOSED,
    CLASS_ESCALATION,
    CLASS_EXIT,
    CLASS_OTHER,
    FEEDBACK,
    KIND_AGE,
    KIND_CLOSED,
    KIND_EXIT,
    KIND_MOVE,
    KIND_STAY,
    Network,
)
from model.forecast.streams import (
    TAG_ADD_PICK,
    TAG_ADD_ROUND,
    TAG_DESTINATION,
    TAG_ENTRIES,
    TAG_ENTRY_CELL,
    TAG_GAMMA,
    TAG_LANDING,
    TAG_LEAVE,
    binomial_prepared,
    key_in_month,
    month_key,
    pick,
    poisson,
    prepare_binomial,
    prepare_split,
    split,
    split_prepared,
    standard_gamma,
    uniform,
)

SAFE_MAX_CHILDREN = 10_000_000
"""The most children a simulation may hold, move in a month, or expect to enter in a month
(far below int32's 2,147,483,647, and int64 while simulating): past it, an error."""
LIMIT_ENTRIES, LIMIT_CHILDREN, LIMIT_ODDS, LIMIT_ROUNDS = 1, 2, 3, 4
"""Why a draw stopped (``status[n, 0]``; 0: it did not)."""
LIMIT_REASONS = {
    LIMIT_ENTRIES: f"a stream's mean entries in a month exceeded {SAFE_MAX_CHILDREN:,}",
    LIMIT_CHILDREN: f"the children in the system, or moving in a month, exceeded "
    f"{SAFE_MAX_CHILDREN:,}",
    LIMIT_ODDS: "the monthly odds of leaving a state were not finite (a feedback term, "
    "or multipliers, too large)",
    LIMIT_ROUNDS: "children were still moving between states after 1,000 rounds of moves in "
    "one month (odds of leaving too large)",
}
MAX_ROUNDS = 1000
"""Most rounds of moves in a month: with monthly probabilities of leaving below one, the
children moving fall geometrically and the rounds end long before."""


class SimulationLimitError(ValueError):
    """A draw went past :data:`SAFE_MAX_CHILDREN` (or its odds overflowed): ``draw``,
    ``scenario`` (index; 0: usually the baseline) and ``month`` (index) say where."""

    def __init__(self, draw: int, scenario: int, month: int, reason: str) -> None:
        super().__init__(
            f"the simulation stopped in draw {draw}, scenario {scenario}, month {month + 1}: "
            f"{reason}; the counts would no longer be trustworthy"
        )
        self.draw, self.scenario, self.month, self.reason = draw, scenario, month, reason


@dataclass
class Changes:
    """Every scenario's changes as arrays over scenarios ``C`` and forecast months ``H``
    (scenario 0 is usually the baseline, with none):

    - ``rate`` [C, H, S, D]: multiplier of each destination's odds (1: none);
    - ``redirect`` [Q, 4] int (scenario, state, from d, to d) and ``redirect_share`` [Q, H];
    - ``entry`` [C, H, K, S]: multiplier of each stream's entries into each state;
    - ``entry_redirect`` [Qe, 4] int (scenario, stream, from state, to state) and
      ``entry_redirect_share`` [Qe, H];
    - ``add`` [A, 3] int (scenario, stream or -1, destination d or -1), ``add_sources``
      [A, S] bool (source states; none for entries), ``add_targets`` [A, S or D] bool
      (target states for entries, destinations for moves) and ``add_amount`` [A, H]
      children per month;
    - ``capacity`` [C, H] children, ``workforce`` [C, H] social workers.
    """

    rate: np.ndarray
    redirect: np.ndarray
    redirect_share: np.ndarray
    entry: np.ndarray
    entry_redirect: np.ndarray
    entry_redirect_share: np.ndarray
    add: np.ndarray
    add_sources: np.ndarray
    add_targets: np.ndarray
    add_amount: np.ndarray
    capacity: np.ndarray
    workforce: np.ndarray


def no_changes(
    n_scenarios: int, horizon: int, shape: tuple[int, int, int], capacity: float, workforce: float
) -> Changes:
    """:class:`Changes` that change nothing; ``shape`` is (S, D, K)."""
    n_states, n_dest, n_streams = shape
    return Changes(
        rate=np.ones((n_scenarios, horizon, n_states, n_dest)),
        redirect=np.zeros((0, 4), dtype=np.int64),
        redirect_share=np.zeros((0, horizon)),
        entry=np.ones((n_scenarios, horizon, n_streams, n_states)),
        entry_redirect=np.zeros((0, 4), dtype=np.int64),
        entry_redirect_share=np.zeros((0, horizon)),
        add=np.zeros((0, 3), dtype=np.int64),
        add_sources=np.zeros((0, n_states), dtype=bool),
        add_targets=np.zeros((0, max(n_states, n_dest)), dtype=bool),
        add_amount=np.zeros((0, horizon)),
        capacity=np.full((n_scenarios, horizon), capacity),
        workforce=np.full((n_scenarios, horizon), workforce),
    )


@dataclass
class Simulation:
    """Simulated children per draw ``N``, scenario ``C``, month ``H`` and state ``S`` + 1
    (the last column: all looked-after children): ``stock`` at each month's end,
    ``entries`` (arrivals in the month: into a state from any other state or from outside,
    ageing aside; for the total, children starting to be looked after) and ``exits``
    (departures in the month, likewise; for the total, children ceasing to be looked
    after, at 18 included). ``streams`` [N, C, H, K]: children arriving from outside by
    entry stream (scenario additions aside).

    With ``record_flows``: ``moves`` [N, C, H, S, B, D], each cell's children at the
    month's end (d = 0) and its departures to each destination in the month (every round;
    scenario additions aside), and ``placed`` [N, C, H, K, S, B], where each stream's
    entries went: the sufficient statistics the likelihood reads (``model.validation.sbc``
    fits them)."""

    stock: np.ndarray
    entries: np.ndarray
    exits: np.ndarray
    streams: np.ndarray
    moves: np.ndarray | None = None
    placed: np.ndarray | None = None


def simulate(
    start: np.ndarray,
    odds: np.ndarray,
    drift: np.ndarray,
    year_of_month: np.ndarray,
    log_entries: np.ndarray,
    dispersion: np.ndarray,
    composition: np.ndarray,
    landing: np.ndarray,
    feedback: dict[str, np.ndarray],
    caseload_mean: float,
    net: Network,
    changes: Changes,
    seed: int,
    threads: int | None = None,
    record_flows: bool = False,
) -> Simulation:
    """Simulate every draw under every scenario from ``start`` [S, B] children.

    Shapes: ``odds`` [N, S, B, D], ``drift`` [N, Y, S] (log-odds), ``year_of_month`` [H],
    ``log_entries`` [N, H, K], ``dispersion`` [N, K], ``composition`` [N, K, S, B],
    ``landing`` [N, R], ``feedback`` the four coefficients [N] each
    (``model.fit.network.FEEDBACK``). Every random number is keyed by ``seed``, the
    draw and the event it decides, the same in every scenario, so the results do not depend
    on ``threads`` (the draws are simulated in parallel on that many threads; default:
    numba's, one per core) nor on which other scenarios are simulated alongside.
    Raises :class:`SimulationLimitError` when a draw exceeds :data:`SAFE_MAX_CHILDREN`
    (see the module), or ``ValueError`` for changes that are negative or not finite.
    """
    _check_changes(changes)
    n_draws, n_states = odds.shape[0], odds.shape[1]
    n_scenarios, horizon = changes.capacity.shape
    shape = (n_draws, n_scenarios, horizon, n_states + 1)
    stock = np.zeros(shape, dtype=np.int32)
    entries = np.zeros(shape, dtype=np.int32)
    exits = np.zeros(shape, dtype=np.int32)
    streams = np.zeros((n_draws, n_scenarios, horizon, log_entries.shape[2]), dtype=np.int32)
    status = np.zeros((n_draws, 3), dtype=np.int64)  # (LIMIT_*, scenario, month) of a stop
    n_bands, n_streams = odds.shape[2], log_entries.shape[2]
    kept = n_draws if record_flows else 0  # zero-sized: the kernel records nothing
    moves = np.zeros((kept, n_scenarios, horizon, n_states, n_bands, odds.shape[3]), np.int32)
    placed = np.zeros((kept, n_scenarios, horizon, n_streams, n_states, n_bands), np.int32)
    result = Simulation(stock, entries, exits, streams)
    if record_flows:
        result.moves, result.placed = moves, placed
    if horizon == 0 or n_draws == 0:
        return result
    arguments = (
        np.asarray(start, dtype=np.int64),
        np.ascontiguousarray(odds, dtype=np.float64),
        np.ascontiguousarray(np.exp(drift), dtype=np.float64),
        np.asarray(year_of_month, dtype=np.int64),
        np.ascontiguousarray(log_entries, dtype=np.float64),
        np.ascontiguousarray(dispersion, dtype=np.float64),
        np.ascontiguousarray(composition, dtype=np.float64),
        np.ascontiguousarray(landing, dtype=np.float64),
        np.stack([np.asarray(feedback[k], dtype=np.float64) for k in FEEDBACK], axis=1),
        float(caseload_mean),
        net.kind, net.state, net.reason, net.klass, net.care, net.cin,
        changes.rate, changes.redirect, changes.redirect_share,
        changes.entry, changes.entry_redirect, changes.entry_redirect_share,
        changes.add, changes.add_sources, changes.add_targets, changes.add_amount,
        changes.capacity, changes.workforce, *first_changes(changes),
        _same_odds(changes, np.asarray(year_of_month, dtype=np.int64)),
        np.int64(seed), stock, entries, exits, streams, moves, placed,
        np.int64(SAFE_MAX_CHILDREN), status,
    )  # fmt: skip
    n_threads = max(1, min(threads or numba.config.NUMBA_NUM_THREADS, n_draws))
    bounds = np.linspace(0, n_draws, n_threads + 1).astype(np.int64)
    if n_threads == 1:
        _kernel(bounds[0], bounds[1], *arguments)
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            for done in [pool.submit(_kernel, bounds[i], bounds[i + 1], *arguments)
                         for i in range(n_threads)]:  # fmt: skip
                done.result()
    stopped = np.flatnonzero(status[:, 0])
    if len(stopped):
        n = int(stopped[0])
        why, c, t = (int(v) for v in status[n])
        raise SimulationLimitError(n, c, t, LIMIT_REASONS[why])
    return result


def first_changes(changes: Changes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each scenario's first month (index; the horizon if none) whose changes differ from
    scenario 0's: any change but capacity and workforce (``[C]``), capacity (``[C]``: it
    only matters in a draw with a capacity feedback term) and workforce (``[C]``: only
    with a caseload term). Every random number is keyed by the event, never by the
    scenario, so before that month a scenario's draw is scenario 0's, month for month: the
    kernel copies those months instead of simulating them again. Conservative: a
    redirection or addition active in scenario 0 or the scenario counts as a difference."""
    n_scenarios, horizon = changes.capacity.shape
    differs = np.zeros((n_scenarios, horizon), dtype=bool)
    differs |= (changes.rate != changes.rate[:1]).any(axis=(2, 3))
    differs |= (changes.entry != changes.entry[:1]).any(axis=(2, 3))
    for rows, active in (
        (changes.redirect[:, 0], changes.redirect_share != 0),
        (changes.entry_redirect[:, 0], changes.entry_redirect_share != 0),
        (changes.add[:, 0], changes.add_amount != 0),
    ):
        for q, c in enumerate(np.asarray(rows, dtype=np.int64)):
            differs[c] |= active[q]
            if c == 0:
                differs |= active[q]
    capacity = np.asarray(changes.capacity, dtype=np.float64)
    # A capacity of 0 divides by zero: let the kernel meet it as it would unshared.
    differs |= (capacity <= 0).any(axis=0)[None, :] & (capacity != capacity[:1])
    capacity_differs = capacity != capacity[:1]
    workforce = np.asarray(changes.workforce, dtype=np.float64)
    same = (workforce == workforce[:1]) | (np.isnan(workforce) & np.isnan(workforce[:1]))
    differs[0] = False

    def first(table: np.ndarray) -> np.ndarray:
        table = table.copy()
        table[0] = False
        return np.where(table.any(axis=1), table.argmax(axis=1), horizon).astype(np.int64)

    return first(differs), first(capacity_differs), first(~same)


def _same_odds(changes: Changes, year_of_month: np.ndarray) -> np.ndarray:
    """[C, H] bool: whether a scenario's month has its previous month's odds of leaving
    every cell, feedback aside (the same forecast year, multipliers and redirections): the
    kernel then keeps the odds it worked out the month before."""
    same = np.zeros(changes.capacity.shape, dtype=bool)
    same[:, 1:] = (year_of_month[1:] == year_of_month[:-1])[None, :]
    same[:, 1:] &= (changes.rate[:, 1:] == changes.rate[:, :-1]).all(axis=(2, 3))
    for q, c in enumerate(np.asarray(changes.redirect[:, 0], dtype=np.int64)):
        share = changes.redirect_share[q]
        same[c, 1:] &= share[1:] == share[:-1]
    return same


def _check_changes(changes: Changes) -> None:
    """Refuse multipliers, shares, capacities and additions that are negative or not finite,
    and additions beyond :data:`SAFE_MAX_CHILDREN` a month (the kernel adds them child by
    child)."""
    for name in ("rate", "entry", "redirect_share", "entry_redirect_share", "capacity",
                 "workforce"):  # fmt: skip
        values = np.asarray(getattr(changes, name), dtype="float64")
        # The workforce is NaN in a fit without workforce feedback, which never reads it.
        known = values if name != "workforce" else values[~np.isnan(values)]
        if not np.isfinite(known).all() or (known < 0).any():
            raise ValueError(f"changes.{name}: every value must be finite and non-negative")
    amount = np.asarray(changes.add_amount, dtype="float64")
    if not np.isfinite(amount).all() or (np.abs(amount) > SAFE_MAX_CHILDREN).any():
        raise ValueError(
            f"changes.add_amount: every value must be finite and at most {SAFE_MAX_CHILDREN:,} "
            "children a month either way"
        )


@numba.njit(cache=True)
def _prepare_cell(
    w, ids, in_care_after, leave, care_row, care_table, other_table, scratch
):  # pragma: no cover - compiled
    """What a cell's departures draw from its odds ``w`` [M] of the destinations ``ids``
    [M] (their sum > 0), worked out once while the odds hold: ``leave`` [4], the
    probability of leaving; ``care_row`` [4], a leaver's of going to a destination in care
    (``in_care_after`` [D]); ``care_table`` and ``other_table`` [M, 4], the conditional
    binomials over the destinations in care and the others (``streams.prepare_split``).
    """
    total = 0.0
    into = 0.0
    other = 0.0
    for j in range(w.size):
        total += w[j]
        if in_care_after[ids[j]]:
            into += w[j]
        else:
            other += w[j]
    prepare_binomial(total / (1.0 + total), leave)
    prepare_binomial(into / (into + other) if other > 0.0 else 1.0, care_row)
    for group in (True, False):
        for j in range(w.size):
            scratch[j] = w[j] if in_care_after[ids[j]] == group else 0.0
        prepare_split(scratch, care_table if group else other_table)


@numba.njit(cache=True)
def _split_by_care(
    leavers, care_row, care_table, other_table, ids, width, out, key
):  # pragma: no cover - compiled
    """Split ``leavers`` over the destinations ``ids`` [M] into ``out`` (the tables of
    :func:`_prepare_cell`): first how many go to a destination in care (a binomial keyed
    by the index ``width`` (D), past every destination), then each group over its
    destinations (:func:`model.forecast.streams.split`, keyed by destination). A change
    that only lowers flows into care then sends no more children into care from the same
    leavers (fewer leavers too, at the same key), and one that only raises flows out of
    care sends no fewer out of it: the coupling holds for the flows a scenario names as a
    group."""
    to_care = binomial_prepared(leavers, care_row, uniform(key, width))
    split_prepared(to_care, care_table, ids, out, key)
    split_prepared(leavers - to_care, other_table, ids, out, key)


@numba.njit(cache=True)
def _whole(amount, u):  # pragma: no cover - compiled
    """A whole number of children with mean ``|amount|`` (stochastic rounding by ``u``)."""
    a = abs(amount)
    whole = int(np.floor(a))
    if u < a - whole:
        whole += 1
    return whole


@numba.njit(cache=True)
def _shared(odds, redirect, kind, dest_state, care):  # pragma: no cover - compiled
    """What every draw shares: ``target`` [S, D], the destinations a redirection may send
    children to whatever their odds, and ``in_care_after`` [S, B, D], whether a child of
    (s, b) taking d is looked after once there (leavers split first between the
    destinations in care and the others: see :func:`_split_by_care`)."""
    n_states, n_bands, n_dest = odds.shape[1:]
    target = np.zeros((n_states, n_dest), dtype=np.bool_)
    for q in range(redirect.shape[0]):
        target[redirect[q, 1], redirect[q, 3]] = True
    in_care_after = np.zeros((n_states, n_bands, n_dest), dtype=np.bool_)
    for s in range(n_states):
        for b in range(n_bands):
            for d in range(1, n_dest):
                if kind[d] == KIND_MOVE:
                    in_care_after[s, b, d] = care[dest_state[d]]
                elif kind[d] == KIND_AGE:
                    in_care_after[s, b, d] = care[s] and b + 1 < n_bands
    return target, in_care_after


@numba.njit(cache=True, nogil=True)
def _kernel(
    first,
    last,
    start,
    odds,
    drift_factor,
    year_of_month,
    log_entries,
    dispersion,
    composition,
    landing,
    feedback,
    caseload_mean,
    kind,
    dest_state,
    dest_reason,
    klass,
    care,
    cin,
    rate,
    redirect,
    redirect_share,
    entry,
    entry_redirect,
    entry_redirect_share,
    add,
    add_sources,
    add_targets,
    add_amount,
    capacity,
    workforce,
    first_other,
    first_capacity,
    first_workforce,
    same_odds,
    seed,
    out_stock,
    out_entries,
    out_exits,
    out_streams,
    out_moves,
    out_placed,
    limit,
    status,
):  # pragma: no cover - compiled
    """Simulate draws ``first`` to ``last - 1`` under every scenario, without the GIL:
    the caller runs ranges of draws on threads. Not numba's ``parallel=True``: its passes
    and the threading wrapper they generate compiled this body twice more (for an int64
    and a uint64 index), some 45 s of CPU cold, for the same speed."""
    n_states, n_bands, n_dest = odds.shape[1:]
    n_scenarios, horizon = capacity.shape
    n_streams = log_entries.shape[2]
    n_adds = add.shape[0]
    record = out_moves.shape[0] > 0
    target, in_care_after = _shared(odds, redirect, kind, dest_state, care)
    for n in range(first, last):
        x = np.zeros((n_states, n_bands), dtype=np.int64)
        new = np.zeros((n_states, n_bands), dtype=np.int64)
        pending = np.zeros((n_states, n_bands), dtype=np.int64)
        # Each cell's odds of each destination (and their sum), worked out when first
        # needed in a month and kept while they cannot change (same_odds, same feedback).
        odds_of = np.zeros((n_states * n_bands, n_dest))
        odds_sum = np.zeros(n_states * n_bands)
        odds_stamp = np.full(n_states * n_bands, -1, dtype=np.int64)
        leave_rows = np.zeros((n_states * n_bands, 4))
        care_rows = np.zeros((n_states * n_bands, 4))
        care_tables = np.zeros((n_states * n_bands, n_dest, 4))
        other_tables = np.zeros((n_states * n_bands, n_dest, 4))
        landing_rows = np.zeros((landing.shape[1], 4))
        for r in range(landing.shape[1]):
            prepare_binomial(landing[n, r], landing_rows[r])
        stamp = 0
        last_feedback = (0.0, 0.0, 0.0)
        taking = np.zeros(n_dest, dtype=np.int64)
        wide = np.zeros(n_dest)
        # Each cell's possible destinations (most odds are 0: a state has a few flows), so
        # the monthly work runs over those alone; `where[s, b, d]` is d's place among them.
        reach = np.zeros((n_states, n_bands), dtype=np.int64)
        dests = np.zeros((n_states, n_bands, n_dest), dtype=np.int64)
        where = np.full((n_states, n_bands, n_dest), -1, dtype=np.int64)
        for s in range(n_states):
            for b in range(n_bands):
                for d in range(1, n_dest):
                    if odds[n, s, b, d] > 0.0 or target[s, d]:
                        where[s, b, d] = reach[s, b]
                        dests[s, b, reach[s, b]] = d
                        reach[s, b] += 1
        cells = np.zeros(n_states * n_bands)
        cell_ids = np.arange(n_states * n_bands)
        placed = np.zeros(n_states * n_bands, dtype=np.int64)
        arrivals = np.zeros(n_states + 1, dtype=np.int64)
        departures = np.zeros(n_states + 1, dtype=np.int64)
        # Children who took each addition's flow this month, by band and destination (moves)
        # or state (entries): what a negative addition can cancel.
        width = max(n_dest, n_states)
        taken = np.zeros((max(n_adds, 1), n_bands, width), dtype=np.int64)
        beta_exit, beta_entry, beta_closure, beta_escalation = feedback[n]
        # The stock at the start of each of scenario 0's months: a scenario whose changes
        # start later shares the months before (see first_changes).
        history = np.empty((horizon if n_scenarios > 1 else 0, n_states, n_bands), np.int64)
        for c in range(n_scenarios):
            begin = 0
            if c > 0:
                begin = first_other[c]
                if beta_exit != 0.0 or beta_entry != 0.0:
                    begin = min(begin, first_capacity[c])
                if beta_closure != 0.0 or beta_escalation != 0.0:
                    begin = min(begin, first_workforce[c])
                for t in range(begin):
                    out_stock[n, c, t] = out_stock[n, 0, t]
                    out_entries[n, c, t] = out_entries[n, 0, t]
                    out_exits[n, c, t] = out_exits[n, 0, t]
                    out_streams[n, c, t] = out_streams[n, 0, t]
                    if record:
                        out_moves[n, c, t] = out_moves[n, 0, t]
                        out_placed[n, c, t] = out_placed[n, 0, t]
            if begin == 0:
                x[:, :] = start
            elif begin < horizon:
                x[:, :] = history[begin]
            # Past `limit` children (or with odds that are not finite) a draw stops and says
            # where in `status`: the counts would soon wrap around their integer types.
            stop = 0
            for t in range(begin, horizon):
                if c == 0 and n_scenarios > 1:
                    history[t] = x
                y = year_of_month[t]
                month = month_key(seed, n, t)
                in_care = 0
                known = 0
                for s in range(n_states):
                    for b in range(n_bands):
                        known += x[s, b]
                        if care[s]:
                            in_care += x[s, b]
                pressure = in_care / capacity[c, t] - 1.0
                f_exit = np.exp(beta_exit * pressure)
                f_closure = 1.0
                f_escalation = 1.0
                if beta_closure != 0.0 or beta_escalation != 0.0:
                    caseload = known / workforce[c, t] / caseload_mean - 1.0
                    f_closure = np.exp(beta_closure * caseload)
                    f_escalation = np.exp(beta_escalation * caseload)
                feedback_now = (f_exit, f_closure, f_escalation)
                if t == begin or not same_odds[c, t] or feedback_now != last_feedback:
                    stamp += 1  # a new month's odds: each cell works them out again
                last_feedback = feedback_now
                new[:, :] = 0
                pending[:, :] = 0
                arrivals[:] = 0
                departures[:] = 0
                taken[:, :, :] = 0
                # Entries first: a child arriving during the month is at risk of leaving in
                # it, as the likelihood counts children at risk (the stock at the month's
                # end plus those who left).
                for k in range(n_streams):
                    weight_total = 0.0
                    for s in range(n_states):
                        for b in range(n_bands):
                            i = s * n_bands + b
                            cells[i] = composition[n, k, s, b] * entry[c, t, k, s]
                    for q in range(entry_redirect.shape[0]):
                        if entry_redirect[q, 0] == c and entry_redirect[q, 1] == k:
                            s0, s1 = entry_redirect[q, 2], entry_redirect[q, 3]
                            for b in range(n_bands):
                                moved = cells[s0 * n_bands + b] * entry_redirect_share[q, t]
                                cells[s0 * n_bands + b] -= moved
                                cells[s1 * n_bands + b] += moved
                    for i in range(cells.size):
                        weight_total += cells[i]
                    if weight_total <= 0.0:
                        continue
                    mu = np.exp(log_entries[n, t, k] + beta_entry * pressure) * weight_total
                    if not mu <= limit:  # NaN too
                        stop = LIMIT_ENTRIES
                        break
                    phi = dispersion[n, k]
                    gamma = standard_gamma(phi, key_in_month(month, TAG_GAMMA, k, 0, 0))
                    lam = gamma * mu / phi
                    if not lam <= limit:
                        stop = LIMIT_ENTRIES
                        break
                    count = poisson(lam, uniform(key_in_month(month, TAG_ENTRIES, k, 0, 0), 0))
                    out_streams[n, c, t, k] = count
                    if count == 0:
                        continue
                    placed[:] = 0
                    split(count, cells, cell_ids, placed,
                          key_in_month(month, TAG_ENTRY_CELL, k, 0, 0))  # fmt: skip
                    for s in range(n_states):
                        for b in range(n_bands):
                            j = placed[s * n_bands + b]
                            if j == 0:
                                continue
                            if record:
                                out_placed[n, c, t, k, s, b] = j
                            x[s, b] += j
                            arrivals[s] += j
                            if care[s]:
                                arrivals[n_states] += j
                            for a in range(n_adds):
                                if add[a, 0] == c and add[a, 1] == k and add_targets[a, s]:
                                    taken[a, b, s] += j
                if stop:
                    break
                # Departures of the children there at the start or entering (round 0), then
                # of those who moved or aged into a cell during the month, round after round
                # until nobody moves: every child is at risk in every cell it was in during
                # the month, as the likelihood counts children at risk.
                pool = x
                routed = pending
                round_ = 0
                while True:
                    routed[:, :] = 0
                    for s in range(n_states):
                        scale = drift_factor[n, y, s]
                        for b in range(n_bands):
                            here = pool[s, b]
                            if here == 0:
                                continue
                            m = reach[s, b]
                            cell = s * n_bands + b
                            w = odds_of[cell, :m]
                            if odds_stamp[cell] != stamp:
                                odds_stamp[cell] = stamp
                                odds_sum[cell] = _weights(
                                    w, dests[s, b], where[s, b], odds, n, s, b, c, t, scale,
                                    rate, klass, care[s], f_exit, f_closure, f_escalation,
                                    redirect, redirect_share,
                                )  # fmt: skip
                                if np.isfinite(odds_sum[cell]) and odds_sum[cell] > 0.0:
                                    _prepare_cell(w, dests[s, b, :m], in_care_after[s, b],
                                                  leave_rows[cell], care_rows[cell],
                                                  care_tables[cell, :m], other_tables[cell, :m],
                                                  wide[:m])  # fmt: skip
                            total = odds_sum[cell]
                            if not np.isfinite(total):
                                stop = LIMIT_ODDS
                                break
                            leavers = 0
                            if total > 0.0:
                                u = uniform(key_in_month(month, TAG_LEAVE, cell, round_, 0), 0)
                                leavers = binomial_prepared(here, leave_rows[cell], u)
                            new[s, b] += here - leavers
                            if leavers == 0:
                                continue
                            taking[:m] = 0
                            key = key_in_month(month, TAG_DESTINATION, cell, round_, 0)
                            _split_by_care(leavers, care_rows[cell], care_tables[cell, :m],
                                           other_tables[cell, :m], dests[s, b, :m], n_dest,
                                           taking[:m], key)  # fmt: skip
                            for j in range(m):
                                k = taking[j]
                                if k == 0:
                                    continue
                                d = dests[s, b, j]
                                if record:
                                    out_moves[n, c, t, s, b, d] += k
                                u = 0.5  # read only by exits that may land in an open case
                                if cin >= 0 and kind[d] == KIND_EXIT:
                                    u = uniform(key_in_month(month, TAG_LANDING, cell, round_, d),
                                                0)  # fmt: skip
                                back = _route(k, s, b, d, n, kind, dest_state, dest_reason,
                                              care, cin, landing_rows, n_bands, routed, arrivals,
                                              departures, u)  # fmt: skip
                                for a in range(n_adds):
                                    mine = add[a, 0] == c and add[a, 1] < 0
                                    if mine and add_sources[a, s] and add_targets[a, d]:
                                        # Exits that landed in an open case stay counted.
                                        taken[a, b, d] += k - back
                        if stop:
                            break
                    if stop:
                        break
                    moving = routed.sum()
                    if moving == 0:
                        break
                    if round_ + 1 == MAX_ROUNDS or moving > limit:
                        stop = LIMIT_ROUNDS
                        break
                    pool, routed = routed, pool
                    round_ += 1
                if stop:
                    break
                for a in range(n_adds):
                    if add[a, 0] != c:
                        continue
                    amount = add_amount[a, t]
                    key = key_in_month(month, TAG_ADD_ROUND, a, 0, 0)
                    m = _whole(amount, uniform(key, 0))
                    if m == 0:
                        continue
                    key = key_in_month(month, TAG_ADD_PICK, a, 0, 0)
                    if add[a, 1] >= 0:
                        _add_entries(m, amount > 0, add[a, 1], a, n, c, t, composition, entry,
                                     add_targets, taken, care, new, arrivals, key)  # fmt: skip
                    else:
                        _add_moves(m, amount > 0, a, n, odds, add_sources, add_targets, taken,
                                   kind, dest_state, dest_reason, care, cin, landing_rows, new,
                                   arrivals, departures, key)  # fmt: skip
                x[:, :] = new
                if _beyond(x, arrivals, departures, limit):
                    stop = LIMIT_CHILDREN
                    break
                for s in range(n_states):
                    here = 0
                    for b in range(n_bands):
                        here += x[s, b]
                        if record:
                            out_moves[n, c, t, s, b, 0] = x[s, b]
                    out_stock[n, c, t, s] = here
                    if care[s]:
                        out_stock[n, c, t, n_states] += here
                    out_entries[n, c, t, s] = arrivals[s]
                    out_exits[n, c, t, s] = departures[s]
                out_entries[n, c, t, n_states] = arrivals[n_states]
                out_exits[n, c, t, n_states] = departures[n_states]
            if stop:
                status[n, 0], status[n, 1], status[n, 2] = stop, c, t
                break


@numba.njit(cache=True)
def _beyond(x, arrivals, departures, limit):  # pragma: no cover - compiled
    """Whether the children in the system at the month's end, or any state's arrivals or
    departures in it, exceed ``limit``."""
    return x.sum() > limit or arrivals.max() > limit or departures.max() > limit


@numba.njit(cache=True)
def _weights(
    w,
    dests,
    where,
    odds,
    n,
    s,
    b,
    c,
    t,
    scale,
    rate,
    klass,
    in_care,
    f_exit,
    f_closure,
    f_escalation,
    redirect,
    redirect_share,
):  # pragma: no cover - compiled
    """Fill ``w`` [M] with the month's odds against staying of each of the cell's possible
    destinations ``dests[:M]`` (drift, feedback, the scenario's multipliers and
    redirections; ``where`` [D]: each destination's place in ``w``, -1 if none); return
    their sum."""
    total = 0.0
    for j in range(w.size):
        d = dests[j]
        o = odds[n, s, b, d]
        if o == 0.0:
            w[j] = 0.0
            continue
        o *= scale * rate[c, t, s, d]
        k = klass[d]
        if in_care:
            if k == CLASS_EXIT:
                o *= f_exit
        elif k == CLASS_CLOSED:
            o *= f_closure
        elif k == CLASS_ESCALATION:
            o *= f_escalation
        w[j] = o
    for q in range(redirect.shape[0]):
        if redirect[q, 0] == c and redirect[q, 1] == s:
            source = where[redirect[q, 2]]
            if source < 0:
                continue  # no odds to move
            moved = w[source] * redirect_share[q, t]
            w[source] -= moved
            w[where[redirect[q, 3]]] += moved
    for j in range(w.size):
        total += w[j]
    return total


@numba.njit(cache=True)
def _route(
    k,
    s,
    b,
    d,
    n,
    kind,
    dest_state,
    dest_reason,
    care,
    cin,
    landing_rows,
    n_bands,
    new,
    arrivals,
    departures,
    u,
):  # pragma: no cover - compiled
    """``k`` children of (s, b) take destination ``d``: place them and count the flows
    (index S of ``arrivals``/``departures``: into and out of care). Returns how many of
    them landed in an open case (exits from care; ``u``: the uniform that decides it;
    ``landing_rows`` [R, 4]: each exit reason's probability of landing there, as
    ``streams.prepare_binomial`` rows)."""
    n_states = new.shape[0]
    what = kind[d]
    back = 0
    if what == KIND_MOVE:
        target = dest_state[d]
        new[target, b] += k
        arrivals[target] += k
        departures[s] += k
        if care[target] and not care[s]:
            arrivals[n_states] += k
    elif what == KIND_EXIT:
        departures[s] += k
        departures[n_states] += k
        if cin >= 0:
            back = binomial_prepared(k, landing_rows[dest_reason[d]], u)
            new[cin, b] += back
            arrivals[cin] += back
    elif what == KIND_CLOSED:
        departures[s] += k
    elif what == KIND_AGE:
        if b + 1 < n_bands:
            new[s, b + 1] += k
        else:
            departures[s] += k
            if care[s]:
                departures[n_states] += k
    return back


@numba.njit(cache=True)
def _add_entries(
    m, positive, k, a, n, c, t, composition, entry, add_targets, taken, care, new, arrivals, key
):  # pragma: no cover - compiled
    """``m`` extra entries of stream ``k`` into the addition's target states (placed by the
    stream's composition), or ``m`` fewer (cancelling this month's entries there); child
    ``i`` placed by the uniform ``i`` of ``key``."""
    n_states, n_bands = new.shape
    weights = np.zeros(n_states * n_bands)
    for one in range(m):
        for s in range(n_states):
            for b in range(n_bands):
                i = s * n_bands + b
                if not add_targets[a, s]:
                    weights[i] = 0.0
                elif positive:
                    weights[i] = composition[n, k, s, b] * entry[c, t, k, s]
                else:
                    weights[i] = min(taken[a, b, s], new[s, b])
        i = pick(weights, uniform(key, one))
        if i < 0:
            return
        s, b = i // n_bands, i % n_bands
        step = 1 if positive else -1
        new[s, b] += step
        arrivals[s] += step
        if care[s]:
            arrivals[n_states] += step
        if not positive:
            taken[a, b, s] -= 1


@numba.njit(cache=True)
def _add_moves(
    m,
    positive,
    a,
    n,
    odds,
    add_sources,
    add_targets,
    taken,
    kind,
    dest_state,
    dest_reason,
    care,
    cin,
    landing_rows,
    new,
    arrivals,
    departures,
    key,
):  # pragma: no cover - compiled
    """``m`` extra children moved from the addition's source states (picked in proportion
    to the children there) to its destinations (in proportion to the draw's odds), or ``m``
    of this month's movers along the flow kept where they were; child ``i`` picked by the
    uniform ``2i`` of ``key`` (``2i + 1``: whether an exit lands in an open case)."""
    n_states, n_bands = new.shape
    n_dest = odds.shape[3]
    weights = np.zeros(n_states * n_bands * n_dest)
    for one in range(m):
        for s in range(n_states):
            for b in range(n_bands):
                for d in range(n_dest):
                    i = (s * n_bands + b) * n_dest + d
                    weights[i] = 0.0
                    if not (add_sources[a, s] and add_targets[a, d]):
                        continue
                    if positive:
                        weights[i] = new[s, b] * odds[n, s, b, d]
                    elif kind[d] == KIND_MOVE:
                        weights[i] = min(taken[a, b, d], new[dest_state[d], b])
                    else:
                        weights[i] = taken[a, b, d]
        i = pick(weights, uniform(key, 2 * one))
        if i < 0:
            return
        s, rest = i // (n_bands * n_dest), i % (n_bands * n_dest)
        b, d = rest // n_dest, rest % n_dest
        if positive:
            new[s, b] -= 1
            one_child = np.int64(1)  # not the constant 1: one compiled _route, not two
            _route(one_child, s, b, d, n, kind, dest_state, dest_reason, care, cin, landing_rows,
                   n_bands, new, arrivals, departures, uniform(key, 2 * one + 1))  # fmt: skip
            continue
        # Cancel one mover: back where they were, their flow uncounted.
        taken[a, b, d] -= 1
        new[s, b] += 1
        departures[s] -= 1
        if kind[d] == KIND_MOVE:
            target = dest_state[d]
            new[target, b] -= 1
            arrivals[target] -= 1
            if care[target] and not care[s]:
                arrivals[n_states] -= 1
        elif kind[d] == KIND_EXIT or (kind[d] == KIND_AGE and care[s]):
            departures[n_states] -= 1
