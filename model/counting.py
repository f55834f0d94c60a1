"""Counting machinery shared by every producer of observations (``model.observations``).

The synthetic truth and the ingest both reduce children's histories to state segments
(child, state, [start, end) in days) and dated events; these functions turn those into
observation rows with one set of conventions, so that a correct ingest reproduces the truth
exactly. Days are integers: days since 1970-01-01.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.codes import AGE_BAND_LOWER, AGE_BANDS, CARE_LEAVING_AGE
from model.observations import KEY_COLUMNS, OBSERVATION_COLUMNS

OPEN_END = 10**7
"""A day number far beyond any date in the data, standing for "still open"."""

BIRTHDAY_AGES = (*AGE_BAND_LOWER[1:], CARE_LEAVING_AGE)


def days_of(values: pd.Series) -> np.ndarray:
    """datetime64 values to day numbers (int64), OPEN_END where NaT."""
    dates = values.to_numpy(dtype="datetime64[D]")
    out = dates.astype("int64")
    out[np.isnat(dates)] = OPEN_END
    return out


def birthdays(dob: np.ndarray, ages: tuple[int, ...] = BIRTHDAY_AGES) -> np.ndarray:
    """Day numbers of the birthdays at ``ages`` (columns) of children born on days ``dob``;
    a 29 February birthday falls on 1 March in other years."""
    d = np.asarray(dob, dtype="int64").astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(int) + 1970
    month_start = d.astype("datetime64[M]")
    month = month_start.astype(int) % 12  # 0 = January
    day = (d - month_start.astype("datetime64[D]")).astype(int)  # 0-based day of month
    out = np.empty((len(d), len(ages)), dtype="int64")
    for j, age in enumerate(ages):
        y = year + age
        leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
        feb29 = (month == 1) & (day == 28) & ~leap
        first = ((y - 1970) * 12 + month).astype("datetime64[M]").astype("datetime64[D]")
        date = first + np.where(feb29, 29, day).astype("timedelta64[D]")  # 29 Feb -> 1 Mar
        out[:, j] = date.astype("int64")
    return out


def month_ends(first_year: int, last_year: int) -> np.ndarray:
    """Month ends (day numbers) from 31 March ``first_year - 1`` to 31 March ``last_year``."""
    ends = pd.date_range(f"{first_year - 1}-03-31", f"{last_year}-03-31", freq="ME")
    return ends.to_numpy(dtype="datetime64[D]").astype("int64")


def period_text(days: np.ndarray) -> np.ndarray:
    """Day numbers as ISO date strings (formatted once per distinct day: it is slow)."""
    unique, inverse = np.unique(np.asarray(days, dtype="int64"), return_inverse=True)
    return np.datetime_as_string(unique.astype("datetime64[D]"), unit="D")[inverse]


def _coded(values: np.ndarray | pd.Categorical | str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(integer codes, labels) of a column given as one label, labels or a Categorical."""
    if isinstance(values, str):
        return np.zeros(n, dtype="int64"), np.array([values], dtype=object)
    if isinstance(values, pd.Categorical):
        return values.codes.astype("int64"), np.asarray(values.categories, dtype=object)
    codes, labels = pd.factorize(np.asarray(values, dtype=object))
    return codes.astype("int64"), np.asarray(labels, dtype=object)


def flow_rows(
    days: np.ndarray,
    measure: np.ndarray | pd.Categorical | str,
    states: np.ndarray | pd.Categorical | str,
    bands: np.ndarray,
    to_states: np.ndarray | pd.Categorical | str,
    reasons: np.ndarray | pd.Categorical | str,
    ends: np.ndarray,
    weights: np.ndarray | None = None,
) -> pd.DataFrame:
    """Events on ``days`` counted by (month ending on or after the day, measure, state,
    band, to_state, reason): one row per distinct key, ``value`` the number of events (or
    the sum of ``weights``). ``bands`` are indices into AGE_BANDS; text columns may be one
    label, an array of labels or a Categorical (fastest: millions of events are counted
    through integer codes, and text is made only for the distinct keys)."""
    days = np.asarray(days, dtype="int64")
    n = len(days)
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "value" else "str")
                             for c in OBSERVATION_COLUMNS})  # fmt: skip
    month = np.searchsorted(ends, days, side="left")
    columns = [
        (month, np.asarray(period_text(ends), dtype=object)),
        _coded(measure, n),
        _coded(states, n),
        (np.asarray(bands, dtype="int64"), np.asarray(AGE_BANDS, dtype=object)),
        _coded(to_states, n),
        _coded(reasons, n),
    ]
    key = np.zeros(n, dtype="int64")
    for codes, labels in columns:
        key = key * len(labels) + codes
    found, inverse = np.unique(key, return_inverse=True)
    value = np.bincount(inverse, weights=weights, minlength=len(found))
    out = {}
    for name, (_, labels) in reversed(list(zip(KEY_COLUMNS, columns, strict=True))):
        out[name] = labels[found % len(labels)]
        found = found // len(labels)
    frame = pd.DataFrame({name: out[name] for name in KEY_COLUMNS}).astype("str")
    frame["value"] = value.astype("int64")
    return frame


def band_on(band_birthdays: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Band index of each child (row of ``band_birthdays``: the 1st, 5th, 10th and 16th
    birthdays) on the matching day."""
    return (band_birthdays <= np.asarray(days, dtype="int64")[:, None]).sum(axis=1)


def stocks_and_ageing(
    states: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    band_birthdays: np.ndarray,
    ends: np.ndarray,
    window: tuple[int, int],
) -> pd.DataFrame:
    """Stocks at every month end and ageing events in ``window`` (first and last day) from
    state segments: segment i is ``states[i]`` over days [start[i], end[i]) for a child
    whose band birthdays are ``band_birthdays[i]`` (1st, 5th, 10th, 16th)."""
    names, state_code = np.unique(np.asarray(states, dtype=str), return_inverse=True)
    lo = np.searchsorted(ends, start, side="left")
    hi = np.searchsorted(ends, end, side="left")
    count = hi - lo
    seg = np.repeat(np.arange(len(states)), count)
    month = lo[seg] + np.arange(len(seg)) - np.repeat(np.cumsum(count) - count, count)
    band = band_on(band_birthdays[seg], ends[month])
    # Children counted at month ends can be tens of millions: count them here, by key.
    n_bands = len(AGE_BANDS)
    key = (month * len(names) + state_code[seg]) * n_bands + band
    tally = np.bincount(key, minlength=len(ends) * len(names) * n_bands)
    (found,) = np.nonzero(tally)
    stock = flow_rows(
        ends[found // (len(names) * n_bands)],
        "stock",
        names[(found // n_bands) % len(names)],
        found % n_bands,
        "",
        "",
        ends,
        weights=tally[found],
    )
    # Ageing: a birthday that starts a new band while the child is in the state.
    seg_a, which = np.nonzero(
        (band_birthdays >= start[:, None])
        & (band_birthdays < end[:, None])
        & (band_birthdays >= window[0])
        & (band_birthdays <= window[1])
    )
    aged_on = band_birthdays[seg_a, which]
    ageing = flow_rows(aged_on, "ageing", states[seg_a], which, "", "", ends)
    return pd.concat([stock, ageing], ignore_index=True)


def summarise(rows: list[pd.DataFrame]) -> pd.DataFrame:
    """Unit rows summed by key, sorted: the observations table."""
    table = pd.concat(rows, ignore_index=True)
    out = table.groupby(KEY_COLUMNS, as_index=False)["value"].sum()
    return out.sort_values(KEY_COLUMNS, ignore_index=True)[OBSERVATION_COLUMNS]
