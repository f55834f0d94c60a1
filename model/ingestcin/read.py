"""Read CIN census files into flat tables, validating each Child against its year's XSD.

``read_cin(paths)`` takes files and folders (:func:`model.ingestcin.discover.find_files`)
and returns a :class:`CinReadResult`: the six pandas DataFrames of raw text that
:mod:`model.ingestcin.tables` describes, with their provenance columns, and a list of
:class:`~model.ingest.issue.Issue`. It never raises on bad input. What became of every file
found is a :class:`~model.ingestcin.account.CinFileAccount`.

A file is read by one of these (every way of reading gives the same tables, row order and
issues):

* XML that can be cut at Child boundaries: :mod:`model.ingestcin.pieces`, shared with worker
  processes for a big file (:mod:`model.ingestcin.workers`);
* any other XML: :mod:`model.ingestcin.stream`;
* anything else: the liia-tools flat CSV, :mod:`model.ingestcin.flat_csv`.

Each batch of children (:mod:`model.ingestcin.batch`) is validated against the XSD of the
file's census year (:mod:`model.ingestcin.context`, :mod:`model.ingestcin.xsd_messages`) and
flattened by XSLT (:mod:`model.ingestcin.flatten`); whole files are refused or cut short by
:mod:`model.ingestcin.document`; issues are capped by :mod:`model.ingestcin.capped`.

**Inputs**: every file is opened first with :func:`model.input_files.open_input` (a regular
file within the size cap: a FIFO, a device or a symlink loop is refused by name, never
read); names are :func:`~model.input_files.display_name` text. XML in UTF-16 is streamed,
libxml2 decoding it; UTF-32 is refused by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
from lxml import etree

from model.ingest.issue import Issue
from model.ingestcin.account import NOT_READ, PARTLY_READ, READ, CinFileAccount, settle
from model.ingestcin.discover import find_files, first_bytes, is_xml, open_problem, wide_encoding
from model.ingestcin.document import has_doctype_prologue, refused
from model.ingestcin.flat_csv import read_flat
from model.ingestcin.pieces import find_layout, read_pieces
from model.ingestcin.stream import read_streaming
from model.ingestcin.tables import PROVENANCE_COLUMNS, TABLES, Tables
from model.input_files import InputFileError

__all__ = [
    "NOT_READ",
    "PARTLY_READ",
    "PROVENANCE_COLUMNS",
    "READ",
    "TABLES",
    "CinFileAccount",
    "CinReadResult",
    "issue_messages",
    "read_cin",
]


@dataclass
class CinReadResult:
    """What :func:`read_cin` found: the six tables, issues, the files read and what became
    of each file found (``files``)."""

    children: pd.DataFrame
    cin_details: pd.DataFrame
    assessments: pd.DataFrame
    cin_plans: pd.DataFrame
    section47: pd.DataFrame
    cpp: pd.DataFrame
    issues: list[Issue] = field(default_factory=list)
    files_seen: list[str] = field(default_factory=list)
    files: list[CinFileAccount] = field(default_factory=list)

    def cut_short(self) -> list[CinFileAccount]:
        """The XML files that broke after their first Child (incomplete censuses)."""
        return [f for f in self.files if f.cut_short]

    def table(self, name: str) -> pd.DataFrame:
        """The table called ``name`` (a key of :data:`TABLES`)."""
        return getattr(self, name)


def _read_xml(path: Path, source: str, tables: Tables, account: CinFileAccount) -> list[Issue]:
    """Read one CIN XML file into ``tables``; return its issues and fill in ``account``.

    A file whose layout allows it (:func:`~model.ingestcin.pieces.find_layout`) is cut into
    pieces (read by several processes if it is big); any other file, or one whose pieces do
    not all parse as expected (malformed XML, odd nesting), is streamed: same tables and
    issues, and the exact error and the children before it for a malformed file. A UTF-16
    or UTF-32 file (:func:`~model.ingestcin.discover.wide_encoding`) is streamed: libxml2
    decodes it, cutting bytes would not.
    """
    account.kind = "XML"
    encoding = wide_encoding(path)
    if encoding is not None and encoding.startswith("utf-32"):
        found = "XML in UTF-32 (libxml2 cannot read it)"
        return [Issue(source, None, None, found, "CIN census XML in UTF-8 or UTF-16")]
    if has_doctype_prologue(path, encoding):
        return [refused(source)]
    layout = find_layout(path) if encoding is None else None
    if layout is not None:
        mark = tables.mark()
        issues = read_pieces(path, source, layout, tables, account)
        if issues is not None:
            return issues
        tables.rollback(mark)
    return read_streaming(path, source, tables, account, encoding)


def _read_file(path: Path, source: str, tables: Tables, account: CinFileAccount) -> list[Issue]:
    """Read one file (XML or flat CSV) into ``tables``; return its issues, fill in
    ``account``. The file is first opened as an input
    (:func:`~model.ingestcin.discover.first_bytes`, through
    :func:`~model.input_files.open_input`): a FIFO, a device, a symlink loop or a file over
    the size cap is refused before anything else (the mapping and worker processes below
    open it again, by path)."""
    if is_xml(first_bytes(path)):
        return _read_xml(path, source, tables, account)
    return read_flat(path, source, tables, account)


def read_cin(paths: Sequence[Path]) -> CinReadResult:
    """Read CIN census XML (and liia-tools flat CSV) files and folders into flat tables.

    See the module docstring for the tables, provenance columns and decisions. Never raises
    on bad input: every problem is an :class:`Issue` in ``CinReadResult.issues``, and what
    became of every file found is a :class:`CinFileAccount` in ``CinReadResult.files``.
    """
    files, issues = find_files(paths)
    tables = Tables()
    seen: list[str] = []
    # Paths that do not exist and folders that cannot be listed: not read, with the reason.
    accounts = [CinFileAccount(i.source, status=NOT_READ, reason=i.found) for i in issues]
    for path, source in files:
        seen.append(source)
        account = CinFileAccount(source)
        mark = tables.mark()
        try:
            found = _read_file(path, source, tables, account)
        except OSError as error:
            tables.rollback(mark)  # nothing of a file that failed half-way is used
            account = CinFileAccount(source, kind=account.kind)
            found = _unreadable(source, error)
        except (etree.LxmlError, pa.ArrowException) as error:
            tables.rollback(mark)
            account = CinFileAccount(source, kind=account.kind)
            # A last guard so one odd file cannot stop the run; not expected to happen.
            # Only the kind of error: its text could quote the input.
            reason = f"file could not be read ({type(error).__name__})"
            found = [Issue(source, None, None, reason, "a CIN census file")]
        tables.flush()
        settle(account, found)
        issues.extend(found)
        accounts.append(account)
    frames = tables.frames()
    return CinReadResult(**frames, issues=issues, files_seen=seen, files=accounts)


def _unreadable(source: str, error: OSError) -> list[Issue]:
    """The Issue for a file that could not be opened or read."""
    if isinstance(error, InputFileError):
        return [Issue(source, None, None, open_problem(error), "a regular CIN census file")]
    reason = f"unreadable file ({open_problem(error)})"
    return [Issue(source, None, None, reason, "a readable CIN census file")]


def issue_messages(issues: Iterable[Issue]) -> list[str]:
    """Readable lines for a list of issues (for logs and tests)."""
    return [f"[{i.severity}] {i.message()}" for i in issues]
