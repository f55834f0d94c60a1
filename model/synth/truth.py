"""The true monthly stocks and flows of a simulated authority.

Derived from the simulation's full case records (not from the written files), with the
counting conventions of ``model.observations``: each child's state on each day is the most
intensive of the intervals covering it (looked after > plan > open case), looked-after
placement groups come from the 903 episodes with temporary placements continuing the
placement around them and short breaks (V3/V4) excluded. A perfect ingest and observe step
must reproduce this table exactly from the files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.codes import (
    AGE_BAND_LOWER,
    AGE_BANDS,
    CARE_STATES,
    OUTSIDE,
    PLACE_GROUP,
    REC_REASON,
    SHORT_BREAK_LS,
    TEMPORARY_PLACES,
)
from model.observations import OBSERVATION_COLUMNS
from model.synth.records import SimulatedAuthority
from model.synth.simulate import birthdays, day_of

STATES = (OUTSIDE, "cin", "cpp", *CARE_STATES)
PRIORITY_CIN, PRIORITY_CPP, PRIORITY_CARE = 1, 2, 3
OPEN_END = 10**7  # day number far beyond any simulated date, for intervals still open


def _days(series: pd.Series) -> np.ndarray:
    """datetime64 column to day numbers (OPEN_END for NaT)."""
    values = series.to_numpy(dtype="datetime64[D]")
    out = values.astype("int64")
    out[np.isnat(values)] = OPEN_END
    return out


def _intervals(auth: SimulatedAuthority) -> dict[str, list[tuple[int, int, int, str, str]]]:
    """Per child, (start, end, priority, state, reason at end) intervals of each kind."""
    by_child: dict[str, list[tuple[int, int, int, str, str]]] = {}
    cin = auth.cin_details
    for child, start, end, reason in zip(
        cin.child_id, _days(cin.referral_date), _days(cin.closure_date), cin.closure_reason,
        strict=True,
    ):
        by_child.setdefault(child, []).append((start, end, PRIORITY_CIN, "cin", reason))
    cpp = auth.cpp.merge(cin[["cin_id", "child_id"]], on="cin_id")
    for child, start, end in zip(cpp.child_id, _days(cpp.start_date), _days(cpp.end_date),
                                 strict=True):  # fmt: skip
        by_child.setdefault(child, []).append((start, end, PRIORITY_CPP, "cpp", ""))
    ep = auth.episodes[~auth.episodes.ls.isin(SHORT_BREAK_LS)].sort_values(["child_id", "decom"])
    group = None
    for child, start, end, place, rec in zip(
        ep.child_id, _days(ep.decom), _days(ep.dec), ep.place, ep.rec, strict=True
    ):
        # Temporary placements continue the placement around them.
        if place not in TEMPORARY_PLACES:
            group = PLACE_GROUP[place]
        reason = REC_REASON.get(rec, "")
        by_child.setdefault(child, []).append((start, end, PRIORITY_CARE, str(group), reason))
    return by_child


def _segments(intervals: list[tuple[int, int, int, str, str]]) -> list[tuple[int, str, str]]:
    """The child's state from each change point on: (day, state, reason the previous
    state ended). Outside before the first interval."""
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


def _reason_ending(intervals: list[tuple[int, int, int, str, str]], day: int, kind: int) -> str:
    """The reason of the interval of ``kind`` (care episode or CIN case) ending on ``day``."""
    return next((iv[4] for iv in intervals if iv[1] == day and iv[2] == kind), "")


def true_observations(auth: SimulatedAuthority) -> pd.DataFrame:
    """Monthly true stocks and flows from 31 March ``first_year - 1`` (opening stock) to
    31 March ``last_year``, in the ``model.observations`` layout."""
    window_start = day_of(f"{auth.first_year - 1}-04-01")
    window_end = day_of(f"{auth.last_year}-03-31")
    month_ends = (
        pd.date_range(f"{auth.first_year - 1}-03-31", f"{auth.last_year}-03-31", freq="ME")
        .to_numpy(dtype="datetime64[D]").astype("int64")
    )  # fmt: skip
    dob = dict(zip(auth.children.child_id, _days(auth.children.dob).tolist(), strict=True))
    band_days = {c: birthdays(d, AGE_BAND_LOWER[1:]) for c, d in dob.items()}
    rows: list[tuple[int, str, str, int, str, str]] = []  # day, measure, state, band, to, reason

    def band(child: str, day: int) -> int:
        return int(np.searchsorted(band_days[child], day, side="right"))

    stock_rows: list[tuple[int, str, int]] = []
    for child, intervals in _intervals(auth).items():
        segments = _segments(intervals)
        previous = OUTSIDE
        for i, (day, state, reason) in enumerate(segments):
            if window_start <= day <= window_end:
                rows.append((day, "transition", previous, band(child, day - 1), state, reason))
                if previous in CARE_STATES and day == _birthday18(dob[child]):
                    rows.append((day, "left_at_18", previous, band(child, day - 1), "", ""))
            end = segments[i + 1][0] if i + 1 < len(segments) else OPEN_END
            if state != OUTSIDE:
                for b in band_days[child]:
                    if day <= b < end and window_start <= b <= window_end:
                        rows.append((b, "ageing", state, band(child, b - 1), "", ""))
                lo, hi = np.searchsorted(month_ends, [day, end], side="left")
                stock_rows.extend((int(me), state, band(child, int(me))) for me in month_ends[lo:hi])
            previous = state
    rows.extend(_events(auth, band, window_start, window_end))
    flows = pd.DataFrame(rows, columns=["day", "measure", "state", "band", "to_state", "reason"])
    flows["period"] = month_ends[np.searchsorted(month_ends, flows["day"].to_numpy(), side="left")]
    stocks = pd.DataFrame(stock_rows, columns=["period", "state", "band"])
    stocks["measure"], stocks["to_state"], stocks["reason"] = "stock", "", ""
    table = pd.concat([flows.drop(columns="day"), stocks], ignore_index=True)
    table["age_band"] = np.asarray(AGE_BANDS)[table.pop("band").to_numpy()]
    table["period"] = pd.to_datetime(table["period"], unit="D").dt.strftime("%Y-%m-%d")
    out = table.groupby(OBSERVATION_COLUMNS[:-1], as_index=False).size()
    out = out.rename(columns={"size": "value"})
    return out.sort_values(OBSERVATION_COLUMNS[:-1], ignore_index=True)[OBSERVATION_COLUMNS]


def _birthday18(dob: int) -> int:
    return birthdays(dob, (18,))[0]


def _events(auth: SimulatedAuthority, band, window_start: int, window_end: int) -> list[tuple]:
    """Referrals, re-referrals, completed assessments, s47 enquiries and conferences."""
    cin = auth.cin_details.sort_values(["child_id", "referral_date"])
    out: list[tuple] = []
    last_referral: dict[str, int] = {}
    for child, day in zip(cin.child_id, _days(cin.referral_date), strict=True):
        if window_start <= day <= window_end:
            out.append((day, "referral", "", band(child, day - 1), "", ""))
            if child in last_referral and day - last_referral[child] <= 365:
                out.append((day, "rereferral", "", band(child, day - 1), "", ""))
        last_referral[child] = day
    child_of = dict(zip(auth.cin_details.cin_id, auth.cin_details.child_id, strict=True))
    for measure, frame, column in (
        ("assessment", auth.assessments, "authorisation_date"),
        ("s47", auth.section47, "start_date"),
        ("icpc", auth.section47, "icpc_date"),
    ):
        for cin_id, day in zip(frame.cin_id, _days(frame[column]), strict=True):
            if window_start <= day <= window_end:
                child = child_of[cin_id]
                out.append((day, measure, "", band(child, day - 1), "", ""))
    return out
