"""Observations from clean 903 episodes: monthly stocks and flows, and DfE-style years.

Monthly (``model.observations`` layout, conventions of ``model.counting``): looked-after
children by placement group and age band at each month end; entries to care (from
``outside``: the 903 cannot see where a child came from; the CIN census can) by first
placement group; moves between groups; exits by reason group; ageing; leaving at 18.
Short breaks (V3/V4) are excluded, as DfE does.

Annual, per year ending 31 March (period = 31 March, state ``looked_after``, all ages):
``dfe_looked_after`` (children looked after at 31 March), ``dfe_started`` (children who
started a period of care in the year, each counted once: DfE's "first start"),
``dfe_ceased`` (children who ended a period in the year, each counted once).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model import counting
from model.codes import OUTSIDE, REC_REASON
from model.ingest903.clean import CleanEpisodes


def care_segments(episodes: pd.DataFrame, rec_reason: dict[str, str] | None = None) -> pd.DataFrame:
    """Runs of consecutive episodes in one placement group within a period of care:
    CHILD, state (group), start, end (day numbers; OPEN_END while open), exit_reason (reason
    group when the period ends with the run, else "")."""
    rec_reason = REC_REASON if rec_reason is None else rec_reason
    ep = episodes[~episodes["short_break"]].reset_index(drop=True)
    key_changes = (
        ~ep["CHILD"].eq(ep["CHILD"].shift(1))
        | ~ep["period"].eq(ep["period"].shift(1))
        | ~ep["group"].eq(ep["group"].shift(1))
    )
    run = key_changes.cumsum()
    start = counting.days_of(ep["DECOM"])
    end = counting.days_of(ep["DEC"])
    period_ends = ~(ep["CHILD"].eq(ep["CHILD"].shift(-1)) & ep["period"].eq(ep["period"].shift(-1)))
    reason = np.where(period_ends & ep["DEC"].notna(), ep["REC"].map(rec_reason).fillna(""), "")
    runs = pd.DataFrame(
        {
            "CHILD": ep["CHILD"],
            "state": ep["group"],
            "start": start,
            "end": end,
            "exit_reason": reason,
            "closes_period": period_ends.to_numpy(),
            "run": run,
        }
    ).groupby("run", sort=False)
    return pd.DataFrame(
        {
            "CHILD": runs["CHILD"].first(),
            "state": runs["state"].first(),
            "start": runs["start"].first(),
            "end": runs["end"].last(),
            "exit_reason": runs["exit_reason"].last(),
            "closes_period": runs["closes_period"].last(),
        }
    ).reset_index(drop=True)


def observe_903(
    clean: CleanEpisodes, first_year: int, last_year: int, rec_reason: dict[str, str] | None = None
) -> pd.DataFrame:
    """Monthly observations from 31 March ``first_year - 1`` to 31 March ``last_year`` and
    the annual DfE-style figures, in the ``model.observations`` layout."""
    ends = counting.month_ends(first_year, last_year)
    window = (int(ends[0]) + 1, int(ends[-1]))
    seg = care_segments(clean.episodes, rec_reason)
    dob = clean.children.set_index("CHILD")["DOB"]
    bdays = counting.birthdays(counting.days_of(dob.reindex(seg["CHILD"])))
    band_days, age18 = bdays[:, :4], bdays[:, 4]
    start, end = seg["start"].to_numpy(), seg["end"].to_numpy()
    state = seg["state"].to_numpy()
    same_child = seg["CHILD"].eq(seg["CHILD"].shift(1)).to_numpy()
    prev_end = np.roll(end, 1)
    # A run starts either a period (entry) or follows a run of the same period (move).
    entry = ~(same_child & (prev_end == start) & ~np.roll(seg["closes_period"].to_numpy(), 1))
    rows = []
    in_window = (start >= window[0]) & (start <= window[1])
    moves = in_window & ~entry
    entries = in_window & entry
    rows.append(
        counting.flow_rows(
            start[entries],
            "transition",
            OUTSIDE,
            counting.band_on(band_days[entries], start[entries] - 1),
            state[entries],
            "",
            ends,
        )
    )
    rows.append(
        counting.flow_rows(
            start[moves],
            "transition",
            np.roll(state, 1)[moves],
            counting.band_on(band_days[moves], start[moves] - 1),
            state[moves],
            "",
            ends,
        )
    )
    exits = seg["closes_period"].to_numpy() & (end >= window[0]) & (end <= window[1])
    reason = seg["exit_reason"].to_numpy()
    exit_band = counting.band_on(band_days[exits], end[exits] - 1)
    rows.append(
        counting.flow_rows(
            end[exits], "transition", state[exits], exit_band, OUTSIDE, reason[exits], ends
        )
    )
    at_18 = exits & (end == age18)
    rows.append(
        counting.flow_rows(
            end[at_18],
            "left_at_18",
            state[at_18],
            counting.band_on(band_days[at_18], end[at_18] - 1),
            "",
            reason[at_18],
            ends,
        )
    )
    rows.append(counting.stocks_and_ageing(state, start, end, band_days, ends, window))
    monthly = counting.summarise(rows)
    return pd.concat([monthly, _annual(seg, first_year, last_year)], ignore_index=True)


def _annual(seg: pd.DataFrame, first_year: int, last_year: int) -> pd.DataFrame:
    """DfE's headline figures per year ending 31 March: each child counted once."""
    out = []
    for year in range(first_year, last_year + 1):
        lo = counting.days_of(pd.Series([pd.Timestamp(f"{year - 1}-04-01")]))[0]
        hi = lo + (pd.Timestamp(f"{year}-03-31") - pd.Timestamp(f"{year - 1}-04-01")).days
        at_end = (seg["start"] <= hi) & (seg["end"] > hi)
        period_start = seg["start"].where(~_continues(seg))
        started = period_start.between(lo, hi)
        ceased = seg["closes_period"] & seg["end"].between(lo, hi)
        for measure, mask in (
            ("dfe_looked_after", at_end),
            ("dfe_started", started),
            ("dfe_ceased", ceased),
        ):
            out.append(
                (
                    f"{year}-03-31",
                    measure,
                    "looked_after",
                    "",
                    "",
                    "",
                    int(seg.loc[mask, "CHILD"].nunique()),
                )
            )
    return pd.DataFrame(
        out, columns=["period", "measure", "state", "age_band", "to_state", "reason", "value"]
    )


def _continues(seg: pd.DataFrame) -> pd.Series:
    """True for runs that continue a period begun by an earlier run (moves)."""
    same_child = seg["CHILD"].eq(seg["CHILD"].shift(1))
    return (
        same_child
        & seg["start"].eq(seg["end"].shift(1))
        & ~seg["closes_period"].shift(1, fill_value=True)
    )
