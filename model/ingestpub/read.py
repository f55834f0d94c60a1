"""Finds the published tables in a folder and hands each to the reader of its layout.

Every file under the folder is listed (hidden files and folders aside). CSV files (``.csv``,
``.csv.gz``) are read and recognised by their columns — the EES standard columns or the SFR
geography columns — never by name; other files (metadata and data guidance text) are
listed as not tables.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.ingestpub.catalogue import Mappings
from model.ingestpub.read_ees import is_ees, read_ees
from model.ingestpub.read_sfr import is_sfr, read_sfr, sfr_years
from model.ingestpub.tables import (
    ROW_COLUMNS,
    PublishedInputError,
    ReadResult,
    SourceFile,
    empty_cells,
    read_csv_text,
)


def find_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` (or ``folder`` itself if it is a file), sorted, hidden
    ones left out."""
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise PublishedInputError(f"{folder}: no such folder")
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def is_csv(path: Path) -> bool:
    """Whether the file is CSV by its name (``.csv`` or ``.csv.gz``, any case)."""
    name = path.name.lower()
    return name.endswith(".csv") or name.endswith(".csv.gz")


def read_folder(folder: Path, mappings: Mappings | None = None) -> ReadResult:
    """Read every published table under ``folder`` into cells and rows."""
    mappings = mappings or Mappings()
    folder = Path(folder)
    root = folder if folder.is_dir() else folder.parent
    files: list[SourceFile] = []
    tables: dict[str, pd.DataFrame] = {}
    for path in find_files(folder):
        shown = path.relative_to(root).as_posix()
        if not is_csv(path):
            files.append(SourceFile(shown, "not a table"))
            continue
        tables[shown] = read_csv_text(path, shown)
    sfr = {shown: list(t.columns) for shown, t in tables.items() if is_sfr(list(t.columns))}
    years = sfr_years(sfr)
    cells, rows = [empty_cells()], [pd.DataFrame(columns=ROW_COLUMNS)]
    for shown, table in tables.items():
        if shown in sfr:
            year, note = years[shown]
            info, found, listed = read_sfr(table, shown, year, note, mappings)
        elif is_ees(list(table.columns)):
            info, found, listed = read_ees(table, shown, mappings)
        else:
            files.append(SourceFile(shown, "unrecognised", rows=len(table)))
            lines = range(2, len(table) + 2)
            rows.append(pd.DataFrame({"file": shown, "line": lines, "level": "unrecognised"}))
            continue
        files.append(info)
        cells.append(found)
        rows.append(listed)
    files.sort(key=lambda f: f.path)
    return ReadResult(
        files,
        pd.concat([c for c in cells if len(c)] or cells[:1], ignore_index=True),
        pd.concat([r for r in rows if len(r)] or rows[:1], ignore_index=True),
    )
