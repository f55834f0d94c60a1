"""A quick count of what one authority's returns folder holds: a smoke test, not an ingest.

The folder is laid out as the generator (and a data team, under ``data/raw``) writes it::

    {folder}/ssda903/**   SSDA903 files: CSV tables (one per table and year) or EXPSSDA903 XML
    {folder}/cin/**       CIN census XML files, one per year
    {folder}/truth/**     the generator's true stocks and flows (demo only)
    {folder}/DONE         the generator's marker, written last (demo only)

:func:`summarise_folder` counts files per sub-folder, SSDA903 episode rows per year and
children in the CIN census per year. Years are years ending 31 March worked out from the
data (the year most 903 episodes end in, the census ReferenceDate), not from file names. The summary
holds counts only: no child identifier leaves this module, so the output can be shared.
Files that cannot be read are listed with the reason instead of stopping the count, since
the demo deliberately writes faulty files.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

UNKNOWN_YEAR = "unknown"
"""Key used when no date in a file fixes its collection year."""

SUBFOLDERS = ("ssda903", "cin", "truth")

_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d/%m/%y", "%d-%m-%Y", "%Y/%m/%d")
# Excel stores dates as days since 1899-12-30; LA extracts sometimes carry these serials.
_EXCEL_EPOCH = date(1899, 12, 30)


def year_ending_march(day: date) -> int:
    """The year ending 31 March that contains ``day`` (1 April 2015 -> 2016)."""
    return day.year + 1 if day.month >= 4 else day.year


def parse_date(text: str | None) -> date | None:
    """Parse the date forms seen in returns (dd/mm/yyyy, ISO, dd/mm/yy, Excel serials).

    A time part after a space or ``T`` is ignored. Returns None for blanks and anything
    unrecognised: this module counts, it does not judge validity.
    """
    if text is None:
        return None
    text = text.strip().split("T")[0].split(" ")[0]
    if not text:
        return None
    if text.isdigit() and 10_000 <= int(text) <= 80_000:
        return _EXCEL_EPOCH + timedelta(days=int(text))
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _local(tag: str) -> str:
    """Element name without any XML namespace."""
    return tag.rsplit("}", 1)[-1]


def _year_of(decoms: Iterable[date | None], decs: Iterable[date | None]) -> int | str:
    """Collection year of a 903 file, robust to a few faulty dates.

    Closed episodes in a return end inside its year, so the most common year of DEC decides;
    a file with only open episodes falls back to the year of its latest DECOM (a lower bound:
    when nobody started or left care in the year, the dates cannot tell the year).
    """
    closed = Counter(year_ending_march(d) for d in decs if d is not None)
    if closed:
        return closed.most_common(1)[0][0]
    starts = [d for d in decoms if d is not None]
    return year_ending_march(max(starts)) if starts else UNKNOWN_YEAR


def _read_903_csv(path: Path) -> dict[int | str, int] | None:
    """Episode rows per year in a 903 CSV; None when the file is not an episodes table."""
    # utf-8-sig drops the byte-order mark some case systems write before the first column
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle)
        header = [name.strip().upper() for name in next(reader, [])]
        # The DfE validator recognises a table by its columns; DECOM and RNE mean episodes.
        if not {"DECOM", "RNE"} <= set(header):
            return None
        decom, dec = header.index("DECOM"), header.index("DEC") if "DEC" in header else None
        year_col = header.index("YEAR") if "YEAR" in header else None  # stacked layout
        rows = [row for row in reader if any(cell.strip() for cell in row)]
    if year_col is not None:
        counts: Counter[int | str] = Counter()
        for row in rows:
            value = row[year_col].strip() if year_col < len(row) else ""
            counts[int(value) if value.isdigit() else UNKNOWN_YEAR] += 1
        return dict(counts)
    decoms = [parse_date(row[decom]) for row in rows if decom < len(row)]
    decs = [parse_date(row[dec]) for row in rows if dec is not None and dec < len(row)]
    return {_year_of(decoms, decs): len(rows)} if rows else {}


def _read_903_xml(path: Path) -> dict[int | str, int] | None:
    """Episode elements per year in an EXPSSDA903 XML file; None for other XML."""
    root = ET.parse(path).getroot()
    if _local(root.tag).upper() != "EXPSSDA903":
        return None
    episodes = [el for el in root.iter() if _local(el.tag).upper() == "EPISODE"]

    def dates(name: str) -> list[date | None]:
        return [
            parse_date(child.text)
            for episode in episodes
            for child in episode
            if _local(child.tag).upper() == name
        ]

    return {_year_of(dates("DECOM"), dates("DEC")): len(episodes)} if episodes else {}


def _read_cin_xml(path: Path) -> tuple[int | str, set[str]] | None:
    """(census year, LA child ids) of a CIN census file; None when it is not one."""
    root = ET.parse(path).getroot()
    if _local(root.tag) != "Message":
        return None
    year: int | str = UNKNOWN_YEAR
    ids: set[str] = set()
    n_children = 0
    for element in root.iter():
        name = _local(element.tag)
        if name == "ReferenceDate":
            reference = parse_date(element.text)
            year = year_ending_march(reference) if reference else UNKNOWN_YEAR
        elif name == "Child":
            n_children += 1
            child_id = next(
                ((el.text or "").strip() for el in element.iter() if _local(el.tag) == "LAchildID"),
                "",
            )
            # a child without an id still counts once (kept apart from all others)
            ids.add(child_id or f"<no id {n_children}>")
    return year, ids


def _files(folder: Path) -> list[Path]:
    """Data files under ``folder``, skipping hidden files and folders."""
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def summarise_folder(folder: Path) -> dict[str, Any]:
    """Counts for one authority folder: files, 903 episode rows and CIN children per year.

    Returns a JSON-ready mapping::

        {"authority": "SYN01", "complete": true,
         "files": {"ssda903": 80, "cin": 10, "truth": 2, "other": 1, "total": 93},
         "years": {"2016": {"ssda903_episode_rows": 412, "cin_children": 2210}, ...},
         "unread_files": [{"file": "cin/x.xml", "reason": "..."}]}

    ``complete`` says whether the generator's DONE marker is present. Years with no 903
    episodes (or no census) show 0 for that count.
    """
    folder = Path(folder)
    all_files = _files(folder)
    per_subfolder = Counter(
        path.relative_to(folder).parts[0]
        if len(path.relative_to(folder).parts) > 1
        and path.relative_to(folder).parts[0] in SUBFOLDERS
        else "other"
        for path in all_files
    )
    episode_rows: Counter[int | str] = Counter()
    cin_ids: dict[int | str, set[str]] = defaultdict(set)
    unread: list[dict[str, str]] = []

    for path in _files(folder / "ssda903"):
        suffix = path.suffix.lower()
        try:
            if suffix == ".csv":
                counts = _read_903_csv(path)
            elif suffix == ".xml":
                counts = _read_903_xml(path)
            else:
                continue
        except (OSError, ET.ParseError, csv.Error, UnicodeError) as exc:
            unread.append({"file": path.relative_to(folder).as_posix(), "reason": str(exc)})
            continue
        episode_rows.update(counts or {})

    for path in _files(folder / "cin"):
        if path.suffix.lower() != ".xml":
            continue
        try:
            census = _read_cin_xml(path)
        except (OSError, ET.ParseError, UnicodeError) as exc:
            unread.append({"file": path.relative_to(folder).as_posix(), "reason": str(exc)})
            continue
        if census is not None:
            year, ids = census
            cin_ids[year] |= ids

    years = sorted(set(episode_rows) | set(cin_ids), key=lambda y: (isinstance(y, str), y))
    return {
        "authority": folder.name,
        "complete": (folder / "DONE").is_file(),
        "files": {
            **{name: per_subfolder.get(name, 0) for name in (*SUBFOLDERS, "other")},
            "total": len(all_files),
        },
        "years": {
            str(year): {
                "ssda903_episode_rows": episode_rows.get(year, 0),
                "cin_children": len(cin_ids.get(year, ())),
            }
            for year in years
        },
        "unread_files": unread,
    }
