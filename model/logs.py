"""One logging set-up for the ``carecast`` command and every workflow script, and the
progress of long work.

:func:`setup_logging` sends every message to one place (a rule's log file, or the
terminal), captures Python warnings there, and keeps third-party libraries' INFO chatter
(PyTensor's config parser, ArviZ's backend discovery, PyMC, numba, matplotlib's font
manager, ...) out unless asked for (``verbose``, or ``CARECAST_VERBOSE=1`` in the
environment, which reaches every workflow job).

Progress, with existing tools rather than a bar of our own: :func:`stage` says what starts
and how long it took, :func:`starting` only that it starts; :func:`steps` says which of a
loop's items (a back-test's origins, a national fit's parts) is under way, how many are done
and tqdm's estimate of the time left; :func:`sampling_progress` shows a NUTS run's draws, as
nutpie's (or PyMC's) own bar on a terminal and, in a log file, as a line every
:data:`PROGRESS_SECONDS` from nutpie's progress callback (or PyMC's per-draw callback),
formatted by tqdm.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

VERBOSE_ENV = "CARECAST_VERBOSE"
"""Environment variable that turns third-party INFO messages on (``1``, ``true``, ``yes``):
how a workflow run asks for them (``CARECAST_VERBOSE=1 uv run snakemake ...``)."""

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

CHATTY_LIBRARIES = (
    "pytensor",  # the config parser's "Suppressed KeyError" lines, compile locks
    "pymc",  # "Sampling: [...]" of every predictive check
    "arviz",  # backend discovery at import
    "numba",
    "matplotlib",  # the font manager's cache
    "PIL",
    "fontTools",
    "h5py",
    "h5netcdf",
    "numexpr",  # "NumExpr defaulting to N threads"
    "nutpie",
    "statsforecast",
    "asyncio",
    "filelock",
)
"""Loggers (and their children) kept at WARNING unless verbose: their INFO says nothing a
user of carecast acts on."""

PROGRESS_SECONDS = 5.0
"""Seconds between progress lines in a log file."""

PROGRESS = logging.getLogger("carecast.progress")
"""The logger of every progress line."""

_handler: logging.Handler | None = None
"""The handler :func:`setup_logging` added last."""

_bars_on_terminal = False
"""Whether progress is drawn as bars (set by :func:`setup_logging`: the messages go to a
terminal). Otherwise it is logged as lines, which without a set-up go nowhere."""


def verbose_from_environment() -> bool:
    """Whether ``CARECAST_VERBOSE`` asks for third-party INFO messages."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def setup_logging(
    log_file: str | Path | None = None, *, verbose: bool | None = None, quiet: bool = False
) -> None:
    """Send every log message to ``log_file`` (appended; ``None``: the terminal's stderr,
    unless the process already logs somewhere, e.g. under pytest) at INFO (``quiet``:
    WARNING and worse), with Python warnings among them.

    ``verbose`` (default: ``CARECAST_VERBOSE``) lets third-party libraries' INFO messages
    through; without it :data:`CHATTY_LIBRARIES` log only warnings and errors. Calling it
    again replaces the handler the previous call added (several runs in one process)."""
    global _handler, _bars_on_terminal
    verbose = verbose_from_environment() if verbose is None else verbose
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
        _handler = None
    _bars_on_terminal = False
    if log_file is not None:
        _handler = logging.FileHandler(log_file, encoding="utf-8")
    elif not root.handlers:  # (an application's or pytest's handlers stay in charge)
        _handler = logging.StreamHandler(sys.stderr)
        _bars_on_terminal = not quiet and sys.stderr.isatty()
    if _handler is not None:
        _handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(_handler)
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    for name in CHATTY_LIBRARIES:
        library = logging.getLogger(name)
        library.setLevel(logging.NOTSET if verbose else logging.WARNING)
        # PyMC adds its own stderr handler when imported before this set-up (a workflow
        # script's imports): its messages belong in the one log, once.
        for own in [h for h in library.handlers if type(h) is logging.StreamHandler]:
            library.removeHandler(own)
        library.propagate = True
    logging.captureWarnings(True)


def bars_on_terminal() -> bool:
    """Whether progress is drawn as a bar (messages go to a terminal) rather than logged."""
    return _bars_on_terminal


def starting(what: str) -> None:
    """Log that ``what`` starts (a stage whose end the next line shows)."""
    PROGRESS.info("%s", what)


@contextmanager
def stage(what: str) -> Iterator[None]:
    """Log ``what`` as it starts and, when it ends without an error, its seconds."""
    PROGRESS.info("%s", what)
    start = time.perf_counter()
    yield
    PROGRESS.info("%s: done in %.1f s", what, time.perf_counter() - start)


def steps[T](
    items: Iterable[T], what: str, kind: str, name: Callable[[T], str] = str
) -> Iterator[T]:
    """Each of ``items`` (each a ``kind`` of ``what``: an origin of a back-test) in turn,
    logging as each starts its ``name``, how many are done, the time so far and tqdm's
    estimate of the time left, and at the end how many were done in how long."""
    chosen: Sequence[T] = list(items)
    if not PROGRESS.isEnabledFor(logging.INFO):
        yield from chosen
        return
    lines = _progress_lines(len(chosen), "{desc} ({n}/{total} done) [{elapsed} elapsed, "
                            "{remaining} left]", delay=float("inf"))  # fmt: skip
    start = time.perf_counter()
    try:
        for item in chosen:
            lines.set_description_str(f"{what}: {kind} {name(item)}", refresh=False)
            lines.refresh()
            yield item
            lines.update()
    finally:
        lines.close()
    PROGRESS.info("%s: %d %ss done in %.1f s", what, len(chosen), kind, time.perf_counter() - start)


class SamplingProgress:
    """The progress of one NUTS run of ``chains`` chains of ``draws_per_chain`` draws
    (warm-up included): the sampler's own bar on a terminal, else a line every
    :data:`PROGRESS_SECONDS` with the draws done, divergences and the time left, and a last
    line with the total."""

    def __init__(self, chains: int, draws_per_chain: int) -> None:
        self.total = chains * draws_per_chain
        self.logged = not bars_on_terminal() and PROGRESS.isEnabledFor(logging.INFO)
        self.lines: tqdm | None = None  # from the first draw: compiling is not sampling
        self.divergences = 0
        self.start = time.perf_counter()
        self.nutpie_bar = False

    def nutpie_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``nutpie.sample``."""
        if not self.logged:
            self.nutpie_bar = bars_on_terminal()
            return {"progress_bar": self.nutpie_bar}
        return {
            "progress_bar": False,
            "progress_callback": self._nutpie_callback,
            "progress_rate": int(PROGRESS_SECONDS * 1000),
        }

    def pymc_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``pymc.sample``."""
        if not self.logged:
            return {"progressbar": bars_on_terminal()}
        return {"progressbar": False, "callback": self._pymc_callback}

    def _started(self) -> tqdm:
        """The lines' counter, started at the first call."""
        if self.lines is None:
            self.start = time.perf_counter()
            self.lines = _progress_lines(
                self.total,
                "sampling: {n}/{total} draws ({percentage:.0f}%){postfix} "
                "[{elapsed} elapsed, {remaining} left]",
                mininterval=PROGRESS_SECONDS,
                delay=PROGRESS_SECONDS,  # (no line at 0 draws; nutpie's callback says so)
                leave=False,  # (the last line is close()'s)
            )
        return self.lines

    def _nutpie_callback(self, chains: list[Any]) -> None:
        """nutpie's ``progress_callback``: every chain's ``nutpie.ChainProgress``, every
        ``progress_rate`` ms, on nutpie's own thread (which alone touches ``lines``)."""
        lines = self._started()
        running = sum(c.started and c.finished_draws < c.total_draws for c in chains)
        if not any(c.started for c in chains):
            phase = "starting"
        elif any(c.started and c.tuning for c in chains):
            phase = "warm-up"
        else:
            phase = "sampling"
        self.divergences = sum(c.divergences for c in chains)
        lines.set_postfix_str(
            f"{phase}, {running} of {len(chains)} chains running, {self.divergences} divergences",
            refresh=False,
        )
        lines.n = sum(c.finished_draws for c in chains)
        lines.refresh()  # (the callback's rate is the lines' rate)

    def _pymc_callback(self, trace: Any, draw: Any) -> None:
        """PyMC's per-draw ``callback`` (tqdm logs a line at most every PROGRESS_SECONDS)."""
        lines = self._started()
        if not draw.tuning and any(s.get("diverging", False) for s in draw.stats):
            self.divergences += 1
            lines.set_postfix_str(f"{self.divergences} divergences", refresh=False)
        lines.update()

    def close(self, finished: bool = True) -> None:
        """Stop the lines; when ``finished``, log the last one: draws and divergences in
        all, and the seconds."""
        if self.lines is not None:
            self.lines.close()
        if self.nutpie_bar:
            sys.stderr.write("\n")  # (nutpie leaves the cursor at its bar's end)
        if not (self.logged and finished):
            return
        PROGRESS.info(
            "sampling: %d draws, %d divergences, in %.1f s",
            self.total, self.divergences, time.perf_counter() - self.start,
        )  # fmt: skip


@contextmanager
def sampling_progress(chains: int, draws_per_chain: int) -> Iterator[SamplingProgress]:
    """:class:`SamplingProgress` of one NUTS run, its last line logged at the end."""
    progress = SamplingProgress(chains, draws_per_chain)
    try:
        yield progress
    except BaseException:
        progress.close(finished=False)
        raise
    progress.close()


class _LogWriter:
    """A file for tqdm that logs each line it writes on :data:`PROGRESS` (tqdm writes a
    line as ``\\r`` + text; the carriage returns and blank writes are dropped)."""

    def write(self, text: str) -> None:
        text = text.replace("\x1b[A", "").strip("\r\n ")
        if text:
            PROGRESS.info("%s", text)

    def flush(self) -> None:
        """Nothing to flush: every line is logged as written."""


def _progress_lines(total: int, bar_format: str, **options: Any) -> tqdm:
    """A tqdm counter of ``total`` that logs its lines."""
    return tqdm(total=total, file=_LogWriter(), bar_format=bar_format, disable=False,
                miniters=1, position=0, dynamic_ncols=False, **options)  # fmt: skip
