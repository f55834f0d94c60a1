"""Reads explore-education-statistics (EES) CSV files into value cells.

The EES layout: one row per year and geography (and, in long tables, per category), with
the standard columns ``time_period`` (year ending 31 March; ``YYYYZZ`` two-year periods are
read as the year ending in March of the second), ``geographic_level`` (National / Regional /
Local authority), ``old_la_code``, ``new_la_code`` and ``la_name`` (``geo_breakdown`` in the
dashboard's processed files), then value or category columns in any order. Columns are
selected by name. The table (which figures it holds) comes from ``model.ingestpub.catalogue``.

The release a figure comes from is the last year in the file name (DfE's downloads are
named by the years they cover, ending with the release's latest year) or, without one, the
latest ``time_period`` in the file. The derived headline panel names its source publication
on every row; its rows take that publication's year.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from model.ingestpub.catalogue import EES_SPECS, EesSpec, Mappings, Target, ees_targets, norm
from model.ingestpub.tables import (
    CELL_COLUMNS,
    PublishedInputError,
    SourceFile,
    classify_level,
    empty_cells,
    lacks_text,
    map_text,
    raise_invalid,
    wide_cells,
)
from model.ingestpub.values import EES_MARKERS, SFR_MARKERS, parse_counts

REQUIRED = ("time_period", "geographic_level")
YEAR_IN_NAME = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")


def is_ees(columns: list[str]) -> bool:
    """Whether a table has the EES standard columns."""
    return all(c in columns for c in REQUIRED)


def release_from_name(name: str) -> int | None:
    """The last plausible year (1990-2099) in a file name, or None."""
    years = [int(y) for y in YEAR_IN_NAME.findall(name) if 1990 <= int(y) <= 2099]
    return years[-1] if years else None


def _year(text: str) -> int:
    """Year ending 31 March of one ``time_period`` (0 when it is not one)."""
    text = text.strip()
    if re.fullmatch(r"\d{4}", text):
        return int(text)
    if re.fullmatch(r"\d{6}", text) and int(text[4:]) == (int(text[:4]) + 1) % 100:
        return int(text[:4]) + 1
    return 0


def _years(period: pd.Series, shown: str) -> pd.Series:
    """Year ending 31 March of each ``time_period``; stops on one that is neither YYYY nor
    YYYYZZ (two consecutive years, read as the year ending in March of the second)."""
    years = pd.Series(map_text(period, _year).astype("int64"), index=period.index)
    bad = (years == 0).to_numpy()
    if bad.any():
        lines = (np.flatnonzero(bad) + 2)[:3]
        raise PublishedInputError(
            f"{shown}: time_period {period[bad].iloc[0]!r} on line {lines[0]} (lines "
            f"{', '.join(map(str, lines))}) is not a year: expected YYYY (the year ending 31 "
            "March) or YYYYZZ"
        )
    return years


def _spec(table: pd.DataFrame) -> tuple[EesSpec | None, list[str]]:
    """The table a file is (the first specification it matches whole), else the first it is
    recognisably meant to be with the columns it lacks; ``(None, [])`` when neither."""
    columns = set(table.columns)
    near: tuple[EesSpec | None, list[str]] = (None, [])
    for spec in EES_SPECS:
        first = set()
        if spec.labels and spec.labels[0] in columns:
            first = {norm(str(v)) for v in table[spec.labels[0]].unique()}
        lacking = spec.lacks(columns, first)
        if lacking == []:
            return spec, []
        if lacking and near[0] is None:
            near = (spec, lacking)
    return near


def lacking_columns(table: pd.DataFrame) -> tuple[EesSpec | None, list[str]]:
    """For a table carecast recognises as one of its EES tables: that table and the columns
    carecast needs that the file lacks (an EES standard column, a value or label column, or
    both authority codes where the file has local-authority rows); ``(None, [])`` for a
    table carecast does not read, ``(spec, [])`` for a complete one."""
    spec, lacking = _spec(table)
    if spec is None:
        return None, []
    lacking = [repr(c) for c in REQUIRED if c not in table.columns] + lacking
    codes = ("new_la_code", "old_la_code")
    if "geographic_level" in table and not any(c in table for c in codes):
        level = classify_level(table["geographic_level"], pd.Series("", index=table.index))
        if (level == "la").any():
            lacking.append(" or ".join(repr(c) for c in codes))
    return spec, lacking


def _stand_ins(spec: EesSpec, table: pd.DataFrame) -> list[str] | None:
    """The value columns to add (blank) so that a table lacking only value columns still
    says which figures it would have given; None when it lacks more than those."""
    if not is_ees(list(table.columns)) or not any(
        c in table for c in ("new_la_code", "old_la_code")
    ):
        return None
    if spec.labels:
        others = set(spec.required) | set(spec.labels)
        if not others <= set(table.columns) or any(c in table for c in spec.values):
            return None
        return [spec.values[0]]
    missing = sorted(c for c in spec.required if c not in table)
    return missing if set(missing) <= set(spec.targets) else None


def read_ees(
    table: pd.DataFrame, shown: str, mappings: Mappings
) -> tuple[SourceFile, pd.DataFrame, pd.DataFrame]:
    """One EES table -> (file facts, cells, rows) as ``model.ingestpub.tables`` defines
    them. ``shown`` names the file in cells and messages."""
    n = len(table)
    line = np.arange(2, n + 2)
    years = _years(table["time_period"], shown) if n else pd.Series([], dtype="int64")
    new_code = table.get("new_la_code", pd.Series("", index=table.index)).str.strip()
    level = classify_level(table["geographic_level"], new_code)
    rows = pd.DataFrame({"file": shown, "line": line, "level": level.to_numpy()})
    spec, lacking = lacking_columns(table)
    info = SourceFile(shown, "ees", spec.name if spec else "", rows=n)
    if lacking and spec is not None:
        info.not_read = lacks_text(lacking)
        stand_ins = _stand_ins(spec, table)
        if stand_ins is None:
            spec = None  # which figures it would have given cannot be told
        else:
            table = table.assign(**dict.fromkeys(stand_ins, ""))
    info.release = release_from_name(shown.rsplit("/", 1)[-1]) or (int(years.max()) if n else None)
    if spec is None or n == 0:
        info.years = sorted(int(y) for y in years.unique())
        return info, empty_cells(), rows
    names = table["la_name"] if "la_name" in table else table.get("geo_breakdown")
    geo = pd.DataFrame(
        {
            "file": shown,
            "line": line,
            "level": level.to_numpy(),
            "year": (years + spec.period_shift).to_numpy(),
            "new_code": new_code.str.upper().to_numpy(),
            "old_code": table.get("old_la_code", pd.Series("", index=table.index))
            .str.strip()
            .to_numpy(),
            "name": (names if names is not None else pd.Series("", index=table.index))
            .str.strip()
            .to_numpy(),
        }
    )
    if spec.release_column:
        found = table[spec.release_column].str.extract(r"(\d{4})", expand=False)
        geo["release"] = pd.to_numeric(found).fillna(info.release or 0).astype("int64")
        info.release = int(geo["release"].max())
        info.notes.append(
            f"release of each row from its {spec.release_column!r} column (the publication "
            "it was taken from); derived, so any DfE file of the same release wins"
        )
        geo["sfr"] = table[spec.release_column].str.contains("SFR", regex=False).to_numpy()
    else:
        geo["release"] = info.release or 0
        geo["sfr"] = False
    if spec.labels:
        value_column = next(c for c in spec.values if c in table.columns)
        label = map_text(table[spec.labels[0]], norm)
        for column in spec.labels[1:]:
            label = label + " | " + map_text(table[column], norm)
        targets = ees_targets(spec, set(label), mappings)
        cells = geo.assign(column=value_column, label=label, raw=table[value_column].to_numpy())
    else:
        targets = {c: t for c, t in spec.targets.items() if c in table.columns}
        value_columns = list(targets)
        cells = wide_cells(geo, table, value_columns)
        cells["label"] = cells["column"]
    info.years = sorted(int(y) for y in cells["year"].unique())
    cells = _with_targets(cells, targets)
    value, status, k = parse_counts(cells["raw"], EES_MARKERS)
    if cells["sfr"].any():
        sfr_value, sfr_status, _ = parse_counts(cells["raw"], SFR_MARKERS)
        sfr = cells["sfr"].to_numpy()
        value[sfr], status[sfr] = sfr_value[sfr], sfr_status[sfr]
    bad = (status == "invalid").to_numpy()
    if bad.any():
        raise_invalid(shown, cells["line"][bad], cells["column"][bad], cells["raw"][bad])
    cells = cells.assign(value=value, status=status, k=k.to_numpy(), derived=spec.derived)
    if info.not_read:
        # Figures the file would have given, without values: not read, only compared with
        # the figures other files give (``model.ingestpub.combine.lost_figures``).
        cells = cells.assign(value=pd.NA, status="not_read", k=False)
    return info, cells.drop(columns="sfr")[CELL_COLUMNS], rows


def _with_targets(cells: pd.DataFrame, targets: Mapping[str, Target]) -> pd.DataFrame:
    """The cells whose label ``targets`` knows, with its carecast figure (or note)."""
    frame = pd.DataFrame(
        [(label, t.measure, t.state, t.age_band, t.reason, t.note) for label, t in targets.items()],
        columns=["label", "measure", "state", "age_band", "reason", "note"],
    )
    return cells.merge(frame, on="label", how="inner", validate="many_to_one")
