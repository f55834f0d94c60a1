"""The value conventions of DfE's published tables: counts and the markers standing for them.

Local-authority counts are published unrounded, as whole numbers. Where no number is shown,
a marker says why; what a marker means depends on the layout:

- explore-education-statistics (EES) files: ``c`` suppressed (small numbers, or to stop
  them being worked out), ``x`` not available, ``z`` not applicable (e.g. the authority did
  not exist that year), ``k`` rounds to zero, ``low`` (older files) a small number shown as
  "low" — here suppressed;
- SFR underlying data (2010-2017): ``x`` suppressed (one to five, or to stop small numbers
  being worked out, as the releases' metadata say), ``..`` / ``.`` not available.

carecast keeps a number only where one is shown: suppressed, not available and not
applicable values give no row, never a zero. ``k`` is the exception: it is published for a
count that rounds to 0, and counts are whole numbers, so it is 0. A blank cell is not
available. Anything else — text, a negative or fractional count, a spreadsheet error such as
``#VALUE!`` — is an error in the file, reported by the reader with file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

STATUSES = ("value", "suppressed", "not_applicable", "not_available")

EES_MARKERS: Mapping[str, str] = {
    "c": "suppressed",
    "low": "suppressed",
    "x": "not_available",
    "z": "not_applicable",
    "..": "not_available",
    ":": "not_available",
    "": "not_available",
}
"""EES markers (lower case) and the status each stands for; ``k`` is handled as 0."""

SFR_MARKERS: Mapping[str, str] = {
    "x": "suppressed",
    "..": "not_available",
    ".": "not_available",
    "": "not_available",
}
"""Markers of the SFR underlying data (2010-2017): ``x`` is suppression there."""

ZERO_MARKERS = frozenset({"k"})
WHOLE = re.compile(r"\d+(?:\.0+)?")


def parse_counts(
    raw: pd.Series, markers: Mapping[str, str]
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Counts from published text: ``(value, status, k)`` aligned with ``raw``.

    ``value`` is Int64 (``<NA>`` unless status is ``value``); ``status`` one of
    :data:`STATUSES` or ``invalid`` (not a whole non-negative number, nor a known marker);
    ``k`` marks values that were the ``k`` marker (0). Whole numbers may be written with a
    zero fraction ("12.0") and surrounding spaces. Each distinct text is read once.
    """
    codes, uniques = pd.factorize(raw.astype(str), use_na_sentinel=False)
    read = [_one(str(text), markers) for text in uniques]
    numbers = np.array([r[0] for r in read], dtype="int64")[codes]
    status = np.array([r[1] for r in read], dtype=object)[codes]
    k = np.array([r[2] for r in read], dtype=bool)[codes]
    value = pd.array(numbers, dtype="Int64")
    value[status != "value"] = pd.NA
    return (
        pd.Series(value, index=raw.index),
        pd.Series(status, index=raw.index, dtype=str),
        pd.Series(k, index=raw.index),
    )


def _one(text: str, markers: Mapping[str, str]) -> tuple[int, str, bool]:
    """(count, status, was k) of one published text."""
    text = text.strip()
    if WHOLE.fullmatch(text):
        return int(text.split(".")[0]), "value", False
    lower = text.lower()
    if lower in ZERO_MARKERS:
        return 0, "value", True
    return 0, markers.get(lower, "invalid"), False
