"""Benchmark: ingest a national-sized set of 903 returns.

Target (issue 3): about two million episode rows (10 years, ~150 authorities' worth,
including the cross-year repeats) read, repaired and observed in under 60 s on this 2-core
machine, with peak memory under 4 GiB.

The data: a few synthetic authorities (with faults) are generated once, then copied with
their child ids prefixed until the row count is national-sized; all copies sit in one
folder tree and are ingested as one input (the heaviest case: one process holds them all).
The baseline, run in the same process, is one authority's worth, which shows how the cost
scales with size.

    uv run python benchmarks/ingest_903.py [--rows 2000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from model.ingest903 import ingest_903

FIRST, LAST = 2016, 2025


def make_national(folder: Path, target_rows: int) -> int:
    """Write copies of synthetic authorities under ``folder``; return episode rows written."""
    source = folder / "_source"
    # In a child process, so that this process's peak memory is the ingest's alone.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "model.cli",
            "-q",
            "synthesize",
            str(source),
            "--authorities",
            "3",
            "--first-year",
            str(FIRST),
            "--last-year",
            str(LAST),
            "--seed",
            "1",
            "--faults",
        ],
        check=True,
    )
    files = sorted(source.glob("SYN*/ssda903/*/*.csv"))
    per_copy = sum(
        len(pd.read_csv(p, dtype=str, encoding="latin-1")) for p in files if p.stem == "episodes"
    )
    copies = max(1, -(-target_rows // per_copy))
    texts = {p: p.read_bytes() for p in files}
    for copy in range(copies):
        for path, raw in texts.items():
            out = folder / "national" / f"C{copy:03d}" / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            # Child ids are 7 digits at the start of each data row: prefix them per copy.
            lines = raw.split(b"\n")
            body = [
                (f"{copy:03d}".encode() + line.lstrip(b"\xef\xbb\xbf")) if line else line
                for line in lines[1:]
            ]
            out.write_bytes(b"\n".join([lines[0], *body]))
    return per_copy * copies


def timed_ingest(paths: list[Path], out: Path) -> tuple[float, dict]:
    start = time.perf_counter()
    result = ingest_903(paths, "BENCH", out, out / "private")
    return time.perf_counter() - start, result.report["rows"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep the data here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        if not (folder / "national").exists():
            start = time.perf_counter()
            rows = make_national(folder, args.rows)
            print(f"wrote {rows:,} episode rows in {time.perf_counter() - start:.0f} s")
        base_time, base_rows = timed_ingest(
            [folder / "national" / "C000" / "SYN01"], folder / "out_base"
        )
        big_time, big_rows = timed_ingest([folder / "national"], folder / "out_big")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"baseline (one authority): {base_rows['read']:,} rows in {base_time:.2f} s "
        f"({base_rows['read'] / base_time:,.0f} rows/s)"
    )
    print(
        f"national: {big_rows['read']:,} rows (episodes, header, uasc) in {big_time:.1f} s "
        f"({big_rows['read'] / big_time:,.0f} rows/s)"
    )
    print(f"peak memory (max RSS of this process): {peak:.2f} GiB")
    print(f"national / target (60 s): {big_time / 60:.2f}; memory / target (4 GiB): {peak / 4:.2f}")
    print(
        f"national / baseline time: {big_time / base_time:.1f} "
        f"(rows ratio {big_rows['read'] / base_rows['read']:.1f})"
    )


if __name__ == "__main__":
    main()
