"""``carecast ingest published``: DfE's published local-authority tables -> yearly observations.

Reads every table under a folder — explore-education-statistics (EES) CSV files and the
SFR underlying data of 2010-2017, as DfE publishes them (``model.ingestpub.read``) — and
writes, for every authority at once:

- ``observations_published.csv``: ``authority`` (9-character ONS code, e.g. E09000002, or a
  ``CMB_`` combined reporting unit) followed by the ``model.observations`` columns, one row
  per (authority, period, measure, state, age_band, to_state, reason). ``period`` is 31 March
  of the year (``YYYY-03-31``); ``value`` a count of children (or of referrals, enquiries,
  conferences or plans for those measures). Measures and states are those the child-level
  ingests give for the same DfE figures (``model.ingestpub.catalogue``), so one yearly model
  serves both; a figure DfE suppresses or does not give has no row (never 0), except the
  ``k`` marker (rounds to 0), which is 0.
- ``authorities.csv``: ``authority``, ``old_la_code`` (DfE's 3-digit code), ``la_name`` (as
  the newest release names it), ``first_year``, ``last_year`` (years with any row),
  ``notes`` (code changes, reorganisations), ``kind`` (``authority``, or ``combined`` for a
  reporting unit that adds up authorities) and ``part_of`` (the combined unit an authority
  belongs to). National totals are sums over ``kind`` = ``authority`` only
  (``model.ingestpub.changes``).
- ``data_quality_published.{json,txt}``: every file found with its status (read, not
  read and why, not recognised, not a table), every row and value read accounted for,
  overlaps between files, the categories that could not be mapped and the identity check
  (``model.ingestpub.report``).

**Refusals.** A wrong answer that looks right is worse than none, so the ingest stops
(:class:`PublishedInputError`, naming the files) when a table carecast reads lacks a column
it needs (e.g. ``number``) and some figure it holds comes from no other file — its figures
would silently go missing — and when no authority figure survives (every value suppressed
or not available). A damaged table whose figures other files all give is not read, and is
named in the report and in :attr:`PublishedResult.not_read`. The outputs are written only
when the run succeeds; a failed run leaves none of an earlier run's (``model.outputs``).

These are public aggregates: no child-level data is involved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from model.config.categories import CategoriesConfig
from model.ingestpub.catalogue import Mappings
from model.ingestpub.combine import Combined, combine, lost_figures, national_total
from model.ingestpub.read import read_folder
from model.ingestpub.report import build_report, write_report
from model.ingestpub.tables import PublishedInputError, ReadResult, SourceFile
from model.input_files import display_name
from model.outputs import staged_outputs

__all__ = ["PublishedInputError", "PublishedResult", "ingest_published", "national_total"]


@dataclass
class PublishedResult:
    """What one ingest of published tables produced (also written to the output folder)."""

    observations: pd.DataFrame
    authorities: pd.DataFrame
    report: dict[str, object]
    sources: pd.DataFrame
    """Which file (and release) each authority's figure came from (not written)."""
    not_read: list[str] = field(default_factory=list)
    """One line per table recognised but not read (file, reason), for the log; each one's
    figures all come from other files, or the ingest would have stopped."""


def ingest_published(
    folder: Path, out_dir: Path, categories: CategoriesConfig | None = None
) -> PublishedResult:
    """Read the published tables under ``folder``; write the outputs to ``out_dir``.

    ``categories`` maps 903 PLACE and REC codes to placement groups and exit reasons
    (default DfE's, ``model.codes``); DfE's published categories are grouped through it.
    Raises :class:`PublishedInputError` (naming file, line and column) for a file that
    cannot be read; for a table carecast recognises that lacks a column it needs, unless
    every figure it would have given comes from another file; and when nothing under
    ``folder`` gives a local-authority figure (none at all, or every one suppressed or
    not available). A failed run leaves no output of an earlier run in ``out_dir``.
    """
    categories = categories or CategoriesConfig()
    mappings = Mappings(categories.place_groups, categories.exit_reasons)
    shown = display_name(folder)
    with staged_outputs(Path(out_dir), "ingest-published") as staging:
        read = read_folder(Path(folder), mappings)
        if read.cells.empty or not (read.cells["level"] == "la").any():
            seen = ", ".join(f"{f.path} ({f.layout})" for f in read.files[:8]) or "no files"
            raise PublishedInputError(
                f"no local-authority figures carecast can use under {shown} (found: {seen}); "
                "expected DfE's EES CSV files or the SFR underlying data of 2010-2017"
                + _not_read_clause(read)
            )
        combined = combine(read)
        not_read = _check_not_read(shown, read, combined)
        _check_some_figure(shown, read, combined)
        report = build_report(shown, read, combined)
        write_report(report, staging)
        combined.observations.to_csv(
            staging / "observations_published.csv", index=False, lineterminator="\n"
        )
        combined.authorities.to_csv(staging / "authorities.csv", index=False, lineterminator="\n")
    return PublishedResult(
        combined.observations, combined.authorities, report, combined.sources, not_read
    )


def _not_read_clause(read: ReadResult) -> str:
    """ "; not read: ..." naming the tables recognised but not read ("" when none)."""
    lines = [f"{f.path}: {f.not_read}" for f in read.files if f.not_read]
    return f"; recognised but not read: {'; '.join(lines)}" if lines else ""


def _check_not_read(folder: str, read: ReadResult, combined: Combined) -> list[str]:
    """Lines for the log of the tables recognised but not read; stops (naming each file,
    what it lacks and what would be missing) unless every figure they would have given
    comes from a file read."""
    lost = lost_figures(read, combined)
    known = set(read.unread["file"])
    lines, problems = [], []
    for info in (f for f in read.files if f.not_read):
        problem = _loss(info, lost[lost["file"] == info.path], info.path in known)
        if problem:
            problems.append(problem)
        else:
            lines.append(
                f"{info.path}: not read: {info.not_read}; every figure it holds comes from "
                "other files"
            )
    if problems:
        raise PublishedInputError(
            f"{folder}: {len(problems)} table(s) carecast reads lack a column it needs, and "
            "their figures would be missing from the output:\n"
            + "\n".join(f"  {p}" for p in problems)
            + "\nexpected each table with the columns DfE publishes it with; restore the "
            "column (download the file again) or move the file out of the folder"
        )
    return lines


def _loss(info: SourceFile, lost: pd.DataFrame, known: bool) -> str:
    """What a file not read would take out of the output ("" when nothing).

    Where a file lacks only value columns its rows still say which figures it holds
    (``known``); lacking anything else (a label, the year, the authority codes) that
    cannot be told, and counts as a loss. A figure that no file read gives, even one a
    file withholds, counts as lost: the damaged file may have had its number."""
    if not known and info.rows:
        return (
            f"{info.path} ({info.table}): {info.not_read}, so which figures it holds cannot be told"
        )
    if lost.empty:
        return ""
    first = lost.iloc[0]
    keys = ("authority", "year", "measure", "state", "age_band", "reason")
    example = " ".join(str(first[c]) for c in keys if first[c] != "")
    count = "1 figure it holds comes" if len(lost) == 1 else f"{len(lost)} figures it holds come"
    return (
        f"{info.path} ({info.table}): {info.not_read}; {count} from no other file (e.g. {example})"
    )


def _check_some_figure(folder: str, read: ReadResult, combined: Combined) -> None:
    """Stop when no local-authority figure survives: every value suppressed or not
    available (an empty output would look like a successful ingest)."""
    if not combined.observations.empty:
        return
    cells = combined.cells
    by_file = cells.groupby("file")["outcome"].agg(lambda s: s.value_counts().to_dict())
    listed = "; ".join(
        f"{file}: " + ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in counts.items())
        for file, counts in by_file.items()
    )
    raise PublishedInputError(
        f"{folder}: no local-authority figure survives: every value carecast reads is "
        f"suppressed, not available or otherwise unusable ({listed}); expected at least one "
        "authority's count in the published tables"
    )
