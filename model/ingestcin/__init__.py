"""``carecast ingest cin``: read an authority's CIN censuses, repair them, link them to its
903 records and observe the upstream system.

Shared outputs (``out_dir``; no child identifiers): ``observations_cin.csv``
(``model.ingestcin.observe``) and the data-quality report ``data_quality_cin.{json,txt}``.
Private outputs (``private_dir``; child-level): ``{children,episodes,assessments,
section47,cpp,cin_plans}_cin.parquet``, ``links_cin.parquet`` (CIN child -> 903 child) and
``row_outcomes_cin.parquet``.

Every file found is accounted for (``IngestCinResult.files``, the report's
``census_files``); a census cut short or a census year missing from the middle fails the
run; rows outside the plausibility gates (``model.ingestcin.clean.GATES``) are quarantined
and never move the observation window, which comes from the census years used.

The 903 link reads the 903 ingest's private outputs (``episodes_903.parquet``,
``children_903.parquet``) from ``link_903``; without them no child counts as looked after
(the report says so).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from model.config.categories import CategoriesConfig
from model.ingest903 import IngestError
from model.ingest903.observe import care_segments
from model.ingestcin.clean import CleanCin, clean_cin
from model.ingestcin.link import link_children
from model.ingestcin.observe import observe_cin
from model.ingestcin.read import CinFileAccount, CinReadResult, read_cin
from model.ingestcin.report import build_report, link_summary, write_report
from model.input_files import display_name

TABLES_903 = ("episodes_903.parquet", "children_903.parquet")
log = logging.getLogger(__name__)


class CensusYearsMissingError(IngestError):
    """An authority's census years have a gap (one missing from the middle): observations
    across it would be wrong, so none are made (the CLI exits 2)."""


class CensusCutShortError(IngestError):
    """A CIN census file breaks (truncated or malformed XML) after its first Child: the
    census is incomplete, so no observations are made from it (the CLI exits 2)."""


@dataclass
class IngestCinResult:
    """What one CIN ingest produced. ``files``: what became of every file found (read,
    partly read with the count not read, or not read with the reason), for the log."""

    clean: CleanCin
    links: pd.DataFrame | None
    observations: pd.DataFrame
    report: dict[str, object]
    first_year: int
    last_year: int
    files: list[CinFileAccount] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """The lines logged as warnings (no child identifiers)."""


def _names(paths: Sequence[Path]) -> str:
    return ", ".join(display_name(p) for p in paths)


def _refuse_cut_short(read: CinReadResult) -> None:
    """Raise :class:`CensusCutShortError` if any census broke after its first Child.

    Decided: fail, not warn. Observations from a census missing an unknown share of its
    children look like a fall in demand; nobody would see the warning in time."""
    broken = read.cut_short()
    if not broken:
        return
    lines = [
        f"{f.source}: census {f.reason}; {f.read} Child elements read before the break, "
        f"{f.unread} not read ({f.found} found in the file)"
        for f in broken
    ]
    raise CensusCutShortError(
        "incomplete CIN census, nothing written (fix or replace the file, or leave it out, "
        "and run again):\n  " + "\n  ".join(lines)
    )


def _refuse_gaps(read: CinReadResult, clean: CleanCin) -> None:
    """Raise :class:`CensusYearsMissingError` if an authority's census years (those
    used: refused ones are not) miss one between the first and the last.

    Decided: fail, not warn. Each census lists everyone in need during its year, so a year
    missing from the middle drops that year's short episodes (it would count as a year
    without referrals) and closes on 1 April every episode open at the 31 March before it."""
    lines = []
    for la, years in sorted(clean.years.items()):
        missing = sorted(set(range(years[0], years[-1] + 1)) - set(years)) if years else []
        if missing:
            who = f"authority {la}" if la else "census"
            lines.append(
                f"{who}: census years {', '.join(map(str, years))} read, "
                f"{', '.join(map(str, missing))} missing from the middle"
            )
    if not lines:
        return
    lines += [f.summary() for f in read.files if f.status != "read"]
    lines += [
        f"years refused by a plausibility gate: {la or '(no LA code)'} {years}"
        for la, years in clean.years_refused.items()
        if years
    ]
    raise CensusYearsMissingError(
        "CIN census years missing, nothing written (add the missing census, or ingest the "
        "years after the gap on their own):\n  " + "\n  ".join(lines)
    )


def _warn_loudly(read: CinReadResult, clean: CleanCin) -> list[str]:
    """Log (as warnings: on the console) every file not read or partly read, every file
    whose children all failed the XSD and every year or row a plausibility gate refused;
    return the lines."""
    lines = [f.summary() for f in read.files if f.status != "read"]
    lines += [f"{f.source}: {w}" for f in read.files for w in f.warnings]
    for la, years in clean.years_refused.items():
        if years:
            who = f"authority {la}" if la else "census"
            lines.append(f"{who} years {', '.join(map(str, years))} refused (see the report)")
    gated = {k: n for k, n in clean.gates.items() if n}
    if gated:
        counts = ", ".join(f"{k} {n}" for k, n in gated.items())
        lines.append(f"rows quarantined by plausibility gates: {counts}")
    for line in lines:
        log.warning("CIN: %s", line)
    return lines


def ingest_cin(
    paths: Sequence[Path],
    authority: str,
    out_dir: Path,
    private_dir: Path,
    categories: CategoriesConfig | None = None,
    link_903: Path | None = None,
    today: dt.date | None = None,
) -> IngestCinResult:
    """Read, clean, link and observe the CIN census files under ``paths``; write the
    outputs. ``link_903``: folder of the 903 ingest's private outputs (default: look in
    ``private_dir``). ``today`` (default: the system's date): the limit of the
    plausibility gates that look for the future.

    Raises (nothing is written then; each is an :class:`IngestError`, which the CLI
    reports with exit 2) :class:`CensusCutShortError` when a census file breaks after its
    first Child, :class:`CensusYearsMissingError` when an authority's census years miss
    one from the middle, and :class:`IngestError` when nothing usable is found. Files not
    read or partly read, files whose every Child failed the XSD and rows refused by the
    plausibility gates are logged as warnings (and listed in ``warnings``)."""
    categories = categories or CategoriesConfig()
    read = read_cin([Path(p) for p in paths])
    _refuse_cut_short(read)
    if read.cin_details.empty:
        problems = [i.message() for i in read.issues[:5]] or ["no CIN census child found"]
        raise IngestError(
            f"no CIN census records under {_names(paths)}:\n  " + "\n  ".join(problems)
        )
    clean = clean_cin(read, today)
    if clean.episodes.empty:
        reasons = [f"{k}: {n}" for k, n in clean.gates.items() if n]
        reasons += [f.summary() for f in read.files if f.status != "read"]
        raise IngestError(
            f"no usable CIN episodes under {_names(paths)}: every one was quarantined"
            + (":\n  " + "\n  ".join(reasons) if reasons else "")
        )
    _refuse_gaps(read, clean)
    warnings = _warn_loudly(read, clean)
    years = sorted({y for ys in clean.years.values() for y in ys})
    first_year, last_year = years[0], years[-1]
    folder_903 = Path(link_903 if link_903 is not None else private_dir)
    links = care = children_903 = in_care = None
    if all((folder_903 / name).is_file() for name in TABLES_903):
        episodes = pd.read_parquet(folder_903 / TABLES_903[0])
        children_903 = pd.read_parquet(folder_903 / TABLES_903[1])
        links = link_children(clean.children, children_903)
        care = care_segments(episodes, categories.exit_reasons)
        window = pd.to_datetime([f"{first_year - 1}-04-01", f"{last_year}-03-31"])
        lo, hi = window.to_numpy(dtype="datetime64[D]").astype("int64")
        in_care = care.loc[(care["start"] <= hi) & (care["end"] > lo), "CHILD"]
    elif link_903 is not None:
        raise IngestError(
            f"{link_903}: no 903 ingest outputs ({' and '.join(TABLES_903)}); run "
            "`carecast ingest 903` for this authority first, or leave out --link-903"
        )
    observations = observe_cin(clean, first_year, last_year, links, care, children_903)
    report = build_report(authority, read, clean, link_summary(links, in_care, observations))
    out = Path(out_dir)
    write_report(report, out)
    observations.to_csv(out / "observations_cin.csv", index=False, lineterminator="\n")
    private = Path(private_dir)
    private.mkdir(parents=True, exist_ok=True)
    for name in ("children", "episodes", "assessments", "section47", "cpp", "cin_plans"):
        getattr(clean, name).to_parquet(private / f"{name}_cin.parquet", index=False)
    # Categories: millions of rows repeat a few file names and rules (4x faster to write).
    outcomes = clean.outcomes.astype({c: "category" for c in ("_source", "table", "rule")})
    outcomes.to_parquet(private / "row_outcomes_cin.parquet", index=False)
    if links is not None:
        links.to_parquet(private / "links_cin.parquet", index=False)
    return IngestCinResult(
        clean, links, observations, report, first_year, last_year, list(read.files), warnings
    )
