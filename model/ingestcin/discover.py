"""Finds the CIN input files and tells what each is: XML or flat CSV, its encoding, its year.

``find_files`` takes files and folders: folders are searched recursively, hidden files and
folders skipped, files read in sorted order. Names are :func:`~model.input_files.display_name`
text. XML in UTF-16 (by its byte-order mark, or ``<`` next to a zero byte) is recognised
here (:func:`wide_encoding`) so that it is streamed, libxml2 decoding it; UTF-32 is refused
by name (:func:`model.ingestcin.read.read_cin`).
"""

from __future__ import annotations

import codecs
import errno
import os
import re
from collections.abc import Sequence
from pathlib import Path

from model.ingest.issue import Issue
from model.input_files import display_name, open_input

_NAME_YEAR = re.compile(r"(?<!\d)(20\d\d|19\d\d)(?!\d)")


def find_files(paths: Sequence[Path]) -> tuple[list[tuple[Path, str]], list[Issue]]:
    """(file, source name) pairs, sorted; folders searched recursively, hidden names skipped.

    Files given directly keep the path as given; files found in a folder are named relative
    to the folder given. Names are :func:`~model.input_files.display_name` text (a name
    that is not valid UTF-8 must not stop a Parquet or report writer). Anything that is not
    a folder is listed as a file (a FIFO, a device, a symlink loop): opening it
    (:func:`~model.input_files.open_input`) says what it is.
    """
    found: dict[Path, str] = {}
    issues: list[Issue] = []
    for given in map(Path, paths):
        if given.is_dir():

            def unreadable(error: OSError, given: Path = given) -> None:
                # os.walk skips a folder it cannot list unless told: a year lost silently.
                where = display_name(Path(error.filename or given).relative_to(given, walk_up=True))
                found = f"unreadable folder ({open_problem(error)})"
                issues.append(Issue(where, None, None, found, "a readable folder of CIN files"))

            for dirpath, dirnames, filenames in os.walk(given, onerror=unreadable):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(f for f in filenames if not f.startswith(".")):
                    path = Path(dirpath, name)
                    found.setdefault(_resolved(path), display_name(path.relative_to(given)))
        elif os.path.lexists(given):
            found.setdefault(_resolved(given), display_name(given))
        else:
            issues.append(
                Issue(
                    display_name(given), None, None, "no such file or folder", "a CIN census file"
                )
            )
    return sorted(((p, s) for p, s in found.items()), key=lambda ps: ps[1]), issues


def _resolved(path: Path) -> Path:
    """``path`` resolved (so a file given twice is read once); as given if that fails (a
    symlink loop: opening it reports the loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: Python < 3.13 on a symlink loop
        return path.absolute()


def open_problem(error: OSError) -> str:
    """Why a file could not be opened, in words (a symlink loop named as one)."""
    reason = error.strerror or str(error)
    if error.errno == errno.ELOOP or reason == os.strerror(errno.ELOOP):
        return f"a symlink loop ({reason})"
    return reason


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
"""Byte-order marks of the encodings in which ``<`` is not one byte (UTF-32 first: its LE
mark starts with UTF-16's)."""


def wide_encoding_of(head: bytes) -> str | None:
    """The UTF-16/32 encoding of a file starting with ``head`` (by its byte-order mark, or
    a ``<`` followed or preceded by a zero byte), or None (an ASCII-based encoding)."""
    for bom, name in _WIDE_BOMS:
        if head.startswith(bom):
            return name
    if head.startswith(b"<\x00\x00\x00") or head.startswith(b"\x00\x00\x00<"):
        return "utf-32-le" if head[0] == 0x3C else "utf-32-be"
    if head.startswith(b"<\x00") or head.startswith(b"\x00<"):
        return "utf-16-le" if head[0] == 0x3C else "utf-16-be"
    return None


def first_bytes(path: Path) -> bytes:
    """The file's first 4 KiB (opened as an input: a regular file within the cap)."""
    with open_input(path) as handle:
        return handle.read(4096)


def wide_encoding(path: Path) -> str | None:
    """:func:`wide_encoding_of` the file's first bytes."""
    return wide_encoding_of(first_bytes(path))


def is_xml(head: bytes) -> bool:
    """Whether a file starting with ``head`` is XML: its first character, after a
    byte-order mark and whitespace, is ``<``, in UTF-8 or an ASCII-based encoding, or in
    UTF-16/32 (which libxml2 decodes)."""
    encoding = wide_encoding_of(head)
    if encoding is not None:
        text = head[: len(head) - len(head) % 4].decode(encoding, "replace")
        return text.lstrip("\ufeff").lstrip().startswith("<")
    return head.lstrip(codecs.BOM_UTF8).lstrip().startswith(b"<")


def year_in_name(name: str) -> int | None:
    """The year in a file name (``cin_census_2024.xml``: 2024), if it names exactly one."""
    years = set(_NAME_YEAR.findall(name))
    return int(years.pop()) if len(years) == 1 else None
