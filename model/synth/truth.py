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
from model.observations import KEY_COLUMNS, OBSERVATION_COLUMNS
from model.synth.records import SimulatedAuthority
from model.synth.simulate import birthdays, day_of

STATES = (OUTSIDE, "cin", "cpp", *CARE_STATES)
STATE_INDEX = {s: i for i, s in enumerate(STATES)}
PRIORITY_CIN, PRIORITY_CPP, PRIORITY_CARE = 1, 2, 3
OPEN_END = 10**7  # a day number far beyond any simulated date, for intervals still open

Interval = tuple[int, int, int, str, str]  # start, end (exclusive), priority, state, reason


def _days(series: pd.Series) -> list[int]:
    """datetime64 column to day numbers (OPEN_END for NaT)."""
    values = series.to_numpy(dtype="datetime64[D]")
    out = values.astype("int64")
    out[np.isnat(values)] = OPEN_END
    return out.tolist()


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
    group = ""
    for child, start, end, place, rec in zip(
        ep.child_id.tolist(),
        _days(ep.decom),
        _days(ep.dec),
        ep.place.tolist(),
        ep.rec.tolist(),
        strict=True,
    ):
        if place not in TEMPORARY_PLACES:  # temporary placements continue the one around them
            group = PLACE_GROUP[place]
        by_child.setdefault(child, []).append(
            (start, end, PRIORITY_CARE, group, REC_REASON.get(rec, ""))
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
    month_ends = (
        pd.date_range(f"{auth.first_year - 1}-03-31", f"{auth.last_year}-03-31", freq="ME")
        .to_numpy(dtype="datetime64[D]")
        .astype("int64")
    )
    ids = auth.children.child_id.tolist()
    dob = dict(zip(ids, _days(auth.children.dob), strict=True))
    band_days = {c: birthdays(d, AGE_BAND_LOWER[1:]) for c, d in dob.items()}

    def band(child: str, day: int) -> int:
        return bisect_right(band_days[child], day)

    flows: list[tuple[int, str, str, int, str, str]] = []  # day, measure, state, band, to, why
    segments: list[tuple[str, int, int, int]] = []  # child, state index, start, end
    for child, intervals in _intervals(auth).items():
        changes = _segments(intervals)
        age18 = birthdays(dob[child], (18,))[0]
        previous = OUTSIDE
        for i, (day, state, reason) in enumerate(changes):
            if window[0] <= day <= window[1]:
                flows.append((day, "transition", previous, band(child, day - 1), state, reason))
                if previous in CARE_STATES and day == age18:
                    flows.append((day, "left_at_18", previous, band(child, day - 1), "", ""))
            if state != OUTSIDE:
                end = changes[i + 1][0] if i + 1 < len(changes) else OPEN_END
                segments.append((child, STATE_INDEX[state], day, end))
            previous = state
    flows.extend(_events(auth, band, window))
    table = pd.concat(
        [_flow_table(flows, month_ends), _segment_table(segments, band_days, month_ends, window)],
        ignore_index=True,
    )
    out = table.groupby(KEY_COLUMNS, as_index=False)["value"].sum()
    return out.sort_values(KEY_COLUMNS, ignore_index=True)[OBSERVATION_COLUMNS]


def _period_text(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def _flow_table(flows: list[tuple], month_ends: np.ndarray) -> pd.DataFrame:
    df = pd.DataFrame(flows, columns=["day", "measure", "state", "band", "to_state", "reason"])
    period = month_ends[np.searchsorted(month_ends, df.pop("day").to_numpy(), side="left")]
    df["period"] = _period_text(period)
    df["age_band"] = np.asarray(AGE_BANDS)[df.pop("band").to_numpy(dtype=int)]
    df["value"] = 1
    return df


def _segment_table(
    segments: list[tuple[str, int, int, int]],
    band_days: dict[str, list[int]],
    month_ends: np.ndarray,
    window: tuple[int, int],
) -> pd.DataFrame:
    """Stocks at each month end and ageing within the window, from state segments."""
    children = [s[0] for s in segments]
    state = np.array([s[1] for s in segments], dtype=int)
    start = np.array([s[2] for s in segments], dtype=np.int64)
    end = np.array([s[3] for s in segments], dtype=np.int64)
    birthdays_ = np.array([band_days[c] for c in children], dtype=np.int64).reshape(-1, 4)
    # Stocks: every month end in [start, end), with the band on that day.
    lo = np.searchsorted(month_ends, start, side="left")
    hi = np.searchsorted(month_ends, end, side="left")
    seg = np.repeat(np.arange(len(segments)), hi - lo)
    offset = np.arange(len(seg)) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo)
    when = month_ends[lo[seg] + offset]
    stock_band = (birthdays_[seg] <= when[:, None]).sum(axis=1)
    # Ageing: a birthday that starts a new band while the child is in the state.
    seg_a, which = np.nonzero(
        (birthdays_ >= start[:, None])
        & (birthdays_ < end[:, None])
        & (birthdays_ >= window[0])
        & (birthdays_ <= window[1])
    )
    aged_on = birthdays_[seg_a, which]
    state_names = np.asarray(STATES)
    bands = np.asarray(AGE_BANDS)
    ageing_period = month_ends[np.searchsorted(month_ends, aged_on, side="left")]
    return pd.concat(
        [
            _unit_rows(when, "stock", state_names[state[seg]], bands[stock_band]),
            _unit_rows(ageing_period, "ageing", state_names[state[seg_a]], bands[which]),
        ],
        ignore_index=True,
    )


def _unit_rows(
    days: np.ndarray, measure: str, states: np.ndarray, bands: np.ndarray
) -> pd.DataFrame:
    """One observation row of value 1 per child counted, to be summed by key."""
    return pd.DataFrame(
        {
            "period": _period_text(days),
            "measure": measure,
            "state": states,
            "age_band": bands,
            "to_state": "",
            "reason": "",
            "value": 1,
        }
    )


def _events(
    auth: SimulatedAuthority, band: Callable[[str, int], int], window: tuple[int, int]
) -> list[tuple]:
    """Referrals, re-referrals, completed assessments, s47 enquiries and conferences."""
    cin = auth.cin_details.sort_values(["child_id", "referral_date"])
    out: list[tuple] = []
    last_referral: dict[str, int] = {}
    for child, day in zip(cin.child_id.tolist(), _days(cin.referral_date), strict=True):
        if window[0] <= day <= window[1]:
            out.append((day, "referral", "", band(child, day - 1), "", ""))
            if child in last_referral and day - last_referral[child] <= 365:
                out.append((day, "rereferral", "", band(child, day - 1), "", ""))
        last_referral[child] = day
    child_of = dict(
        zip(auth.cin_details.cin_id.tolist(), auth.cin_details.child_id.tolist(), strict=True)
    )
    for measure, frame, column in (
        ("assessment", auth.assessments, "authorisation_date"),
        ("s47", auth.section47, "start_date"),
        ("icpc", auth.section47, "icpc_date"),
    ):
        for cin_id, day in zip(frame.cin_id.tolist(), _days(frame[column]), strict=True):
            if window[0] <= day <= window[1]:
                out.append((day, measure, "", band(child_of[cin_id], day - 1), "", ""))
    return out
