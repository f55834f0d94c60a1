"""The 903 data-quality report: every file, year and row read accounted for.

Counts reconcile: for every file, rows read = accepted + repaired + superseded +
quarantined. Every file found is listed as read, partly read (with the number of rows that
could not be read) or not read (with the reason), and the collection years found are
listed with any missing between the first and the last. Failed checks are listed with
their counts and examples located by file and row only: the report never holds a child
identifier, date of birth or postcode, so it can be shared.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.ingest.ledger import (
    issue_dict,
    issue_lines,
    outcome_lines,
    summarise_outcomes,
    write_report_files,
)
from model.ingest.tables import ReadResult
from model.ingest903.clean import CleanEpisodes

USED_TABLES = ("episodes", "header", "uasc")


def year_text(year: int) -> str:
    """A collection year (year ending 31 March) as DfE writes it: 2024 -> "2023-24"."""
    return f"{year - 1}-{year % 100:02d}"


def used_years(read: ReadResult, clean: CleanEpisodes) -> set[int]:
    """Collection years of the episodes tables that gave at least one row used: every
    year of a file's span (a file of several years covers each), and the YEARs of a
    stacked file's rows."""
    outcomes = clean.outcomes
    used = (outcomes.table == "episodes") & (outcomes.outcome != "quarantined")
    # Distinct names first: a national set of returns has millions of rows, few files.
    sources = set(pd.unique(outcomes.loc[used, "_source"]))
    years: set[int] = set()
    for table in read.tables:
        if table.table != "episodes" or table.span is None or table.source not in sources:
            continue
        if table.year is None:  # stacked: the YEARs its rows carry
            years |= {int(y) for y in table.data["_year"].unique() if y > 0}
        else:
            years |= set(range(table.span[0], table.span[1] + 1))
    return years


def file_accounting(read: ReadResult) -> list[dict[str, object]]:
    """Every file (and folder or path given) found: read, partly read or not read."""
    tables: dict[str, list] = {}
    for table in read.tables:
        tables.setdefault(table.source, []).append(table)
    problems: dict[str, str] = {}
    for issue in sorted(read.issues, key=lambda i: i.severity != "error"):
        problems.setdefault(issue.source, issue.found)
    out = []
    for source in dict.fromkeys([*read.files_seen, *problems]):
        found = tables.get(source, [])
        if not found:
            reason = problems.get(source, "no 903 table in it")
            out.append({"file": source, "status": "not read", "reason": reason})
            continue
        rows = sum(len(t.data) for t in found)
        unread = sum(t.unread for t in found)
        out.append(
            {
                "file": source,
                "status": "partly read" if unread else "read",
                "tables": sorted({t.table for t in found}),
                "rows_read": rows,
                "rows_not_read": unread,
            }
        )
    return out


def _years(read: ReadResult, clean: CleanEpisodes) -> dict[str, object]:
    years = sorted(used_years(read, clean))
    if not years:
        return {"found": [], "missing": []}
    missing = sorted(set(range(years[0], years[-1] + 1)) - set(years))
    return {"found": [year_text(y) for y in years], "missing": [year_text(y) for y in missing]}


def build_report(authority: str, read: ReadResult, clean: CleanEpisodes) -> dict[str, object]:
    """The report as a JSON-ready mapping."""
    outcomes = clean.outcomes
    summary = summarise_outcomes(outcomes)
    # Rows the reader handed over, per file and table: each must have exactly one outcome.
    read_rows = {
        f"{t.source} ({t.table})": len(t.data) for t in read.tables if t.table in USED_TABLES
    }
    accounted = {key: counts["read"] for key, counts in summary["files"].items()}
    files = file_accounting(read)
    return {
        "authority": authority,
        "files_seen": len(read.files_seen),
        "file_status": {
            status: sum(f["status"] == status for f in files)
            for status in ("read", "partly read", "not read")
        },
        "files_accounted": files,
        "collection_years": _years(read, clean),
        "tables_used": sorted({f"{t.table}: {t.source}" for t in read.tables}),
        "rows": summary["rows"],
        "reconciles": accounted == {k: v for k, v in read_rows.items() if v},
        "rows_by_table": {k: int(v) for k, v in outcomes.groupby("table").size().items()},
        "files": summary["files"],
        "repair_rules": summary["repair_rules"],
        "not_used": summary["not_used"],
        "file_issues": [
            issue_dict(i) for i in read.issues + [x for t in read.tables for x in t.issues]
        ],
        "failed_checks": [issue_dict(i) for i in clean.checks],
    }


def accounting_lines(report: dict[str, object]) -> list[str]:
    """Files and years found, as readable lines."""
    status = report["file_status"]
    lines = [
        f"Files found {sum(status.values())}: read {status['read']}, partly read "
        f"{status['partly read']}, not read {status['not read']}."
    ]
    for entry in report["files_accounted"]:
        if entry["status"] == "partly read":
            lines.append(
                f"  partly read: {entry['file']}: {entry['rows_read']} rows read, "
                f"{entry['rows_not_read']} not read (see File problems)"
            )
        elif entry["status"] == "not read":
            reason = str(entry["reason"])
            if reason.startswith("not read (") and reason.endswith(")"):
                reason = reason[len("not read (") : -1]  # said once is enough
            lines.append(f"  not read: {entry['file']}: {reason}")
    years = report["collection_years"]
    found = ", ".join(years["found"]) or "none"
    missing = ", ".join(years["missing"]) or "none"
    lines += ["", f"Collection years found: {found}; missing between them: {missing}."]
    return lines


def report_text(report: dict[str, object]) -> str:
    """A readable rendering of the report for a data team."""
    lines = outcome_lines(report, f"SSDA903 data quality: {report['authority']}")
    lines += ["", *accounting_lines(report)]
    lines += ["", "File problems:", *issue_lines(report["file_issues"])]
    lines += ["", "Failed checks:", *issue_lines(report["failed_checks"])]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, object], folder: Path) -> None:
    """``data_quality_903.json`` and ``data_quality_903.txt`` in ``folder``."""
    write_report_files(report, report_text(report), folder, "data_quality_903")
