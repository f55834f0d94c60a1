"""Benchmark: ingest a national-sized CIN census (one year, one file).

Target: about 700,000 children (one year of England's CIN census) read, cleaned, linked
and observed in under 60 s on this 2-core machine, with peak memory under 4 GiB.

The data: a few synthetic authorities are generated once, then the children of their
2025 census files are copied into one file (one Header) until the child count is reached,
with LAchildID prefixed per copy and the UPN/FormerUPN LA digits replaced per copy, so
that ids stay unique and valid against the XSD. One file is the heaviest case: the whole
census passes through one reader. The baseline, run in the same process first, is one
authority's file, which shows how the cost scales with size.

The stage timed is ``model.ingestcin.ingest_cin`` when it can be imported (or the reader
alone, ``model.ingestcin.read.read_cin``, with ``--read-only``, or when ``ingest_cin``
cannot be imported); the output says which. The reader uses worker processes for a big
file, so memory is reported for this process (max RSS) and for the whole process tree
(sampled).

    uv run python benchmarks/ingest_cin.py [--children 700000] [--keep DIR] [--read-only]

``--keep DIR`` writes the data under DIR and reuses it on later runs (delete DIR's
``national`` folder to regenerate with another ``--children``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from model.ingestcin.read import read_cin

try:
    from model.ingestcin import ingest_cin
except ImportError:
    ingest_cin = None

FIRST, LAST = 2016, 2025
CENSUS = f"cin_census_{LAST}.xml"
_CHILD = re.compile(rb"<Child>")
_CHILDREN_END = re.compile(rb"\s*</Children>")
_ID = re.compile(rb"<LAchildID>")
# UPN: check letter, 3-digit LA number, 8 more characters (pattern [A-Za-z]\d{11}(\d|[A-Za-z])).
_UPN = re.compile(rb"(<(?:Former)?UPN>[A-Za-z])\d{3}")


def make_national(folder: Path, children: int) -> tuple[Path, Path]:
    """Write ``folder/national/cin_census_2025.xml`` with ``children`` Child elements.

    Returns (that file, one authority's census file for the baseline).
    """
    source = folder / "_source"
    if not source.exists():
        # In a child process, so that this process's peak memory is the ingest's alone.
        subprocess.run(
            [sys.executable, "-m", "model.cli", "-q", "synthesize", str(source),
             "--authorities", "3", "--first-year", str(FIRST), "--last-year", str(LAST),
             "--seed", "1"],
            check=True,
        )  # fmt: skip
    files = sorted(source.glob(f"SYN*/cin/{CENSUS}"))
    head = b""
    bodies: list[list[bytes]] = []  # per authority: its Child elements, as bytes
    for path in files:
        raw = path.read_bytes()
        starts = [m.start() for m in _CHILD.finditer(raw)]
        end = _CHILDREN_END.search(raw, starts[-1]).start()  # type: ignore[union-attr]
        if not head:
            head = raw[: starts[0]]
        bounds = [*starts, end]
        bodies.append([raw[a:b] for a, b in itertools.pairwise(bounds)])
    out = folder / "national" / CENSUS
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with out.open("wb") as handle:
        handle.write(head)
        copy = 0
        while written < children:
            for index, body in enumerate(bodies):
                take = body[: children - written]
                if not take:
                    break
                blob = b"".join(take)
                tag = b"%03d" % ((copy * len(bodies) + index) % 1000)
                blob = _ID.sub(b"<LAchildID>C" + tag, blob)
                blob = _UPN.sub(lambda m, t=tag: m.group(1) + t, blob)
                handle.write(blob)
                written += len(take)
            copy += 1
        handle.write(b"\n  </Children>\n</Message>\n")
    return out, files[0]


def _tree_rss() -> int:
    """Resident bytes of this process and all its descendants now (Linux /proc)."""
    total = 0
    pending = [os.getpid()]
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as kids:
                    pending.extend(int(k) for k in kids.read().split())
        except (OSError, ValueError):
            continue  # the process ended meanwhile
    return total


class TreePeak:
    """Samples the process tree's total RSS every ``interval`` seconds; ``peak`` in bytes.

    ``ru_maxrss`` is per process: with worker processes, the sum of the tree is what must
    stay under the memory target.
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def stage(read_only: bool) -> tuple[str, Callable[[list[Path], Path], int]]:
    """(name, function running the timed stage on paths with an output folder -> children
    read, or -1 if the stage does not say)."""
    if ingest_cin is not None and not read_only:

        def run_ingest(paths: list[Path], out: Path) -> int:
            ingest_cin(paths, "BENCH", out, out / "private")
            return -1  # children counted from the file instead

        return "ingest_cin (read + clean + link + observe)", run_ingest

    def run_read(paths: list[Path], out: Path) -> int:
        return len(read_cin(paths).children)

    why = "--read-only" if read_only else "model.ingestcin.ingest_cin is not importable"
    return f"read_cin only ({why})", run_read


def count_children(path: Path) -> int:
    """``<Child>`` tags in the file, read 16 MiB at a time (not all at once: memory)."""
    n = 0
    tail = b""
    with path.open("rb") as handle:
        while block := handle.read(16 << 20):
            data = tail + block
            n += data.count(b"<Child>")
            # Keep the last bytes (no complete tag among them) for a tag cut in two.
            cut = max(len(data) - 6, data.rfind(b"<Child>") + 7, 0)
            tail = data[cut:]
    return n


def timed(run: Callable[[list[Path], Path], int], path: Path, out: Path) -> tuple[float, int]:
    """Seconds taken and children read (-1: the stage does not say)."""
    start = time.perf_counter()
    n = run([path], out)
    return time.perf_counter() - start, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=700_000)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep the data here")
    parser.add_argument("--read-only", action="store_true", help="time read_cin alone")
    args = parser.parse_args()
    name, run = stage(args.read_only)
    print(f"stage timed: {name}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        national = folder / "national" / CENSUS
        baseline = folder / "_source" / "SYN01" / "cin" / CENSUS
        if not national.exists():
            start = time.perf_counter()
            national, baseline = make_national(folder, args.children)
            size = national.stat().st_size / 2**20
            print(
                f"wrote {args.children:,} children ({size:,.0f} MiB) "
                f"in {time.perf_counter() - start:.0f} s"
            )
        generated = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        base_time, base_n = timed(run, baseline, folder / "out_base")
        with TreePeak() as tree:
            big_time, big_n = timed(run, national, folder / "out_big")
        # ru_maxrss is in KiB on Linux.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        worker_note = "" if worker > generated else " (or the data generator's, if larger)"
        base_n = base_n if base_n >= 0 else count_children(baseline)
        big_n = big_n if big_n >= 0 else count_children(national)
    tree_peak = tree.peak / 2**30
    print(
        f"baseline (one authority): {base_n:,} children in {base_time:.2f} s "
        f"({base_n / base_time:,.0f} children/s)"
    )
    print(f"national: {big_n:,} children in {big_time:.1f} s ({big_n / big_time:,.0f} children/s)")
    print(f"peak memory (max RSS of this process): {peak:.2f} GiB")
    print(
        f"peak memory (process tree, sampled every 50 ms): {tree_peak:.2f} GiB; "
        f"largest child process (max RSS): {worker / 2**20:.2f} GiB{worker_note}"
    )
    print(
        f"national / target (60 s): {big_time / 60:.2f}; "
        f"memory (tree) / target (4 GiB): {max(peak, tree_peak) / 4:.2f}"
    )
    print(
        f"national / baseline time: {big_time / base_time:.1f} "
        f"(children ratio {big_n / base_n:.1f})"
    )


if __name__ == "__main__":
    main()
