"""Finds the published tables in a folder and hands each to the reader of its layout.

Every file under the folder is listed (hidden files and folders aside). CSV files (``.csv``,
``.csv.gz``) are read and recognised by their columns — the EES standard columns or the SFR
geography columns — never by name; other files (metadata and data guidance text) are
listed as not tables. A file recognised as one of the tables carecast reads but lacking a
column carecast needs is listed as not read, with the reason (``SourceFile.not_read``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from model.ingestpub.catalogue import Mappings
from model.ingestpub.read_ees import is_ees, lacking_columns, read_ees
from model.ingestpub.read_sfr import is_sfr, read_sfr, sfr_lacking, sfr_years
from model.ingestpub.tables import (
    ROW_COLUMNS,
    PublishedInputError,
    ReadResult,
    SourceFile,
    empty_cells,
    lacks_text,
    read_csv_text,
)
from model.input_files import display_name


def find_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` (or ``folder`` itself if it is a file), sorted, hidden
    ones left out.

    Anything that is not a folder counts as a file — FIFOs, devices, broken symlinks and
    symlink loops too — so that the reader refuses it by name instead of passing over it.
    Symlinked folders are followed once: one met again (a loop) is listed as a file."""
    if not folder.is_dir():
        if os.path.lexists(folder):
            return [folder]
        raise PublishedInputError(f"{display_name(folder)}: no such folder")
    found: list[Path] = []
    seen = {os.path.realpath(folder)}
    for top, folders, names in os.walk(folder, followlinks=True):
        found += [Path(top) / name for name in names if not name.startswith(".")]
        keep = []
        for name in folders:
            real = os.path.realpath(Path(top) / name)
            if name.startswith("."):
                continue
            if real in seen:
                found.append(Path(top) / name)
            else:
                seen.add(real)
                keep.append(name)
        folders[:] = keep
    return sorted(found)


def is_csv(path: Path) -> bool:
    """Whether the file is CSV by its name (``.csv`` or ``.csv.gz``, any case)."""
    name = path.name.lower()
    return name.endswith(".csv") or name.endswith(".csv.gz")


def _not_read(shown: str, table: pd.DataFrame) -> SourceFile | None:
    """A CSV table of neither layout that is recognisably one carecast reads, damaged
    (lacking a standard or geography column): not read, with the reason."""
    columns = list(table.columns)
    for layout, (spec, lacking) in (
        ("sfr", sfr_lacking(columns)),
        ("ees", lacking_columns(table)),
    ):
        if spec is not None and lacking:
            info = SourceFile(shown, layout, spec.name, rows=len(table))
            info.not_read = lacks_text(lacking)
            return info
    return None


def read_folder(folder: Path, mappings: Mappings | None = None) -> ReadResult:
    """Read every published table under ``folder`` into cells and rows; the cells of files
    not read go to ``unread``."""
    mappings = mappings or Mappings()
    folder = Path(folder)
    root = folder if folder.is_dir() else folder.parent
    files: list[SourceFile] = []
    tables: dict[str, pd.DataFrame] = {}
    for path in find_files(folder):
        shown = display_name(path.relative_to(root).as_posix())
        if not is_csv(path):
            files.append(SourceFile(shown, "not a table"))
            continue
        tables[shown] = read_csv_text(path, shown)
    sfr = {shown: list(t.columns) for shown, t in tables.items() if is_sfr(list(t.columns))}
    years = sfr_years(sfr)
    cells, rows, unread = [empty_cells()], [pd.DataFrame(columns=ROW_COLUMNS)], [empty_cells()]
    for shown, table in tables.items():
        if shown in sfr:
            year, note = years[shown]
            info, found, listed = read_sfr(table, shown, year, note, mappings)
        elif is_ees(list(table.columns)):
            info, found, listed = read_ees(table, shown, mappings)
        else:
            info = _not_read(shown, table) or SourceFile(shown, "unrecognised", rows=len(table))
            lines = range(2, len(table) + 2)
            level = "not_read" if info.not_read else "unrecognised"
            files.append(info)
            rows.append(pd.DataFrame({"file": shown, "line": lines, "level": level}))
            continue
        files.append(info)
        if info.not_read:
            unread.append(found)
            rows.append(listed.assign(level="not_read"))
        else:
            cells.append(found)
            rows.append(listed)
    files.sort(key=lambda f: f.path)
    return ReadResult(files, _stack(cells), _stack(rows), _stack(unread))


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one under another (the first, empty one when all are empty)."""
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
