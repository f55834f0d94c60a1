"""The data-quality report of the published-table ingest, with the identity check.

**Files.** Every file found under the folder has a ``status``: ``read``; ``not read`` (a
table carecast reads, lacking a column it needs: ``not_read`` names it, and every figure it
holds came from other files, or the ingest would have stopped); ``not recognised`` (CSV of
no layout carecast knows: its rows are counted as "file not recognised"); ``not a table``
(not CSV). ``files_by_status`` counts them, ``files_not_read`` lists the second kind.

Counts reconcile at two levels, per file:

- **rows** (data lines of the file): read = used + not used, each row not used with one
  reason — a national or regional row, another geography, a file not recognised or not
  read, a row
  holding no carecast figure (e.g. a breakdown by ethnicity), or the reason of its cells
  (the first of: superseded, group incomplete, suppressed, not applicable, not available,
  duplicate in file, not mapped, authority not existing, authority not identified);
- **cells** (the local-authority values carecast knows the meaning of): read = the sum over
  the outcomes of ``model.ingestpub.combine.CELL_OUTCOMES``.

Overlapping files are listed pair by pair (which file's figures were superseded by which,
how many differ and by how much at most), as are the figures a newer release withheld and an
older one supplied, the DfE categories carecast cannot map (and why), and the markers counted
as 0 (``k``; ``z`` beside numbers in a group).

**Identity check.** For every all-ages total (``dfe_looked_after`` etc., ``population``) and
year, the sum over authorities (``kind`` = authority: combined units never count) is compared
with the national figure of the file most of the authorities' figures came from. DfE rounds
national figures (to the nearest 10, or 100 in the older SFR files) and suppresses small
authority figures (one to five children), so the sum may differ by half the rounding unit
(inferred from the national figure: 50 when it ends in 00, 5 when in 0) plus 5 per
authority figure suppressed in that file; ``within_tolerance`` says whether it does.
A year with figures not available in that file (``x``: the authority did not return them,
and DfE's national figure includes its estimate for them) is not comparable: it is listed
with the count, not judged.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.ingest.ledger import write_report_files
from model.ingestpub.changes import RECODES, REORGANISATIONS
from model.ingestpub.combine import CELL_OUTCOMES, Combined
from model.ingestpub.tables import ReadResult, SourceFile

ROW_PRIORITY = [o for o in CELL_OUTCOMES if o != "used"]
TOTAL_STATE = {
    "dfe_looked_after": "looked_after",
    "dfe_started": "looked_after",
    "dfe_ceased": "looked_after",
    "dfe_in_need": "cin",
    "dfe_on_plan": "cpp",
    "dfe_plans_started": "cpp",
    "dfe_referrals": "",
    "dfe_rereferrals": "",
    "dfe_s47": "",
    "dfe_icpc": "",
    "population": "",
}
"""The state of each measure's all-ages total."""

LEVEL_REASON = {
    "national": "national or regional row",
    "regional": "national or regional row",
    "other": "another geography",
    "unrecognised": "file not recognised",
    "not_read": "file not read",
}


def row_outcomes(read: ReadResult, combined: Combined) -> pd.DataFrame:
    """Every data row read (``file``, ``line``) with ``outcome``: ``used`` or the reason
    it was not (module notes)."""
    rows = read.rows[["file", "line", "level"]].copy()
    cells = combined.cells
    rank = {o: i for i, o in enumerate(ROW_PRIORITY)}
    per = cells.assign(used=cells["outcome"] == "used", rank=cells["outcome"].map(rank).fillna(-1))
    per = per.groupby(["file", "line"]).agg(used=("used", "any"), rank=("rank", "min"))
    per["reason"] = per["rank"].map(dict(enumerate(ROW_PRIORITY)))
    per.loc[per["used"], "reason"] = "used"
    rows = rows.merge(per[["reason"]].reset_index(), on=["file", "line"], how="left")
    by_level = rows["level"].map(LEVEL_REASON)
    reason = by_level.where(by_level.notna(), rows["reason"])
    rows["outcome"] = reason.fillna("no carecast figure in this row").str.replace("_", " ")
    return rows


def _totals(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``frame`` that are a measure's all-ages total."""
    return frame[
        (frame["state"] == frame["measure"].map(TOTAL_STATE))
        & (frame["age_band"] == "")
        & (frame["reason"] == "")
    ]


def identity_check(combined: Combined) -> list[dict[str, object]]:
    """The identity check (module notes), one entry per measure and year."""
    real = combined.authorities.loc[combined.authorities["kind"] == "authority", ["authority"]]
    obs = _totals(combined.observations.merge(real, on="authority"))
    obs = obs.assign(year=obs["period"].str[:4].astype(int))
    sums = obs.groupby(["measure", "year"], as_index=False).agg(
        sum_over_authorities=("value", "sum"), authorities=("authority", "nunique")
    )
    per_file = _totals(combined.sources).groupby(["measure", "year", "file"]).size()
    per_file = (
        per_file.rename("n")
        .reset_index()
        .sort_values(["measure", "year", "n", "file"], ascending=[True, True, False, True])
    )
    files = per_file.groupby(["measure", "year"]).size().rename("files_supplying")
    main = per_file.drop_duplicates(["measure", "year"])[["measure", "year", "file"]]
    nat = _totals(combined.national)
    nat = nat[nat["status"] == "value"].drop_duplicates(["file", "measure", "year"])
    nat = nat[["file", "measure", "year", "value"]].rename(columns={"value": "national"})
    cells = _totals(combined.cells)
    gaps = (
        cells.assign(
            suppressed=cells["outcome"] == "suppressed",
            not_available=cells["outcome"] == "not_available",
        )
        .groupby(["file", "measure", "year"], as_index=False)[["suppressed", "not_available"]]
        .sum()
    )
    table = (
        main.merge(sums, on=["measure", "year"])
        .merge(files.reset_index(), on=["measure", "year"])
        .merge(gaps, on=["file", "measure", "year"], how="left")
        .merge(nat, on=["file", "measure", "year"], how="left")
        .fillna({"suppressed": 0, "not_available": 0})
        .sort_values(["measure", "year"])
    )
    out = []
    for row in table.itertuples(index=False):
        entry: dict[str, object] = {
            "measure": row.measure,
            "year": int(row.year),
            "authorities": int(row.authorities),
            "sum_over_authorities": int(row.sum_over_authorities),
            "file": row.file,
            "files_supplying": int(row.files_supplying),
            "suppressed": int(row.suppressed),
            "not_available": int(row.not_available),
        }
        if pd.isna(row.national):
            entry |= {"national": None, "difference": None, "tolerance": None}
            entry |= {"comparable": False, "within_tolerance": None}
        else:
            value = int(row.national)
            half = 50 if value % 100 == 0 else 5 if value % 10 == 0 else 0
            tolerance = half + 5 * int(row.suppressed)
            difference = int(row.sum_over_authorities) - value
            comparable = int(row.not_available) == 0
            entry |= {
                "national": value,
                "difference": difference,
                "tolerance": tolerance,
                "comparable": comparable,
                "within_tolerance": abs(difference) <= tolerance if comparable else None,
            }
        out.append(entry)
    return out


def build_report(folder: str, read: ReadResult, combined: Combined) -> dict[str, object]:
    """The report as a JSON-ready mapping."""
    rows = row_outcomes(read, combined)
    cells = combined.cells
    row_counts = rows.groupby(["file", "outcome"]).size()
    cell_counts = cells.groupby(["file", "outcome"]).size()
    files = []
    reconciles = True
    for info in read.files:
        outcomes = row_counts[info.path] if info.path in row_counts.index.levels[0] else {}
        mine_cells = cell_counts[info.path] if info.path in cell_counts.index.levels[0] else {}
        used = int(outcomes.get("used", 0))
        not_used = {k: int(v) for k, v in outcomes.items() if k != "used"}
        reconciles &= info.rows == used + sum(not_used.values())
        files.append(
            {
                "file": info.path,
                "status": _status(info),
                "not_read": info.not_read,
                "layout": info.layout,
                "table": info.table,
                "release": info.release,
                "years": f"{min(info.years)}-{max(info.years)}" if info.years else "",
                "rows_read": info.rows,
                "rows_used": used,
                "rows_not_used": dict(sorted(not_used.items())),
                "cells": {o: int(mine_cells[o]) for o in CELL_OUTCOMES if o in mine_cells},
                "notes": info.notes,
            }
        )
    reconciles &= len(rows) == sum(f.rows for f in read.files)
    reconciles &= len(cells) == int(cell_counts.sum())
    not_mapped = (
        cells[cells["outcome"] == "not_mapped"]
        .groupby(["label", "note"])
        .size()
        .reset_index(name="cells")
    )
    identity = identity_check(combined)
    obs = combined.observations
    authorities = combined.authorities
    real = authorities[(authorities["kind"] == "authority") & authorities["first_year"].notna()]
    recoded = cells[
        (cells["new_code"] != "")
        & (cells["authority"] != "")
        & (cells["new_code"] != cells["authority"])
    ]
    from_old_code = cells[(cells["new_code"] == "") & (cells["authority"] != "")]
    return {
        "folder": folder,
        "files_seen": len(read.files),
        "files_by_status": {
            status: sum(1 for f in files if f["status"] == status)
            for status in ("read", "not read", "not recognised", "not a table")
        },
        "files_not_read": [
            {"file": info.path, "table": info.table, "reason": info.not_read}
            for info in read.files
            if info.not_read
        ],
        "rows": {
            "read": len(rows),
            "used": int((rows["outcome"] == "used").sum()),
            "not_used": {
                k: int(v)
                for k, v in rows.loc[rows["outcome"] != "used", "outcome"]
                .value_counts()
                .sort_index()
                .items()
            },
        },
        "cells": {
            "read": len(cells),
            **{o: int((cells["outcome"] == o).sum()) for o in CELL_OUTCOMES},
        },
        "reconciles": bool(reconciles),
        "output": {
            "rows": len(obs),
            "authorities": len(real),
            "combined_units": int((authorities["kind"] == "combined").sum()),
            "years": f"{obs['period'].min()[:4]}-{obs['period'].max()[:4]}" if len(obs) else "",
            "rows_by_measure": {k: int(v) for k, v in obs.groupby("measure").size().items()},
        },
        "files": files,
        "overlaps": {
            "rule": "the newest release wins; within a release a DfE file beats the derived "
            "panel, then the first file by path",
            "pairs": [
                {
                    "superseded_file": r.file,
                    "winning_file": r.file_winner,
                    "figures": int(r.figures),
                    "differ": int(r.differ),
                    "largest_difference": int(r.largest),
                }
                for r in combined.superseded.itertuples()
            ],
            "figures_superseded": int(combined.superseded["figures"].sum()),
            "figures_differing": int(combined.superseded["differ"].sum()),
        },
        "filled_from_older_release": [
            {"withheld_in": r.file, "taken_from": r.file_winner, "figures": int(r.size)}
            for r in combined.filled.itertuples()
        ],
        "zeros": {
            "k_counted_as_0": int((cells["k"] & (cells["outcome"] == "used")).sum()),
            "z_counted_as_0_in_a_group": int(
                (cells["zero_z"] & (cells["outcome"] == "used")).sum()
            ),
        },
        "not_mapped": [
            {"category": r.label, "why": r.note, "cells": int(r.cells)}
            for r in not_mapped.itertuples()
        ],
        "authority_changes": {
            "recodes": [f"{r.old} -> {r.new} ({r.name}, {r.why}, from {r.year})" for r in RECODES],
            "reorganisations": [
                f"{c.unit}: {' + '.join(c.predecessors)} (to {c.year - 1}) -> "
                f"{' + '.join(c.successors)} (from {c.year}): {c.why}"
                for c in REORGANISATIONS
            ],
            "cells_under_an_older_code": len(recoded),
            "cells_identified_by_old_la_code": len(from_old_code),
            "authorities_without_figures": authorities.loc[
                authorities["first_year"].isna(), "authority"
            ].tolist(),
        },
        "identity_check": {
            "summary": {
                measure: {
                    "years": len(group),
                    "comparable": sum(1 for e in group if e["comparable"]),
                    "within_tolerance": sum(1 for e in group if e["within_tolerance"]),
                }
                for measure in sorted({str(e["measure"]) for e in identity})
                for group in [[e for e in identity if e["measure"] == measure]]
            },
            "years": identity,
        },
    }


def _status(info: SourceFile) -> str:
    """``read``, ``not read`` (a table carecast reads, lacking a column), ``not
    recognised`` (CSV of no layout carecast knows) or ``not a table`` (not CSV)."""
    if info.not_read:
        return "not read"
    return {"unrecognised": "not recognised", "not a table": "not a table"}.get(info.layout, "read")


def report_text(report: dict[str, object]) -> str:
    """A readable rendering of the report."""
    rows, cells, output = report["rows"], report["cells"], report["output"]
    lines = [
        f"Published DfE tables: {report['folder']}",
        "",
        f"Output: {output['rows']} rows, {output['authorities']} authorities and "
        f"{output['combined_units']} combined units, years {output['years']}.",
        *[f"  {k}: {v}" for k, v in output["rows_by_measure"].items()],
        "",
        f"Files found {report['files_seen']}: "
        + ", ".join(f"{k} {v}" for k, v in report["files_by_status"].items()),
        *[
            f"  NOT READ {f['file']} ({f['table']}): {f['reason']}; every figure it holds "
            "comes from other files"
            for f in report["files_not_read"]
        ],
        "",
        f"Rows read {rows['read']}: used {rows['used']}, not used "
        f"{rows['read'] - rows['used']} ("
        f"{'reconciles' if report['reconciles'] else 'DOES NOT RECONCILE'}).",
        *[f"  {k}: {v}" for k, v in rows["not_used"].items()],
        "",
        f"Local-authority values read {cells['read']}:",
        *[f"  {k.replace('_', ' ')}: {v}" for k, v in cells.items() if k != "read" and v],
        "",
        "Per file (rows read = used + not used by reason):",
    ]
    for f in report["files"]:
        not_used = ", ".join(f"{k} {v}" for k, v in f["rows_not_used"].items()) or "none"
        lines.append(
            f"  {f['file']} [{f['status']}; {f['layout']}"
            f"{': ' + f['table'] if f['table'] else ''}; "
            f"release {f['release']}; years {f['years'] or '-'}]"
        )
        if f["not_read"]:
            lines.append(f"    NOT READ: {f['not_read']}")
        lines.append(f"    rows {f['rows_read']}: used {f['rows_used']}; not used: {not_used}")
        if f["cells"]:
            lines.append(
                "    values: "
                + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in f["cells"].items())
            )
        lines += [f"    note: {n}" for n in f["notes"]]
    overlaps = report["overlaps"]
    lines += [
        "",
        f"Overlapping files ({overlaps['rule']}): {overlaps['figures_superseded']} figures "
        f"superseded, {overlaps['figures_differing']} with a different number.",
    ]
    lines += [
        f"  {p['superseded_file']} -> {p['winning_file']}: {p['figures']} figures, "
        f"{p['differ']} differ (largest by {p['largest_difference']})"
        for p in overlaps["pairs"]
    ] or ["  none"]
    lines += ["", "Figures a newer release withheld, taken from an older one:"]
    lines += [
        f"  {f['withheld_in']} <- {f['taken_from']}: {f['figures']}"
        for f in report["filled_from_older_release"]
    ] or ["  none"]
    zeros = report["zeros"]
    lines += [
        "",
        f"Markers counted as 0: k {zeros['k_counted_as_0']}; z beside numbers in a group "
        f"{zeros['z_counted_as_0_in_a_group']}.",
        "",
        "DfE categories not mapped:",
    ]
    lines += [f"  {m['category']}: {m['why']} ({m['cells']} values)" for m in report["not_mapped"]]
    changes = report["authority_changes"]
    lines += ["", "Authority changes applied:"]
    lines += [f"  recode {r}" for r in changes["recodes"]]
    lines += [f"  {r}" for r in changes["reorganisations"]]
    lines += [
        f"  values published under an older code: {changes['cells_under_an_older_code']}; "
        f"identified by the 3-digit code alone: {changes['cells_identified_by_old_la_code']}",
        "  listed but without figures in these files: "
        + (", ".join(changes["authorities_without_figures"]) or "none"),
        "",
        "Identity check (sum over authorities vs the national figure of the same file):",
    ]
    for measure, s in report["identity_check"]["summary"].items():
        lines.append(
            f"  {measure}: {s['years']} years, {s['comparable']} comparable (every authority's "
            f"figure given), {s['within_tolerance']} within tolerance"
        )
    lines.append("  outside tolerance, or not comparable:")
    outside = [e for e in report["identity_check"]["years"] if not e["within_tolerance"]]
    lines += [
        f"    {e['measure']} {e['year']}: authorities {e['sum_over_authorities']}, national "
        f"{e['national']}, difference {e['difference']} (tolerance {e['tolerance']}; "
        f"{e['suppressed']} suppressed, {e['not_available']} not available; {e['file']})"
        for e in outside
    ] or ["    none"]
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, object], folder: Path) -> None:
    """``data_quality_published.json`` and ``data_quality_published.txt`` in ``folder``."""
    write_report_files(report, report_text(report), folder, "data_quality_published")
