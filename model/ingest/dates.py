"""Parse the date formats found in 903 extracts, vectorised.

903 dates should be ``dd/mm/yyyy``, but extracts from case-management systems and
spreadsheets also hold ISO dates, two-digit years, datetimes and Excel serial day numbers.
:func:`parse_dates` accepts, per value (surrounding whitespace ignored):

- ``dd/mm/yyyy`` and ``d/m/yyyy`` (the DfE format);
- ISO ``yyyy-mm-dd`` (the stacked multi-year layout) and ``yyyy/mm/dd``;
- ``dd-mm-yyyy``, ``dd.mm.yyyy``, ``dd-Mon-yyyy`` and ``dd Mon yyyy`` (English month
  abbreviations), which spreadsheets produce when a date column is reformatted;
- ``dd/mm/yy`` (also with ``-`` or ``.``): a two-digit year ``00``-``69`` is 2000-2069
  and ``70``-``99`` is 1970-1999. The 903 covers children born since about 1990 and
  episodes since 1991, so the window only matters for dates before 1970 (none are valid)
  or after 2069;
- any of the above followed by a time of day (``2019-04-01 00:00:00``,
  ``01/04/2019 00:00``, ``2019-04-01T13:45``): the time is dropped;
- Excel serial day numbers: integers 1 to 80,000 (1900-01-01 to 2119-01-12), optionally
  with a fraction (``43556.0``, ``43556.5``: the fraction is a time of day and is dropped).
  Day 1 is 1900-01-01 counted from Excel's epoch 1899-12-30, which absorbs Excel's
  fictitious 29 February 1900 for every serial after it.

Impossible dates (``31/02/2019``) are bad, not rolled over. Speed: the distinct values are
parsed once (903 columns repeat a few thousand dates across millions of rows); the DfE
format is one vectorised ``pd.to_datetime`` call, and the values it leaves are sorted by
shape (vectorised regular expressions) and each shape parsed in one call.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TWO_DIGIT_YEAR_PIVOT = 70
"""Two-digit years below this are 20yy, the others 19yy."""

EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
EXCEL_SERIAL_MAX = 80_000
"""Largest serial accepted (12 January 2119); larger numbers are not dates."""

MONTH_NAME_FORMATS = ("%d-%b-%Y", "%d %b %Y", "%d/%b/%Y")

_TIME_SUFFIX = r"[T ]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?$"
_DAY_FIRST = r"^(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})[/.-](?P<year>\d{4}|\d{2})$"
_YEAR_FIRST = r"^(?P<year>\d{4})[/.-](?P<month>\d{1,2})[/.-](?P<day>\d{1,2})$"
_SERIAL = r"\d{1,6}(?:\.\d*)?"


def parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse date text in any of the accepted formats (see the module docstring).

    Returns ``(dates, bad)``, both indexed like ``values``: ``dates`` is
    ``datetime64[s]`` with NaT for blank or unparseable values; ``bad`` is True where a
    value is not blank (after stripping whitespace) but could not be parsed. Missing
    values (None/NaN) count as blank.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    parsed, blank = _parse_distinct(text)
    # code -1 (missing value) picks the appended NaT / blank entry.
    parsed_all = np.append(parsed, np.datetime64("NaT", "s"))[codes]
    blank_all = np.append(blank, True)[codes]
    dates = pd.Series(parsed_all, index=values.index, name=values.name)
    bad = pd.Series(~blank_all & np.isnat(parsed_all), index=values.index, name=values.name)
    return dates, bad


def _parse_distinct(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse distinct strings (RangeIndex = position); return (datetime64[s], blank mask)."""
    out = np.full(len(text), np.datetime64("NaT", "s"))
    # The DfE format first, on the raw text: nearly every value of a clean return is in it,
    # and strptime is slow on values that fail, so the other formats are picked by shape.
    parsed = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    ok = parsed.notna().to_numpy()
    out[ok] = parsed.to_numpy()[ok].astype("datetime64[s]")
    rest = text[~ok].str.strip()
    blank = np.zeros(len(text), dtype=bool)
    blank[rest.index[rest.eq("")]] = True
    rest = rest[rest.ne("")]
    serial = rest.str.fullmatch(_SERIAL)
    _fill_excel_serials(out, rest[serial])
    date_part = rest[~serial].str.replace(_TIME_SUFFIX, "", regex=True)
    _fill_numeric(out, date_part.str.extract(_DAY_FIRST).dropna())
    _fill_numeric(out, date_part.str.extract(_YEAR_FIRST).dropna())
    named = date_part[date_part.str.contains("[A-Za-z]", regex=True)]
    for fmt in MONTH_NAME_FORMATS:
        named = named[np.isnat(out[named.index])]
        if len(named):
            parsed = pd.to_datetime(named, format=fmt, errors="coerce")
            ok = parsed.notna().to_numpy()
            out[named.index[ok]] = parsed.to_numpy()[ok].astype("datetime64[s]")
    return out, blank


def _fill_numeric(out: np.ndarray, parts: pd.DataFrame) -> None:
    """Dates from day, month and year digits (indexed by position in ``out``); a two-digit
    year uses the 1970-2069 window (strptime's ``%y`` window is 1969-2068)."""
    if parts.empty:
        return
    year = parts["year"].astype(int)
    two_digit = parts["year"].str.len() == 2
    year = year.where(~two_digit, year + np.where(year < TWO_DIGIT_YEAR_PIVOT, 2000, 1900))
    dates = pd.to_datetime(
        pd.DataFrame({"year": year, "month": parts["month"].astype(int),
                      "day": parts["day"].astype(int)}),
        errors="coerce",
    )  # fmt: skip
    ok = dates.notna().to_numpy()
    out[parts.index[ok]] = dates.to_numpy()[ok].astype("datetime64[s]")


def _fill_excel_serials(out: np.ndarray, numbers: pd.Series) -> None:
    """Whole days since 1899-12-30 (Excel's epoch), 1 to EXCEL_SERIAL_MAX."""
    days = np.floor(pd.to_numeric(numbers, errors="coerce"))
    days = days[(days >= 1) & (days <= EXCEL_SERIAL_MAX)]
    out[days.index.to_numpy()] = EXCEL_EPOCH + days.to_numpy().astype("timedelta64[D]")
