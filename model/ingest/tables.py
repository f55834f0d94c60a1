"""What the 903 reader hands to the cleaner: raw tables with provenance, and issues.

The reader (``model.ingest903.read``) finds 903 tables in files and folders by their
columns, decodes them and returns one :class:`RawTable` per table found. Every cell is
still the raw text (whitespace and case untouched, "" for blank), so the cleaner can record
every change it makes. Dates are not parsed here.

``RawTable.data`` columns:

- the DfE column names of the table (upper case, as in ``TABLE_COLUMNS``), whatever their
  case or spacing in the file; XML's ``CHILDID`` and ``PL`` become ``CHILD`` and ``PLACE``;
- ``_source`` (str): the file, as given on the command line or relative to the folder given;
- ``_row`` (int): the row's position in the file — the 1-based line number of the row for
  CSV (the header is line 1), the 1-based position of the CHILD element for XML;
- ``_year`` (int): the collection year (year ending 31 March) of the row: the stacked
  layout's ``YEAR`` column when present, else the year worked out for the whole file
  (``RawTable.year``);
- ``_la`` (str): the stacked layout's ``LA`` column, or "" when absent.

An :class:`Issue` names the file, the row (``None`` for the whole file), the column
(``None`` when not about one column), what was found and what was expected. Issues never
hold a child identifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from model.ingest.issue import Issue

__all__ = [
    "PROVENANCE_COLUMNS",
    "REQUIRED_COLUMNS",
    "TABLE_COLUMNS",
    "Issue",
    "RawTable",
    "ReadResult",
]

TABLE_COLUMNS: dict[str, list[str]] = {
    "header": ["CHILD", "SEX", "DOB", "ETHNIC", "UPN", "MOTHER", "MC_DOB"],
    "episodes": [
        "CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
        "REASON_PLACE_CHANGE", "HOME_POST", "PL_POST", "URN",
    ],
    "uasc": ["CHILD", "SEX", "DOB", "DUC"],
}  # fmt: skip
"""Tables the stock-flow model needs, with the columns DfE defines for them."""

REQUIRED_COLUMNS: dict[str, list[str]] = {
    "header": ["CHILD", "SEX", "DOB"],
    "episodes": ["CHILD", "DECOM", "RNE", "LS", "PLACE", "DEC", "REC"],
    "uasc": ["CHILD", "DUC"],
}
"""Columns without which a table cannot be used at all."""

PROVENANCE_COLUMNS = ["_source", "_row", "_year", "_la"]


@dataclass
class RawTable:
    """One 903 table found in one file (a stacked file may hold many years)."""

    source: str
    table: str
    """One of TABLE_COLUMNS' keys, or another 903 table's name (e.g. "reviews") that the
    model does not use but the report counts."""
    data: pd.DataFrame
    year: int | None
    """Collection year worked out from the file's dates (None for stacked files)."""
    issues: list[Issue] = field(default_factory=list)
    span: tuple[int, int] | None = None
    """First and last collection years the table covers: (year, year) for one return,
    earlier first years for a file holding several years' episodes, the range of its YEAR
    column for a stacked file; None when no year could be worked out."""
    unread: int = 0
    """Rows of the file that could not be read (counted in the report, never used)."""


@dataclass
class ReadResult:
    """Everything the reader found: tables, and files it could not use (with why)."""

    tables: list[RawTable] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    """File-level problems: unreadable, empty, not a 903 table, missing required columns."""
    files_seen: list[str] = field(default_factory=list)
