"""The stacked layout (liia-tools): extra ``LA``/``YEAR`` columns give each row its
authority and collection year.

``_la`` and ``_year`` come from them and the columns are dropped; ``RawTable.year`` is None
and ``RawTable.span`` the range of the bulk of its YEARs. A YEAR that is blank, not a
4-digit year, or a stray year outside that bulk
(:func:`~model.ingest903.years.bulk_years`) gives ``_year`` -1 and an error for that row
(the value is shown only when it is a 4-digit year).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.ingest.withhold import WITHHELD
from model.ingest903.parts import MAX_ROW_ISSUES, Batch, Capped
from model.ingest903.years import bulk_years

STACKED_COLUMNS = ("LA", "YEAR")

MIN_YEAR, MAX_YEAR = 1992, 2100
"""Plausible collection years for a stacked YEAR (the 903 episode data start in 1991-92)."""


def stacked_years(batch: Batch) -> np.ndarray:
    """Per-row ``_year`` from the YEAR column, and each part's ``span``: -1 and an error
    where YEAR is not a year, or is a stray year outside the bulk of the file's years
    (:func:`bulk_years`), so that one mistyped YEAR cannot stretch the observations."""
    text = batch.frame["YEAR"].str.strip()
    digits = text.where(text.str.fullmatch(r"\d{4}(?:\.0*)?"), None)
    number = pd.to_numeric(digits, errors="coerce")
    years = number.fillna(-1).astype(np.int64).to_numpy()
    bad_rows = (years < MIN_YEAR) | (years > MAX_YEAR)
    for part in batch.parts:
        rows = slice(part.start, part.stop)
        part.span = bulk_years(np.where(bad_rows[rows], -1, years[rows]), trim_low=True)
        stray = np.zeros(len(years), dtype=bool)
        if part.span is not None:
            lo, hi = part.span
            stray[rows] = ~bad_rows[rows] & ((years[rows] < lo) | (years[rows] > hi))
        capped = Capped(part, "bad YEAR", column="YEAR")
        bad = np.flatnonzero(bad_rows | stray)
        in_part = bad[(bad >= part.start) & (bad < part.stop)]
        for i in in_part[:MAX_ROW_ISSUES]:
            found = _bad_year(str(batch.frame["YEAR"].iat[i]), years[i])
            if stray[i]:
                found = f"YEAR {years[i]} is a stray year: the file's rows are for {lo}-{hi}"
            capped.add(int(batch.rows[i]), found)
        capped.count = len(in_part)  # the rest are only counted
        capped.close(
            f"a 4-digit year ending 31 March, {MIN_YEAR}-{MAX_YEAR}, among the file's years "
            "(row not used)",
            "error",
        )
        bad_rows = bad_rows | stray
    return np.where(bad_rows, -1, years)


def _bad_year(text: str, year: int) -> str:
    """Why a stacked YEAR is not a collection year, showing the value only when it is a
    4-digit year (anything else could be a misplaced identifier)."""
    if not text.strip():
        return "YEAR is blank"
    if year < 0:
        return f"YEAR is not a 4-digit year {WITHHELD}"
    return f"YEAR {year} is outside {MIN_YEAR}-{MAX_YEAR}"
