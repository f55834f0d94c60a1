"""``carecast ingest 903``: read an authority's 903 returns, repair them, observe them.

Shared outputs (``out_dir``; no child identifiers): ``observations_903.csv`` (the tidy
observations, ``model.observations``) and the data-quality report
``data_quality_903.{json,txt}``. Private outputs (``private_dir``; child-level, never to
be shared): ``episodes_903.parquet`` (clean episodes), ``children_903.parquet``,
``row_outcomes_903.parquet`` (what happened to every input row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.config import CategoriesConfig
from model.ingest903.clean import CleanEpisodes, clean_episodes
from model.ingest903.observe import observe_903
from model.ingest903.read import all_issues, read_903
from model.ingest903.report import build_report, write_report


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


def ingest_903(
    paths: Sequence[Path],
    authority: str,
    out_dir: Path,
    private_dir: Path,
    categories: CategoriesConfig | None = None,
) -> Ingest903Result:
    """Read, clean and observe the 903 returns under ``paths``; write the outputs.
    ``categories`` maps codes to placement groups and exit reasons (default: DfE's)."""
    categories = categories or CategoriesConfig()
    read = read_903([Path(p) for p in paths])
    if not any(t.table == "episodes" and len(t.data) for t in read.tables):
        problems = [i.message() for i in all_issues(read)[:5]] or ["no 903 table found"]
        raise IngestError(
            f"no 903 episodes under {', '.join(map(str, paths))}:\n  " + "\n  ".join(problems)
        )
    clean = clean_episodes(read.tables, categories)
    report = build_report(authority, read, clean)
    write_report(report, Path(out_dir))
    used = clean.outcomes[
        (clean.outcomes.table == "episodes") & clean.outcomes.outcome.isin(["accepted", "repaired"])
    ]
    if used.empty or clean.episodes.empty:
        raise IngestError(
            f"no usable 903 episodes under {', '.join(map(str, paths))}: every episode row was "
            "quarantined; see data_quality_903.txt in the output folder"
        )
    years = [t.year for t in read.tables if t.table == "episodes" and t.year is not None]
    years += [
        int(y)
        for t in read.tables
        if t.table == "episodes"
        for y in t.data["_year"].unique()
        if y > 0
    ]
    first_year, last_year = min(years), max(years)
    observations = observe_903(clean, first_year, last_year, categories.exit_reasons)
    out = Path(out_dir)
    observations.to_csv(out / "observations_903.csv", index=False, lineterminator="\n")
    private = Path(private_dir)
    private.mkdir(parents=True, exist_ok=True)
    clean.episodes.to_parquet(private / "episodes_903.parquet", index=False)
    clean.children.to_parquet(private / "children_903.parquet", index=False)
    clean.outcomes.to_parquet(private / "row_outcomes_903.parquet", index=False)
    return Ingest903Result(clean, observations, report, first_year, last_year)
