"""Works out the collection year (year ending 31 March) of each 903 table that is not in
the stacked layout: from the dates of episodes, else from its folder and its name.

**Collection year**: see :func:`episodes_year` for episodes (the bulk of the dates
decides, so stray dates cannot; a file whose episodes ended in several years covers them
all, ``RawTable.span``, with a warning). Other tables take the year of the episodes table
in the same folder whose file name carries the same year label (``2017-header.csv`` <-
``2017-episodes.csv``), else of the only episodes year in the folder, else the year in the
file or folder name (a range such as ``2019-20``/``201920``/``2019-2020`` means its end; a
plain ``2019`` is taken as the year ending March 2019, with a warning), else None (a
warning; ``_year`` -1). A name whose year disagrees with the dates gives a warning naming
both; a plain year one less than the data's year (``2017`` for 2017-18, cs-demand-model's
convention) is still reported, with that explanation. Files that inherit the year from an
episodes file with the same label are not warned again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.ingest.dates import parse_dates
from model.ingest.issue import Issue
from model.ingest903.discover import File, file_issue
from model.ingest903.parts import Batch, Part

EARLIEST_YEAR = 1990
"""Dates in collection years before this one (before 1 April 1989) are not plausible in a
return and never count towards working out its year (the cleaner quarantines dates before
1 January 1990)."""
STRAY_SHARE, STRAY_RATIO = 0.05, 0.25
"""A first or last year is a stray one (mistyped dates, not a year of returns) when it
holds under this share of a file's dates, and under this ratio of the next year's or an
empty year away from it (:func:`bulk_years`)."""

_RANGE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_ ]?((?:19|20)\d\d|\d\d)(?!\d)")
_PLAIN_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")


def collection_year(dates: np.ndarray) -> np.ndarray:
    """Year ending 31 March of each datetime64 (-1 for NaT)."""
    dates = dates.astype("datetime64[M]")
    months = dates.astype(np.int64)  # months since 1970-01
    years = 1970 + months // 12 + (months % 12 >= 3)
    return np.where(np.isnat(dates), -1, years)


def bulk_years(
    years: np.ndarray, trim_low: bool = False, keep: int | None = None
) -> tuple[int, int] | None:
    """The first and last collection years holding the bulk of ``years`` (-1 for none).

    Years before :data:`EARLIEST_YEAR` are never counted. The latest year (and with
    ``trim_low`` the earliest) is dropped while it is a stray one: under
    :data:`STRAY_SHARE` of the values, and either an empty year away from the next one or
    under :data:`STRAY_RATIO` of its count. A return's own year holds every episode that
    started in it (typically half the rows), so one mistyped date (2099, or 2025 in a
    2023-24 return) cannot stand for it; a file of a few rows is never trimmed. The year
    ``keep`` (the one a file or folder name gives as a range, ``2023-24``) is never
    dropped, so a quiet year of a small authority keeps its own return."""
    values = years[years >= EARLIEST_YEAR]
    if not values.size:
        return None
    found, counts = np.unique(values, return_counts=True)
    total = counts.sum()

    def stray(end: int, inner: int) -> bool:
        detached = abs(int(found[end]) - int(found[inner])) > 1
        return counts[end] < STRAY_SHARE * total and (
            detached or counts[end] < STRAY_RATIO * counts[inner]
        )

    lo, hi = 0, len(found) - 1
    while hi > lo and stray(hi, hi - 1) and found[hi] != keep:
        hi -= 1
    while trim_low and lo < hi and stray(lo, lo + 1):
        lo += 1
    return int(found[lo]), int(found[hi])


@dataclass(frozen=True)
class EpisodesYear:
    """The years one (non-stacked) episodes table covers, worked out from its dates."""

    year: int
    """Collection year (year ending 31 March) of its latest return."""
    first_year: int
    """Earliest collection year it covers: ``year`` for one return; earlier for a file
    holding several years' episodes (episodes closed before ``year`` began)."""
    late_decs: int
    """DECs after 31 March ``year``."""


def episodes_year(
    decom_years: np.ndarray, dec_years: np.ndarray, named: int | None = None
) -> EpisodesYear | None:
    """The years of one episodes table (None if it has no dates at all).

    The year is that of the latest DECOM of the bulk (:func:`bulk_years`): a return holds
    episodes open at some time in the year, so none starts after it, while a DEC after
    31 March breaks validator rules 354/385 and is a known artefact (cs-demand-model and
    the validator's sample data hold DECs of 1 April, which would otherwise move them a year
    on). If most DECs lie after that year (a year in which care ended but no episode
    started), the latest DEC of the bulk decides. A return holds only episodes open in its
    year, so the bulk of DECs reaching back before it means the file holds several years'
    episodes: it covers those years too. Inputs are collection years (-1 for blank or bad
    dates); ``named`` is the year the file's name gives as a range, if any: kept when its
    dates are there (:func:`bulk_years`), and the year of a file too small for a stray
    later date to stand out, unless most of its start dates are later.
    """
    decom_span = bulk_years(decom_years, keep=named)
    dec_span = bulk_years(dec_years, trim_low=True)
    if decom_span is None and dec_span is None:
        return None
    year = decom_span[1] if decom_span else dec_span[1]
    decoms = decom_years[decom_years >= EARLIEST_YEAR]
    # A file too small for stray years to stand out: its name decides, unless most of its
    # start dates lie after the year the name gives.
    later = int((decoms > named).sum()) if named is not None else 0
    if named is not None and year > named and (decoms == named).any() and 2 * later < decoms.size:
        year = named
    decs = dec_years[dec_years >= EARLIEST_YEAR]
    if dec_span and 2 * int((decs > year).sum()) > decs.size:
        year = dec_span[1]
    first = min(dec_span[0], year) if dec_span else year
    return EpisodesYear(year, first, int((decs > year).sum()))


def episode_years(batch: Batch) -> None:
    """Set ``data_year`` and ``first_year`` of the batch's (non-stacked) episodes parts;
    warn of late DECs and of files that hold several years."""
    if not batch.parts or batch.parts[0].table != "episodes" or batch.parts[0].stacked:
        return
    decom = collection_year(parse_dates(batch.frame["DECOM"])[0].to_numpy())
    dec = collection_year(parse_dates(batch.frame["DEC"])[0].to_numpy())
    for part in batch.parts:
        named = _file_name_year(part.file)
        found = episodes_year(
            decom[part.start : part.stop],
            dec[part.start : part.stop],
            named.year if named and named.is_range else None,
        )
        if found is None:
            continue
        year = found.year
        part.data_year, part.first_year = year, found.first_year
        if found.late_decs:
            part.issues.append(
                file_issue(
                    part.file,
                    f"{found.late_decs} DEC date(s) after 31 March {year}, the end of the "
                    "collection year that the latest DECOM gives; not used to work out the year",
                    f"DEC on or before 31 March {year} (validator rules 354/385)",
                    "warning",
                    column="DEC",
                )
            )
        if found.first_year < year:
            part.issues.append(
                file_issue(
                    part.file,
                    f"one file holding several years' episodes (episodes ended in every year "
                    f"from {_span_text(found.first_year)} to {_span_text(year)}): read as "
                    f"covering those years; its rows cannot be told apart by return, so the "
                    "last copy of an episode in the file is used",
                    "one file per return, or the stacked layout with a YEAR column",
                    "warning",
                )
            )


def _span_text(year: int) -> str:
    """A collection year as DfE writes it: 2024 -> 2023-24."""
    return f"{year - 1}-{year % 100:02d}"


@dataclass(frozen=True)
class NameYear:
    """A collection year read from a file or folder name."""

    year: int
    """Year ending 31 March: the end of a range, or the plain year itself."""
    token: str
    is_range: bool


def name_year(name: str) -> NameYear | None:
    """The year in a file or folder name: the last range (``2019-20``, ``201920``,
    ``2019-2020``) or, failing that, the last plain 4-digit year (19xx/20xx)."""
    ranges = [
        m for m in _RANGE_YEAR.finditer(name) if int(m.group(2)[-2:]) == (int(m.group(1)) + 1) % 100
    ]
    if ranges:
        last = ranges[-1]
        return NameYear(int(last.group(1)) + 1, last.group(0), True)
    plain = list(_PLAIN_YEAR.finditer(name))
    if plain:
        return NameYear(int(plain[-1].group(1)), plain[-1].group(1), False)
    return None


def _file_name_year(file: File) -> NameYear | None:
    """The year in the file's name, else in the nearest folder name that has one."""
    for name in (file.path.stem, *file.folders):
        found = name_year(name)
        if found:
            return found
    return None


def _label(file: File) -> str | None:
    found = name_year(file.path.stem)
    return found.token if found else None


def _name_disagreement(part: Part, year: int) -> Issue | None:
    """A warning if the file's (or folder's) name gives another year than ``year``."""
    named = _file_name_year(part.file)
    if named is None or named.year == year:
        return None
    span = f"{year - 1}-{year % 100:02d}"
    found = f"the name says {named.token} but the dates are for the year ending 31 March {year}"
    found += f" ({span})"
    if not named.is_range and named.year == year - 1:
        found += "; consistent only if the name labels a year by its start"
    return file_issue(
        part.file,
        found,
        f"a file or folder name that agrees with the dates, e.g. {span}",
        "warning",
    )


def assign_years(parts: list[Part]) -> None:
    """Set every part's ``year`` (see the module docstring for the rules)."""
    by_folder: dict[Path, list[Part]] = {}
    for part in parts:
        if part.table == "episodes" and part.data_year is not None and not part.stacked:
            by_folder.setdefault(part.file.folder, []).append(part)
    for part in parts:
        if part.stacked:
            continue
        if part.data_year is not None:
            part.year = part.data_year
            _add(part, _name_disagreement(part, part.year))
        elif part.sibling is not None and part.sibling.data_year is not None:
            part.year = part.sibling.data_year
        else:
            _inherit_year(part, by_folder.get(part.file.folder, []))
        if part.year is not None:
            first = part.first_year if part.data_year is not None else None
            part.span = (first or part.year, part.year)


def _inherit_year(part: Part, episodes: list[Part]) -> None:
    """Year from the folder's episodes tables, else from the name, else None."""
    label = _label(part.file)
    same_label = {e.data_year for e in episodes if _label(e.file) == label}
    if len(same_label) == 1:
        part.year = same_label.pop()
        return
    in_folder = {e.data_year for e in episodes}
    if len(in_folder) == 1:
        part.year = in_folder.pop()
        _add(part, _name_disagreement(part, part.year))
        return
    named = _file_name_year(part.file)
    if named is not None:
        part.year = named.year
        if not named.is_range:
            found = (
                f"collection year taken from the name {named.token} as the year ending "
                f"31 March {named.year}; no episodes table here confirms it"
            )
            span = f"{named.year - 1}-{named.year % 100:02d}"
            expected = f"an episodes table in the same folder, or a name like {span}"
            part.issues.append(file_issue(part.file, found, expected, "warning"))
        return
    if in_folder:
        why = f"episodes tables here disagree ({', '.join(map(str, sorted(in_folder)))})"
    else:
        why = "no episodes table in the folder and no year in the file or folder name"
    found = f"collection year unknown: {why}"
    expected = "a folder per return named by its year, e.g. 2019-20"
    part.issues.append(file_issue(part.file, found, expected, "warning"))


def _add(part: Part, issue: Issue | None) -> None:
    if issue is not None:
        part.issues.append(issue)
