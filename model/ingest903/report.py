"""The 903 data-quality report: every row read accounted for, per file and per rule.

Counts reconcile: for every file, rows read = accepted + repaired + superseded +
quarantined. Failed checks are listed with their counts and examples located by file and
row only: the report never holds a child identifier, date of birth or postcode, so it can
be shared.
"""

from __future__ import annotations

from pathlib import Path

from model.ingest903.clean import CleanEpisodes
from model.ingest903.tables import ReadResult
from model.ledger import (
    issue_dict,
    issue_lines,
    outcome_lines,
    summarise_outcomes,
    write_report_files,
)

USED_TABLES = ("episodes", "header", "uasc")


def build_report(authority: str, read: ReadResult, clean: CleanEpisodes) -> dict[str, object]:
    """The report as a JSON-ready mapping."""
    outcomes = clean.outcomes
    summary = summarise_outcomes(outcomes)
    # Rows the reader handed over, per file and table: each must have exactly one outcome.
    read_rows = {
        f"{t.source} ({t.table})": len(t.data) for t in read.tables if t.table in USED_TABLES
    }
    accounted = {key: counts["read"] for key, counts in summary["files"].items()}
    return {
        "authority": authority,
        "files_seen": len(read.files_seen),
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


def report_text(report: dict[str, object]) -> str:
    """A readable rendering of the report for a data team."""
    lines = outcome_lines(report, f"SSDA903 data quality: {report['authority']}")
    lines += ["", "File problems:", *issue_lines(report["file_issues"])]
    lines += ["", "Failed checks:", *issue_lines(report["failed_checks"])]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, object], folder: Path) -> None:
    """``data_quality_903.json`` and ``data_quality_903.txt`` in ``folder``."""
    write_report_files(report, report_text(report), folder, "data_quality_903")
