"""The CIN data-quality report: every row read accounted for, the link to the 903, and the
routes into care.

Counts reconcile: for every file and table, rows read = accepted + repaired + superseded +
quarantined; for every file found, the Child elements (or flat rows) found = read + not
read, and the children read are the children table's rows of that file. Every file found is
listed as read, partly read (with the count not read) or not read (with the reason), with
its census years; the plausibility gates are listed with the rows each quarantined.
Problems are located by file, Child position and element (or CINdetails position), never by
a child identifier, so the report can be shared.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.codes import OUTSIDE, UPSTREAM_STATES
from model.ingest.ledger import (
    issue_dict,
    issue_lines,
    outcome_lines,
    summarise_outcomes,
    write_report_files,
)
from model.ingestcin.clean import GATES, CleanCin
from model.ingestcin.read import NOT_READ, PARTLY_READ, READ, CinFileAccount, CinReadResult


def link_summary(
    links: pd.DataFrame | None, in_care_903: pd.Series | None, observations: pd.DataFrame
) -> dict[str, object]:
    """How well the CIN census links to the 903, and entries to care by route.

    ``in_care_903``: ids of the 903 children looked after at some time in the census
    years (None when no 903 data was given). Every looked-after child is a child in need,
    so each of them should be found in the CIN census: the link rate is the share found.
    """
    entries = observations[observations.measure == "care_entry"]
    routes = entries.groupby("state")["value"].sum()
    summary: dict[str, object] = {
        "linked_to_903": links is not None,
        "entries_to_care_by_route": {k: int(routes.get(k, 0)) for k in (OUTSIDE, *UPSTREAM_STATES)},
    }
    if links is None or in_care_903 is None:
        return summary
    found = links[links["CHILD"] != ""].drop_duplicates("CHILD").set_index("CHILD")["method"]
    method = found.reindex(in_care_903.unique())
    n = len(method)
    by_id, by_upn = int((method == "id").sum()), int((method == "upn").sum())
    summary |= {
        "cin_children": len(links),
        "cin_children_linked": int((links["CHILD"] != "").sum()),
        "children_in_care_903": n,
        "found_by_id": by_id,
        "found_by_upn": by_upn,
        "not_found": n - by_id - by_upn,
        "link_rate": round((by_id + by_upn) / n, 4) if n else None,
    }
    return summary


def build_report(
    authority: str, read: CinReadResult, clean: CleanCin, link: dict[str, object]
) -> dict[str, object]:
    """The report as a JSON-ready mapping."""
    summary = summarise_outcomes(clean.outcomes)
    read_rows = {
        f"{source} ({name})": int(n)
        for name in ("children", "cin_details", "assessments", "cin_plans", "section47", "cpp")
        for source, n in read.table(name).groupby("_source").size().items()
    }
    accounted = {key: counts["read"] for key, counts in summary["files"].items()}
    files = [file_dict(f) for f in read.files]
    return {
        "authority": authority,
        "files_seen": len(read.files_seen),
        "files_by_status": {s: sum(f.status == s for f in read.files) for s in STATUSES},
        "census_files": files,
        "census_years": clean.years,
        "census_years_refused": {k: v for k, v in clean.years_refused.items() if v},
        "rows": summary["rows"],
        "reconciles": accounted == read_rows and _files_reconcile(read),
        "plausibility_gates": {
            rule: {"quarantined": clean.gates.get(rule, 0), "rule": text}
            for rule, text in GATES.items()
        },
        "rows_by_table": {k: int(v) for k, v in clean.outcomes.groupby("table").size().items()},
        "files": summary["files"],
        "repair_rules": summary["repair_rules"],
        "not_used": summary["not_used"],
        "link": link,
        "file_issues": [issue_dict(i, "Child", "element") for i in read.issues],
        "failed_checks": [issue_dict(i) for i in clean.checks],
    }


STATUSES = (READ, PARTLY_READ, NOT_READ)


def file_dict(account: CinFileAccount) -> dict[str, object]:
    """One file's account as a JSON-ready mapping (no child identifiers: counts only)."""
    return {
        "file": account.source,
        "kind": account.kind,
        "status": account.status,
        "census_years": account.years,
        "found": account.found,
        "read": account.read,
        "not_read": account.unread,
        "unit": account.unit,
        "reason": account.reason,
        "xsd": account.xsd,
        "children_failing_xsd": account.xsd_invalid,
        "warnings": account.warnings,
    }


def _files_reconcile(read: CinReadResult) -> bool:
    """Whether every file's found = read + not read, and every XML file's children read
    are the children table's rows of that file."""
    rows = read.children.groupby("_source").size()
    for f in read.files:
        if f.found != f.read + f.unread:
            return False
        if f.kind == "XML" and int(rows.get(f.source, 0)) != f.read:
            return False
    return True


def file_lines(report: dict[str, object]) -> list[str]:
    """The files found, gates and refused years as readable lines."""
    counts = report["files_by_status"]
    lines = ["", "Files found: " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    for f in report["census_files"]:
        years = ", ".join(map(str, f["census_years"])) or "year unknown"
        text = f"  {f['file']} ({f['kind'] or 'unknown kind'}, {years}): {f['status']}"
        if f["status"] != NOT_READ:
            text += f", {f['read']} of {f['found']} {f['unit']}"
        if f["reason"]:
            text += f" ({f['reason']})"
        if f["children_failing_xsd"]:
            text += f"; {f['children_failing_xsd']} failed the XSD {f['xsd']}"
        lines.append(text)
        lines += [f"    WARNING: {w}" for w in f["warnings"]]
    refused = report["census_years_refused"]
    lines += ["", "Census years refused (their rows quarantined):"]
    lines += [f"  {la or '(no LA code)'}: {', '.join(map(str, y))}" for la, y in refused.items()]
    lines += [] if refused else ["  none"]
    lines += ["", "Plausibility gates (rows quarantined by each):"]
    lines += [
        f"  {rule}: {g['quarantined']} ({g['rule']})"
        for rule, g in report["plausibility_gates"].items()
    ]
    return lines


def report_text(report: dict[str, object]) -> str:
    """A readable rendering of the report for a data team."""
    lines = outcome_lines(report, f"CIN census data quality: {report['authority']}")
    lines += file_lines(report)
    link = report["link"]
    lines += ["", "Link to the 903:"]
    if link.get("link_rate") is not None:
        lines.append(
            f"  {link['children_in_care_903']} children looked after in the census years: "
            f"{link['found_by_id']} found by LA child id, {link['found_by_upn']} by UPN, "
            f"{link['not_found']} not found (link rate {link['link_rate']:.1%})"
        )
    else:
        lines.append("  no 903 records given: no child counts as looked after")
    routes = link["entries_to_care_by_route"]
    lines.append(
        "  entries to care by route: " + ", ".join(f"from {k} {v}" for k, v in routes.items())
    )
    lines += ["", "File problems (reader and XSD):", *issue_lines(report["file_issues"], "element")]
    lines += ["", "Failed checks:", *issue_lines(report["failed_checks"])]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, object], folder: Path) -> None:
    """``data_quality_cin.json`` and ``data_quality_cin.txt`` in ``folder``."""
    write_report_files(report, report_text(report), folder, "data_quality_cin")
