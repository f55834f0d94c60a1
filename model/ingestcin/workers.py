"""Worker processes that read the back part of a big file's pieces while this process reads
the front.

**Parallel**: a file of at least :data:`PARALLEL_MIN_BYTES` is also read by worker
processes (:data:`WORKERS`; fresh interpreters started with ``sys.executable``): this
process starts on the first piece at once, and each worker, once its imports are done,
takes the back half of what is left. Tables and issues are put together in file order,
as one process would have them.
"""

from __future__ import annotations

import bisect
import os
import pickle
import select
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from model.ingestcin.capped import Capped

PARALLEL_MIN_BYTES = 20 << 20
"""Files of at least this many bytes are read by several processes, a range of pieces each
(smaller files: starting a process, about a second, would cost more than it saves)."""
WORKERS: int | None = None
"""Processes reading one big file, this one included; None: min(2, CPUs available)."""
WORKER_WAIT_SECONDS = 0.0
"""How long to wait for the worker processes to be ready before reading (tests wait, to
read a small file in parallel; otherwise workers join in when ready: this process never
waits)."""


@dataclass
class RangeResult:
    """What a worker process read: tables with child positions counted from 1 in the
    range, issues with lines counted as if the range followed the prefix."""

    tables: dict[str, pa.Table]
    capped: Capped
    children: int
    lines: int


def worker_count(size: int) -> int:
    """Processes to read a file of ``size`` bytes with (this one included)."""
    if size < PARALLEL_MIN_BYTES or os.name != "posix":  # select() on pipes: POSIX only
        return 1
    if WORKERS is not None:
        return max(1, WORKERS)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def back_half(bounds: Sequence[int], start: int, end: int) -> int | None:
    """The piece from which pieces ``start`` to ``end - 1`` hold about half their bytes, or
    None if there are too few pieces to share."""
    if end - start < 2:
        return None
    middle = (bounds[start] + bounds[end]) // 2
    return min(max(bisect.bisect_left(bounds, middle, start, end), start + 1), end - 1)


READY = b"R"
_WORKER_SCRIPT = (
    "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
    "from model.ingestcin.pieces import serve_range; serve_range()"
)
"""What a worker process runs: with this process's import path (so it imports the same
code), :func:`model.ingestcin.pieces.serve_range`. Not multiprocessing's spawn, which would
also import the caller's main script again in each worker (running it all over again unless
it has an ``if __name__ == "__main__":`` guard)."""


class WorkerFailed(Exception):
    """A worker process could not read its range (its range is read in this one)."""


class Worker:
    """A worker process: started at once (imports take seconds), given the back half of
    what is left to read once it says it is ready, so that this process never waits for
    it, however slowly it starts."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.span: tuple[int, int] | None = None
        self.waiting = False  # for a range
        self.failed = False
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin = self.process.stdin
        self.stdout = self.process.stdout
        try:
            self.stdin.write(pickle.dumps(sys.path))
            self.stdin.flush()
        except OSError:
            self.failed = True

    @classmethod
    def start(cls) -> Worker | None:
        try:
            return cls()
        except (OSError, ValueError):  # no processes here: everything is read in this one
            return None

    def ready(self, timeout: float = 0) -> bool:
        """Whether the worker waits for a range (waiting at most ``timeout`` seconds)."""
        if self.failed or self.span is not None:
            return False
        if not self.waiting:
            try:
                if not select.select([self.stdout], [], [], timeout)[0]:
                    return False
                self.waiting = os.read(self.stdout.fileno(), 1) == READY  # b"": it died
            except OSError:
                pass
            self.failed = not self.waiting
        return self.waiting

    def assign(self, args: tuple, span: tuple[int, int]) -> bool:
        """Send the worker its range; ``args``: the arguments of :func:`range_worker` but
        ``span``. False if it cannot take it."""
        try:
            *head, limit = args
            self.stdin.write(pickle.dumps((*head, span, limit), protocol=5))
            self.stdin.close()
        except OSError:
            self.failed = True
            return False
        self.span = span
        return True

    def result(self) -> RangeResult | None:
        """The worker's result: None if the file should be streamed; raises WorkerFailed."""
        try:
            result = pickle.load(self.stdout)
        except Exception as error:  # a worker that died, or wrote something else
            raise WorkerFailed from error
        if self.process.wait() != 0 or not (result is None or isinstance(result, RangeResult)):
            raise WorkerFailed
        return result

    def stop(self) -> None:
        """End the worker if it still runs (its result is no longer wanted) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.stdin, self.stdout):
            stream.close()
