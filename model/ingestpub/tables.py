"""What the published-table readers hand over: value cells with provenance, and file facts.

Both readers (``model.ingestpub.read_ees`` for explore-education-statistics CSV files and
``model.ingestpub.read_sfr`` for the older SFR underlying data) turn every data row of a
file into the *cells* carecast may use, one row per (file row, value column):

- ``file`` (str): the file's path relative to the folder read (POSIX separators);
- ``line`` (int): the 1-based line of the row in the file (the header is line 1);
- ``column`` (str): the file's column holding the value;
- ``level`` (str): ``national``, ``regional``, ``la`` (local authority) or ``other``;
- ``year`` (int): the year ending 31 March the figure belongs to;
- ``new_code``, ``old_code``, ``name`` (str): the authority as the file names it (9-character
  ONS code, 3-digit DfE code, name; "" when the file has none);
- ``label`` (str): the DfE category the value counts (normalised: lower case, single
  spaces; for long tables "group | characteristic", for wide tables the column name);
- ``measure``, ``state``, ``age_band``, ``reason`` (str): the carecast figure the value
  belongs to (``model.observations`` names), ``measure`` "" for a known DfE category that
  carecast cannot use, with ``note`` saying why;
- ``raw`` (str): the text in the file; ``value`` (Int64): the count (``<NA>`` unless
  ``status`` is ``value``); ``status`` (str): ``value``, ``suppressed``, ``not_applicable``
  or ``not_available`` (``model.ingestpub.values``); ``k`` (bool): the value was DfE's
  ``k`` (rounds to zero) and is counted as 0;
- ``release`` (int): the year of the DfE release the figure comes from (newer releases
  revise older figures); ``derived`` (bool): the file is a stack of other publications, used
  only where no DfE file gives the figure.

Cells exist only for value columns or categories the table's specification knows
(``model.ingestpub.catalogue``); every data row is listed once in the *rows* table (``file``,
``line``, ``level``) so that a report can account for rows without a carecast figure.

A file recognised as one of carecast's tables but lacking a column it needs is not read
(``SourceFile.not_read`` says why; its rows have ``level`` ``not_read``). Where it lacks
only value columns, its cells are still made, with status ``not_read`` and no value, and
kept apart (``ReadResult.unread``): they say which figures the file would have given, so
that the ingest can tell whether other files give them all.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.input_files import MAX_INPUT_MB_ENV, InputFileError, max_input_bytes, read_input

CELL_COLUMNS = [
    "file", "line", "column", "level", "year", "new_code", "old_code", "name", "label",
    "measure", "state", "age_band", "reason", "note", "raw", "value", "status", "k",
    "release", "derived",
]  # fmt: skip

ROW_COLUMNS = ["file", "line", "level"]


class PublishedInputError(ValueError):
    """An input file cannot be read as a published table; the message names the file, the
    line and the column, and what was expected."""


@dataclass
class SourceFile:
    """One file found under the folder: what it is and what the readers made of it."""

    path: str
    layout: str
    """``ees`` (explore-education-statistics CSV), ``sfr`` (SFR underlying data 2010-2017),
    ``unrecognised`` (a CSV file of neither layout) or ``not a table`` (not CSV)."""
    table: str = ""
    """The specification the file matched (``catalogue``), "" when none."""
    release: int | None = None
    rows: int = 0
    years: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    not_read: str = ""
    """Why a table carecast recognises was not read (e.g. it lacks a column carecast
    needs); "" when it was read."""


@dataclass
class ReadResult:
    """All files found, and the cells and rows of those that are tables."""

    files: list[SourceFile]
    cells: pd.DataFrame
    rows: pd.DataFrame
    unread: pd.DataFrame = field(default_factory=lambda: empty_cells())
    """Cells (without values) of the figures the files not read would have given, where
    their columns tell; compared with the figures other files give."""


def empty_cells() -> pd.DataFrame:
    """A cells table with no rows and the right column types."""
    types = {"line": "int64", "year": "int64", "release": "int64", "value": "Int64"}
    types |= {"k": "bool", "derived": "bool"}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "str")) for c in CELL_COLUMNS})


def _gunzip(raw: bytes, shown: str) -> bytes:
    """The decompressed bytes of a gzip file, at most the input cap: a small file that
    decompresses without end (a "gzip bomb") is refused, not read into memory."""
    cap = max_input_bytes()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as unzipped:
            data = unzipped.read(cap + 1)
    except (OSError, EOFError) as error:
        raise PublishedInputError(f"{shown}: not a readable gzip file ({error})") from None
    if len(data) > cap:
        raise PublishedInputError(
            f"{shown}: decompresses to more than the {cap / 2**20:.0f} MiB cap on one input "
            f"(set {MAX_INPUT_MB_ENV} to raise it)"
        )
    return data


def read_csv_text(path: Path, shown: str) -> pd.DataFrame:
    """A CSV file (optionally gzip-compressed) as a table of text cells, every value as
    written ("" for blank; no NA guessing), header names stripped of surrounding spaces.

    Decodes UTF-8 (with or without a byte-order mark), falling back to Windows-1252, the
    encoding of the older SFR files' metadata. Line endings may be LF or CRLF; quoted
    fields may hold commas. Unnamed trailing columns (empty header cells) are dropped.
    """
    try:
        raw = read_input(path)  # a regular file under the size cap: never a FIFO or a device
    except InputFileError as error:
        raise PublishedInputError(f"{shown}: not read: {error.strerror}") from None
    if path.name.lower().endswith(".gz"):
        raw = _gunzip(raw, shown)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    _check_complete_rows(text, shown)
    try:
        table = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True
        )
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except pd.errors.ParserError as error:
        raise PublishedInputError(f"{shown}: not a readable CSV file ({error})") from None
    table.columns = [str(c).strip() for c in table.columns]
    unnamed = [c for c in table.columns if c.startswith("Unnamed: ") or c == ""]
    blank = [c for c in unnamed if (table[c].str.strip() == "").all()]
    return table.drop(columns=blank)


def _check_complete_rows(text: str, shown: str) -> None:
    """Stop at a row with fewer fields than the header names (a file cut short, or a
    damaged line): pandas would read its missing values as blanks, i.e. not available."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    width = max((i + 1 for i, name in enumerate(header) if name.strip()), default=0)
    for row in reader:
        if row and len(row) < width:
            raise PublishedInputError(
                f"{shown}: line {reader.line_num} has {len(row)} of the {width} fields the "
                "header names: the file looks cut short or damaged; expected every row to "
                "have a value (or DfE's marker) in every column"
            )


def lacks_text(lacking: list[str]) -> str:
    """ "lacks the column 'x'" or "lacks the columns 'x', 'y'" (each already quoted)."""
    return f"lacks the column{'s' if len(lacking) > 1 else ''} {', '.join(lacking)}"


LA_CODE_PREFIXES = ("E06", "E07", "E08", "E09", "E10")
"""ONS codes of authorities with children's services (unitary, metropolitan, London,
county); district codes (E07) never carry these figures but are accepted."""


def map_text(values: pd.Series, func: Callable[[str], object]) -> np.ndarray:
    """``func`` applied to each distinct text once (fast on long columns of few values)."""
    codes, uniques = pd.factorize(values.astype(str), use_na_sentinel=False)
    return np.asarray([func(u) for u in uniques], dtype=object)[codes]


def wide_cells(geo: pd.DataFrame, table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One row per (row of ``geo``, column of ``columns``): ``geo``'s columns repeated, with
    ``column`` (its name) and ``raw`` (the text of ``table`` there); rows of ``geo`` and
    ``table`` correspond by position."""
    n = len(geo)
    out = geo.iloc[np.tile(np.arange(n), len(columns))].reset_index(drop=True)
    out["column"] = np.repeat(np.asarray(columns, dtype=object), n)
    out["raw"] = table[columns].to_numpy(dtype=object).T.ravel()
    return out


def classify_level(level: pd.Series, code: pd.Series) -> pd.Series:
    """``national``, ``regional``, ``la`` or ``other`` for each row, from the file's level
    column (EES "National" / "Regional" / "Local authority"; SFR "National" / "GOR" /
    "REGION" / "LA", any case), or from the ONS code where the level is blank."""
    names = {
        "national": "national",
        "regional": "regional",
        "region": "regional",
        "gor": "regional",
        "local authority": "la",
        "la": "la",
        "": "",
    }
    named = map_text(level, lambda text: names.get(text.strip().casefold(), "other"))

    def by_code(text: str) -> str:
        text = text.strip().upper()
        if text.startswith("E92"):
            return "national"
        if text.startswith(("E12", "E13")):
            return "regional"
        return "la" if text.startswith(LA_CODE_PREFIXES) else "other"

    blank = named == ""
    named[blank] = map_text(code[blank], by_code) if blank.any() else named[blank]
    return pd.Series(named, index=level.index, dtype=str)


def raise_invalid(shown: str, lines: pd.Series, columns: pd.Series, raw: pd.Series) -> None:
    """Stop with the first bad values of a file, located by line and column."""
    examples = [
        f"line {line}, column {column!r}: {value!r}"
        for line, column, value in list(zip(lines, columns, raw, strict=True))[:3]
    ]
    more = f" (and {len(raw) - 3} more)" if len(raw) > 3 else ""
    raise PublishedInputError(
        f"{shown}: {len(raw)} values are not counts: {'; '.join(examples)}{more}; expected a "
        "whole number of children or one of DfE's markers (c, x, z, k, low, ..)"
    )
