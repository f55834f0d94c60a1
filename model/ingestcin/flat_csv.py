"""Rebuilds the CIN tables from the liia-tools flat CSV layout (one row per dated event).

The layout is data-formats.md §2.3 item 1: any file not starting with ``<`` is read as one
(:func:`read_flat`); files of neither kind get an Issue.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from model.ingest.issue import Issue
from model.ingestcin.account import CinFileAccount
from model.ingestcin.capped import MAX_ISSUES_PER_KIND
from model.ingestcin.discover import wide_encoding_of, year_in_name
from model.ingestcin.tables import TABLES, Tables
from model.input_files import read_input

FLAT_REQUIRED = ("LAchildID", "Date", "Type", "CINreferralDate")
"""Columns without which a flat file cannot be used at all."""
FLAT_BIRTH = ("PersonBirthDate", "ExpectedPersonBirthDate")
"""At least one of these is needed (every child needs a birth date for its age band)."""
FLAT_COLUMNS = (
    "ReferralSource", "PrimaryNeedCode", "CINclosureDate", "ReasonForClosure",
    "DateOfInitialCPC", "ReferralNFA", "CINPlanStartDate", "CINPlanEndDate",
    "S47ActualStartDate", "InitialCPCtarget", "ICPCnotRequired", "AssessmentActualStartDate",
    "AssessmentInternalReviewDate", "AssessmentAuthorisationDate", "Factors", "CPPstartDate",
    "CPPendDate", "InitialCategoryOfAbuse", "LatestCategoryOfAbuse", "NumberOfPreviousCPP",
    "UPN", "FormerUPN", "UPNunknown", "PersonDeathDate", "Ethnicity", "Disabilities",
)  # fmt: skip
"""The rest of the liia-tools layout (data-formats.md §2.3): read as blank when absent,
with a warning naming them."""
FLAT_EXPECTED = "CIN census XML or liia-tools flat CSV"


def _flat_columns(source: str, columns: Sequence[str]) -> list[Issue] | None:
    """Issues about the flat file's columns: an error (the file is not used) when a
    required one is missing, a warning naming the optional ones missing; None if fine.
    Only our own column names are named: a file's first line may be data."""
    missing = [c for c in FLAT_REQUIRED if c not in columns]
    if not any(c in columns for c in FLAT_BIRTH):
        missing.append(" or ".join(FLAT_BIRTH))
    if missing:
        found = f"a file without column(s) {', '.join(missing)} (file not used)"
        return [Issue(source, None, None, found, FLAT_EXPECTED)]
    absent = [c for c in FLAT_COLUMNS if c not in columns]
    if "GenderCurrent" not in columns and "Sex" not in columns:
        absent.append("GenderCurrent or Sex")
    if not absent:
        return None
    found = f"no column(s) {', '.join(absent)}: read as blank"
    return [Issue(source, None, None, found, "every column of the liia-tools layout", "warning")]


def read_flat(path: Path, source: str, tables: Tables, account: CinFileAccount) -> list[Issue]:
    """Rebuild the tables from a liia-tools flat CSV (one row per dated event).

    CINdetails are the distinct (LAchildID, CINreferralDate) pairs, numbered within the
    child in file order; assessments, CIN plans, S47s and CPPs are the distinct start dates
    within a CINdetails (rows of any Type carry them); ``CPPreviewDate`` joins the dates of
    the ``CPPreviewDate`` rows. Each ``YEAR`` is a census of its own (the cleaner merges
    years as it merges files): ``_child`` is the 1-based order of first appearance of the
    (child, year) in the file, ``_year`` the ``YEAR`` column when present, else the year in
    the file name; ``_la`` the ``LA`` column. The flat layout has one ``DateOfInitialCPC`` column,
    used for both CINdetails and Section47. No XSD validation (this is not XML).

    ``account`` counts the file's data rows: rows without LAchildID are not read (they
    cannot be given to a child) and are counted as unread.
    """
    account.kind, account.unit = "flat CSV", "rows"
    raw = read_input(path)
    try:
        # UTF-16/32 by its byte-order mark (Excel's "Unicode text"), else UTF-8.
        text = raw.decode(wide_encoding_of(raw) or "utf-8-sig").removeprefix("\ufeff")
    except UnicodeDecodeError:
        found = "a file that is neither XML nor UTF-8 text"
        return [Issue(source, None, None, found, FLAT_EXPECTED)]
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        found = f"not a CSV table ({str(error).splitlines()[0]})"
        return [Issue(source, None, None, found, FLAT_EXPECTED)]
    frame.columns = [str(c).strip() for c in frame.columns]
    problems = _flat_columns(source, list(frame.columns))
    if problems and problems[0].severity == "error":
        return problems
    issues: list[Issue] = problems or []
    if "YEAR" in frame.columns:
        years = pd.to_numeric(frame["YEAR"], errors="coerce").fillna(-1).astype("int64")
    else:
        named = year_in_name(path.name)
        year = -1 if named is None else named
        if year < 0:
            found = "no YEAR column and no year in the file name"
            issues.append(Issue(source, None, "YEAR", found, "a census year; -1 used"))
        years = pd.Series(year, index=frame.index, dtype="int64")
    frame = frame.assign(_year=years.to_numpy(), _la=frame.get("LA", ""))
    extra = ["Factors", "GenderCurrent", "Sex"]  # flat columns that are in no table
    wanted = [c for columns in TABLES.values() for c in columns] + extra
    col = {c: frame[c] if c in frame.columns else pd.Series("", index=frame.index) for c in wanted}
    blank_id = frame["LAchildID"].str.strip() == ""
    for line in (frame.index[blank_id] + 2)[:MAX_ISSUES_PER_KIND]:
        issues.append(Issue(source, int(line), "LAchildID", "row without LAchildID: not used",
                            "a child id"))  # fmt: skip
    keep = ~blank_id
    account.found, account.unread = len(frame), int(blank_id.sum())
    account.read = account.found - account.unread
    account.years = sorted(int(y) for y in years[keep].unique() if y > 0)
    account.la = ",".join(sorted(set(frame.loc[keep, "LA"]))) if "LA" in frame.columns else ""
    if account.unread:
        account.reason = f"{account.unread} rows without LAchildID not read"
    # Each YEAR of a stacked file is a census of its own: the cleaner merges them as it
    # merges separate files, so a record's later state (a closure, an authorisation) wins.
    child_year = zip(frame.loc[keep, "LAchildID"], frame.loc[keep, "_year"], strict=True)
    child_order = {key: i for i, key in enumerate(dict.fromkeys(child_year), 1)}
    detail_no: dict[tuple[str, int, str], int] = {}
    per_child: Counter[tuple[str, int]] = Counter()
    seen: set[tuple] = set()
    reviews: dict[tuple, list[str]] = {}
    cpp_rows: dict[tuple, list] = {}
    # Plain dicts per row: pandas .at per cell would be ~100x slower.
    values = pd.DataFrame(col)[keep.to_numpy()].to_dict("records")
    extra = frame.loc[keep, ["LAchildID", "Type", "Date", "_year", "_la"]].to_dict("records")
    for v, r in zip(values, extra, strict=True):
        cid, year = r["LAchildID"], int(r["_year"])
        prov = (source, child_order[cid, year], year, str(r["_la"]))
        if (cid, year) not in seen:
            seen.add((cid, year))
            sex_el = "GenderCurrent" if v["GenderCurrent"] else ("Sex" if v["Sex"] else "")
            tables.rows["children"].append(
                (cid, v["UPN"], v["FormerUPN"], v["UPNunknown"], v["PersonBirthDate"],
                 v["ExpectedPersonBirthDate"], v["GenderCurrent"] or v["Sex"], sex_el,
                 v["PersonDeathDate"], v["Ethnicity"], v["Disabilities"], *prov)
            )  # fmt: skip
        dkey = (cid, year, v["CINreferralDate"])
        if dkey not in detail_no:
            per_child[cid, year] += 1
            detail_no[dkey] = per_child[cid, year]
            tables.rows["cin_details"].append(
                (cid, per_child[cid, year], v["CINreferralDate"], v["ReferralSource"],
                 v["PrimaryNeedCode"], v["CINclosureDate"], v["ReasonForClosure"],
                 v["DateOfInitialCPC"], v["ReferralNFA"], *prov)
            )  # fmt: skip
        n = detail_no[dkey]
        kind = r["Type"].strip()
        if (
            v["AssessmentActualStartDate"]
            and (dkey, "a", v["AssessmentActualStartDate"]) not in seen
        ):
            seen.add((dkey, "a", v["AssessmentActualStartDate"]))
            tables.rows["assessments"].append(
                (cid, n, v["AssessmentActualStartDate"], v["AssessmentInternalReviewDate"],
                 v["AssessmentAuthorisationDate"], v["Factors"] or v["AssessmentFactors"], *prov)
            )  # fmt: skip
        if v["CINPlanStartDate"] and (dkey, "p", v["CINPlanStartDate"]) not in seen:
            seen.add((dkey, "p", v["CINPlanStartDate"]))
            tables.rows["cin_plans"].append(
                (cid, n, v["CINPlanStartDate"], v["CINPlanEndDate"], *prov)
            )
        if v["S47ActualStartDate"] and (dkey, "s", v["S47ActualStartDate"]) not in seen:
            seen.add((dkey, "s", v["S47ActualStartDate"]))
            tables.rows["section47"].append(
                (cid, n, v["S47ActualStartDate"], v["InitialCPCtarget"], v["DateOfInitialCPC"],
                 v["ICPCnotRequired"], *prov)
            )  # fmt: skip
        if v["CPPstartDate"]:
            ckey = (dkey, v["CPPstartDate"])
            if ckey not in cpp_rows:
                cpp_rows[ckey] = [
                    cid, n, v["CPPstartDate"], v["CPPendDate"], v["InitialCategoryOfAbuse"],
                    v["LatestCategoryOfAbuse"], v["NumberOfPreviousCPP"], "", *prov,
                ]  # fmt: skip
                reviews[ckey] = []
            if kind == "CPPreviewDate":
                reviews[ckey].append(r["Date"])
    for ckey, row in cpp_rows.items():
        row[7] = ",".join(reviews[ckey])
        tables.rows["cpp"].append(tuple(row))
    return issues
