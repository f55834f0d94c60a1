"""``carecast ingest 903``: read an authority's 903 returns, repair them, observe them.

Shared outputs (``out_dir``; no child identifiers): ``observations_903.csv`` (the tidy
observations, ``model.observations``) and the data-quality report
``data_quality_903.{json,txt}``. Private outputs (``private_dir``; child-level, never to
be shared): ``episodes_903.parquet`` (clean episodes), ``children_903.parquet``,
``row_outcomes_903.parquet`` (what happened to every input row).

The observation window runs over the collection years of the returns (a 2023-24 return
covers 1 April 2023 to 31 March 2024), never over the dates found, so a stray date cannot
move it. A year missing from the middle of the years found stops the run (after the report
is written): the months of that year would otherwise show children leaving care and
coming back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.config.categories import CategoriesConfig
from model.ingest903.clean import CleanEpisodes, clean_episodes
from model.ingest903.observe import observe_903
from model.ingest903.read import all_issues, read_903
from model.ingest903.report import build_report, used_years, write_report, year_text
from model.input_files import display_name


class IngestError(ValueError):
    """The input holds nothing the ingest can use (the message says why)."""


@dataclass
class Ingest903Result:
    """What one ingest produced."""

    clean: CleanEpisodes
    observations: pd.DataFrame
    report: dict[str, object]
    first_year: int
    last_year: int


def _names(paths: Sequence[Path]) -> str:
    """The paths given, as printable text (names need not be valid UTF-8)."""
    return ", ".join(display_name(p) for p in paths)


def ingest_903(
    paths: Sequence[Path],
    authority: str,
    out_dir: Path,
    private_dir: Path,
    categories: CategoriesConfig | None = None,
) -> Ingest903Result:
    """Read, clean and observe the 903 returns under ``paths``; write the outputs.
    ``categories`` maps codes to placement groups and exit reasons (default: DfE's).

    Raises :class:`IngestError` when nothing is usable, or when a collection year is
    missing between the first and the last found (the report is written first)."""
    categories = categories or CategoriesConfig()
    read = read_903([Path(p) for p in paths])
    if not any(t.table == "episodes" and len(t.data) for t in read.tables):
        problems = [i.message() for i in all_issues(read)[:5]] or ["no 903 table found"]
        raise IngestError(f"no 903 episodes under {_names(paths)}:\n  " + "\n  ".join(problems))
    clean = clean_episodes(read.tables, categories)
    report = build_report(authority, read, clean)
    write_report(report, Path(out_dir))
    used = clean.outcomes[
        (clean.outcomes.table == "episodes") & clean.outcomes.outcome.isin(["accepted", "repaired"])
    ]
    if used.empty or clean.episodes.empty:
        raise IngestError(
            f"no usable 903 episodes under {_names(paths)}: every episode row was "
            "quarantined; see data_quality_903.txt in the output folder"
        )
    years = used_years(read, clean)
    first_year, last_year = min(years), max(years)
    missing = sorted(set(range(first_year, last_year + 1)) - years)
    if missing:
        raise IngestError(
            f"returns found for {year_text(first_year)} to {year_text(last_year)} but none for "
            f"{', '.join(map(year_text, missing))}: the observations of a missing year would "
            "show its children leaving care and coming back. Add the missing return(s), or "
            "ingest only the years after the gap (see data_quality_903.txt in the output folder)"
        )
    observations = observe_903(clean, first_year, last_year, categories.exit_reasons)
    out = Path(out_dir)
    observations.to_csv(out / "observations_903.csv", index=False, lineterminator="\n")
    private = Path(private_dir)
    private.mkdir(parents=True, exist_ok=True)
    clean.episodes.to_parquet(private / "episodes_903.parquet", index=False)
    clean.children.to_parquet(private / "children_903.parquet", index=False)
    clean.outcomes.to_parquet(private / "row_outcomes_903.parquet", index=False)
    return Ingest903Result(clean, observations, report, first_year, last_year)
