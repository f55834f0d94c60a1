"""Benchmark: parse two million return dates in the mixed forms real returns use.

Target: ``model.ingest.dates.parse_dates`` on 2,000,000 values (mostly dd/mm/yyyy, 30%
blank, some dd/mm/yy, ISO datetimes and Excel serials) in under 2 s on one core. The
baseline, run in the same process, is pandas parsing the same number of values in one known
format (``pd.to_datetime(format="%d/%m/%Y")``): what one fixed format costs.

    uv run python benchmarks/parse_dates.py [--values 2000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from model.ingest.dates import parse_dates

TARGET_SECONDS = 2.0


def mixed_dates(n: int, seed: int = 0) -> pd.Series:
    """``n`` date strings in the forms returns mix (30% blank)."""
    rng = np.random.default_rng(seed)
    pool = pd.Series(pd.date_range("1995-01-01", "2025-12-31", freq="D"))
    serials = (pool - pd.Timestamp("1899-12-30")).dt.days.astype(str)
    formats = ["%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d 00:00:00"]
    forms = np.stack([*(pool.dt.strftime(f) for f in formats), serials]).astype(object)
    day = rng.integers(0, len(pool), n)
    form = rng.choice(4, size=n, p=[0.85, 0.05, 0.05, 0.05])
    text = pd.Series(forms[form, day])
    text[rng.random(n) < 0.3] = ""
    return text


def main() -> None:
    """Time the baseline and ``parse_dates``; print seconds and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=int, default=2_000_000)
    args = parser.parse_args()
    text = mixed_dates(args.values)
    plain = pd.Series(pd.date_range("1995-01-01", periods=args.values, freq="h"))
    plain = plain.dt.strftime("%d/%m/%Y")
    start = time.perf_counter()
    pd.to_datetime(plain, format="%d/%m/%Y")
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    parse_dates(text)
    elapsed = time.perf_counter() - start
    print(f"baseline (one fixed format): {baseline:.2f} s")
    print(
        f"parse_dates, {args.values:,} mixed values: {elapsed:.2f} s "
        f"({elapsed / baseline:.2f} x the baseline; {elapsed / TARGET_SECONDS:.2f} x the "
        f"{TARGET_SECONDS:.0f} s target)"
    )


if __name__ == "__main__":
    main()
