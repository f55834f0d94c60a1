"""Reads the SFR underlying data of 2010-2017 (children looked after) into value cells.

The layout: one row per geography, wide, CRLF line endings, columns ``geog_l`` (National /
GOR or REGION / LA), ``geog_c`` (3-digit DfE code, or a letter for a region), ``geog_n``
(name) and, from 2011, ``New_geog_code`` (9-character ONS code) and in 2017 ``LA_order``,
followed by one column per figure with names that change between years (``MarTotal_2010``,
``CLA_Mar2013``, ``CLA_cease``, ``CEA_Adop1``...; see ``model.ingestpub.catalogue``). Three
files make a year: ``*CLA*`` / ``*March*`` (at 31 March), ``*ADM*`` / ``*Started*`` and
``*CEA*`` / ``*Ceased*``.

**Which year.** The files carry no year column, so the year ending 31 March is worked out
from, in order: a year in the file name (``SFR36_CLA2013.csv``); the year in the name of the
file's total column (``CLA_Mar2013``); the year the other SFR files in the same folder agree
on (``SFR21_CEA.csv`` sits with ``SFR21_CLA.csv``, whose total is ``CLA_Mar2011``); the
folder's name. When the file name and the total column disagree (``SFR34_ADM2015.csv``
names its total ``CLA_started2014`` but holds 2015's starters, which differ from 2014's
file), the file name is taken and the file's notes say so. Each year's figures are that
year's release.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from model.ingestpub.catalogue import (
    SFR_PLACE_COLUMN,
    SFR_SPECS,
    Mappings,
    SfrSpec,
    sfr_targets,
)
from model.ingestpub.read_ees import release_from_name
from model.ingestpub.tables import (
    CELL_COLUMNS,
    PublishedInputError,
    SourceFile,
    classify_level,
    empty_cells,
    lacks_text,
    raise_invalid,
    wide_cells,
)
from model.ingestpub.values import SFR_MARKERS, parse_counts

REQUIRED = ("geog_l", "geog_c", "geog_n")
YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")


def is_sfr(columns: list[str]) -> bool:
    """Whether a table has the SFR geography columns (any case)."""
    lower = {c.casefold() for c in columns}
    return all(c in lower for c in REQUIRED)


def sfr_spec(columns: list[str]) -> tuple[SfrSpec | None, str]:
    """The kind of SFR file (by its total column) and that column's name."""
    for spec in SFR_SPECS:
        for column in columns:
            if spec.total.fullmatch(column.replace("-", "_")):
                return spec, column
    return None, ""


def sfr_lacking(columns: list[str]) -> tuple[SfrSpec | None, list[str]]:
    """For a table recognisable as one of the SFR files carecast reads (by a geography
    column and a column of its figures): that kind of file and the columns carecast needs
    that it lacks (geography columns, the total); ``(None, [])`` otherwise."""
    lower = {c.casefold() for c in columns}
    geography = [c for c in REQUIRED if c in lower]
    if not geography and "new_geog_code" not in lower:
        return None, []
    spec, _ = sfr_spec(columns)
    lacking = [repr(c) for c in REQUIRED if c not in lower]
    if spec is None:
        spec = next((s for s in SFR_SPECS if sfr_targets(s, columns, Mappings())), None)
        if spec is None:
            return None, []
        lacking.append(f"{spec.total_example!r} (its total; YYYY the year)")
    return spec, lacking


def sfr_years(columns_by_file: dict[str, list[str]]) -> dict[str, tuple[int, str]]:
    """Year ending 31 March of each SFR file (path -> (year, note)), worked out as the
    module notes say; stops when a file gives no clue at all."""
    own: dict[str, tuple[int | None, int | None]] = {}
    for path, columns in columns_by_file.items():
        name_year = release_from_name(PurePosixPath(path).name)
        _, total = sfr_spec(columns)
        found = YEAR.findall(total)
        own[path] = (name_year, int(found[-1]) if found else None)
    by_folder: dict[str, Counter[int]] = {}
    for path, (name_year, column_year) in own.items():
        year = name_year or column_year
        if year:
            by_folder.setdefault(str(PurePosixPath(path).parent), Counter())[year] += 1
    out: dict[str, tuple[int, str]] = {}
    for path, (name_year, column_year) in own.items():
        folder = PurePosixPath(path).parent
        if name_year and column_year and name_year != column_year:
            out[path] = (
                name_year,
                f"the total column names {column_year} but the file name {name_year}: "
                f"read as {name_year}",
            )
        elif name_year or column_year:
            out[path] = (name_year or column_year or 0, "")
        elif len(by_folder.get(str(folder), {})) == 1:
            (year,) = by_folder[str(folder)]
            out[path] = (year, f"year {year} from the other SFR files in {folder}")
        elif release_from_name(folder.name):
            year = release_from_name(folder.name) or 0
            out[path] = (year, f"year {year} from the folder name only")
        else:
            raise PublishedInputError(
                f"{path}: cannot tell which year this SFR file covers: no year in its name, "
                "its total column or its folder, and no other SFR file beside it; rename it "
                "with the year ending 31 March, e.g. SFR_CEA2012.csv"
            )
    return out


FOSTER_CODES = frozenset({"Q1", "Q2", "U1", "U2", "U3", "U4", "U5", "U6"})
FOSTER_SHARE = 0.5
"""Foster care has held 70-75% of the children looked after at 31 March in every year DfE
has published; a column order giving it under half cannot be right."""


def _placement_order(table: pd.DataFrame, info: SourceFile) -> pd.DataFrame:
    """``table`` with its ``MarPlace_<code>`` columns named for the values they hold.

    The 2010 file (``SFR27_2010_March.csv``) heads its placement columns Q1, Q2, A3, ...
    but holds their values in alphabetical order of code (A3, A4, ..., Z1): as headed, foster
    care would be 0.2% of children and family centres or mother and baby units 62%; in
    alphabetical order foster care is 74% (Q1 7,300 with relatives or friends, Q2 39,900 with
    other carers), placed with parents 4,200 and placed for adoption about 2,200 nationally,
    in line with DfE's 2010 statistics and the 2011 file's categories. So when the headed
    order gives foster placements under half of all children in the file and alphabetical
    order does not, the columns are renamed to the alphabetical order, with a note; when
    neither order does, they are not used."""
    place = [c for c in table.columns if SFR_PLACE_COLUMN.fullmatch(c.replace("-", "_"))]
    if not place:
        return table
    codes = [c.replace("-", "_").split("_")[1].upper() for c in place]
    totals = [pd.to_numeric(table[c].str.strip(), errors="coerce").fillna(0).sum() for c in place]
    everyone = sum(totals) or 1

    def foster_share(order: list[str]) -> float:
        return (
            sum(t for code, t in zip(order, totals, strict=True) if code in FOSTER_CODES) / everyone
        )

    headed, alphabetical = foster_share(codes), foster_share(sorted(codes))
    if headed >= FOSTER_SHARE:
        return table
    if alphabetical >= FOSTER_SHARE:
        info.notes.append(
            "placement columns hold their values in alphabetical order of placement code, not "
            f"in the header's order (foster placements {headed:.1%} of children as headed, "
            f"{alphabetical:.1%} in code order): read in code order"
        )
        renamed = {
            c: c.replace(f"_{code}_", f"_{new}_", 1)
            for c, code, new in zip(place, codes, sorted(codes), strict=True)
        }
        return table.rename(columns=renamed)
    info.notes.append(
        "placement columns not used: foster placements would be under half of children in "
        "either the header's order or code order"
    )
    return table.drop(columns=place)


def read_sfr(
    table: pd.DataFrame, shown: str, year: int, note: str, mappings: Mappings
) -> tuple[SourceFile, pd.DataFrame, pd.DataFrame]:
    """One SFR file of year ``year`` -> (file facts, cells, rows) as
    ``model.ingestpub.tables`` defines them."""
    by_lower = {c.casefold(): c for c in table.columns}
    n = len(table)
    line = np.arange(2, n + 2)
    empty = pd.Series("", index=table.index)
    new_code = table.get(by_lower.get("new_geog_code", ""), empty).str.strip().str.upper()
    level = classify_level(table[by_lower["geog_l"]], new_code)
    rows = pd.DataFrame({"file": shown, "line": line, "level": level.to_numpy()})
    spec, lacking = sfr_lacking(list(table.columns))
    info = SourceFile(shown, "sfr", spec.name if spec else "", release=year, rows=n)
    info.years = [year]
    if note:
        info.notes.append(note)
    if spec is not None and lacking:
        # Only the total can be missing here (the geography columns made this an SFR
        # file): a blank stand-in says which figures the file would have given.
        info.not_read = lacks_text(lacking)
        table = table.assign(**{spec.total_example.replace("YYYY", str(year)): ""})
    if spec is None or n == 0:
        return info, empty_cells(), rows
    if spec.placements:
        table = _placement_order(table, info)
    targets = sfr_targets(spec, list(table.columns), mappings)
    geo = pd.DataFrame(
        {
            "file": shown,
            "line": line,
            "level": level.to_numpy(),
            "year": year,
            "new_code": new_code.to_numpy(),
            "old_code": table[by_lower["geog_c"]].str.strip().to_numpy(),
            "name": table[by_lower["geog_n"]].str.strip().to_numpy(),
            "release": year,
        }
    )
    columns = list(targets)
    cells = wide_cells(geo, table, columns)
    target = pd.DataFrame(
        [(c, t.measure, t.state, t.age_band, t.reason, t.note) for c, t in targets.items()],
        columns=["column", "measure", "state", "age_band", "reason", "note"],
    )
    cells = cells.merge(target, on="column", how="left", validate="many_to_one")
    cells["label"] = cells["column"]
    value, status, k = parse_counts(cells["raw"], SFR_MARKERS)
    bad = (status == "invalid").to_numpy()
    if bad.any():
        raise_invalid(shown, cells["line"][bad], cells["column"][bad], cells["raw"][bad])
    cells = cells.assign(value=value, status=status, k=k.to_numpy(), derived=False)
    if info.not_read:
        cells = cells.assign(value=pd.NA, status="not_read", k=False)  # see read_ees
    return info, cells[CELL_COLUMNS], rows
