"""Which input files carecast opens, and how their names appear in outputs.

An input is opened only if it is a regular file (a FIFO would block the run forever, a
device such as ``/dev/zero`` would be read without end) no larger than a cap, which a user
with larger returns raises with the environment variable :data:`MAX_INPUT_MB_ENV`.
File names go into reports, logs and Parquet provenance columns, so a name that is not valid
UTF-8 is shown with its undecodable bytes escaped (``\\xNN``) rather than crashing a writer.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

MAX_INPUT_MB_ENV = "CARECAST_MAX_INPUT_MB"
DEFAULT_MAX_INPUT_MB = 1024
"""Default cap on one input file (MiB): a large authority's CIN census is some tens."""


class InputFileError(OSError):
    """An input carecast will not open; ``strerror`` says why, ``filename`` names it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(errno.EINVAL, reason, display_name(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def display_name(path: Path | str) -> str:
    """``path`` as text any writer accepts: undecodable bytes of the name as ``\\xNN``."""
    text = os.fspath(path)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def max_input_bytes() -> int:
    """The cap on one input file in bytes (:data:`MAX_INPUT_MB_ENV`, else the default)."""
    raw = os.environ.get(MAX_INPUT_MB_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_INPUT_MB * 1024 * 1024
    try:
        megabytes = float(raw)
    except ValueError:
        raise InputFileError(
            MAX_INPUT_MB_ENV, f"expected a number of megabytes (MiB), found {raw!r}"
        ) from None
    if megabytes <= 0:
        raise InputFileError(MAX_INPUT_MB_ENV, f"expected a positive size in MiB, found {raw}")
    return int(megabytes * 1024 * 1024)


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_input(path: Path | str) -> BinaryIO:
    """Open ``path`` for reading in binary, if it is a regular file within the size cap.

    Opened non-blocking and checked on the open descriptor, so a FIFO is refused instead of
    blocking and a file swapped after a check cannot slip through. Raises
    :class:`InputFileError` (an ``OSError``) naming the file and the reason."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise InputFileError(path, error.strerror or str(error)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputFileError(path, f"{_kind(info.st_mode)}, expected a regular file")
        cap = max_input_bytes()
        if info.st_size > cap:
            raise InputFileError(
                path,
                f"{info.st_size / 2**20:.1f} MiB, larger than the {cap / 2**20:.1f} MiB cap "
                f"on one input (set {MAX_INPUT_MB_ENV} to raise it)",
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_input(path: Path | str) -> bytes:
    """The bytes of ``path`` (:func:`open_input`'s checks; at most the cap, even if the
    file grows while it is read)."""
    cap = max_input_bytes()
    with open_input(path) as handle:
        data = handle.read(cap + 1)
    if len(data) > cap:
        raise InputFileError(path, f"grew past the {cap / 2**20:.1f} MiB cap while read")
    return data
