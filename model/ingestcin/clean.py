"""Clean CIN census records: merge census years, check and repair chronology, account for
every row.

Input: the raw tables :func:`model.ingestcin.read.read_cin` found. Output
(:class:`CleanCin`): one row per child, CIN episode, assessment, section 47 enquiry, child
protection plan and CIN plan, and an outcome for every input row — ``accepted``,
``repaired`` (naming the rules), ``superseded`` (an earlier census's copy, or a repeat in the
same CINdetails: the latest census wins) or ``quarantined`` (not used, with the reason).
Rows read = accepted + repaired + superseded + quarantined, per file and table.

Merging years: an episode open over 31 March appears in two (or more) censuses. Episodes are
the same when child and referral date agree; a module (assessment, S47, plan) is the same
when its episode and start date agree. The latest census's copy wins.

Plausibility gates (:data:`GATES`, counted per rule in :attr:`CleanCin.gates`), first:
children without LAchildID; census years more than a year after the newest CIN schema,
whose collection year has not started by ``today``, or before 1990 (a refused year sets
neither the observation window nor the closing of episodes missing from the next census);
referral and module start dates before 1990 or after ``today``; birth dates before 1990,
or (PersonBirthDate) after the census reference date or ``today``; referrals more than
:data:`PREGNANCY_DAYS` before birth (an earlier one, within a pregnancy, is an unborn
child's: kept).

Quarantined (census validator rule in brackets): rows of a file whose census year is
unknown; children with neither a birth date nor an expected birth date in any census, with
their records; a referral date blank, not a date, or after the census reference date
(8600); a closure date that is not a date or before the referral (8630); a module whose
start date is blank, not a date or after the reference date (4013, 8930), whose end is
before its start (8925) or whose other date is not a date; modules of a quarantined
episode.

Repair rules, applied to the winning copy, in this order:

- ``closure_after_census_year``: a closure after the census reference date cannot be known
  at census time: the episode is taken as open in that census (its later census says more);
- ``reason_on_open_episode``: a closure reason without a closure date is dropped (8805);
- ``unknown_closure_reason``: a closure reason not in any census code list is dropped;
- ``closure_reason_missing``: a closure without a reason keeps the closure, reason unknown
  ("") (8810);
- ``open_episode_missing_next_year``: an episode open at the reference date of its latest
  census, when the authority has a later census that does not hold it, is closed the day
  after that reference date, reason unknown (it was open on 31 March and in need no longer
  by the next census, which lists everyone in need during the year);
- ``open_episode_closed_at_next_referral`` / ``episode_overlap_truncated``: a child's
  episode still open, or closing after, when the child's next referral starts is closed on
  that referral date (8815, 8816, 8820; reason unknown when it was open);
- ``date_after_census_year``: a module end, authorisation or conference date after its
  census's reference date is dropped (not known at census time);
- ``start_before_referral``: a module starting before its episode's referral starts on the
  referral date (1103-1105);
- ``authorised_after_closure``: an assessment authorised after its episode closed is taken
  as authorised on the closure date (8565, 8867);
- ``plan_ended_at_closure``: a plan still open, or ending after, when its episode closes
  ends at the closure (4009, 8915);
- ``plan_overlap_truncated``: a child's plan still open, or ending after, when the child's
  next plan of the same kind starts ends on that start date (8935, 8940; 4004, 4014).

Warnings (row used): referral source or primary need not in the census code lists, dates of
birth that differ between censuses, episodes closed before the census year (out of scope).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from model.ingest.dates import parse_dates
from model.ingest.ledger import Ledger, arrow_text, isin, positions, sorted_by
from model.ingest.tables import Issue
from model.ingestcin.read import CinReadResult
from model.ingestcin.schema import cin_schema_info

LOCATION = ("_source", "_child", "_detail")
SCHEMA_YEARS = (2017, 2022, 2024, 2026)
"""One census year per CIN XSD: the code lists of all of them are accepted."""
MODULE_TABLES = ("assessments", "section47", "cpp", "cin_plans")
MODULE_DATES: dict[str, tuple[str, dict[str, str]]] = {
    "assessments": ("AssessmentActualStartDate", {"AssessmentAuthorisationDate": "authorised"}),
    "section47": ("S47ActualStartDate", {"DateOfInitialCPC": "icpc"}),
    "cpp": ("CPPstartDate", {"CPPendDate": "end"}),
    "cin_plans": ("CINPlanStartDate", {"CINPlanEndDate": "end"}),
}
"""Per module table: its start date column and the other dates kept (column -> name)."""
MODULE_NAMES = {
    "assessments": "assessment",
    "section47": "section 47 enquiry",
    "cpp": "child protection plan",
    "cin_plans": "CIN plan",
}
PLANS = ("cpp", "cin_plans")
TABLE_NAMES = ("children", "cin_details", *MODULE_TABLES)
ONE_DAY = pd.Timedelta(days=1)
NEWEST_SCHEMA_YEAR = max(SCHEMA_YEARS)
EARLIEST_DATE = pd.Timestamp("1990-01-01")
"""Dates before this are not plausible in a CIN census (the census began in 2008-09; a
child born before 1990 was an adult long before)."""
PREGNANCY_DAYS = 300
"""A referral may come before birth (an unborn child), but not more than this many days
before it (about 43 weeks: a pregnancy, with slack)."""
GATES: dict[str, str] = {
    "no_lachildid": "a Child without LAchildID: its records cannot be given to a child",
    "census_year_beyond_schemas": (
        f"a census year more than one year after the newest CIN schema known "
        f"({NEWEST_SCHEMA_YEAR}): its children cannot be checked"
    ),
    "census_year_in_future": "a census year whose collection year starts after today",
    "census_year_before_1990": "a census year before 1990",
    "date_before_1990": "a referral, module start or birth date before 1990-01-01",
    "date_in_future": "a referral or module start date after today",
    "birth_after_census": (
        "a birth date (PersonBirthDate) after the census reference date or today; an unborn "
        "child has an ExpectedPersonBirthDate instead"
    ),
    "referral_before_pregnancy": (
        f"a referral more than {PREGNANCY_DAYS} days before the child's birth date"
    ),
}
"""Plausibility gates: rule name -> what it quarantines. Rows outside them are never used,
so they cannot move the observation window (which comes from the census years that pass)."""


@dataclass
class CleanCin:
    """The clean CIN records and the accounting of every input row.

    Dates are ``datetime64[s]`` (NaT: absent or still open); ``episode`` numbers the clean
    episodes 0, 1, ... in (child, referral) order.

    Every table has LAchildID and ``cid``, the child's integer code (0, 1, ...; the same in
    every table).

    ``children``: DOB (birth date, else expected birth date), UPN, FormerUPN.
    ``episodes``: episode, referral, closure, reason (closure reason code, ""
    when open or unknown), nfa (bool), icpc (DateOfInitialCPC held at episode level), _la,
    _year (latest census holding it). ``assessments``: episode, start, authorised.
    ``section47``: episode, start, icpc. ``cpp`` and ``cin_plans``: episode, start, end.
    ``outcomes``: _source, _child, _detail (0 for a child row), table, outcome, rule.
    ``checks``: failed checks (warnings and quarantine reasons) with examples located by
    file, child position and CINdetails position — never a child id.
    ``years``: census years read, per authority code (``_la``).
    """

    children: pd.DataFrame
    episodes: pd.DataFrame
    assessments: pd.DataFrame
    section47: pd.DataFrame
    cpp: pd.DataFrame
    cin_plans: pd.DataFrame
    outcomes: pd.DataFrame
    checks: list[Issue]
    years: dict[str, list[int]]
    child_ids: pd.Series
    """LAchildID by ``cid``."""
    gates: dict[str, int] = field(default_factory=dict)
    """Rows quarantined per plausibility gate (every rule of :data:`GATES`, 0 included)."""
    years_refused: dict[str, list[int]] = field(default_factory=dict)
    """Census years read but refused by a census-year gate, per authority code."""


def _describe(source: str, child: int, detail: int) -> str:
    where = f"{source} child {child}"
    return where + (f" CINdetails {detail}" if detail else "")


@cache
def _codes(element: str) -> frozenset[str]:
    """Every code any census year's XSD allows for ``element``."""
    return frozenset().union(*(cin_schema_info(y).codes.get(element, ()) for y in SCHEMA_YEARS))


def _reference_dates(years: pd.Series) -> pd.Series:
    """31 March of each census year (NaT for unknown years)."""
    distinct = np.unique(years.to_numpy())
    dates = pd.to_datetime([f"{y}-03-31" if y > 0 else None for y in distinct])
    lookup = dates.to_numpy(dtype="datetime64[s]")
    return pd.Series(lookup[np.searchsorted(distinct, years.to_numpy())], index=years.index)


class _Table:
    """One raw table being cleaned: its data, its ledger, and the rows still in use.

    ``data`` gains ``cid`` (the child's integer code, shared by all tables) and ``_src`` (the
    file's position in the sorted file names): millions of rows are sorted, grouped and
    looked up by these integers, which is many times faster than by text.
    """

    def __init__(self, raw: pd.DataFrame, name: str) -> None:
        data = raw.reset_index(drop=True).copy()
        if "_detail" not in data:
            data["_detail"] = 0
        data["LAchildID"] = data["LAchildID"].str.strip()
        self.data = data
        self.ledger = Ledger(data, name, LOCATION, _describe)
        self.ledger.frame["_detail"] = data["_detail"].to_numpy()

    def live(self) -> pd.Series:
        return self.ledger.frame["outcome"].isin(["accepted", "repaired"])

    def quarantine(self, mask: pd.Series, column: str | None, found: str, expected: str) -> int:
        """Quarantine the live rows under ``mask`` with the reason ``column: found``;
        return how many."""
        mask = mask & self.live()
        self.ledger.check(self.data, mask, column, found, expected + " (quarantined)", "error")
        self.ledger.set(mask, "quarantined", f"{column}: {found}" if column else found)
        return int(mask.sum())

    def gate(
        self, mask: pd.Series, column: str | None, rule: str, expected: str, counts: dict[str, int]
    ) -> None:
        """Quarantine the live rows under ``mask`` by the plausibility gate ``rule`` (its
        name in the reason, its count in ``counts``)."""
        counts[rule] += self.quarantine(mask, column, f"{GATES[rule]} [{rule}]", expected)

    def warn(self, mask: pd.Series, column: str, found: str, expected: str) -> None:
        self.ledger.check(self.data, mask & self.live(), column, found, expected, "warning")

    def dates(self, column: str) -> tuple[pd.Series, pd.Series]:
        """(parsed dates, True where the text is not blank but not a date)."""
        return parse_dates(self.data[column].str.strip())

    def keep_latest(self, key: list[str], what: str) -> pd.DataFrame:
        """The live rows, one per ``key``: the latest census's copy (then the last in the
        file); the others are superseded. Returns the winners with column ``row`` (the
        ledger label)."""
        rows = self.data[self.live()].assign(row=lambda d: d.index)
        order = sorted_by(rows, [*key, "_year", "_src", "_child", "_detail", "row"])
        last = ~order.duplicated(key, keep="last").to_numpy()
        winner_source = order["_src"].where(last).bfill()
        same_file = (order["_src"] == winner_source).to_numpy()
        for mask, reason in (
            (~last & ~same_file, f"same {what} in a later census"),
            (~last & same_file, f"same {what} repeated in the file"),
        ):
            self.ledger.set(self.ledger.labels(order["row"][mask]), "superseded", reason)
        return order[last].reset_index(drop=True)

    def repair(self, winners: pd.DataFrame, mask: pd.Series | np.ndarray, rule: str) -> None:
        """The winners under ``mask`` were changed by ``rule``."""
        self.ledger.repaired(self.ledger.labels(winners["row"][np.asarray(mask)]), rule)

    def rows_of(self, winners: pd.DataFrame, mask: pd.Series) -> pd.Series:
        """A mask over the raw rows selecting the winners under ``mask``."""
        rows = pd.Series(True, index=winners["row"][mask.to_numpy()])
        return rows.reindex(self.data.index, fill_value=False)

    def drop(self, winners: pd.DataFrame, mask: pd.Series, found: str, expected: str) -> int:
        """Quarantine the winners under ``mask``; return how many."""
        return self.quarantine(self.rows_of(winners, mask), None, found, expected)

    def warn_winners(
        self, winners: pd.DataFrame, mask: pd.Series, column: str, found: str, expected: str
    ) -> None:
        """A warning about the winners under ``mask`` (they stay in use)."""
        self.warn(self.rows_of(winners, mask), column, found, expected)


def clean_cin(read: CinReadResult, today: dt.date | None = None) -> CleanCin:
    """Merge, check and repair every table :func:`read_cin` returned.

    ``today`` (default: the system's date) is the limit of the plausibility gates that
    look for the future (:data:`GATES`); tests give their own.
    """
    now = pd.Timestamp(today or dt.date.today())
    gates = dict.fromkeys(GATES, 0)
    tables = {name: _Table(read.table(name), name) for name in ("children", "cin_details")}
    tables |= {name: _Table(read.table(name), name) for name in MODULE_TABLES}
    child_ids = _code_children(list(tables.values()))
    refused_years = _refused_years(read, now)
    for table in tables.values():
        table.gate(table.data["LAchildID"] == "", "LAchildID", "no_lachildid", "a child id", gates)
        table.quarantine(
            table.data["_year"] <= 0,
            None,
            "census year unknown",
            "a header ReferenceDate or a year in the file name",
        )
        for rule, years in refused_years.items():
            expected = "a census year that has started, covered by a known CIN schema"
            table.gate(table.data["_year"].isin(years), "ReferenceDate", rule, expected, gates)
    children = _children(tables["children"], now, gates)
    has_dob = np.zeros(len(child_ids), dtype=bool)
    has_dob[children["cid"].to_numpy()] = True
    dob = np.full(len(child_ids), np.datetime64("NaT", "s"))
    dob[children["cid"].to_numpy()] = children["DOB"].to_numpy(dtype="datetime64[s]")
    for table in tables.values():
        no_dob = pd.Series(~has_dob[table.data["cid"].to_numpy()], index=table.data.index)
        table.quarantine(
            no_dob,
            "PersonBirthDate",
            "no usable birth date or expected birth date for the child in any census",
            "a date of birth (age bands need it)",
        )
    details = tables["cin_details"].data
    # Years refused by a gate neither close episodes nor set the observation window.
    used = details[~details["_year"].isin([y for ys in refused_years.values() for y in ys])]
    latest_year = used.groupby("_la")["_year"].max().to_dict()
    episodes, episode_of_detail = _episodes(tables["cin_details"], latest_year, now, dob, gates)
    modules = {
        name: _module(tables[name], name, episodes, episode_of_detail, now, gates)
        for name in MODULE_TABLES
    }
    outcomes = pd.concat([t.ledger.frame for t in tables.values()], ignore_index=True)
    return CleanCin(
        children=children,
        episodes=episodes.drop(columns=["row"]),
        outcomes=outcomes,
        checks=[c for t in tables.values() for c in t.ledger.checks],
        years=_years_by_la(used),
        child_ids=child_ids,
        gates=gates,
        years_refused=_years_by_la(details[~details.index.isin(used.index)]),
        **modules,
    )


def _years_by_la(details: pd.DataFrame) -> dict[str, list[int]]:
    """The known census years of ``details`` rows, per authority code."""
    return {
        str(la): sorted(int(y) for y in group.unique() if y > 0)
        for la, group in details.groupby("_la")["_year"]
    }


def _refused_years(read: CinReadResult, now: pd.Timestamp) -> dict[str, list[int]]:
    """Census years (of any table) refused by the census-year gates, per gate rule."""
    years = {
        int(y) for name in TABLE_NAMES for y in np.unique(read.table(name)["_year"].to_numpy())
    }
    refused: dict[str, list[int]] = {
        "census_year_beyond_schemas": [],
        "census_year_in_future": [],
        "census_year_before_1990": [],
    }
    for year in sorted(y for y in years if y > 0):
        if year > NEWEST_SCHEMA_YEAR + 1:
            refused["census_year_beyond_schemas"].append(year)
        elif pd.Timestamp(year=year - 1, month=4, day=1) > now:
            refused["census_year_in_future"].append(year)
        elif year <= EARLIEST_DATE.year:
            refused["census_year_before_1990"].append(year)
    return refused


def _children(table: _Table, now: pd.Timestamp, gates: dict[str, int]) -> pd.DataFrame:
    """One row per child: the latest census wins; a missing birth date or UPN is taken
    from the latest census that has one. A child row with an implausible birth date is
    quarantined (gates ``date_before_1990`` and ``birth_after_census``)."""
    data = table.data
    birth = data["PersonBirthDate"].str.strip()
    expected = data["ExpectedPersonBirthDate"].str.strip()
    parsed = {}
    for column, text in (("PersonBirthDate", birth), ("ExpectedPersonBirthDate", expected)):
        parsed[column], bad = parse_dates(text)
        table.warn(bad, column, "a date that is not a date", "an ISO date yyyy-mm-dd (not used)")
        early = parsed[column] < EARLIEST_DATE
        table.gate(early, column, "date_before_1990", "a date from 1990 on", gates)
    limit = _reference_dates(data["_year"]).clip(upper=now)
    late = parsed["PersonBirthDate"] > limit
    expected_text = "a birth date on or before the census reference date and today"
    table.gate(late, "PersonBirthDate", "birth_after_census", expected_text, gates)
    data["DOB"] = parsed["PersonBirthDate"].where(birth != "", parsed["ExpectedPersonBirthDate"])
    data["UPN"] = data["UPN"].str.strip().str.upper()
    data["FormerUPN"] = data["FormerUPN"].str.strip().str.upper()
    live = data[table.live()]
    ordered = sorted_by(live, ["cid", "_year", "_src", "_child"])
    distinct = ordered.dropna(subset=["DOB"]).drop_duplicates(["cid", "DOB"])["cid"]
    table.warn(
        data["cid"].isin(distinct[distinct.duplicated()].to_numpy()) & data["DOB"].notna(),
        "PersonBirthDate",
        "dates of birth that differ between censuses",
        "one date of birth per child (the latest census's is used)",
    )
    # The latest non-missing value per child (``last`` skips missing values).
    grouped = ordered.assign(UPN=ordered["UPN"].replace("", None)).groupby("cid", sort=False)
    best = grouped[["DOB", "UPN", "FormerUPN"]].last()
    winners = table.keep_latest(["cid"], "child")
    out = winners[["LAchildID", "cid"]].join(best, on="cid")
    out["UPN"] = out["UPN"].fillna("")
    return out[out["DOB"].notna()].reset_index(drop=True)


def _episodes(
    table: _Table,
    latest_year: dict[str, int],
    now: pd.Timestamp,
    dob: np.ndarray,
    gates: dict[str, int],
) -> tuple[pd.DataFrame, pd.Series]:
    """The merged, checked and repaired CIN episodes, and the episode number of each detail
    row still in use (-1 when its episode is not used), indexed by :func:`_location_key`.

    ``dob``: each child's birth date by ``cid`` (``datetime64[s]``, NaT unknown), for the
    gate ``referral_before_pregnancy``; ``now``: today, for ``date_in_future``."""
    data = table.data
    referral, _ = table.dates("CINreferralDate")
    table.quarantine(
        referral.isna(),
        "CINreferralDate",
        "blank or not a date",
        "an ISO date yyyy-mm-dd",
    )
    _gate_dates(table, referral, "CINreferralDate", now, gates)
    closure, bad_closure = table.dates("CINclosureDate")
    icpc, bad_icpc = table.dates("DateOfInitialCPC")
    table.warn(bad_icpc, "DateOfInitialCPC", "not a date", "an ISO date (not used)")
    data["referral"], data["closure"], data["icpc"] = referral, closure, icpc
    data["bad_closure"] = bad_closure
    data["reference"] = _reference_dates(data["_year"])
    for column in ("ReferralSource", "PrimaryNeedCode", "ReasonForClosure", "ReferralNFA"):
        data[column] = data[column].str.strip()
    for column in ("ReferralSource", "PrimaryNeedCode"):
        unknown = (data[column] != "") & ~isin(data[column], _codes(column))
        table.warn(unknown, column, "a code not in the census code lists", "a code (row used)")
    ep = table.keep_latest(["cid", "referral"], "CIN episode")
    checks = (
        (
            lambda e: e["referral"] > e["reference"],
            "CINreferralDate: after the census reference date",
        ),
        (lambda e: e["bad_closure"], "CINclosureDate: not a date"),
        (lambda e: e["closure"] < e["referral"], "CINclosureDate: before the referral date"),
    )
    for failing, found in checks:
        mask = failing(ep)
        table.drop(ep, mask, found, "dates in order, within the census year")
        ep = ep[~mask.to_numpy()].reset_index(drop=True)
    born = pd.Series(dob[ep["cid"].to_numpy()], index=ep.index)
    early = ep["referral"] < born - pd.Timedelta(days=PREGNANCY_DAYS)
    found = f"{GATES['referral_before_pregnancy']} [referral_before_pregnancy]"
    expected = "a referral at most a pregnancy before birth"
    gates["referral_before_pregnancy"] += table.drop(ep, early, found, expected)
    ep = ep[~early.to_numpy()].reset_index(drop=True)
    early = ep["closure"] < ep["reference"] - pd.DateOffset(years=1) + ONE_DAY
    table.warn_winners(
        ep,
        early,
        "CINclosureDate",
        "a closure before the census year",
        "episodes open at some time in the census year (row used)",
    )
    _repair_closures(table, ep, latest_year)
    ep = ep.sort_values(["cid", "referral"], kind="stable", ignore_index=True)
    overlap, was_open = _truncate_overlaps(ep, "referral", "closure")
    ep.loc[overlap & was_open, "ReasonForClosure"] = ""
    table.repair(ep, overlap & was_open, "open_episode_closed_at_next_referral")
    table.repair(ep, overlap & ~was_open, "episode_overlap_truncated")
    ep["episode"] = np.arange(len(ep))
    ep["nfa"] = ep["ReferralNFA"].str.lower().isin(["1", "true"])
    ep = ep.rename(columns={"ReasonForClosure": "reason"})
    # Every detail row (also superseded copies) belongs to the episode its key names.
    rows = data[table.ledger.frame["outcome"] != "quarantined"]
    position = pd.Index(_episode_key(ep)).get_indexer(_episode_key(rows))
    found = np.where(position >= 0, ep["episode"].to_numpy()[np.maximum(position, 0)], -1)
    episode_of = pd.Series(found, index=_location_key(rows))
    columns = ["LAchildID", "cid", "episode", "referral", "closure", "reason", "nfa", "icpc"]
    return ep[[*columns, "_la", "_year", "row"]], episode_of


def _repair_closures(table: _Table, ep: pd.DataFrame, latest_year: dict[str, int]) -> None:
    """Closure dates and reasons of the winning episode copies (in place)."""
    after = ep["closure"] > ep["reference"]
    ep.loc[after, ["closure", "ReasonForClosure"]] = [pd.NaT, ""]
    table.repair(ep, after, "closure_after_census_year")
    reason_open = ep["closure"].isna() & (ep["ReasonForClosure"] != "")
    ep.loc[reason_open, "ReasonForClosure"] = ""
    table.repair(ep, reason_open, "reason_on_open_episode")
    unknown = (ep["ReasonForClosure"] != "") & ~isin(
        ep["ReasonForClosure"], _codes("ReasonForClosure")
    )
    table.warn_winners(
        ep,
        unknown,
        "ReasonForClosure",
        "a code not in the census code lists",
        "RC1-RC9 (dropped: reason unknown)",
    )
    ep.loc[unknown, "ReasonForClosure"] = ""
    table.repair(ep, unknown, "unknown_closure_reason")
    no_reason = ep["closure"].notna() & (ep["ReasonForClosure"] == "") & ~unknown
    table.warn_winners(
        ep,
        no_reason,
        "ReasonForClosure",
        "a closure without a reason",
        "a reason with every closure date (closure kept, reason unknown)",
    )
    table.repair(ep, no_reason, "closure_reason_missing")
    # As integers: mapping an empty text column would give text, not years.
    latest = ep["_la"].map(latest_year).to_numpy(dtype="int64", na_value=-1)
    missing = ep["closure"].isna() & (ep["_year"].to_numpy(dtype="int64") < latest)
    ep.loc[missing, "closure"] = ep.loc[missing, "reference"] + ONE_DAY
    table.warn_winners(
        ep,
        missing,
        "CINclosureDate",
        "an episode open at 31 March missing from the next census",
        "the episode in every census while open (closed 1 April, reason unknown)",
    )
    table.repair(ep, missing, "open_episode_missing_next_year")


def _truncate_overlaps(rows: pd.DataFrame, start: str, end: str) -> tuple[np.ndarray, np.ndarray]:
    """Within each child (``rows`` sorted by child and ``start``), a record still open, or
    ending after, when the next one starts ends on that start (in place). Returns the
    records changed and which of them were open."""
    same_next = rows["cid"].eq(rows["cid"].shift(-1)).to_numpy()
    next_start = rows[start].shift(-1)
    was_open = rows[end].isna().to_numpy()
    overlap = same_next & (was_open | (rows[end] > next_start).to_numpy())
    rows.loc[overlap, end] = next_start[overlap]
    return overlap, was_open


def _gate_dates(
    table: _Table, dates: pd.Series, column: str, now: pd.Timestamp, gates: dict[str, int]
) -> None:
    """Quarantine rows whose ``dates`` (a start: referral or module) are before 1990 or
    after today."""
    table.gate(dates < EARLIEST_DATE, column, "date_before_1990", "a date from 1990 on", gates)
    table.gate(dates > now, column, "date_in_future", "a date no later than today", gates)


def _module(
    table: _Table,
    name: str,
    episodes: pd.DataFrame,
    episode_of_detail: pd.Series,
    now: pd.Timestamp,
    gates: dict[str, int],
) -> pd.DataFrame:
    """One module table merged across censuses, checked and repaired (``now``, ``gates``:
    see :func:`_gate_dates`)."""
    data = table.data
    start_column, others = MODULE_DATES[name]
    # The episode of each module row, through its CINdetails' position in its file.
    position = episode_of_detail.index.get_indexer(_location_key(data))
    episode = np.append(episode_of_detail.to_numpy(), -1)  # position -1: no episode
    data["episode"] = episode[position]
    table.quarantine(
        data["episode"] < 0, None, "its CIN episode was not used", "a usable CIN episode"
    )
    start, _ = table.dates(start_column)
    table.quarantine(start.isna(), start_column, "blank or not a date", "an ISO date yyyy-mm-dd")
    _gate_dates(table, start, start_column, now, gates)
    data["start"] = start
    data["reference"] = _reference_dates(data["_year"])
    table.quarantine(
        start > data["reference"],
        start_column,
        "after the census reference date",
        "a date within the census year",
    )
    for column, short in others.items():
        parsed, bad = table.dates(column)
        table.quarantine(bad, column, "not a date", "an ISO date yyyy-mm-dd or blank")
        data[short] = parsed
    rows = table.keep_latest(["episode", "start"], MODULE_NAMES[name])
    ep = episodes.set_index("episode")
    rows["referral"] = ep["referral"].reindex(rows["episode"]).to_numpy()
    rows["closure"] = ep["closure"].reindex(rows["episode"]).to_numpy()
    for short in others.values():
        late = rows[short] > rows["reference"]
        rows.loc[late, short] = pd.NaT
        table.repair(rows, late, "date_after_census_year")
    early = rows["start"] < rows["referral"]
    rows.loc[early, "start"] = rows.loc[early, "referral"]
    table.repair(rows, early, "start_before_referral")
    if name == "assessments":
        # A case closing completes its assessment by then (census rules 8565, 8867).
        late = rows["authorised"] > rows["closure"]
        rows.loc[late, "authorised"] = rows.loc[late, "closure"]
        table.repair(rows, late, "authorised_after_closure")
    end_column, end = next(iter(others.items()))
    backwards = rows[end] < rows["start"]
    table.drop(
        rows, backwards, f"{end_column}: before {start_column}", f"{end_column} on or after it"
    )
    rows = rows[~backwards.to_numpy()]
    if name in PLANS:
        past = rows["closure"].notna() & (rows["end"].isna() | (rows["end"] > rows["closure"]))
        rows.loc[past, "end"] = rows.loc[past, "closure"]
        table.repair(rows, past, "plan_ended_at_closure")
        rows = rows.sort_values(["cid", "start"], kind="stable", ignore_index=True)
        overlap, _ = _truncate_overlaps(rows, "start", "end")
        table.repair(rows, overlap, "plan_overlap_truncated")
    keep = ["LAchildID", "cid", "episode", "start", *others.values()]
    return rows.sort_values(["episode", "start"], kind="stable", ignore_index=True)[keep]


def _code_children(tables: list[_Table]) -> pd.Series:
    """Give every row of every table its child's integer code (``cid``) and its file's
    (``_src``); return the child ids by code."""
    ids = pa.concat_arrays([arrow_text(t.data["LAchildID"]) for t in tables])
    encoded = pc.dictionary_encode(ids)
    codes = np.asarray(encoded.indices, dtype="int64")
    sources = sorted({s for t in tables for s in t.data["_source"].unique()})
    start = 0
    for table in tables:
        n = len(table.data)
        table.data["cid"] = codes[start : start + n]
        start += n
        table.data["_src"] = positions(table.data["_source"], pd.Series(sources, dtype=str))
    return pd.Series(encoded.dictionary, dtype="str")


def _episode_key(rows: pd.DataFrame) -> np.ndarray:
    """One integer per (child, referral date)."""
    day = rows["referral"].to_numpy(dtype="datetime64[D]").astype("int64")
    # Days since 1970 shifted positive (dates back to the year 1000 stay distinct).
    return (rows["cid"].to_numpy(dtype="int64") << 22) | (day + 2**21)


def _location_key(rows: pd.DataFrame) -> np.ndarray:
    """One integer per (file, Child position, CINdetails position): where a CINdetails is."""
    source = rows["_src"].to_numpy(dtype="int64")
    child = rows["_child"].to_numpy(dtype="int64")
    detail = rows["_detail"].to_numpy(dtype="int64")
    # Child positions stay below 2**31 and CINdetails positions below 2**16.
    return (source << 47) | (child << 16) | detail
