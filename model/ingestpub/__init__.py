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
- ``data_quality_published.{json,txt}``: every row and value read accounted for, overlaps
  between files, the categories that could not be mapped and the identity check
  (``model.ingestpub.report``).

These are public aggregates: no child-level data is involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.config import CategoriesConfig
from model.ingestpub.catalogue import Mappings
from model.ingestpub.combine import combine, national_total
from model.ingestpub.read import read_folder
from model.ingestpub.report import build_report, write_report
from model.ingestpub.tables import PublishedInputError

__all__ = ["PublishedInputError", "PublishedResult", "ingest_published", "national_total"]


@dataclass
class PublishedResult:
    """What one ingest of published tables produced (also written to the output folder)."""

    observations: pd.DataFrame
    authorities: pd.DataFrame
    report: dict[str, object]
    sources: pd.DataFrame
    """Which file (and release) each authority's figure came from (not written)."""


def ingest_published(
    folder: Path, out_dir: Path, categories: CategoriesConfig | None = None
) -> PublishedResult:
    """Read the published tables under ``folder``; write the outputs to ``out_dir``.

    ``categories`` maps 903 PLACE and REC codes to placement groups and exit reasons
    (default DfE's, ``model.codes``); DfE's published categories are grouped through it.
    Raises :class:`PublishedInputError` (naming file, line and column) for a file that
    cannot be read, and when nothing under ``folder`` gives a carecast figure.
    """
    categories = categories or CategoriesConfig()
    mappings = Mappings(categories.place_groups, categories.exit_reasons)
    read = read_folder(Path(folder), mappings)
    if read.cells.empty or not (read.cells["level"] == "la").any():
        seen = ", ".join(f"{f.path} ({f.layout})" for f in read.files[:8]) or "no files"
        raise PublishedInputError(
            f"no local-authority figures carecast can use under {folder} (found: {seen}); "
            "expected DfE's EES CSV files or the SFR underlying data of 2010-2017"
        )
    combined = combine(read)
    report = build_report(str(folder), read, combined)
    out = Path(out_dir)
    write_report(report, out)
    combined.observations.to_csv(
        out / "observations_published.csv", index=False, lineterminator="\n"
    )
    combined.authorities.to_csv(out / "authorities.csv", index=False, lineterminator="\n")
    return PublishedResult(combined.observations, combined.authorities, report, combined.sources)
