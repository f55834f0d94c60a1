"""Worker processes that read the back part of a big file's pieces while this process reads
the front, through the standard library's :class:`~concurrent.futures.ProcessPoolExecutor`.

**Parallel**: a file of at least :data:`PARALLEL_MIN_BYTES` is also read by worker
processes (:data:`WORKERS` in all, this one included). Each worker is an executor of one
process, started at once with the "spawn" method: a fresh interpreter (forking this
process, whose threads (Arrow's, the executor's) may hold locks, is unsafe, and a fork
server would make this process wait for the server's imports before it could start one).
This process starts on the first piece at once, and each worker, once its imports are
done, takes the back half of what is left (:meth:`Workers.share`), so that this process
never waits for a worker, however slowly it starts. A worker reads its range as tasks of
:data:`TASK_PIECES` pieces, so that results come back a part at a time; they are put
together in file order (:meth:`Workers.results`), and a part a worker could not read is
read here.

Like every spawned process, a worker imports the caller's main script again (as
``__mp_main__``): a script that reads census files must keep its work under
``if __name__ == "__main__":`` (the workflow's scripts, the benchmarks and the ``carecast``
command do).
"""

from __future__ import annotations

import bisect
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_for
from importlib import import_module
from types import TracebackType
from typing import cast

PARALLEL_MIN_BYTES = 20 << 20
"""Files of at least this many bytes are read by several processes, a range of pieces each
(smaller files: starting a process, about a second, would cost more than it saves)."""
WORKERS: int | None = None
"""Processes reading one big file, this one included; None: min(2, CPUs available)."""
WORKER_WAIT_SECONDS = 0.0
"""How long to wait for the worker processes to be ready before reading (tests wait, to
read a small file in parallel; otherwise workers join in when ready: this process never
waits)."""
TASK_PIECES = 16
"""Pieces a worker reads per task: its range is handed to it as tasks of this many pieces,
whose results come back one by one as they are done (a whole range's result, pickled at
once, would be held twice in both processes: as tables and as bytes)."""


def worker_count(size: int) -> int:
    """Processes to read a file of ``size`` bytes with (this one included)."""
    if size < PARALLEL_MIN_BYTES:
        return 1
    if WORKERS is not None:
        return max(1, WORKERS)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


def _back_half(bounds: Sequence[int], start: int, end: int) -> int | None:
    """The piece from which pieces ``start`` to ``end - 1`` hold about half their bytes, or
    None if there are too few pieces to share."""
    if end - start < 2:
        return None
    middle = (bounds[start] + bounds[end]) // 2
    return min(max(bisect.bisect_left(bounds, middle, start, end), start + 1), end - 1)


def _start(module: str) -> None:
    """What a worker runs first: import the module of its task, so that a worker is ready
    (:meth:`Worker.ready`) only once its imports are done."""
    import_module(module)


def _ready() -> None:
    """What a worker runs once started: nothing (that it has run says the worker is ready)."""


class Worker:
    """A worker process (an executor of one), started at once (imports take a second or
    more), given at most one range, once it is ready."""

    def __init__(self, task: Callable[..., object]) -> None:
        self.executor = ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(task.__module__,),
        )
        try:
            self.started: Future[None] = self.executor.submit(_ready)
        except BaseException:
            self.executor.shutdown(wait=False)
            raise
        self.span: tuple[int, int] | None = None
        self.tasks: list[tuple[tuple[int, int], Future | None]] = []
        """The parts of the range, each with its task (None: not taken, read here)."""

    def ready(self, timeout: float = 0) -> bool:
        """Whether the worker waits for a range (waiting at most ``timeout`` seconds)."""
        if self.span is not None:
            return False
        if timeout > 0:
            wait_for([self.started], timeout)
        return self.started.done() and self.started.exception() is None

    def assign(self, task: Callable[..., object], args: tuple, span: tuple[int, int]) -> bool:
        """Have the worker read ``span`` as tasks ``task(*args, part)`` of
        :data:`TASK_PIECES` pieces each; False if it cannot take it."""
        for start in range(span[0], span[1], TASK_PIECES):
            part = (start, min(start + TASK_PIECES, span[1]))
            try:
                future: Future | None = self.executor.submit(task, *args, part)
            except RuntimeError:  # a broken or shut down executor
                if not self.tasks:
                    return False
                future = None
            self.tasks.append((part, future))
        self.span = span
        return True

    def results(self, task: Callable[..., object], args: tuple) -> Iterator[object]:
        """What the worker read, part by part; a part it could not read (it died, or its
        task raised) is read here, by ``task(*args, part)``."""
        for part, future in self.tasks:
            result: object = None
            failed = future is None
            if future is not None:
                try:
                    result = future.result()
                except Exception:
                    failed = True
            yield task(*args, part) if failed else result

    def stop(self) -> None:
        """Let the worker go (a part it still reads is no longer wanted). The executor is
        shut down in a thread of its own, which waits for the worker process to end:
        whichever thread lets go of the executor last waits for its queues, and the
        reading process must not wait for a worker process to end."""
        kwargs = {"cancel_futures": True}
        threading.Thread(target=self.executor.shutdown, kwargs=kwargs, daemon=False).start()


class Workers[T]:
    """The worker processes sharing the reading of one file's pieces with this process:
    ``task(*args, span)`` reads the pieces ``span[0]`` to ``span[1] - 1`` (``bounds``: the
    pieces' file offsets) on its own and returns what it read."""

    def __init__(
        self, count: int, task: Callable[..., T], args: tuple, bounds: Sequence[int]
    ) -> None:
        self.task, self.args, self.bounds = task, args, bounds
        self.workers: list[Worker] = []
        for _ in range(count):
            try:
                self.workers.append(Worker(task))
            except (OSError, NotImplementedError, RuntimeError):
                break  # no processes here: everything is read in this one

    def wait_ready(self) -> None:
        """Wait for the workers to be ready, each at most :data:`WORKER_WAIT_SECONDS`."""
        for worker in self.workers:
            worker.ready(WORKER_WAIT_SECONDS)  # 0: only look (see share)

    def share(self, start: int, end: int) -> int:
        """Give each ready worker without a range the back half of the pieces ``start`` to
        ``end - 1`` that this process has still to read; return the new ``end``."""
        for worker in self.workers:
            if worker.ready():
                split = _back_half(self.bounds, start, end)
                if split is not None and worker.assign(self.task, self.args, (split, end)):
                    end = split
        return end

    def results(self) -> Iterator[T]:
        """What the workers read, in file order, part by part (:data:`TASK_PIECES`)."""
        for worker in sorted((w for w in self.workers if w.span), key=lambda w: w.span or ()):
            for result in worker.results(self.task, self.args):
                yield cast("T", result)

    def __enter__(self) -> Workers[T]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for worker in self.workers:
            worker.stop()
