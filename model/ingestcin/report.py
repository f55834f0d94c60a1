"""The CIN data-quality report: every row read accounted for, the link to the 903, and the
routes into care.

Counts reconcile: for every file and table, rows read = accepted + repaired + superseded +
quarantined. Problems are located by file, Child position and element (or CINdetails
position), never by a child identifier, so the report can be shared.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.codes import OUTSIDE, UPSTREAM_STATES
from model.ingestcin.clean import CleanCin
from model.ingestcin.read import CinReadResult
from model.ledger import (
    issue_dict,
    issue_lines,
    outcome_lines,
    summarise_outcomes,
    write_report_files,
)


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
    return {
        "authority": authority,
        "files_seen": len(read.files_seen),
        "census_years": clean.years,
        "rows": summary["rows"],
        "reconciles": accounted == read_rows,
        "rows_by_table": {k: int(v) for k, v in clean.outcomes.groupby("table").size().items()},
        "files": summary["files"],
        "repair_rules": summary["repair_rules"],
        "not_used": summary["not_used"],
        "link": link,
        "file_issues": [issue_dict(i, "Child", "element") for i in read.issues],
        "failed_checks": [issue_dict(i) for i in clean.checks],
    }


def report_text(report: dict[str, object]) -> str:
    """A readable rendering of the report for a data team."""
    lines = outcome_lines(report, f"CIN census data quality: {report['authority']}")
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
