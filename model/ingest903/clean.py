"""Clean 903 episodes: normalise, validate, merge returns, repair, and account for every row.

Input: the raw tables the reader found (``model.ingest.tables``). Output: one clean
episode history per child, the children's dates of birth, and an outcome for every input
row — ``accepted`` (used as read), ``repaired`` (used after a change, naming the rule),
``superseded`` (an earlier return's copy of an episode a later return also holds: the latest
return wins) or ``quarantined`` (not used, with the reason). The counts reconcile: rows read
= accepted + repaired + superseded + quarantined.

Repair rules (after the liia-tools episode fixer, data-formats.md §1.6), applied per child
in date order after merging returns:

- ``code_format``: codes upper-cased and stripped of spaces (incl. non-breaking spaces);
- ``date_excel_serial`` / ``date_two_digit_year``: dates written as Excel serial numbers or
  dd/mm/yy, read as dates;
- ``rec_on_open_episode``: REC on an episode with no DEC is dropped (open episodes have
  neither, validator rule 148);
- ``near_duplicate``: an open copy of the previous episode (same codes and places) starting
  1-7 days after it is deleted (liia rule 3);
- ``stale_open_replaced``: an open episode from an older return that a later return's
  previous episode runs over is deleted (liia rule 3A);
- ``stale_open_continued``: an open episode followed by a continuation episode is closed on
  the day that one starts, REC X1 (liia rule 1);
- ``stale_open_reentry``: an open episode followed by a new period (RNE S) is closed the day
  before it (or on 31 March of its return, if earlier), REC E99 (liia rule 1A);
- ``stale_open_no_later``: an open episode in a return older than the authority's latest,
  with no later episode, is closed on 31 March of its return, REC E99 (liia rule 2);
- ``overlap_truncated``: DEC after the next episode's DECOM is moved back to it (rule 4);
- ``gap_closed``: REC X1 with the next episode starting later: DEC moved to it (rule 5);
- ``dec_after_last_year``: a DEC after 31 March of the newest return's year (a date no
  return could know: 01/04/2099, or the 1 April artefact) is read as blank, the episode
  open at the end of the returns, and its REC dropped.

Plausibility gates (named in the report, each row quarantined with its reason): a row of a
stacked file whose YEAR is not one of the file's years; DECOM or DEC before 1 January 1990;
DECOM after 31 March of the row's collection year (an episode a return cannot hold yet);
DEC before 1 April of the first year its file covers (an episode that had ended before
the return's year); a date of birth more than 25 years before the first return's year or
after the end of its own return's year (the Header row, and then the child's episodes); an
episode starting before the child was born. The observation window comes from the returns'
collection years, so a row outside these gates can never move it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.codes import (
    TEMPORARY_PLACES,
    valid_place_codes,
    valid_rec_codes,
)
from model.config.categories import CategoriesConfig
from model.ingest.dates import parse_dates
from model.ingest.ledger import Ledger, isin, positions, sorted_by
from model.ingest.tables import PROVENANCE_COLUMNS, TABLE_COLUMNS, Issue, RawTable

EARLIEST_DATE = pd.Timestamp("1990-01-01")
"""Dates before this are not plausible in any return carecast reads."""
DOB_YEARS_BEFORE = 25
"""A Header child may be a care leaver (up to 21): a date of birth more than this many
years before the start of the return's year is not plausible."""
CODE_COLUMNS = ["RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "REC", "REASON_PLACE_CHANGE"]
NEAR_DUPLICATE_DAYS = 7
SAME_PLACEMENT = ["RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "PL_POST", "URN"]


@dataclass
class CleanEpisodes:
    """The clean episode history and the accounting of every input row.

    ``episodes``: one row per (child, DECOM) after merging and repairs, sorted by child and
    DECOM: CHILD, DECOM, DEC (datetime64[s], NaT while open), RNE, LS, CIN, PLACE,
    PLACE_PROVIDER, REC, REASON_PLACE_CHANGE, UASC (bool), short_break (bool: LS V3/V4,
    excluded from stocks), group (model placement group, temporary placements taking the
    group of the placement they interrupt), period (1, 2, ... within the child), phase
    (1, 2, ... within the child: runs of episodes in one placement group within a period).
    ``children``: CHILD, DOB (datetime64[s]), UPN (upper case; "" or a UN code when not
    known), UASC (bool).
    ``outcomes``: one row per input row: _source, _row, table, outcome, rule (repair rules
    joined by "+", or the quarantine reason).
    ``checks``: failed checks as Issues (warnings and quarantine reasons), with examples.
    """

    episodes: pd.DataFrame
    children: pd.DataFrame
    outcomes: pd.DataFrame
    checks: list[Issue]


def _normalise_codes(data: pd.DataFrame, ledger: Ledger, columns: list[str]) -> None:
    for column in columns:
        if column not in data:
            data[column] = ""
            continue
        raw = data[column]
        clean = raw.str.replace("\u00a0", " ").str.strip().str.upper()
        changed = raw != clean
        ledger.repaired(changed, "code_format")
        data[column] = clean


def _dates(data: pd.DataFrame, column: str, ledger: Ledger) -> tuple[pd.Series, pd.Series]:
    """Parse a date column; record repairs of Excel serials and two-digit years."""
    text = data[column].str.strip()
    parsed, bad = parse_dates(text)
    ledger.repaired(text.str.fullmatch(r"\d+(\.0+)?") & ~bad, "date_excel_serial")
    ledger.repaired(text.str.fullmatch(r"\d{1,2}/\d{1,2}/\d{2}") & ~bad, "date_two_digit_year")
    return parsed, bad


def _valid_for_year(codes: pd.Series, years: pd.Series, valid: callable) -> pd.Series:
    out = pd.Series(True, index=codes.index)
    for year in years.unique():
        rows = years == year
        out[rows] = codes[rows].isin(valid(int(year)) | {""})
    return out


def clean_episodes(
    tables: list[RawTable],
    categories: CategoriesConfig | None = None,
) -> CleanEpisodes:
    """Merge, validate and repair every episodes table; read children from Header/UASC."""
    categories = categories or CategoriesConfig()
    empty = pd.DataFrame(
        {c: pd.Series(dtype=str) for c in TABLE_COLUMNS["episodes"] + PROVENANCE_COLUMNS}
    ).astype({"_row": int, "_year": int})
    episode_tables = [t for t in tables if t.table == "episodes"]
    frames = [empty] + [t.data for t in episode_tables]
    data = pd.concat(frames, ignore_index=True)
    ledger = Ledger(data, "episodes")
    data["CHILD"] = data["CHILD"].str.strip()
    _normalise_codes(data, ledger, CODE_COLUMNS)
    decom, bad_decom = _dates(data, "DECOM", ledger)
    dec, bad_dec = _dates(data, "DEC", ledger)
    data["DECOM"], data["DEC"] = decom, dec
    _quarantine_bad_rows(data, ledger, bad_decom, bad_dec, categories)
    first_years = _first_years(episode_tables)
    _quarantine_implausible_dates(data, ledger, first_years)
    live_rows = ledger.frame["outcome"] != "quarantined"
    # The latest return of each authority in the input (stacked files may hold several):
    # only there may an episode legitimately still be open.
    latest_year = data[live_rows].groupby("_la")["_year"].max().to_dict() if len(data) else {}
    _open_future_ends(data, ledger, live_rows, latest_year)
    live = data[ledger.frame["outcome"] != "quarantined"]
    merged = _merge_returns(live, ledger)
    years = data.loc[live_rows, "_year"]
    firsts = first_years[live_rows.to_numpy()]
    children, child_outcomes, child_checks, implausible = _children(
        tables,
        (int(firsts[firsts > 0].min()), int(years.max())) if (firsts > 0).any() else None,
    )
    if len(merged):  # nothing to repair when every row was quarantined
        merged = _repair(merged, ledger, latest_year, categories.new_episode_reasons)
    merged = _quarantine_without_dob(merged, ledger, children, implausible)
    episodes = _annotate(merged, categories, children)
    outcomes = pd.concat([ledger.frame, child_outcomes], ignore_index=True)
    return CleanEpisodes(episodes, children, outcomes, ledger.checks + child_checks)


def _first_years(tables: list[RawTable]) -> np.ndarray:
    """Per row of the concatenated episodes tables, the first collection year its file
    covers: the row's own YEAR in a stacked file, else the start of its file's span
    (-1 when unknown)."""
    firsts = [
        np.asarray(t.data["_year"], dtype=np.int64)
        if t.year is None
        else np.full(len(t.data), t.span[0] if t.span else t.year, dtype=np.int64)
        for t in tables
    ]
    return np.concatenate(firsts) if firsts else np.zeros(0, dtype=np.int64)


def _year_bound(years: pd.Series | np.ndarray, month_day: str, offset: int = 0) -> pd.Series:
    """``month_day`` (e.g. "03-31") of each collection year plus ``offset`` years, as
    datetime64[s] (NaT where the year is unknown, -1). Each distinct year is converted
    once: tables hold millions of rows but a few years."""
    values = np.asarray(years, dtype=np.int64)
    distinct, inverse = np.unique(values, return_inverse=True)
    text = pd.Series(distinct + offset).astype(str).str.zfill(4) + "-" + month_day
    dates = pd.to_datetime(text.where(distinct > 0), errors="coerce")
    return pd.Series(dates.to_numpy(dtype="datetime64[s]")[inverse.reshape(-1)])


def _quarantine_implausible_dates(
    data: pd.DataFrame, ledger: Ledger, first_years: np.ndarray
) -> None:
    """The plausibility gates on episode dates (module docstring), each a named rule."""
    year_end = _year_bound(data["_year"], "03-31").set_axis(data.index)
    window_start = _year_bound(first_years, "04-01", -1).set_axis(data.index)
    decom, dec = data["DECOM"], data["DEC"]
    rules = [
        (
            data["_year"] < 0,
            "YEAR",
            "a row with no collection year (a stacked row whose YEAR is not one of the "
            "file's years, or a file whose year could not be worked out)",
            "a YEAR among the file's years, or dates that give the file's year",
        ),
        (decom < EARLIEST_DATE, "DECOM", "a start date before 1990", "a date from 1990 on"),
        (dec < EARLIEST_DATE, "DEC", "an end date before 1990", "a date from 1990 on"),
        (
            decom > year_end,
            "DECOM",
            "a start date after the end of the return's collection year",
            "DECOM on or before 31 March of the return's year",
        ),
        (
            dec < window_start,
            "DEC",
            "an end date before the start of the return's collection year (an episode "
            "that had ended before the year the return covers)",
            "DEC on or after 1 April of the first year the file covers",
        ),
    ]
    for mask, column, found, expected in rules:
        mask = mask.fillna(False) & (ledger.frame["outcome"] != "quarantined")
        ledger.check(data, mask, column, found, expected, "error")
        ledger.set(mask, "quarantined", f"{column}: {found}")


def _open_future_ends(
    data: pd.DataFrame, ledger: Ledger, live: pd.Series, latest_year: dict[str, int]
) -> None:
    """``dec_after_last_year``: DECs after the newest return's year read as blank (the
    episode was open when the last return was made; the start date is sound, so the
    episode is kept rather than lost)."""
    newest = _year_bound(data["_la"].map(latest_year).fillna(-1), "03-31").set_axis(data.index)
    future = live & (data["DEC"] > newest).fillna(False)
    ledger.check(
        data,
        future,
        "DEC",
        "an end date after the end of the newest return's collection year",
        "DEC on or before 31 March of the newest year (read as open; REC dropped)",
        "warning",
    )
    ledger.repaired(future, "dec_after_last_year")
    data.loc[future, "DEC"] = pd.NaT
    data.loc[future, "REC"] = ""


def _quarantine_without_dob(
    merged: pd.DataFrame, ledger: Ledger, children: pd.DataFrame, implausible: set[str]
) -> pd.DataFrame:
    """Episodes of children with no usable Header row (none, or one whose date of birth
    failed its gate), and episodes starting before the child's birth, quarantined."""
    missing_dob = ~isin(merged["CHILD"], children["CHILD"])
    bad_dob = missing_dob & isin(merged["CHILD"], implausible)
    no_header = missing_dob & ~bad_dob
    at = positions(merged["CHILD"], children["CHILD"])
    dobs = np.append(children["DOB"].to_numpy(dtype="datetime64[s]"), np.datetime64("NaT", "s"))
    dob = pd.Series(dobs[at], index=merged.index)  # position -1: the NaT appended
    unborn = ~missing_dob & (merged["DECOM"] < dob)
    for mask, column, found, expected in (
        (
            no_header,
            "CHILD",
            "episodes of a child with no Header row",
            "a Header row with the child's date of birth (quarantined)",
        ),
        (
            bad_dob,
            "DOB",
            "episodes of a child whose date of birth is not plausible",
            "a plausible date of birth in the child's Header row (quarantined)",
        ),
        (
            unborn,
            "DECOM",
            "an episode starting before the child's date of birth",
            "DECOM on or after the DOB in the child's Header row (quarantined)",
        ),
    ):
        ledger.check(merged, mask, column, found, expected, "error")
        reason = "no Header row for the child" if column == "CHILD" else f"{column}: {found}"
        ledger.set(
            pd.Series(True, index=merged.loc[mask, "index"].to_numpy()), "quarantined", reason
        )
    return merged[~(missing_dob | unborn)]


def _quarantine_bad_rows(
    data: pd.DataFrame,
    ledger: Ledger,
    bad_decom: pd.Series,
    bad_dec: pd.Series,
    categories: CategoriesConfig,
) -> None:
    """Rows the model cannot use: no child, no start date, impossible dates, unknown codes."""
    rules = [
        (data["CHILD"] == "", "CHILD", "a blank child id", "an LA child id"),
        (
            data["DECOM"].isna(),
            "DECOM",
            "a start date that is blank or not a date",
            "a date, dd/mm/yyyy",
        ),
        (bad_dec, "DEC", "an end date that is not a date", "a date, dd/mm/yyyy, or blank"),
        (
            data["DEC"].notna() & (data["DEC"] < data["DECOM"]),
            "DEC",
            "an end date before the start date",
            "DEC on or after DECOM",
        ),
        (
            ~data["RNE"].isin(set(categories.new_episode_reasons)),
            "RNE",
            "an unknown reason for new episode",
            "an RNE code in the new-episode-reason table",
        ),
        (
            ~data["LS"].isin(set(categories.legal_statuses)),
            "LS",
            "an unknown legal status",
            "an LS code in the legal-status table",
        ),
        (
            ~data["PLACE"].isin(set(categories.place_groups) | TEMPORARY_PLACES),
            "PLACE",
            "an unknown placement type",
            "a PLACE code in the placement-group table",
        ),
        (
            ~data["REC"].isin(set(categories.exit_reasons) | {"X1", ""}),
            "REC",
            "an unknown reason episode ceased",
            "X1, an E code in the exit-reason table, or blank",
        ),
    ]
    for mask, column, found, expected in rules:
        mask = mask & (ledger.frame["outcome"] != "quarantined")
        ledger.check(data, mask, column, found, expected, "error")
        ledger.set(mask, "quarantined", f"{column}: {found}")
    live = ledger.frame["outcome"] != "quarantined"
    year = data["_year"]
    for column, valid in (("PLACE", valid_place_codes), ("REC", valid_rec_codes)):
        off = live & ~_valid_for_year(data[column], year, valid)
        ledger.check(
            data,
            off,
            column,
            "a code not valid in the return's year",
            "codes of the year's code list (row used)",
            "warning",
        )
    open_with_rec = live & data["DEC"].isna() & (data["REC"] != "")
    ledger.repaired(open_with_rec, "rec_on_open_episode")
    data.loc[open_with_rec, "REC"] = ""


def _merge_returns(data: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    """One row per (child, DECOM): the latest return's copy wins."""
    order = sorted_by(data, ["CHILD", "DECOM", "_year", "_source", "_row"])
    latest = ~order.duplicated(["CHILD", "DECOM"], keep="last")
    ledger.set(
        pd.Series(~latest.to_numpy(), index=order.index).reindex(data.index, fill_value=False),
        "superseded",
        "same episode in a later return",
    )
    return order[latest.to_numpy()].reset_index()


def _repair(
    ep: pd.DataFrame, ledger: Ledger, latest_year: dict[str, int], reasons: dict[str, str]
) -> pd.DataFrame:
    """Per-child chronological repairs; ``ep`` is sorted by CHILD, DECOM with the ledger's
    row labels in column ``index``."""

    def mark(mask: pd.Series, rule: str) -> None:
        ledger.repaired(pd.Series(True, index=ep.loc[mask, "index"].to_numpy()), rule)

    prev_same = ep["CHILD"].eq(ep["CHILD"].shift(1))
    near = (
        prev_same
        & ep["DEC"].isna()
        & (ep[SAME_PLACEMENT] == ep[SAME_PLACEMENT].shift(1)).all(axis=1)
        & ((ep["DECOM"] - ep["DECOM"].shift(1)).dt.days.between(1, NEAR_DUPLICATE_DAYS))
    )
    labels = ep.loc[near, "index"].to_numpy()
    ledger.set(pd.Series(True, index=labels), "superseded", "near_duplicate")
    ep = ep[~near].reset_index(drop=True)
    # An open episode from an older return that a later return's episode runs over is a
    # stale copy the later return replaced (liia rule 3A).
    prev_same = ep["CHILD"].eq(ep["CHILD"].shift(1))
    replaced = (
        prev_same
        & ep["DEC"].isna()
        & (ep["_year"] < ep["_year"].shift(1))
        & (ep["DECOM"] < ep["DEC"].shift(1))
    )
    labels = ep.loc[replaced, "index"].to_numpy()
    ledger.set(pd.Series(True, index=labels), "superseded", "stale_open_replaced")
    ep = ep[~replaced].reset_index(drop=True)
    same_next = ep["CHILD"].eq(ep["CHILD"].shift(-1))
    next_decom = ep["DECOM"].shift(-1)
    next_rne = ep["RNE"].shift(-1)
    year_end = pd.to_datetime(ep["_year"].astype(str) + "-03-31").astype("datetime64[s]")
    stale = ep["DEC"].isna() & same_next
    next_starts = next_rne.map(reasons) == "starts_period"
    continued = stale & ~next_starts
    ep.loc[continued, "DEC"] = next_decom[continued]
    ep.loc[continued, "REC"] = "X1"
    mark(continued, "stale_open_continued")
    reentry = stale & next_starts
    ep.loc[reentry, "DEC"] = np.minimum(
        next_decom[reentry] - pd.Timedelta(days=1), year_end[reentry]
    )
    ep.loc[reentry, "REC"] = "E99"
    mark(reentry, "stale_open_reentry")
    orphan = ep["DEC"].isna() & ~same_next & (ep["_year"] < ep["_la"].map(latest_year))
    ep.loc[orphan, "DEC"] = year_end[orphan]
    ep.loc[orphan, "REC"] = "E99"
    mark(orphan, "stale_open_no_later")
    overlap = same_next & ep["DEC"].notna() & (ep["DEC"] > next_decom)
    ep.loc[overlap, "DEC"] = next_decom[overlap]
    mark(overlap, "overlap_truncated")
    gap = same_next & (ep["REC"] == "X1") & (ep["DEC"] < next_decom)
    ep.loc[gap, "DEC"] = next_decom[gap]
    mark(gap, "gap_closed")
    return ep


def _children(
    tables: list[RawTable], years: tuple[int, int] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[Issue], set[str]]:
    """Date of birth and UASC flag per child: the latest return's Header row wins. Rows
    whose date of birth is not plausible are quarantined — more than DOB_YEARS_BEFORE
    years before the first of the episodes' collection ``years`` (first, last), or after
    the end of the row's return year (the last year when the row's is unknown) — and the
    ids of children left with no Header row are returned."""
    used = [t for t in tables if t.table in ("header", "uasc") and "DOB" in t.data]
    columns = ["CHILD", "DOB", *PROVENANCE_COLUMNS]
    # UPNs (Header only) let the CIN census link children whose ids differ between systems.
    frames = [t.data[columns].assign(UPN=t.data.get("UPN", "")) for t in used]
    if not frames:
        empty = pd.DataFrame(
            {
                "CHILD": pd.Series(dtype=str),
                "DOB": pd.Series(dtype="datetime64[s]"),
                "UPN": pd.Series(dtype=str),
                "UASC": pd.Series(dtype=bool),
            }
        )
        columns = ["_source", "_row", "table", "outcome", "rule"]
        return empty, pd.DataFrame(columns=columns), [], set()
    rows = pd.concat(frames, ignore_index=True)
    rows["table"] = np.repeat([t.table for t in used], [len(f) for f in frames])
    ledger = Ledger(rows, "header")
    ledger.frame["table"] = rows["table"].to_numpy()
    rows["CHILD"] = rows["CHILD"].str.strip()
    dob, _ = parse_dates(rows["DOB"].str.strip())
    rows["DOB"] = dob
    unusable = (rows["CHILD"] == "") | dob.isna()
    ledger.check(
        rows,
        unusable,
        "DOB",
        "a blank child id or a date of birth that is not a date",
        "an LA child id and a date, dd/mm/yyyy",
        "error",
    )
    ledger.set(unusable, "quarantined", "blank CHILD or DOB not a date")
    # A Header file of a return covering several years carries the last one: the earliest
    # plausible birth is bounded by the first year of all the returns instead.
    first, last = years or (-1, -1)
    year = rows["_year"].where(rows["_year"] > 0, last)
    earliest = _year_bound(np.full(len(rows), first), "04-01", -1 - DOB_YEARS_BEFORE)
    earliest = earliest.set_axis(rows.index)
    latest = _year_bound(year, "03-31").set_axis(rows.index)
    implausible = ~unusable & ((dob < earliest) | (dob > latest)).fillna(False)
    found = (
        f"a date of birth more than {DOB_YEARS_BEFORE} years before the first return's year "
        "or after the end of its own return's year"
    )
    ledger.check(rows, implausible, "DOB", found, "a plausible date of birth", "error")
    ledger.set(implausible, "quarantined", f"DOB: {found}")
    usable = rows[~unusable & ~implausible]
    headers = sorted_by(usable[usable["table"] == "header"], ["CHILD", "_year", "_source", "_row"])
    distinct = headers.drop_duplicates(["CHILD", "DOB"])["CHILD"]
    disagree = isin(headers["CHILD"], distinct[distinct.duplicated()])
    ledger.check(
        headers,
        disagree,
        "DOB",
        "dates of birth that differ between returns",
        "one date of birth per child (the latest return's is used)",
        "warning",
    )
    latest = ~headers.duplicated("CHILD", keep="last")
    ledger.set(
        pd.Series(~latest.to_numpy(), index=headers.index),
        "superseded",
        "same child in a later return's Header",
    )
    uasc_ids = usable.loc[usable["table"] == "uasc", "CHILD"]
    children = headers[latest.to_numpy()][["CHILD", "DOB", "UPN"]].reset_index(drop=True)
    children["UPN"] = children["UPN"].fillna("").str.strip().str.upper()
    children["UASC"] = isin(children["CHILD"], uasc_ids)
    uasc_rows = usable["table"] == "uasc"
    ledger.set(
        uasc_rows & ~isin(usable["CHILD"], children["CHILD"]),
        "quarantined",
        "UASC row of a child with no Header row",
    )
    suspect = rows.loc[implausible, "CHILD"]
    dropped = set(suspect[~isin(suspect, children["CHILD"])])
    return children, ledger.frame, ledger.checks, dropped


def _annotate(
    ep: pd.DataFrame, categories: CategoriesConfig, children: pd.DataFrame
) -> pd.DataFrame:
    """Placement groups (temporary placements continue the one around them), periods of
    care and flags; the columns CleanEpisodes documents."""
    ep = sorted_by(ep, ["CHILD", "DECOM"]).reset_index(drop=True)
    ep["short_break"] = ep["LS"].map(categories.legal_statuses) == "short_break"
    new_child = ~ep["CHILD"].eq(ep["CHILD"].shift(1))
    starts_period = ep["RNE"].map(categories.new_episode_reasons) == "starts_period"
    starts = new_child | starts_period | ep["REC"].shift(1).str.startswith("E").fillna(False)
    child = pd.Series(pd.factorize(ep["CHILD"])[0], index=ep.index)
    ep["period"] = starts.astype(int).groupby(child).cumsum()
    group = ep["PLACE"].map(categories.place_groups)
    key = [child, ep["period"]]
    group = group.groupby(key).ffill()
    ep["group"] = group.groupby(key).bfill().fillna("")
    # Placement phases: runs of episodes in one placement group within a period (legal
    # status changes and temporary placements do not start a new phase).
    new_phase = starts | ~ep["group"].eq(ep["group"].shift(1))
    ep["phase"] = new_phase.astype(int).groupby(child).cumsum()
    ep["UASC"] = isin(ep["CHILD"], children.loc[children["UASC"], "CHILD"])
    columns = [
        "CHILD",
        "DECOM",
        "DEC",
        "RNE",
        "LS",
        "CIN",
        "PLACE",
        "PLACE_PROVIDER",
        "REC",
        "REASON_PLACE_CHANGE",
        "UASC",
        "short_break",
        "group",
        "period",
        "phase",
    ]
    return ep[columns]
