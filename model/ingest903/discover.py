"""Finds the 903 files under the paths given, and tells binary files and XML from text by
their first bytes.

* **Files**: folders are searched recursively; hidden files and folders are skipped;
  files are read in sorted order. Names are :func:`~model.input_files.display_name` text.
  Folders that cannot be listed and symlinked folders (not followed) are issues.
* **Format** is decided by content, not extension: XML if the content starts with ``<``
  (after an optional byte-order mark and whitespace); not a table if it holds NUL bytes
  (binary; Excel workbooks and zip archives get their own message) or is neither UTF-8
  nor Windows-1252 text (:mod:`model.ingest903.decode`); otherwise CSV.
"""

from __future__ import annotations

import codecs
import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from model.ingest.issue import Issue
from model.input_files import display_name

SNIFF_BYTES = 8192
"""Bytes read first to recognise binary files."""


@dataclass
class File:
    """One file to read."""

    path: Path
    """The file (resolved, so that a file reached twice is read once)."""
    source: str
    """How issues and ``_source`` name it (see :func:`find_files`)."""
    folders: tuple[str, ...]
    """Names of the folders holding it, nearest first, up to the folder given."""

    @property
    def folder(self) -> Path:
        return self.path.parent


def find_files(paths: Sequence[Path]) -> tuple[list[File], list[Issue]]:
    """Expand folders; name each file as given, or relative to the folder(s) given.

    One folder given: sources are relative to it. Several: relative to their deepest common
    folder, so sources stay unique. A file given directly keeps the path as given. Sources
    are :func:`~model.input_files.display_name` text, so a name that is not valid UTF-8
    cannot break a writer. Anything that is neither a folder nor a readable file is an
    issue that says what it is (a symlink loop, a missing file, a FIFO ...).
    """
    issues: list[Issue] = []
    folders = [Path(p).resolve() for p in paths if Path(p).is_dir()]
    base = os.path.commonpath(folders) if folders else ""
    found: dict[Path, File] = {}
    for given in map(Path, paths):
        if given.is_dir():
            files, walk_issues = _walk(given.resolve(), base)
            issues.extend(walk_issues)
            for file in files:
                found.setdefault(file.path, file)
            continue
        problem = missing_reason(given)
        if problem:
            issues.append(Issue(display_name(given), None, None, problem, "a 903 file or a folder"))
            continue
        # Regular files, and FIFOs or devices that open_input will refuse, naming them.
        path = given.resolve()
        found.setdefault(path, File(path, display_name(given), (path.parent.name,)))
    return sorted(found.values(), key=lambda f: f.source), issues


def missing_reason(path: Path) -> str | None:
    """Why ``path`` cannot be read at all (a symlink loop, nothing there), else None."""
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "a symlink loop (the link points, in the end, at itself)"
        if os.path.islink(path):
            return "a symlink to a file or folder that does not exist"
        if error.errno == errno.ENOENT:
            return "no such file or folder"
        return f"unreadable ({error.strerror})"
    return None


def _walk(folder: Path, base: str) -> tuple[list[File], list[Issue]]:
    """Files under ``folder``, sorted, skipping hidden files and folders; sources relative
    to ``base``. Folders that cannot be listed and symlinked folders (not followed, so a
    link cannot pull in files from elsewhere or loop) are issues: nothing found is left
    out without a word."""
    out: list[File] = []
    issues: list[Issue] = []

    def unreadable(error: OSError) -> None:
        where = display_name(os.path.relpath(error.filename or folder, base or "/"))
        found = f"folder not read ({error.strerror})"
        issues.append(Issue(where, None, None, found, "a folder carecast can list"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unreadable):
        rel_dir = Path(os.path.relpath(dirpath, base)).as_posix()
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            if os.path.islink(os.path.join(dirpath, name)):
                source = display_name(name if rel_dir == "." else f"{rel_dir}/{name}")
                found = "a symlinked folder (not followed)"
                expected = "the returns themselves in the folder given, or the link's target given"
                issues.append(Issue(source, None, None, found, expected, "warning"))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        below = Path(os.path.relpath(dirpath, folder)).parts
        names = tuple(reversed((folder.name, *(p for p in below if p != "."))))
        for name in sorted(f for f in filenames if not f.startswith(".")):
            source = display_name(name if rel_dir == "." else f"{rel_dir}/{name}")
            out.append(File(Path(dirpath, name), source, names))
    return out, issues


def file_issue(
    file: File,
    found: str,
    expected: str,
    severity: str = "error",
    row: int | None = None,
    column: str | None = None,
) -> Issue:
    return Issue(file.source, row, column, found, expected, severity)


def not_a_table(file: File, data: bytes) -> Issue | None:
    """An issue if the bytes are binary (Excel, zip, anything with NUL bytes)."""
    if data.startswith(b"PK\x03\x04"):
        if file.path.suffix.lower() in (".xlsx", ".xlsm") or b"xl/" in data[:4096]:
            return file_issue(file, "Excel workbook", "CSV: export each sheet as CSV")
        return file_issue(file, "zip archive", "a CSV or XML 903 file: unzip it first")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return file_issue(file, "Excel 97-2003 workbook", "CSV: export each sheet as CSV")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    if b"\x00" in data:
        return file_issue(file, "binary content (NUL bytes)", "a CSV or XML 903 file")
    return None


def is_xml(data: bytes) -> bool:
    return data.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"<")
