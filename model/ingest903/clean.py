"""Clean 903 episodes: normalise, validate, merge returns, repair, and account for every row.

Input: the raw tables the reader found (``model.ingest903.tables``). Output: one clean
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
- ``gap_closed``: REC X1 with the next episode starting later: DEC moved to it (rule 5).
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
from model.config import CategoriesConfig
from model.ingest903.dates import parse_dates
from model.ingest903.tables import PROVENANCE_COLUMNS, TABLE_COLUMNS, Issue, RawTable
from model.ledger import Ledger, isin, sorted_by

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
    frames = [empty] + [t.data for t in tables if t.table == "episodes"]
    data = pd.concat(frames, ignore_index=True)
    ledger = Ledger(data, "episodes")
    data["CHILD"] = data["CHILD"].str.strip()
    _normalise_codes(data, ledger, CODE_COLUMNS)
    decom, bad_decom = _dates(data, "DECOM", ledger)
    dec, bad_dec = _dates(data, "DEC", ledger)
    data["DECOM"], data["DEC"] = decom, dec
    _quarantine_bad_rows(data, ledger, bad_decom, bad_dec, categories)
    # The latest return of each authority in the input (stacked files may hold several):
    # only there may an episode legitimately still be open.
    latest_year = data.groupby("_la")["_year"].max().to_dict() if len(data) else {}
    live = data[ledger.frame["outcome"] != "quarantined"]
    merged = _merge_returns(live, ledger)
    children, child_outcomes, child_checks = _children(tables)
    merged = _repair(merged, ledger, latest_year, categories.new_episode_reasons)
    missing_dob = ~isin(merged["CHILD"], children["CHILD"])
    ledger.check(
        merged,
        missing_dob,
        "CHILD",
        "episodes of a child with no Header row",
        "a Header row with the child's date of birth (quarantined)",
        "error",
    )
    labels = pd.Series(True, index=merged.loc[missing_dob, "index"].to_numpy())
    ledger.set(labels, "quarantined", "no Header row for the child")
    merged = merged[~missing_dob]
    episodes = _annotate(merged, categories, children)
    outcomes = pd.concat([ledger.frame, child_outcomes], ignore_index=True)
    return CleanEpisodes(episodes, children, outcomes, ledger.checks + child_checks)


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


def _children(tables: list[RawTable]) -> tuple[pd.DataFrame, pd.DataFrame, list[Issue]]:
    """Date of birth and UASC flag per child: the latest return's Header row wins."""
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
        return empty, pd.DataFrame(columns=["_source", "_row", "table", "outcome", "rule"]), []
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
    usable = rows[~unusable]
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
    return children, ledger.frame, ledger.checks


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
