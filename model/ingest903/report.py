"""The 903 data-quality report: every row read accounted for, per file and per rule.

Counts reconcile: for every file, rows read = accepted + repaired + superseded +
quarantined. Failed checks are listed with their counts and examples located by file and
row only: the report never holds a child identifier, date of birth or postcode, so it can
be shared.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from model.ingest903.clean import CleanEpisodes
from model.ingest903.tables import Issue, ReadResult

OUTCOMES = ["accepted", "repaired", "superseded", "quarantined"]
USED_TABLES = ("episodes", "header", "uasc")


def _issue_dict(issue: Issue) -> dict[str, object]:
    return {
        "where": issue.source if issue.row is None else f"{issue.source}, row {issue.row}",
        "column": issue.column,
        "found": issue.found,
        "expected": issue.expected,
        "severity": issue.severity,
    }


def build_report(authority: str, read: ReadResult, clean: CleanEpisodes) -> dict[str, object]:
    """The report as a JSON-ready mapping."""
    outcomes = clean.outcomes
    per_file = (
        outcomes.groupby(["_source", "table", "outcome"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=OUTCOMES, fill_value=0)
    )
    per_file.insert(0, "read", per_file.sum(axis=1))
    rows_by_table = outcomes.groupby("table").size().to_dict()
    repairs = outcomes.loc[outcomes.outcome == "repaired", "rule"].str.split("+").explode()
    reasons = outcomes.loc[outcomes.outcome.isin(["superseded", "quarantined"])]
    totals = {k: int((outcomes.outcome == k).sum()) for k in OUTCOMES}
    # Rows the reader handed over, per file and table: each must have exactly one outcome.
    read_rows = {(t.source, t.table): len(t.data) for t in read.tables if t.table in USED_TABLES}
    accounted = {key: int(n) for key, n in per_file["read"].items()}
    return {
        "authority": authority,
        "files_seen": len(read.files_seen),
        "tables_used": sorted({f"{t.table}: {t.source}" for t in read.tables}),
        "rows": {"read": len(outcomes), **totals},
        "reconciles": sum(totals.values()) == len(outcomes)
        and accounted == {k: v for k, v in read_rows.items() if v},
        "rows_by_table": {k: int(v) for k, v in rows_by_table.items()},
        "files": {
            f"{source} ({table})": {k: int(v) for k, v in row.items()}
            for (source, table), row in per_file.iterrows()
        },
        "repair_rules": {k: int(v) for k, v in repairs.value_counts().sort_index().items()},
        "not_used": {
            f"{o}: {r}": int(n)
            for (o, r), n in reasons.groupby(["outcome", "rule"]).size().sort_index().items()
        },
        "file_issues": [
            _issue_dict(i) for i in read.issues + [x for t in read.tables for x in t.issues]
        ],
        "failed_checks": [_issue_dict(i) for i in clean.checks],
    }


def report_text(report: dict[str, object]) -> str:
    """A readable rendering of the report for a data team."""
    rows = report["rows"]
    lines = [
        f"SSDA903 data quality: {report['authority']}",
        "",
        f"Rows read {rows['read']}: accepted {rows['accepted']}, repaired {rows['repaired']}, "
        f"superseded {rows['superseded']}, quarantined {rows['quarantined']} "
        f"({'reconciles' if report['reconciles'] else 'DOES NOT RECONCILE'}).",
        "",
        "Per file (read = accepted + repaired + superseded + quarantined):",
    ]
    files = pd.DataFrame(report["files"]).T
    lines += ["  " + line for line in files.to_string().splitlines()] if len(files) else ["  none"]
    lines += ["", "Repairs, by rule:"]
    lines += [f"  {k}: {v}" for k, v in report["repair_rules"].items()] or ["  none"]
    lines += ["", "Rows not used, by reason:"]
    lines += [f"  {k}: {v}" for k, v in report["not_used"].items()] or ["  none"]
    lines += ["", "File problems:"]
    lines += [
        f"  [{i['severity']}] {i['where']}: {i['found']}; expected {i['expected']}"
        for i in report["file_issues"]
    ] or ["  none"]
    lines += ["", "Failed checks:"]
    lines += [
        f"  [{i['severity']}] {i['where']}{', column ' + i['column'] if i['column'] else ''}: "
        f"{i['found']}; expected {i['expected']}"
        for i in report["failed_checks"]
    ] or ["  none"]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, object], folder: Path) -> None:
    """``data_quality_903.json`` and ``data_quality_903.txt`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data_quality_903.json").write_text(
        json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    (folder / "data_quality_903.txt").write_text(report_text(report), encoding="utf-8")
