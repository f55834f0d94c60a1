"""Simulate individual children through one authority's children's social care system.

The simulation steps through calendar months. Each month, every child known to children's
services (open child-in-need case, child protection plan, or looked after) may have at most
one state-changing event, drawn from the monthly probabilities in the truth file; referrals
and direct entries to care arrive as Poisson counts. Every event gets a day within the
month, so the simulation keeps dated case records like a real case-management system: 903
episodes, CIN episodes with their assessments, section 47 enquiries, plans and closures.
``model.synth.truth`` derives the true stocks and flows from those records.

Days are integers: days since 1970-01-01 (numpy ``datetime64[D]``).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import accumulate

import numpy as np

from model.codes import AGE_BAND_LOWER, AGE_BANDS, CARE_LEAVING_AGE, CARE_STATES, REC_REASON
from model.synth import codes_choice as cc
from model.synth.draws import Draws
from model.synth.truth_config import CARE_DESTINATIONS, Truth

N_BANDS = len(AGE_BANDS)
OUT, CIN, CPP, CARE0 = 0, 1, 2, 3  # state codes; placement group g is CARE0 + g
EXTRA_CARE_EVENTS = ("within_group_move", "legal_status_change", "temporary_placement")
CIN_EVENTS = ("cin_closure", "cin_to_cpp", "cin_to_care", "cin_s47_without_plan")
CPP_EVENTS = ("cpp_end", "cpp_to_care")
CARE_EVENTS = CARE_DESTINATIONS + EXTRA_CARE_EVENTS
YEAR_DAYS = 365.25
ID_SPACE = 9_000_000
ID_STRIDE = 7_368_787  # coprime with ID_SPACE
EPOCH = dt.date(1970, 1, 1)
EPOCH_ORDINAL = EPOCH.toordinal()
TEMPORARY_GROUPS = ("foster_kin", "foster_other", "residential")


def day_of(date: str | dt.date) -> int:
    """Day number (days since 1970-01-01) of a date or ISO date string."""
    if isinstance(date, str):
        date = dt.date.fromisoformat(date)
    return (date - EPOCH).days


def month_index(day: int) -> int:
    """Months since January of year 0 of the month containing ``day``."""
    d = dt.date.fromordinal(day + EPOCH_ORDINAL)
    return d.year * 12 + d.month - 1


def birthdays(dob: int, ages: tuple[int, ...]) -> list[int]:
    """Day numbers of the birthdays at ``ages`` of a child born on day ``dob``
    (29 February birthdays fall on 1 March in other years)."""
    d = dt.date.fromordinal(dob + EPOCH_ORDINAL)
    out = []
    for years in ages:
        try:
            out.append(dt.date(d.year + years, d.month, d.day).toordinal() - EPOCH_ORDINAL)
        except ValueError:
            out.append(dt.date(d.year + years, 3, 1).toordinal() - EPOCH_ORDINAL)
    return out


@dataclass(slots=True)
class Child:
    """Simulation state of one child (the case records live in :class:`Records`)."""

    index: int
    child_id: str
    dob: int
    uasc: bool
    band_days: list[int]
    """Birthdays on which the child enters bands 1.. (1st, 5th, 10th, 16th)."""
    age18: int
    first_seen: int
    """Day of the child's first referral or entry to care."""
    home_post: str = ""
    """Partial postcode of the child's home, drawn when the child first enters care."""
    short_breaks: bool = False
    state: int = OUT
    busy_until: int = -(10**9)
    """No new event may happen on or before this day (one event a month, scheduled ends)."""
    scheduled_close: int | None = None
    last_closure: int | None = None
    n_cpp: int = 0
    cin_id: int | None = None
    cpp_row: int | None = None
    plan_row: int | None = None
    assessment_row: int | None = None
    """Index in Records.assessments of the open CIN episode's assessment."""
    last_s47: tuple[int, int] | None = None
    """(cin_id, start day) of the child's latest section 47 enquiry."""
    episode: list | None = None
    """The current 903 episode row (shared with Records.episodes)."""
    group: int = -1
    period_need: str = "N1"

    def band(self, day: int) -> int:
        """Index into AGE_BANDS of the child's band on ``day``."""
        return bisect_right(self.band_days, day)


@dataclass
class Records:
    """Row lists of every table, in the column order of ``model.synth.records``."""

    episodes: list[list] = field(default_factory=list)
    cin_details: list[list] = field(default_factory=list)
    assessments: list[list | None] = field(default_factory=list)
    section47: list[tuple] = field(default_factory=list)
    cpp: list[list] = field(default_factory=list)
    cin_plans: list[list | None] = field(default_factory=list)


class AuthoritySimulation:
    """Simulates one authority from ``start_day`` to ``end_day`` (inclusive day numbers).

    ``trend_origin_day`` is the day from which the deterministic entry-rate growth applies
    (before it, only the random walk moves); ``id_prefix`` makes child ids distinct between
    authorities; ``lea`` is the 3-digit authority code used inside UPNs.
    """

    def __init__(
        self,
        truth: Truth,
        population_0_17: int,
        start_day: int,
        end_day: int,
        trend_origin_day: int,
        rng: np.random.Generator,
        lea: str,
    ) -> None:
        self.truth = truth
        self.rng = Draws(rng)
        self.start_day = start_day
        self.end_day = end_day
        self.trend_origin_day = trend_origin_day
        # Cases that open and close within days need no records this long before the
        # written years (two years leaves room for re-referrals).
        self.detail_from = trend_origin_day - 730
        self.lea = lea
        shares = np.array([truth.authorities.population_share[b] for b in AGE_BANDS])
        self.population = population_0_17 * shares / shares.sum()
        self.population_0_17 = population_0_17
        self.children: list[Child] = []
        self.active: dict[int, Child] = {}
        self.records = Records()
        self.closures: list[tuple[int, int]] = []
        """(day, child index) of every case closure, in the order they happened."""
        self.closures_from = 0
        """Index into ``closures`` of the first closure within the last 365 days."""
        self.id_offset = int(rng.integers(ID_SPACE))
        self.log_trend = 0.0
        self.month_now = month_index(start_day)
        self.due: dict[int, list[Child]] = {}
        """Month index -> children with a fixed-date event then (18th birthday or a closure
        scheduled at referral), so the monthly loop need not check every child for them."""
        self.short_break_children: list[Child] = []
        self.monthly: list[tuple[int, float, float]] = []
        self._build_probability_tables()

    # ------------------------------------------------------------------ set-up
    def _by_band(self, mapping: dict[str, float]) -> np.ndarray:
        return np.array([mapping[b] for b in AGE_BANDS], dtype=float)

    def _build_probability_tables(self) -> None:
        """Monthly event probabilities: p_cin[band, event], p_cpp[band, event] and
        p_care[group, band, event], with events in CIN_EVENTS, CPP_EVENTS, CARE_EVENTS."""
        up = self.truth.upstream
        self.p_cin = np.stack([self._by_band(getattr(up, e)) for e in CIN_EVENTS], axis=1)
        self.p_cpp = np.stack([self._by_band(getattr(up, e)) for e in CPP_EVENTS], axis=1)
        care = self.truth.care
        p = np.zeros((len(CARE_STATES), N_BANDS, len(CARE_EVENTS)))
        for g, group in enumerate(CARE_STATES):
            for k, dest in enumerate(CARE_DESTINATIONS):
                base = care.transitions.get(group, {}).get(dest, 0.0)
                mult = care.age_multipliers.get(dest)
                p[g, :, k] = base * (self._by_band(mult) if mult else 1.0)
            extra = len(CARE_DESTINATIONS)
            p[g, :, extra] = care.within_group_move
            p[g, :, extra + 1] = care.legal_status_change
            p[g, :, extra + 2] = care.temporary_placement if group in TEMPORARY_GROUPS else 0.0
        for name, table in (("cin", self.p_cin), ("cpp", self.p_cpp), ("care", p)):
            if np.any(table.sum(axis=-1) > 1):
                raise ValueError(f"{name}: monthly event probabilities sum to more than 1")
        self.p_care = p
        self.exit_columns = np.array([e.startswith("exit_") for e in CARE_EVENTS])
        first = np.array(
            [[care.first_placement[b].get(g, 0.0) for g in CARE_STATES] for b in AGE_BANDS]
        )
        self.first_placement = [tuple(row) for row in first.tolist()]

    def _monthly_tables(self, entry_mult: float, exit_mult: float) -> dict[int, list]:
        """Cumulative probabilities per state and band for this month's feedback."""

        def cumulative(p: np.ndarray) -> list[list[float]]:
            return [list(accumulate(row)) for row in p.tolist()]

        tables: dict[int, list] = {
            CIN: cumulative(self.p_cin * np.array([1.0, 1.0, entry_mult, 1.0])),
            CPP: cumulative(self.p_cpp * np.array([1.0, entry_mult])),
        }
        care = self.p_care * np.where(self.exit_columns, exit_mult, 1.0)
        for g in range(len(CARE_STATES)):
            tables[CARE0 + g] = cumulative(care[g])
        return tables

    # ------------------------------------------------------------------ children
    def _new_child(self, day: int, band: int, uasc: bool = False) -> Child:
        lower = AGE_BAND_LOWER[band] * YEAR_DAYS
        upper = (AGE_BAND_LOWER[band + 1] if band + 1 < N_BANDS else CARE_LEAVING_AGE) * YEAR_DAYS
        dob = day - int(self.rng.uniform(lower + 1, upper - 20))
        index = len(self.children)
        days = birthdays(dob, (*AGE_BAND_LOWER[1:], CARE_LEAVING_AGE))
        child = Child(
            index=index,
            # A bijection of the index onto 7-digit numbers: unique, but not sequential.
            child_id=str(1_000_000 + (index * ID_STRIDE + self.id_offset) % ID_SPACE),
            dob=dob,
            uasc=uasc,
            band_days=days[:-1],
            age18=days[-1],
            first_seen=day,
        )
        self.children.append(child)
        self._due_on(child, child.age18)
        return child

    def _due_on(self, child: Child, day: int) -> None:
        """Handle ``child`` in the month of ``day``; a day in a month already stepped through
        is handled next month (events are processed before arrivals in a month)."""
        self.due.setdefault(max(month_index(day), self.month_now + 1), []).append(child)

    # ------------------------------------------------------------------ CIN episodes
    def _open_cin(self, child: Child, day: int, source: str, kind: str) -> None:
        """Open a CIN episode (a referral) of ``kind`` "nfa", "short" or "ongoing"."""
        ref = self.truth.referrals
        cin_id = len(self.records.cin_details) + 1
        child.cin_id = cin_id
        need = "N2" if child.short_breaks else cc.primary_need(self.rng, child.uasc)
        self.records.cin_details.append(
            [cin_id, child.child_id, day, source, need, None, "", kind == "nfa"]
        )
        self.active[child.index] = child
        if child.state == OUT:
            child.state = CIN
        child.busy_until = max(child.busy_until, day)
        if kind == "nfa":
            self._close_cin(child, day, "RC8")
            return
        a, b = ref.assessment_start_days
        start = day + self.rng.integers(a, b + 1)
        a, b = ref.assessment_length_days
        authorised = min(start + self.rng.integers(a, b + 1), child.age18 - 1)
        start = min(start, authorised - 1)
        child.assessment_row = len(self.records.assessments)
        factors = cc.assessment_factors(self.rng, authorised)
        self.records.assessments.append([cin_id, start, authorised, factors])
        if kind == "short":
            child.scheduled_close = authorised
            self._due_on(child, authorised)
            child.busy_until = authorised
        elif child.state == CIN and not child.short_breaks:
            self._start_plan(child, authorised)

    def _close_cin(self, child: Child, day: int, reason: str) -> None:
        self._end_plan(child, day)
        self._finish_assessment(child, day)
        row = self.records.cin_details[child.cin_id - 1]  # type: ignore[operator]
        row[5], row[6] = day, reason
        child.cin_id = None
        child.scheduled_close = None
        child.last_closure = day
        child.state = OUT
        child.busy_until = max(child.busy_until, day)
        self.closures.append((day, child.index))

    def _finish_assessment(self, child: Child, day: int) -> None:
        """A case closing on ``day`` completes its assessment by then (census rules 8565,
        8867); one that could not have started yet is dropped."""
        index, child.assessment_row = child.assessment_row, None
        row = None if index is None else self.records.assessments[index]
        if row is None or row[2] <= day:
            return
        referral = int(self.records.cin_details[row[0] - 1][2])
        if day - 1 < referral:
            self.records.assessments[index] = None
            return
        row[2] = day
        row[1] = max(referral, min(row[1], day - 1))

    def _start_plan(self, child: Child, day: int) -> None:
        child.plan_row = len(self.records.cin_plans)
        self.records.cin_plans.append([child.cin_id, day, None])

    def _end_plan(self, child: Child, day: int) -> None:
        """End the open CIN plan on ``day``; a plan that had not started yet never was."""
        if child.plan_row is None:
            return
        row = self.records.cin_plans[child.plan_row]
        assert row is not None
        if day > row[1]:
            row[2] = day
        else:
            self.records.cin_plans[child.plan_row] = None
        child.plan_row = None

    def _start_cpp(self, child: Child, day: int) -> None:
        """A plan starts at the initial conference, held on a weekday (census rule 8875):
        a draw on a weekend moves to the Friday before, or else the Monday after."""
        weekday = (day + 3) % 7  # 0 = Monday; 1970-01-01 was a Thursday
        if weekday >= 5:
            friday, monday = day - (weekday - 4), day + (7 - weekday)
            if friday > child.busy_until:
                day = friday
            elif monday < child.age18 and month_index(monday) == self.month_now:
                day = monday
            else:
                return
        self._end_plan(child, day)
        cin_id = child.cin_id
        referral = int(self.records.cin_details[cin_id - 1][2])  # type: ignore[operator]
        s47 = max(referral, day - self.rng.integers(5, 21))
        if child.last_s47 == (cin_id, s47):
            # Two enquiries of one case never start on the same day (a census would take
            # the second for a copy of the first).
            s47 = s47 + 1 if s47 < day else s47 - 1
        self.records.section47.append((cin_id, s47, s47 + 15, day, False))
        child.last_s47 = (cin_id, s47)
        category = cc.abuse_category(self.rng)
        child.cpp_row = len(self.records.cpp)
        self.records.cpp.append([cin_id, day, None, category, category, child.n_cpp, ()])
        child.n_cpp += 1
        child.state = CPP

    def _end_cpp(self, child: Child, day: int) -> None:
        row = self.records.cpp[child.cpp_row]  # type: ignore[index]
        row[2] = day
        # Reviews: first within three months, then every six months.
        row[6] = tuple(range(int(row[1]) + 90, day, 182))
        if self.rng.random() < 0.3:
            row[4] = cc.abuse_category(self.rng)
        child.cpp_row = None
        child.state = CIN

    # ------------------------------------------------------------------ 903 episodes
    def _placement(self, child: Child, group: int, day: int, ls: str) -> dict[str, str]:
        place = cc.place_code(self.rng, CARE_STATES[group], day, ls, child.uasc)
        return {
            "place": place,
            "place_provider": cc.provider(self.rng, place),
            "pl_post": child.home_post if place == "P1" else cc.postcode(self.rng),
            "urn": cc.urn(self.rng, place),
        }

    def _new_episode(self, child: Child, day: int, rne: str, **values: str) -> None:
        """Start an episode on ``day``; fields not given continue from the current one."""
        prev = child.episode
        row = [
            child.child_id,
            day,
            rne,
            values.get("ls", prev[3] if prev else ""),
            child.period_need,
            values.get("place", prev[5] if prev else ""),
            values.get("place_provider", prev[6] if prev else ""),
            None,
            "",
            values.get("reason_place_change", ""),
            values.get("home_post", child.home_post),
            values.get("pl_post", prev[11] if prev else ""),
            values.get("urn", prev[12] if prev else ""),
        ]
        child.episode = row
        self.records.episodes.append(row)

    def _end_episode(self, child: Child, day: int, rec: str) -> None:
        child.episode[7] = day  # type: ignore[index]
        child.episode[8] = rec  # type: ignore[index]

    # ------------------------------------------------------------------ care events
    def _enter_care(self, child: Child, day: int, band: int) -> None:
        route = {OUT: "outside", CIN: "cin", CPP: "cpp"}[child.state]
        if child.cin_id is None:
            source = cc.direct_referral_source(self.rng, child.uasc, day)
            self._open_cin(child, day, source, "ongoing")
        if child.state == CPP:
            self._end_cpp(child, day)
        self._end_plan(child, day)
        ls = cc.entry_legal_status(self.rng, route, band, child.uasc)
        group = self.rng.pick(tuple(range(len(CARE_STATES))), self.first_placement[band])
        group = self._available_group(group, day, band)
        child.period_need = cc.category_of_need(self.rng, route, child.uasc)
        child.home_post = child.home_post or cc.postcode(self.rng)
        child.episode = None
        self._new_episode(child, day, "S", ls=ls, **self._placement(child, group, day, ls))
        child.group = group
        child.state = CARE0 + group

    def _move(self, child: Child, day: int, group: int) -> None:
        ls = str(child.episode[3])  # type: ignore[index]
        new_ls = "E1" if CARE_STATES[group] == "adoption" and ls not in ("E1", "V2") else ls
        values = self._placement(child, group, day, new_ls)
        # RNE: P new carer, B new carer and legal status; placed for adoption with the
        # current foster carer (A3, A5) keeps the carer: T, or U with a new legal status.
        same_carer = values["place"] in ("A3", "A5")
        rne = ("U" if same_carer else "B") if new_ls != ls else ("T" if same_carer else "P")
        # The reason for a placement change goes on the episode that ends (rules 225, 226).
        child.episode[9] = cc.placement_change_reason(self.rng, day)  # type: ignore[index]
        self._end_episode(child, day, "X1")
        self._new_episode(child, day, rne, ls=new_ls, **values)
        child.group = group
        child.state = CARE0 + group

    def _legal_status_change(self, child: Child, day: int, band: int) -> bool:
        ep = child.episode
        new_ls = cc.next_legal_status(self.rng, str(ep[3]), band, str(ep[5]))  # type: ignore[index]
        if new_ls is None:
            return False
        self._end_episode(child, day, "X1")
        self._new_episode(child, day, "L", ls=new_ls)
        return True

    def _temporary_placement(self, child: Child, day: int) -> bool:
        usual = child.episode
        place, length = cc.temporary_place(self.rng, str(usual[5]))  # type: ignore[index]
        back = day + length
        if back >= child.age18 - 1 or back > self.end_day:
            return False
        self._end_episode(child, day, "X1")
        temp = {"place": place, "place_provider": cc.provider(self.rng, place), "urn": "XXXXXXX"}
        self._new_episode(child, day, "P", pl_post=cc.postcode(self.rng), **temp)
        self._end_episode(child, back, "X1")
        fields = ("place", "place_provider", "pl_post", "urn")
        self._new_episode(
            child, back, "P", **dict(zip(fields, usual[5:7] + usual[11:13], strict=True))
        )  # type: ignore[index]
        child.busy_until = back
        return True

    def _exit_care(self, child: Child, day: int, rec: str) -> None:
        self._end_episode(child, day, rec)
        child.episode = None
        child.group = -1
        reason = REC_REASON[rec]
        at_18 = day == child.age18
        keep_open = self.truth.upstream.care_exit_keeps_case_open.get(reason, 0.0)
        if not at_18 and self.rng.random() < keep_open:
            child.state = CIN
            child.busy_until = day
            self._start_plan(child, day)
        else:
            self._close_cin(child, day, cc.closure_reason_for_exit(rec))

    def _retire_codes(self, day: int) -> None:
        """Placements under codes retired on 1 April 2025 end on 31 March 2025 (``day``), so
        every return holds only codes valid for its year: H5/P2 continue as K3 (same carer,
        "change in status of placement only"); no "other" code is valid in both 2024-25
        (Z1) and 2025-26 (Z11-Z14), so children in Z1 placements move on."""
        for child in self.active.values():
            ep = child.episode
            if ep is None or child.state < CARE0 or ep[5] not in ("H5", "P2", "Z1"):
                continue
            if ep[5] == "Z1":
                self._move(child, day, self._available_group(child.group, day, child.band(day)))
            else:
                ep[9] = "PLACE"  # change in status of placement only, on the ending episode
                self._end_episode(child, day, "X1")
                self._new_episode(child, day, "T", place="K3", urn=cc.urn(self.rng, "K3"))
            child.busy_until = day

    @staticmethod
    def _available_group(group: int, day: int, band: int) -> int:
        """``group``, except in March 2025 when no new Z1 placement may start (see
        _retire_codes): residential from age 10, foster care below."""
        if CARE_STATES[group] == "other" and cc.APRIL_2025 - 31 <= day < cc.APRIL_2025:
            return CARE_STATES.index("residential" if band >= 3 else "foster_other")
        return group

    # ------------------------------------------------------------------ monthly step
    def run(self) -> Records:
        """Simulate every month from start_day to end_day and return the records."""
        year, month = (EPOCH + dt.timedelta(days=self.start_day)).timetuple()[:2]
        while True:
            first = day_of(dt.date(year, month, 1))
            if first > self.end_day:
                break
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            last = day_of(dt.date(year, month, 1)) - 1
            self._step(first, last)
        return self.records

    def _step(self, first: int, last: int) -> None:
        trend = self.truth.trend
        # The warm-up runs at the rates of the first written year; the trend starts there.
        if first >= self.trend_origin_day:
            self.log_trend += trend.log_growth_per_year / 12
            self.log_trend += trend.random_walk_sd_per_month * float(self.rng.rng.standard_normal())
        fb = self.truth.feedback
        pressure = 0.0
        if fb.entry_log_rate_per_pressure or fb.exit_log_rate_per_pressure:
            in_care = sum(1 for c in self.active.values() if c.state >= CARE0)
            pressure = in_care / (fb.capacity_per_10k * self.population_0_17 / 10_000) - 1.0
        entry_mult = float(np.exp(fb.entry_log_rate_per_pressure * pressure))
        exit_mult = float(np.exp(fb.exit_log_rate_per_pressure * pressure))
        self.monthly.append((first, self.log_trend, pressure))
        if first == cc.APRIL_2025 - 31:
            self._retire_codes(cc.APRIL_2025 - 1)
        self.month_now = month_index(first)
        self._fixed_date_events(last)
        self._existing_children(first, last, self._monthly_tables(entry_mult, exit_mult))
        self._arrivals(first, last, float(np.exp(self.log_trend)) * entry_mult)
        self.active = {i: c for i, c in self.active.items() if c.state != OUT}

    def _event_day(self, child: Child, first: int, last: int) -> int | None:
        lo = max(first, child.busy_until + 1)
        hi = min(last, child.age18 - 1)
        return None if lo > hi else self.rng.integers(lo, hi + 1)

    def _fixed_date_events(self, last: int) -> None:
        """18th birthdays and scheduled closures falling in this month (or missed last month
        because the child arrived after the month's events)."""
        for child in self.due.pop(self.month_now, []):
            if child.state == OUT:
                continue
            if child.age18 <= last:
                self._turn_18(child)
            elif child.scheduled_close is not None and child.scheduled_close <= last:
                reason = cc.after_assessment_closure(self.rng, child.scheduled_close)
                self._close_cin(child, child.scheduled_close, reason)

    def _existing_children(self, first: int, last: int, tables: dict[int, list]) -> None:
        """At most one event this month for each child known to services."""
        children = list(self.active.values())
        draws = self.rng.rng.random(len(children)).tolist()
        # No hazard sums to more than u_max: most children are passed over at once.
        u_max = max(row[-1] for table in tables.values() for row in table)
        for child, u in zip(children, draws, strict=True):
            if u >= u_max or child.short_breaks:
                continue
            if (
                child.state == OUT
                or child.scheduled_close is not None
                or child.busy_until >= last
                or child.age18 <= last
            ):
                continue
            cumulative = tables[child.state][child.band(max(first, child.busy_until + 1))]
            if u >= cumulative[-1]:
                continue
            day = self._event_day(child, first, last)
            if day is None:
                continue
            if child.state == CIN:
                events = CIN_EVENTS
            elif child.state == CPP:
                events = CPP_EVENTS
            else:
                events = CARE_EVENTS
            self._apply(child, events[bisect_right(cumulative, u)], day)
        short_breaks = [c for c in self.short_break_children if c.state != OUT]
        self.short_break_children = short_breaks
        for child, u in zip(
            short_breaks, self.rng.rng.random(len(short_breaks)).tolist(), strict=True
        ):
            if child.age18 > last:
                self._short_break_month(child, first, last, u)

    def _apply(self, child: Child, event: str, day: int) -> None:
        band = child.band(day - 1)
        happened = True
        if event == "cin_closure":
            self._close_cin(child, day, cc.ongoing_closure_reason(self.rng))
        elif event == "cin_to_cpp":
            self._start_cpp(child, day)
        elif event in ("cin_to_care", "cpp_to_care"):
            self._enter_care(child, day, band)
        elif event == "cin_s47_without_plan":
            self.records.section47.append((child.cin_id, day, None, None, True))
            child.last_s47 = (child.cin_id, day)
        elif event == "cpp_end":
            self._end_cpp(child, day)
            self._start_plan(child, day)
        elif event.startswith("exit_"):
            group = CARE_STATES[child.group]
            ls = str(child.episode[3])  # type: ignore[index]
            rec = cc.exit_code(self.rng, event.removeprefix("exit_"), group, day, ls, child.uasc)
            self._exit_care(child, day, rec)
        elif event in CARE_STATES:
            group = self._available_group(CARE_STATES.index(event), day, band)
            if group != child.group:
                self._move(child, day, group)
        elif event == "within_group_move":
            self._move(child, day, child.group)
        elif event == "legal_status_change":
            happened = self._legal_status_change(child, day, band)
        else:
            happened = self._temporary_placement(child, day)
        if happened:
            child.busy_until = max(child.busy_until, day)

    def _turn_18(self, child: Child) -> None:
        """Everyone leaves care, and every case closes, on the 18th birthday."""
        day = child.age18
        if child.state >= CARE0:
            self._exit_care(child, day, cc.exit_code_at_18(self.rng, CARE_STATES[child.group]))
            return
        if child.state == CPP:
            self._end_cpp(child, day)
        self._close_cin(child, day, cc.closure_reason_at_18(self.rng))

    def _short_break_month(self, child: Child, first: int, last: int, u: float) -> None:
        """A disabled child on a series of short breaks: a V3 episode of 1-3 nights in most
        months, each a period of care of its own, excluded from every stock as DfE does."""
        if u < 1 / 60:
            day = self._event_day(child, first, last)
            if day is not None:
                self._close_cin(child, day, "RC7")
            return
        start = max(first, child.busy_until + 1)
        nights = self.rng.integers(1, 4)
        if u > 0.7 or start + nights > min(last, child.age18 - 1):
            return
        child.episode = None
        self._new_episode(
            child,
            start,
            "S",
            ls="V3",
            place=cc.short_break_place(self.rng),
            place_provider="PR1",
            home_post="",
            pl_post="",
            urn="XXXXXXX",
        )
        self._end_episode(child, start + nights, "E4A")
        child.episode = None
        child.busy_until = start + nights

    def _arrivals(self, first: int, last: int, mult: float) -> None:
        """Referrals, direct entries to care, UASC arrivals and short-break children."""
        pop10k = self.population / 10_000
        ref = self.truth.referrals
        care = self.truth.care
        n_days = last - first + 1
        while self.closures_from < len(self.closures) and (
            self.closures[self.closures_from][0] <= first - 365
        ):
            self.closures_from += 1
        rates = self._by_band(ref.rate_per_10k) * pop10k * mult
        for band in range(N_BANDS):
            for _ in range(self.rng.poisson(rates[band])):
                day = first + self.rng.integers(0, n_days)
                u = self.rng.random()
                if u < ref.nfa_share:
                    kind = "nfa"
                elif u < ref.nfa_share + ref.closed_after_assessment_share:
                    kind = "short"
                else:
                    kind = "ongoing"
                if kind != "ongoing" and day < self.detail_from:
                    continue  # closes long before the written years: no trace in any file
                child = None
                if self.rng.random() < ref.rereferral_share:
                    child = self._recently_closed(band, day, last)
                if child is None:
                    child = self._new_child(day, band)
                self._open_cin(child, day, cc.referral_source(self.rng, day), kind)
        direct = self._by_band(care.direct_entry_per_10k) * pop10k * mult
        for band in range(N_BANDS):
            for _ in range(self.rng.poisson(direct[band])):
                self._arrive_in_care(first, n_days, band, uasc=False)
        uasc_rate = care.uasc_entry_per_10k * self.population_0_17 / 10_000 * mult
        for _ in range(self.rng.poisson(uasc_rate)):
            self._arrive_in_care(first, n_days, 4 if self.rng.random() < 0.8 else 3, uasc=True)
        # Short-break children stay about five years: arrivals keep their number near target.
        target = care.short_break_children_per_10k * self.population_0_17 / 10_000
        for _ in range(self.rng.poisson(target / 60)):
            day = first + self.rng.integers(0, n_days)
            child = self._new_child(day, self.rng.integers(1, 4))
            child.short_breaks = True
            self.short_break_children.append(child)
            self._open_cin(child, day, "5A", "ongoing")

    def _recently_closed(self, band: int, day: int, last: int, tries: int = 20) -> Child | None:
        """A child of ``band`` whose case closed in the last year, for a re-referral
        (uniform among those eligible, by rejection), or None when none was found."""
        low, high = self.closures_from, len(self.closures)
        if low >= high:
            return None
        for _ in range(tries):
            child = self.children[self.closures[self.rng.integers(low, high)][1]]
            if (
                child.state == OUT
                and not child.short_breaks
                and child.band(day) == band
                and child.busy_until < day
                and child.age18 > last + 31
            ):
                return child
        return None

    def _arrive_in_care(self, first: int, n_days: int, band: int, uasc: bool) -> None:
        day = first + self.rng.integers(0, n_days)
        child = self._new_child(day, band, uasc=uasc)
        self._enter_care(child, day, child.band(day - 1))
        child.busy_until = day
