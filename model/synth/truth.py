"""The true monthly stocks and flows of a simulated authority.

Derived from the simulation's full case records (not from the written files), with the
counting conventions of ``model.observations``: each child's state on each day is the most
intensive of the intervals covering it (looked after > plan > open case), looked-after
placement groups come from the 903 episodes with temporary placements continuing the
placement around them and short breaks (V3/V4) excluded. A perfect ingest and observe step
must reproduce this table exactly from the files.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import numpy as np
import pandas as pd

from model import counting
from model.codes import (
    CARE_STATES,
    OUTSIDE,
    PLACE_GROUP,
    REC_REASON,
    SHORT_BREAK_LS,
)
from model.counting import OPEN_END
from model.synth.records import SimulatedAuthority
from model.synth.simulate import day_of

STATES = (OUTSIDE, "cin", "cpp", *CARE_STATES)
STATE_INDEX = {s: i for i, s in enumerate(STATES)}
PRIORITY_CIN, PRIORITY_CPP, PRIORITY_CARE = 1, 2, 3

Interval = tuple[int, int, int, str, str]  # start, end (exclusive), priority, state, reason


def _days(series: pd.Series) -> list[int]:
    """datetime64 column to day numbers (OPEN_END for NaT)."""
    return counting.days_of(series).tolist()


def _intervals(auth: SimulatedAuthority) -> dict[str, list[Interval]]:
    """Per child, the intervals of open cases, plans and care placements."""
    by_child: dict[str, list[Interval]] = {}
    cin = auth.cin_details
    for child, start, end, reason in zip(
        cin.child_id.tolist(),
        _days(cin.referral_date),
        _days(cin.closure_date),
        cin.closure_reason.tolist(),
        strict=True,
    ):
        by_child.setdefault(child, []).append((start, end, PRIORITY_CIN, "cin", reason))
    cpp = auth.cpp.merge(cin[["cin_id", "child_id"]], on="cin_id")
    for child, start, end in zip(
        cpp.child_id.tolist(), _days(cpp.start_date), _days(cpp.end_date), strict=True
    ):
        by_child.setdefault(child, []).append((start, end, PRIORITY_CPP, "cpp", ""))
    ep = auth.episodes[~auth.episodes.ls.isin(SHORT_BREAK_LS)].sort_values(["child_id", "decom"])
    # Temporary placements continue the placement around them: the one before, or (when
    # that one ended before the records begin) the one they return to.
    group = ep.place.map(PLACE_GROUP).groupby(ep.child_id).ffill()
    group = group.groupby(ep.child_id).bfill()
    for child, start, end, grp, rec in zip(
        ep.child_id.tolist(),
        _days(ep.decom),
        _days(ep.dec),
        group.tolist(),
        ep.rec.tolist(),
        strict=True,
    ):
        by_child.setdefault(child, []).append(
            (start, end, PRIORITY_CARE, grp, REC_REASON.get(rec, ""))
        )
    return by_child


def _reason_ending(intervals: list[Interval], day: int, priority: int) -> str:
    """The reason of the interval of that kind (care episode or CIN case) ending on ``day``."""
    return next((iv[4] for iv in intervals if iv[1] == day and iv[2] == priority), "")


def _segments(intervals: list[Interval]) -> list[tuple[int, str, str]]:
    """The child's state from each change point on, as (day, state, reason the previous
    state ended); the child is outside before the first."""
    points = sorted({d for s, e, *_ in intervals for d in (s, e) if d < OPEN_END})
    out: list[tuple[int, str, str]] = []
    previous = OUTSIDE
    for day in points:
        covering = [iv for iv in intervals if iv[0] <= day < iv[1]]
        state = max(covering, key=lambda iv: iv[2])[3] if covering else OUTSIDE
        if state == previous:
            continue
        reason = ""
        if previous in CARE_STATES and state not in CARE_STATES:
            reason = _reason_ending(intervals, day, PRIORITY_CARE)
        elif previous != OUTSIDE and state == OUTSIDE:
            reason = _reason_ending(intervals, day, PRIORITY_CIN)
        out.append((day, state, reason))
        previous = state
    return out


def true_observations(auth: SimulatedAuthority) -> pd.DataFrame:
    """Monthly true stocks and flows from 31 March ``first_year - 1`` (opening stock) to
    31 March ``last_year``, in the ``model.observations`` layout."""
    window = (day_of(f"{auth.first_year - 1}-04-01"), day_of(f"{auth.last_year}-03-31"))
    ends = counting.month_ends(auth.first_year, auth.last_year)
    ids = auth.children.child_id.tolist()
    all_birthdays = counting.birthdays(counting.days_of(auth.children.dob))
    band_days = dict(zip(ids, all_birthdays[:, :4].tolist(), strict=True))
    age18 = dict(zip(ids, all_birthdays[:, 4].tolist(), strict=True))

    def band(child: str, day: int) -> int:
        return bisect_right(band_days[child], day)

    flows: list[tuple[int, str, str, int, str, str]] = []  # day, measure, state, band, to, why
    segments: list[tuple[str, str, int, int]] = []  # child, state, start, end
    for child, intervals in _intervals(auth).items():
        changes = _segments(intervals)
        previous = OUTSIDE
        for i, (day, state, reason) in enumerate(changes):
            if window[0] <= day <= window[1]:
                flows.append((day, "transition", previous, band(child, day - 1), state, reason))
                if previous in CARE_STATES and day == age18[child]:
                    flows.append((day, "left_at_18", previous, band(child, day - 1), "", reason))
            if state != OUTSIDE:
                end = changes[i + 1][0] if i + 1 < len(changes) else OPEN_END
                segments.append((child, state, day, end))
            previous = state
    flows.extend(_events(auth, band, window))
    flow = pd.DataFrame(flows, columns=["day", "measure", "state", "band", "to_state", "reason"])
    seg = pd.DataFrame(segments, columns=["child", "state", "start", "end"])
    return counting.summarise(
        [
            counting.flow_rows(
                flow["day"].to_numpy(), flow["measure"].to_numpy(), flow["state"].to_numpy(),
                flow["band"].to_numpy(), flow["to_state"].to_numpy(), flow["reason"].to_numpy(),
                ends,
            ),
            counting.stocks_and_ageing(
                seg["state"].to_numpy(), seg["start"].to_numpy(), seg["end"].to_numpy(),
                np.array([band_days[c] for c in seg["child"]], dtype="int64").reshape(-1, 4),
                ends, window,
            ),
        ]
    )  # fmt: skip


def _events(
    auth: SimulatedAuthority, band: Callable[[str, int], int], window: tuple[int, int]
) -> list[tuple]:
    """Referrals, re-referrals, case closures (by reason), completed assessments, s47
    enquiries, conferences, and plan starts and ends."""
    cin = auth.cin_details.sort_values(["child_id", "referral_date"])
    out: list[tuple] = []
    last_referral: dict[str, int] = {}
    for child, day in zip(cin.child_id.tolist(), _days(cin.referral_date), strict=True):
        if window[0] <= day <= window[1]:
            out.append((day, "referral", "", band(child, day - 1), "", ""))
            if child in last_referral and day - last_referral[child] <= 365:
                out.append((day, "rereferral", "", band(child, day - 1), "", ""))
        last_referral[child] = day
    for child, day, reason in zip(
        cin.child_id.tolist(), _days(cin.closure_date), cin.closure_reason.tolist(), strict=True
    ):
        if window[0] <= day <= window[1]:
            out.append((day, "cin_closure", "", band(child, day - 1), "", reason))
    child_of = dict(
        zip(auth.cin_details.cin_id.tolist(), auth.cin_details.child_id.tolist(), strict=True)
    )
    for measure, frame, column in (
        ("assessment", auth.assessments, "authorisation_date"),
        ("s47", auth.section47, "start_date"),
        ("icpc", auth.section47, "icpc_date"),
        ("cpp_start", auth.cpp, "start_date"),
        ("cpp_end", auth.cpp, "end_date"),
    ):
        for cin_id, day in zip(frame.cin_id.tolist(), _days(frame[column]), strict=True):
            if window[0] <= day <= window[1]:
                out.append((day, measure, "", band(child_of[cin_id], day - 1), "", ""))
    return out
