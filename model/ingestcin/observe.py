"""Observations from clean CIN records linked to the 903: the front door of the system.

Each child's state on each day is the most intensive of the intervals covering it — looked
after (a 903 care segment) > child protection plan > open CIN episode > outside — the
counting conventions of ``model.observations``, which the synthetic truth shares. Children
are the 903's children where linked (``model.ingestcin.link``), so a looked-after child's
CIN episode does not count them as "in need" too; an unlinked CIN child is its own person.

Monthly rows (``model.observations`` layout):

- ``stock`` and ``ageing`` of the ``cin`` and ``cpp`` states;
- ``transition`` rows with ``cin`` or ``cpp`` on either side: referrals into need
  (outside -> cin), plans starting and ending (cin <-> cpp), cases closing (-> outside,
  reason = the CIN closure reason code, "" when unknown), entries to care from need or a
  plan (cin/cpp -> placement group) and leaving care to an open case (placement group ->
  cin/cpp, reason = the exit reason group);
- ``care_entry``: every entry to care by route — ``state`` is the child's state the day
  before (``outside``: unknown to children's services; ``cin``; ``cpp``), ``to_state`` the
  first placement group. Its total equals the 903's entries;
- events (``state`` ""): ``referral``; ``rereferral`` (a referral within 365 days of the same
  child's previous one; reported from the second census year on, because a previous
  referral closed before the first census is invisible); ``assessment`` (authorised);
  ``s47`` (started); ``icpc`` (initial conferences: the S47's date, and an episode-level
  date no S47 of the episode holds); ``cpp_start``, ``cpp_end``; ``cin_closure``
  (``reason`` = closure reason code, "" when unknown; also closures of looked-after
  children's cases).

Annual rows per year ending 31 March (age band ""): ``dfe_referrals`` (referrals in the
year), ``dfe_in_need`` (children with an open CIN episode at 31 March, looked-after children
included, as DfE counts), ``dfe_on_plan`` (children on a plan at 31 March),
``dfe_plans_started`` (plans starting in the year).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model import counting
from model.codes import OUTSIDE, UPSTREAM_STATES
from model.counting import OPEN_END, days_of
from model.ingest.ledger import positions
from model.ingestcin.clean import CleanCin
from model.observations import OBSERVATION_COLUMNS

BASE_STATES = (OUTSIDE, *UPSTREAM_STATES)
DAY_RANGE = 2**25
DAY_OFFSET = 2**24
"""A (person, day) key is person * DAY_RANGE + day + DAY_OFFSET: days from about 44,000
years before 1970 up to OPEN_END stay apart."""


def _key(person: np.ndarray, day: np.ndarray) -> np.ndarray:
    return person * DAY_RANGE + (day + DAY_OFFSET)


class _Intervals:
    """One kind of interval (CIN episodes, plans or care segments) per person, sorted by
    (person, start), with zero-length intervals (which cover no day) left out."""

    def __init__(self, person: np.ndarray, start: np.ndarray, end: np.ndarray, **values: object):
        keep = start < end
        order = np.lexsort((start[keep], person[keep]))
        self.person = person[keep][order]
        self.start = start[keep][order]
        self.end = end[keep][order]
        self.key = _key(self.person, self.start)
        self.values = {k: np.asarray(v)[keep][order] for k, v in values.items()}

    def covering(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Index of the interval covering each (person, day), or -1."""
        if len(self.key) == 0:
            return np.full(len(person), -1)
        i = np.searchsorted(self.key, _key(person, day), side="right") - 1
        safe = np.maximum(i, 0)
        hit = (i >= 0) & (self.person[safe] == person) & (self.end[safe] > day)
        return np.where(hit, i, -1)


def _at(values: np.ndarray, index: np.ndarray, fill: object) -> np.ndarray:
    """``values[index]``, ``fill`` where ``index`` is -1 (also when ``values`` is empty)."""
    if len(values) == 0:
        return np.full(len(index), fill)
    return np.where(index >= 0, values[np.maximum(index, 0)], fill)


def persons(
    clean: CleanCin, links: pd.DataFrame | None, children_903: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray]:
    """(person of each CIN child code, date of birth of each person).

    Persons are integers: CIN child ``cid`` is person ``cid`` unless linked to a 903 child,
    and 903 child ``j`` (row of ``children_903``) is person ``n + j`` (``n`` CIN codes).
    A linked child takes the 903's date of birth, so that both returns put the child in the
    same age band.
    """
    n = len(clean.child_ids)
    person = np.arange(n, dtype="int64")
    dob = np.full(n + (0 if children_903 is None else len(children_903)), np.datetime64("NaT", "s"),
                  dtype="datetime64[s]")  # fmt: skip
    dob[clean.children["cid"].to_numpy()] = clean.children["DOB"].to_numpy(dtype="datetime64[s]")
    if children_903 is None:
        return person, dob
    dob[n:] = children_903["DOB"].to_numpy(dtype="datetime64[s]")
    if links is not None:
        j = positions(links["CHILD"], children_903["CHILD"])
        cid = positions(links["LAchildID"], clean.child_ids)
        linked = (j >= 0) & (cid >= 0)
        person[cid[linked]] = n + j[linked]
    return person, dob


def observe_cin(
    clean: CleanCin,
    first_year: int,
    last_year: int,
    links: pd.DataFrame | None = None,
    care: pd.DataFrame | None = None,
    children_903: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Monthly observations from 31 March ``first_year - 1`` to 31 March ``last_year`` and
    the annual figures.

    ``links``: :func:`model.ingestcin.link.link_children`'s table; ``care``: the 903's care
    segments (:func:`model.ingest903.observe.care_segments`: CHILD, state, start, end in
    day numbers, exit_reason); ``children_903``: the 903's children (CHILD, DOB). Without
    ``care`` no child is looked after: every open case counts as in need.
    """
    ends = counting.month_ends(first_year, last_year)
    window = (int(ends[0]) + 1, int(ends[-1]))
    person_of, dob = persons(clean, links, children_903)
    band_days = counting.birthdays(days_of(pd.Series(dob)))[:, :4]
    ep_person = person_of[clean.episodes["cid"].to_numpy()]
    cpp_person = person_of[clean.cpp["cid"].to_numpy()]
    cin = _Intervals(
        ep_person, days_of(clean.episodes["referral"]), days_of(clean.episodes["closure"]),
        reason=clean.episodes["reason"].to_numpy(dtype=object),
    )  # fmt: skip
    plans = _Intervals(cpp_person, days_of(clean.cpp["start"]), days_of(clean.cpp["end"]))
    if care is None or children_903 is None:
        care = pd.DataFrame(
            {c: pd.Series(dtype=t) for c, t in
             (("CHILD", str), ("state", str), ("start", "int64"), ("end", "int64"),
              ("exit_reason", str))}
        )  # fmt: skip
        care_person = np.zeros(0, dtype="int64")
    else:
        care_person = len(clean.child_ids) + positions(care["CHILD"], children_903["CHILD"])
    groups = np.unique(care["state"].to_numpy(dtype=str))
    states = np.array([*BASE_STATES, *groups])
    looked_after = _Intervals(
        care_person,
        care["start"].to_numpy(dtype="int64"),
        care["end"].to_numpy(dtype="int64"),
        state=len(BASE_STATES) + np.searchsorted(groups, care["state"].to_numpy(dtype=str)),
        reason=care["exit_reason"].to_numpy(dtype=object),
    )
    rows = _state_rows(cin, plans, looked_after, states, band_days, ends, window)
    rows.append(_events(clean, ep_person, cpp_person, band_days, ends, window))
    monthly = counting.summarise(rows)
    annual = _annual(clean, ep_person, cpp_person, first_year, last_year)
    return pd.concat([monthly, annual], ignore_index=True)


def _state_rows(
    cin: _Intervals,
    plans: _Intervals,
    care: _Intervals,
    states: np.ndarray,
    band_days: np.ndarray,
    ends: np.ndarray,
    window: tuple[int, int],
) -> list[pd.DataFrame]:
    """Transitions, care entries by route, and cin/cpp stocks and ageing."""
    person = np.concatenate([k.person for k in (cin, plans, care) for _ in (0, 1)])
    day = np.concatenate([d for k in (cin, plans, care) for d in (k.start, k.end)])
    open_end = day >= OPEN_END
    points = np.unique(_key(person[~open_end], day[~open_end]))
    p, d = points // DAY_RANGE, points % DAY_RANGE - DAY_OFFSET
    in_cin, in_plan, in_care = (k.covering(p, d) for k in (cin, plans, care))
    state = _at(care.values["state"], in_care, 0)
    state = np.where(in_care >= 0, state, np.where(in_plan >= 0, 2, np.where(in_cin >= 0, 1, 0)))
    first = np.r_[True, p[1:] != p[:-1]]
    prev = np.where(first, 0, np.roll(state, 1))
    # The interval that ended at this point is the one covering the previous point.
    prev_cin = np.where(first, -1, np.roll(in_cin, 1))
    prev_care = np.where(first, -1, np.roll(in_care, 1))
    n_base = len(BASE_STATES)
    reason = np.where(
        (prev >= n_base) & (state < n_base),
        _at(care.values["reason"], prev_care, ""),
        np.where((prev > 0) & (state == 0), _at(cin.values["reason"], prev_cin, ""), ""),
    )
    change = state != prev
    in_window = change & (d >= window[0]) & (d <= window[1])
    band = counting.band_on(band_days[p], d - 1)
    upstream = in_window & ((prev == 1) | (prev == 2) | (state == 1) | (state == 2))
    entry = in_window & (state >= n_base) & (prev < n_base)

    def label(codes: np.ndarray) -> pd.Categorical:
        return pd.Categorical.from_codes(codes, categories=states)

    rows = [
        counting.flow_rows(
            d[upstream], "transition", label(prev[upstream]), band[upstream],
            label(state[upstream]), reason[upstream], ends,
        ),
        counting.flow_rows(
            d[entry], "care_entry", label(prev[entry]), band[entry], label(state[entry]), "",
            ends,
        ),
    ]  # fmt: skip
    # State segments: from each change to the person's next change.
    cp, cd, cs = p[change], d[change], state[change]
    next_same = np.r_[cp[1:] == cp[:-1], False]
    end = np.where(next_same, np.roll(cd, -1), OPEN_END)
    seg = (cs == 1) | (cs == 2)
    stocks = counting.stocks_and_ageing(
        states[cs[seg]], cd[seg], end[seg], band_days[cp[seg]], ends, window
    )
    rows.append(stocks)
    return rows


def _events(
    clean: CleanCin,
    ep_person: np.ndarray,
    cpp_person: np.ndarray,
    band_days: np.ndarray,
    ends: np.ndarray,
    window: tuple[int, int],
) -> pd.DataFrame:
    """Referrals, re-referrals, assessments, S47s, conferences, plan starts and ends, and
    case closures, each in the month it happened."""
    ep = clean.episodes
    referral = days_of(ep["referral"])
    order = np.lexsort((referral, ep_person))
    person, day = ep_person[order], referral[order]
    gap = np.r_[OPEN_END, np.diff(day)]
    after_previous = np.r_[False, person[1:] == person[:-1]] & (gap <= 365)
    # A previous referral within 365 days is only sure to be in the censuses from the
    # second census year on.
    visible = day > ends[min(12, len(ends) - 1)]
    episode_person = pd.Series(ep_person, index=ep["episode"].to_numpy())
    parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray | str]] = [
        ("referral", referral, ep_person, ""),
        ("rereferral", day[after_previous & visible], person[after_previous & visible], ""),
        (
            "cin_closure",
            days_of(ep["closure"]),
            ep_person,
            ep["reason"].to_numpy(dtype=str),
        ),
        ("cpp_start", days_of(clean.cpp["start"]), cpp_person, ""),
        ("cpp_end", days_of(clean.cpp["end"]), cpp_person, ""),
    ]
    for measure, table, column in (
        ("assessment", clean.assessments, "authorised"),
        ("s47", clean.section47, "start"),
    ):
        who = episode_person.reindex(table["episode"]).to_numpy()
        parts.append((measure, days_of(table[column]), who, ""))
    parts.append(("icpc", *_conferences(clean, episode_person), ""))
    rows = []
    for measure, days, who, reason in parts:
        mask = (days >= window[0]) & (days <= window[1])
        rows.append(
            counting.flow_rows(
                days[mask], measure, "", counting.band_on(band_days[who[mask]], days[mask] - 1),
                "", reason if isinstance(reason, str) else reason[mask], ends,
            )
        )  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def _conferences(clean: CleanCin, episode_person: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(day, person) of initial conferences: the S47 dates, and episode-level dates that no
    S47 of the same episode holds (older files record the conference there)."""
    s47 = clean.section47.dropna(subset=["icpc"])
    ep = clean.episodes.dropna(subset=["icpc"])
    held = pd.MultiIndex.from_frame(s47[["episode", "icpc"]])
    extra = ep[~pd.MultiIndex.from_frame(ep[["episode", "icpc"]]).isin(held)]
    episode = np.concatenate([s47["episode"].to_numpy(), extra["episode"].to_numpy()])
    day = np.concatenate([days_of(s47["icpc"]), days_of(extra["icpc"])])
    return day, episode_person.reindex(episode).to_numpy()


def _annual(
    clean: CleanCin, ep_person: np.ndarray, cpp_person: np.ndarray, first_year: int, last_year: int
) -> pd.DataFrame:
    """DfE-style figures per year ending 31 March."""
    referral, closure = (
        days_of(clean.episodes["referral"]),
        days_of(clean.episodes["closure"]),
    )
    start, end = days_of(clean.cpp["start"]), days_of(clean.cpp["end"])
    out = []
    for year in range(first_year, last_year + 1):
        lo, hi = days_of(pd.Series(pd.to_datetime([f"{year - 1}-04-01", f"{year}-03-31"])))
        figures = (
            ("dfe_referrals", "", int(((referral >= lo) & (referral <= hi)).sum())),
            ("dfe_in_need", "cin", _children(ep_person, (referral <= hi) & (closure > hi))),
            ("dfe_on_plan", "cpp", _children(cpp_person, (start <= hi) & (end > hi))),
            ("dfe_plans_started", "cpp", int(((start >= lo) & (start <= hi)).sum())),
        )
        out += [(f"{year}-03-31", m, s, "", "", "", v) for m, s, v in figures]
    return pd.DataFrame(out, columns=OBSERVATION_COLUMNS)


def _children(person: np.ndarray, mask: np.ndarray) -> int:
    """Number of distinct children among the rows under ``mask``."""
    return len(np.unique(person[mask]))
