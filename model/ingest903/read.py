"""Find and decode the 903 tables in an authority's files: CSV (any system's export) or XML.

``read_903(paths)`` takes files and folders (folders are searched recursively; hidden files
and folders are skipped; files are read in sorted order) and returns a
:class:`~model.ingest.tables.ReadResult`: one :class:`RawTable` per table found, with
every cell as raw text, and an :class:`Issue` for everything that could not be used or is
worth a look. It never raises on bad input.

Decisions (see also ``tables.py`` for the contract):

* **Format** is decided by content, not extension: XML if the content starts with ``<``
  (after an optional byte-order mark and whitespace); not a table if it holds NUL bytes
  (binary; Excel workbooks and zip archives get their own message) or is neither UTF-8
  nor Windows-1252 text; otherwise CSV. The CSV delimiter is the commonest of ``,``,
  tab, ``;`` and ``|`` in the header line.
* **Decoding**: UTF-8 with or without BOM; else UTF-16 with a BOM (XML too, re-declared as
  UTF-8 for the safe parser); else Windows-1252 (a warning). CRLF (and lone CR) line
  endings become LF; non-breaking spaces become spaces (cells are otherwise untouched:
  the cleaner strips and records).
* **Header names** are stripped and upper-cased; inner whitespace becomes ``_`` when that
  gives a DfE name (``PLACE PROVIDER`` -> ``PLACE_PROVIDER``); XML's ``CHILDID`` and
  ``PL`` become ``CHILD`` and ``PLACE``. A repeated name keeps its first column.
* **Table recognition**: among the tables (``TABLE_COLUMNS`` and the other 903 tables in
  :data:`OTHER_TABLE_COLUMNS`) whose required columns are all present, the one whose
  columns best match the file's (Jaccard index; ``LA``/``YEAR`` ignored). With no such
  table, a file whose name names a table (``uasc.csv``) or whose columns mostly match one
  gets a "missing required column" error; any other file gets "not a 903 table", listing
  the closest tables and what each lacks. Absent optional columns are added blank (a
  warning); unknown columns are kept (a warning).
* **Stacked layout** (extra ``LA``/``YEAR`` columns, liia-tools): ``_la`` and ``_year``
  come from them and the columns are dropped; ``RawTable.year`` is None and
  ``RawTable.span`` the range of the bulk of its YEARs. A YEAR that is blank, not a 4-digit
  year, or a stray year outside that bulk (:func:`bulk_years`) gives ``_year`` -1 and an
  error for that row (the value is shown only when it is a 4-digit year).
* **Collection year** (year ending 31 March): see :func:`episodes_year` for episodes
  (the bulk of the dates decides, so stray dates cannot; a file whose episodes ended in
  several years covers them all, ``RawTable.span``, with a warning).
  Other tables take the year of the episodes table in the same folder whose file name
  carries the same year label (``2017-header.csv`` <- ``2017-episodes.csv``), else of the
  only episodes year in the folder, else the year in the file or folder name (a range
  such as ``2019-20``/``201920``/``2019-2020`` means its end; a plain ``2019`` is taken as
  the year ending March 2019, with a warning), else None (a warning; ``_year`` -1).
  A name whose year disagrees with the dates gives a warning naming both; a plain year
  one less than the data's year (``2017`` for 2017-18, cs-demand-model's convention) is
  still reported, with that explanation. Files that inherit the year from an episodes
  file with the same label are not warned again.
* **Files** are opened with :func:`model.input_files.open_input` (regular files under the
  size cap only: FIFOs, devices and symlink loops are issues saying what they are); names
  are :func:`~model.input_files.display_name` text. Folders that cannot be listed and
  symlinked folders (not followed) are issues. A "not a 903 table" issue lists only the
  903 column names of the first line and counts its other fields: the line may be a row of
  data (the column-name line missing) or another file's content.
* **Issues** go into the ``RawTable`` they concern; problems of files that gave no table
  (and of an XML document as a whole) go into ``ReadResult.issues``. Row-level issues are
  capped at :data:`MAX_ROW_ISSUES` per file and kind, plus one summary. Issues name the
  file, row and column, never a child identifier, date of birth or postcode.
* **Speed**: CSV files with the same header are concatenated and parsed in one call
  (pandas' pyarrow engine; cells as pandas ``str``), then split back by line counts; a
  file whose lines are not one record each (quoted newlines, ragged rows) is re-read on
  its own with the ``csv`` module, which gives exact line numbers (its cell-size limit
  raised to the file's size, so a 200 KB free-text cell is read). Rows whose cells are
  all blank (blank lines, lines of delimiters) are dropped with a warning; rows that
  cannot be read are counted in ``RawTable.unread``.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from lxml import etree

from model.ingest.dates import parse_dates
from model.ingest.safe_xml import DOCTYPE, safe_parser
from model.ingest.tables import REQUIRED_COLUMNS, TABLE_COLUMNS, Issue, RawTable, ReadResult
from model.ingest.withhold import WITHHELD
from model.input_files import display_name, max_input_bytes, open_input

OTHER_TABLE_COLUMNS: dict[str, list[str]] = {
    "reviews": ["CHILD", "DOB", "REVIEW", "REVIEW_CODE"],
    "oc2": [
        "CHILD", "DOB", "SDQ_SCORE", "SDQ_REASON", "CONVICTED", "HEALTH_CHECK", "IMMUNISATIONS",
        "TEETH_CHECK", "HEALTH_ASSESSMENT", "SUBSTANCE_MISUSE", "INTERVENTION_RECEIVED",
        "INTERVENTION_OFFERED",
    ],
    "oc3": ["CHILD", "DOB", "IN_TOUCH", "ACTIV", "ACCOM"],
    "ad1": [
        "CHILD", "DOB", "DATE_INT", "DATE_MATCH", "FOSTER_CARE", "NB_ADOPTR", "SEX_ADOPTR",
        "LS_ADOPTR",
    ],
    "placed_for_adoption": [
        "CHILD", "DOB", "DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED",
    ],
    "previous_permanence": ["CHILD", "DOB", "PREV_PERM", "LA_PERM", "DATE_PERM"],
    "missing": ["CHILD", "DOB", "MISSING", "MIS_START", "MIS_END"],
    "sw_episodes": ["CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"],
    "dolo": ["CHILD", "DOB", "DOLO_START", "DOLO_END"],
}  # fmt: skip
"""The 903 tables the model does not use (data-formats.md §1.2), recognised so they are
counted rather than reported as unknown."""

OTHER_REQUIRED_COLUMNS: dict[str, list[str]] = {
    "reviews": ["CHILD", "REVIEW", "REVIEW_CODE"],
    "oc2": ["CHILD", "CONVICTED", "HEALTH_CHECK", "IMMUNISATIONS", "TEETH_CHECK"],
    "oc3": ["CHILD", "IN_TOUCH", "ACTIV", "ACCOM"],
    "ad1": ["CHILD", "DATE_INT", "DATE_MATCH"],
    "placed_for_adoption": ["CHILD", "DATE_PLACED"],
    "previous_permanence": ["CHILD", "PREV_PERM"],
    "missing": ["CHILD", "MISSING", "MIS_START"],
    "sw_episodes": ["CHILD", "SW_ID", "SW_DECOM"],
    "dolo": ["CHILD", "DOLO_START"],
}
"""Columns that identify each other table (its distinctive, never-blank columns)."""

ALL_COLUMNS = {**TABLE_COLUMNS, **OTHER_TABLE_COLUMNS}
ALL_REQUIRED = {**REQUIRED_COLUMNS, **OTHER_REQUIRED_COLUMNS}
TABLE_ORDER = {name: i for i, name in enumerate(ALL_COLUMNS)}
STACKED_COLUMNS = ("LA", "YEAR")
KNOWN_NAMES = frozenset(c for cols in ALL_COLUMNS.values() for c in cols) | set(STACKED_COLUMNS)
XML_ALIASES = {"CHILDID": "CHILD", "PL": "PLACE"}
SHARED_COLUMNS = frozenset({"CHILD", "DOB", "SEX"})
"""Columns many tables share: they say nothing about which table a file is."""

NAME_HINTS = {
    "sw_episodes": "sw_episodes", "social_worker": "sw_episodes", "episode": "episodes",
    "header": "header", "uasc": "uasc", "review": "reviews", "oc2": "oc2", "oc3": "oc3",
    "ad1": "ad1", "placed_for_adoption": "placed_for_adoption",
    "placedadoption": "placed_for_adoption", "previous_permanence": "previous_permanence",
    "prevperm": "previous_permanence", "missing": "missing", "dolo": "dolo",
}  # fmt: skip
"""File-name fragments that name a table (longest first wins), for clearer errors."""

MAX_ROW_ISSUES = 50
"""Row-level issues kept per file and kind; the rest are summarised in one issue."""
SNIFF_BYTES = 8192
"""Bytes read first to recognise binary files."""
BATCH_BYTES = 256 * 2**20
"""Largest concatenation of CSV bodies parsed in one call (bounds peak memory)."""
MIN_YEAR, MAX_YEAR = 1992, 2100
"""Plausible collection years for a stacked YEAR (the 903 episode data start in 1991-92)."""
EARLIEST_YEAR = 1990
"""Dates in collection years before this one (before 1 April 1989) are not plausible in a
return and never count towards working out its year (the cleaner quarantines dates before
1 January 1990)."""
STRAY_SHARE, STRAY_RATIO = 0.05, 0.25
"""A first or last year is a stray one (mistyped dates, not a year of returns) when it
holds under this share of a file's dates, and under this ratio of the next year's or an
empty year away from it (:func:`bulk_years`)."""
UASC_YES = frozenset({"1", "Y", "YES", "T", "TRUE"})
DELIMITERS = (",", "\t", ";", "|")

_RANGE_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)[-_ ]?((?:19|20)\d\d|\d\d)(?!\d)")
_PLAIN_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
_XML_ENCODING = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


# --------------------------------------------------------------------------- files


@dataclass
class _File:
    """One file to read."""

    path: Path
    """The file (resolved, so that a file reached twice is read once)."""
    source: str
    """How issues and ``_source`` name it (see :func:`_find_files`)."""
    folders: tuple[str, ...]
    """Names of the folders holding it, nearest first, up to the folder given."""

    @property
    def folder(self) -> Path:
        return self.path.parent


def _find_files(paths: Sequence[Path]) -> tuple[list[_File], list[Issue]]:
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
    found: dict[Path, _File] = {}
    for given in map(Path, paths):
        if given.is_dir():
            files, walk_issues = _walk(given.resolve(), base)
            issues.extend(walk_issues)
            for file in files:
                found.setdefault(file.path, file)
            continue
        problem = _missing(given)
        if problem:
            issues.append(Issue(display_name(given), None, None, problem, "a 903 file or a folder"))
            continue
        # Regular files, and FIFOs or devices that open_input will refuse, naming them.
        path = given.resolve()
        found.setdefault(path, _File(path, display_name(given), (path.parent.name,)))
    return sorted(found.values(), key=lambda f: f.source), issues


def _missing(path: Path) -> str | None:
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


def _walk(folder: Path, base: str) -> tuple[list[_File], list[Issue]]:
    """Files under ``folder``, sorted, skipping hidden files and folders; sources relative
    to ``base``. Folders that cannot be listed and symlinked folders (not followed, so a
    link cannot pull in files from elsewhere or loop) are issues: nothing found is left
    out without a word."""
    out: list[_File] = []
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
            out.append(_File(Path(dirpath, name), source, names))
    return out, issues


# --------------------------------------------------------------------------- decoding


def _issue(
    file: _File,
    found: str,
    expected: str,
    severity: str = "error",
    row: int | None = None,
    column: str | None = None,
) -> Issue:
    return Issue(file.source, row, column, found, expected, severity)


def _not_a_table(file: _File, data: bytes) -> Issue | None:
    """An issue if the bytes are binary (Excel, zip, anything with NUL bytes)."""
    if data.startswith(b"PK\x03\x04"):
        if file.path.suffix.lower() in (".xlsx", ".xlsm") or b"xl/" in data[:4096]:
            return _issue(file, "Excel workbook", "CSV: export each sheet as CSV")
        return _issue(file, "zip archive", "a CSV or XML 903 file: unzip it first")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return _issue(file, "Excel 97-2003 workbook", "CSV: export each sheet as CSV")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    if b"\x00" in data:
        return _issue(file, "binary content (NUL bytes)", "a CSV or XML 903 file")
    return None


def _decode(file: _File, data: bytes) -> tuple[bytes | None, list[Issue]]:
    """Normalised UTF-8 bytes (no BOM, LF line ends, no NBSP), or None if undecodable."""
    issues = []
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    # ASCII is valid UTF-8 and far quicker to check than decoding.
    if not data.isascii() and not _is_utf8(data):
        text = _decode_fallback(data)
        if text is None:
            found = "text that is neither UTF-8 nor Windows-1252"
            return None, [_issue(file, found, "a CSV or XML file saved as UTF-8")]
        utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        encoding = "UTF-16" if utf16 else "Windows-1252 (cp1252)"
        issues.append(_issue(file, f"not UTF-8; read as {encoding}", "UTF-8", "warning"))
        data = text.encode("utf-8")
    # Byte-level replacements are safe in UTF-8 and much faster than on str.
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if b"\xc2\xa0" in data:
        data = data.replace(b"\xc2\xa0", b" ")
    return data, issues


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode_fallback(data: bytes) -> str | None:
    """Text of bytes that are not UTF-8: UTF-16 if they start with its BOM, else
    Windows-1252 (None if even that fails: cp1252 leaves five byte values undefined)."""
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    try:
        return data.decode("utf-16" if utf16 else "cp1252").lstrip("\ufeff")
    except UnicodeDecodeError:
        return None


def _utf16_xml(data: bytes) -> bytes:
    """UTF-16 XML (with its byte-order mark) as UTF-8 bytes declaring UTF-8, so that the
    DOCTYPE check and the safe parser see it as they see any other XML; other bytes as
    they are."""
    if not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data
    try:
        text = data.decode("utf-16").lstrip("\ufeff")
    except UnicodeDecodeError:
        return data
    if not text.lstrip().startswith("<"):
        return data
    declaration = re.match(r"\s*<\?xml[^>]*\?>", text)
    if declaration:
        utf8 = re.sub(r"encoding\s*=\s*[\"'][^\"']*[\"']", 'encoding="UTF-8"', declaration.group(0))
        text = utf8 + text[declaration.end() :]
    return text.encode("utf-8")


def _is_xml(data: bytes) -> bool:
    return data.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"<")


# --------------------------------------------------------------------------- recognition


def _normalise_names(raw: list[str]) -> tuple[list[str | None], list[str]]:
    """DfE names for the header fields (None: a repeated column, dropped); and notes."""
    notes: list[str] = []
    names: list[str | None] = []
    for field_name in raw:
        name = field_name.strip().upper()
        collapsed = re.sub(r"\s+", "_", name)
        if name not in KNOWN_NAMES and collapsed in KNOWN_NAMES:
            name = collapsed
        names.append(name)
    for alias, target in XML_ALIASES.items():
        if alias in names and target not in names:
            names[names.index(alias)] = target
            notes.append(f"column {alias} read as {target} (its XML name)")
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name and name in seen:
            notes.append(f"column {name} appears more than once; column {i + 1} was ignored")
            names[i] = None
        seen.add(name or "")
    return names, notes


def _hint(stem: str) -> str | None:
    """The table a file name names, if any (``2017-uasc`` -> uasc)."""
    name = re.sub(r"[^a-z0-9]+", "_", stem.lower())
    for fragment in sorted(NAME_HINTS, key=len, reverse=True):
        if fragment in name:
            return NAME_HINTS[fragment]
    return None


def _jaccard(columns: set[str], table: str) -> float:
    expected = set(ALL_COLUMNS[table])
    return len(columns & expected) / len(columns | expected)


def identify_table(columns: set[str], stem: str = "") -> tuple[str | None, tuple[str, str] | None]:
    """The 903 table a set of (normalised) column names is, or None and (found, expected).

    ``stem`` is the file name without extension. When it names a table (``2019-uasc``) that
    matches the columns better than every table whose required columns are present, the
    answer is that table's "missing required column" error rather than a worse match.
    """
    columns = set(columns) - set(STACKED_COLUMNS)
    candidates = [t for t in ALL_COLUMNS if set(ALL_REQUIRED[t]) <= columns]
    hinted = _hint(stem)
    if candidates:
        best = max(candidates, key=lambda t: (_jaccard(columns, t), -TABLE_ORDER[t]))
        # uasc.csv without DUC has all of header's required columns, but is a broken uasc.
        if (
            not hinted
            or hinted in candidates
            or _jaccard(columns, hinted) <= _jaccard(columns, best)
        ):
            return best, None
        return None, _missing_required(columns, hinted)
    closest = max(ALL_COLUMNS, key=lambda t: (_distinctive(columns, t), _jaccard(columns, t)))
    if not _distinctive(columns, closest):
        closest = None
    for table in (hinted, closest):
        if table and _jaccard(columns, table) >= 0.5:
            return None, _missing_required(columns, table)
    ranked = sorted(ALL_COLUMNS, key=lambda t: (-_jaccard(columns, t), TABLE_ORDER[t]))[:3]
    could = "; ".join(
        f"{t} (missing {', '.join(c for c in ALL_REQUIRED[t] if c not in columns)})" for t in ranked
    )
    return None, (
        f"not a 903 table: {_columns_found(columns)}",
        f"the columns of a 903 table, e.g. {could}",
    )


def _columns_found(columns: set[str]) -> str:
    """What a first line held, without echoing it: the 903 column names in it, and how many
    other fields. A first line of data (a header line missing) or of another file (a
    symlink to a system file) would otherwise put a child's id or the file's content into
    the report; such fields are withheld."""
    known = sorted(columns & KNOWN_NAMES)
    others = len(columns - KNOWN_NAMES)
    if not known:
        return (
            f"a first line of {len(columns)} field(s), none of them a 903 column name "
            f"{WITHHELD} (is the line of column names missing?)"
        )
    more = f" and {others} other field(s) {WITHHELD}" if others else ""
    return f"903 column(s) {', '.join(known)}{more}"


def _missing_required(columns: set[str], table: str) -> tuple[str, str]:
    missing = ", ".join(c for c in ALL_REQUIRED[table] if c not in columns)
    return (
        f"the {table} table without its required column(s) {missing}",
        f"the {table} columns {', '.join(ALL_COLUMNS[table])}",
    )


def _distinctive(columns: set[str], table: str) -> int:
    return len(columns & (set(ALL_COLUMNS[table]) - SHARED_COLUMNS))


# --------------------------------------------------------------------------- tables in progress


@dataclass
class _Part:
    """One table found in one file: rows ``start:stop`` of its batch's frame."""

    file: _File
    table: str
    start: int = 0
    stop: int = 0
    issues: list[Issue] = field(default_factory=list)
    stacked: bool = False
    data_year: int | None = None
    """Year from the table's own dates (episodes only)."""
    first_year: int | None = None
    """Earliest year the table's own dates cover (episodes only; see EpisodesYear)."""
    span: tuple[int, int] | None = None
    """First and last collection years the table covers (see RawTable.span)."""
    unread: int = 0
    """Rows of the file that could not be read."""
    year: int | None = None
    sibling: _Part | None = None
    """For XML: the episodes part of the same document."""


@dataclass
class _Batch:
    """Rows of one or more files' tables of the same kind, parsed together."""

    frame: pd.DataFrame
    rows: np.ndarray
    parts: list[_Part]


@dataclass
class _CsvFile:
    """A CSV file whose header has been recognised, waiting to be parsed."""

    file: _File
    table: str
    delimiter: str
    header: bytes
    names: list[str | None]
    body: bytes
    first_line: int
    """Line number of the first body line (header line + 1)."""
    issues: list[Issue]
    unread: int = 0
    """Rows of the file that could not be read (reported, never used)."""


def _plan_csv(file: _File, data: bytes, issues: list[Issue]) -> _CsvFile | Issue:
    """Split off and recognise the header line; an Issue if the file is not usable."""
    stripped = data.lstrip(b"\n")
    if not stripped.strip():
        return _issue(file, "empty file", "a header line of 903 column names, then rows")
    header_line = data.count(b"\n", 0, len(data) - len(stripped)) + 1
    header, _, body = stripped.partition(b"\n")
    text = header.decode("utf-8")
    delimiter = max(DELIMITERS, key=text.count)
    raw = next(csv.reader([text], delimiter=delimiter), [])
    names, notes = _normalise_names(raw)
    table, problem = identify_table({n for n in names if n}, file.path.stem)
    if table is None:
        return _issue(file, *problem)
    issues = issues + [_issue(file, note, "the DfE column names", "warning") for note in notes]
    if body and not body.endswith(b"\n"):
        body += b"\n"
    return _CsvFile(file, table, delimiter, header, names, body, header_line + 1, issues)


# --------------------------------------------------------------------------- CSV parsing


def _parse_fast(data: bytes, n_fields: int, delimiter: str) -> pd.DataFrame | None:
    """Header-less CSV bytes as str columns "0".."n-1"; None if the parse fails."""
    try:
        return pd.read_csv(
            io.BytesIO(data),
            sep=delimiter,
            header=None,
            names=[str(i) for i in range(n_fields)],
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="pyarrow",
        )
    except Exception:
        return None


def _parse_slow(plan: _CsvFile) -> tuple[pd.DataFrame, np.ndarray]:
    """Parse one file with the csv module: exact line numbers, ragged rows handled.

    Blank lines become blank rows (dropped later, with a count); short rows are padded with
    blanks (warning); long rows whose extra cells are blank are trimmed, other long rows are
    dropped (error); a row spanning several lines is kept, with a warning (a stray quote
    joins every line up to the next quote into one cell).
    """
    n = len(plan.names)
    records, lines = [], []
    short, long_ = _Capped(plan, "short"), _Capped(plan, "long")
    spans = _Capped(plan, "multi-line")
    text = plan.body.decode("utf-8")
    reader = csv.reader(io.StringIO(text), delimiter=plan.delimiter)
    start = plan.first_line
    # The csv module refuses cells over 128 KiB by default and stops there: a free-text
    # column pasted into an extract would lose every row after it. The file is already
    # under the input size cap, so its own length bounds a cell.
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, len(text) + 1))
    try:
        for record in reader:
            line, start = start, plan.first_line + reader.line_num
            if start - line > 1:
                spans.add(line, f"a row spanning lines {line}-{start - 1}")
            if not record:
                record = [""] * n  # counted and dropped with the other blank rows
            if len(record) < n:
                short.add(line, f"{len(record)} cell(s)")
                record += [""] * (n - len(record))
            elif len(record) > n:
                if any(record[n:]):
                    long_.add(line, f"{len(record)} cells (row not used)")
                    plan.unread += 1
                    continue
                record = record[:n]
            records.append(record)
            lines.append(line)
    except csv.Error as error:
        # The rest of the file cannot be split into rows: count what is lost.
        unread = max(plan.body.count(b"\n") - (start - plan.first_line), 1)
        plan.unread += unread
        plan.issues.append(
            _issue(
                plan.file,
                f"unreadable CSV from line {start} ({error}): {unread} line(s) not read",
                "well-formed CSV",
                row=start,
            )
        )
    finally:
        csv.field_size_limit(limit)
    spans.close("one row per line (a quoted cell with line breaks, or a stray quote?)", "warning")
    short.close(f"{n} cells (the header's); missing cells read as blank", "warning")
    long_.close(f"{n} cells (the header's)", "error")
    frame = pd.DataFrame(records, columns=[str(i) for i in range(n)], dtype=object)
    return frame.astype("str"), np.asarray(lines, dtype=np.int64)


class _Capped:
    """Row issues of one kind for one file, at most MAX_ROW_ISSUES, then a summary."""

    def __init__(self, plan: _CsvFile | _Part, kind: str, column: str | None = None) -> None:
        self.plan, self.kind, self.column = plan, kind, column
        self.found: list[tuple[int, str]] = []
        self.count = 0

    def add(self, row: int, found: str) -> None:
        self.count += 1
        if len(self.found) < MAX_ROW_ISSUES:
            self.found.append((row, found))

    def close(self, expected: str, severity: str) -> None:
        file, issues = self.plan.file, self.plan.issues
        for row, found in self.found:
            issues.append(_issue(file, found, expected, severity, row, self.column))
        if self.count > len(self.found):
            more = self.count - len(self.found)
            issues.append(
                _issue(
                    file,
                    f"{more} more rows like the above ({self.kind})",
                    expected,
                    severity,
                    column=self.column,
                )
            )


def _csv_batches(plans: list[_CsvFile]) -> list[_Batch]:
    """Parse recognised CSV files, those with the same header together."""
    groups: dict[tuple, list[_CsvFile]] = {}
    for plan in plans:
        groups.setdefault((plan.table, plan.delimiter, plan.header), []).append(plan)
    batches = []
    for members in groups.values():
        chunk: list[_CsvFile] = []
        size = 0
        for plan in members:
            if chunk and size + len(plan.body) > BATCH_BYTES:
                batches.extend(_parse_group(chunk))
                chunk, size = [], 0
            chunk.append(plan)
            size += len(plan.body)
        batches.extend(_parse_group(chunk))
    return batches


def _parse_group(plans: list[_CsvFile]) -> list[_Batch]:
    """Batches for files sharing a header; a file the fast parse can't split goes alone."""
    counts = [plan.body.count(b"\n") for plan in plans]
    n = len(plans[0].names)
    frame = _parse_fast(b"".join(p.body for p in plans), n, plans[0].delimiter)
    if frame is not None and len(frame) == sum(counts):
        rows = np.concatenate(
            [
                np.arange(p.first_line, p.first_line + c, dtype=np.int64)
                for p, c in zip(plans, counts, strict=True)
            ]
        )
        return [_finish_batch(frame, rows, plans, counts)]
    if len(plans) > 1:  # find the odd file(s) by halving, so the rest stay batched
        half = len(plans) // 2
        return _parse_group(plans[:half]) + _parse_group(plans[half:])
    frame, rows = _parse_slow(plans[0])
    return [_finish_batch(frame, rows, plans, [len(frame)])]


def _finish_batch(
    frame: pd.DataFrame, rows: np.ndarray, plans: list[_CsvFile], counts: list[int]
) -> _Batch:
    """Name the columns, drop blank rows, and cut the batch into parts."""
    plan = plans[0]
    frame, extra, absent = _name_columns(frame, plan.names, plan.table)
    ends = np.cumsum(np.asarray(counts, dtype=np.int64))
    starts = ends - counts
    blank = _blank_rows(frame)
    blank_before = np.concatenate([[0], np.cumsum(blank)])
    dropped = blank_before[ends] - blank_before[starts]
    if blank.any():
        frame = frame[~blank].reset_index(drop=True)
        rows = rows[~blank]
        starts, ends = starts - blank_before[starts], ends - blank_before[ends]
    stacked = "YEAR" in frame.columns
    parts = []
    for p, start, stop, n_blank in zip(plans, starts, ends, dropped, strict=True):
        part = _Part(p.file, p.table, int(start), int(stop), list(p.issues), stacked=stacked)
        part.unread = p.unread
        _column_issues(part, extra, absent, int(n_blank))
        parts.append(part)
    return _Batch(frame, rows, parts)


def _name_columns(
    frame: pd.DataFrame, names: list[str | None], table: str
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Rename parsed columns to DfE names; add absent optional columns blank.

    Returns the frame (table columns in DfE order, then unknown columns, then LA/YEAR),
    the unknown columns and the absent ones.
    """
    renamed = {}
    for i, name in enumerate(names):
        if name is None:
            continue
        if name == "":
            if not frame[str(i)].ne("").any():
                continue  # a trailing delimiter: an unnamed, empty column
            name = f"COLUMN_{i + 1}"
        renamed[str(i)] = name
    frame = frame[list(renamed)].rename(columns=renamed)
    expected = ALL_COLUMNS[table]
    absent = [c for c in expected if c not in frame.columns]
    for column in absent:
        frame[column] = _repeat_str([""], [len(frame)])
    extra = [c for c in frame.columns if c not in expected and c not in STACKED_COLUMNS]
    stacked = [c for c in STACKED_COLUMNS if c in frame.columns]
    return frame[expected + extra + stacked], extra, absent


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is blank (blank lines, or only delimiters)."""
    blank = np.ones(len(frame), dtype=bool)
    for column in frame.columns:
        blank &= frame[column].eq("").to_numpy()
        if not blank.any():
            break
    return blank


def _column_issues(part: _Part, extra: list[str], absent: list[str], n_blank: int) -> None:
    """Warnings about unknown and absent columns, blank rows, and an empty table."""
    columns = f"the {part.table} columns {', '.join(ALL_COLUMNS[part.table])}"
    notes = [
        (extra, f"unknown column(s) {', '.join(extra)} (kept)", columns),
        (absent, f"column(s) {', '.join(absent)} absent (read as blank)", columns),
        (n_blank, f"{n_blank} blank row(s) ignored", "one row per line, no blank lines"),
        (
            part.stop == part.start,
            "a header line but no rows (read as an empty table)",
            f"rows of the {part.table} table under the header",
        ),
    ]
    for when, found, expected in notes:
        if when:
            part.issues.append(_issue(part.file, found, expected, "warning"))


# --------------------------------------------------------------------------- XML


XML_HEADER = {c: ("CHILDID" if c == "CHILD" else c) for c in TABLE_COLUMNS["header"]}
XML_UASC = {c: ("CHILDID" if c == "CHILD" else c) for c in TABLE_COLUMNS["uasc"]}
"""Table column -> HEADER element (data-formats.md §1.1; the validator renames the same)."""
XML_EPISODE = {c: ("PL" if c == "PLACE" else c) for c in TABLE_COLUMNS["episodes"] if c != "CHILD"}
"""Episodes column -> EPISODE element (CHILD comes from the HEADER's CHILDID)."""


def _xml_bytes(file: _File, data: bytes) -> tuple[bytes | None, list[Issue]]:
    """Bytes for lxml: as they are if they declare a non-UTF-8 encoding, else UTF-8."""
    data = data.lstrip(codecs.BOM_UTF8).lstrip()
    declared = _XML_ENCODING.match(data)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return data, []
    try:
        data.decode("utf-8")
        return data, []
    except UnicodeDecodeError:
        text = _decode_fallback(data)
        if text is None:
            return None, [_issue(file, "XML that is neither UTF-8 nor Windows-1252", "UTF-8 XML")]
        note = _issue(file, "XML not UTF-8; read as Windows-1252 (cp1252)", "UTF-8", "warning")
        return text.encode("utf-8"), [note]


def _parse_xml(file: _File, data: bytes) -> tuple[etree._Element | None, list[Issue]]:
    """The root element of a safe parse, or None with the reason."""
    data, issues = _xml_bytes(file, data)
    if data is None:
        return None, issues
    refused = _issue(
        file,
        "XML with a DOCTYPE declaration (refused: it can define entities)",
        "903 XML (EXPSSDA903) without a DOCTYPE",
    )
    if DOCTYPE.search(data):
        # Refusing any DTD defeats entity-expansion bombs and external entities outright.
        return None, [*issues, refused]
    parser = safe_parser(remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        found = f"malformed XML at line {error.lineno}: {error.msg}"
        return None, [*issues, _issue(file, found, "well-formed XML", row=None)]
    if root.getroottree().docinfo.doctype:
        return None, [*issues, refused]
    name = etree.QName(root).localname
    if name != "EXPSSDA903":
        found = f"XML with root element <{name}> (line {root.sourceline})"
        return None, [*issues, _issue(file, found, "903 XML: root element <EXPSSDA903>")]
    return root, issues


def _leaves(element: etree._Element | None) -> dict[str, str]:
    """Text of the element's leaf children by local name (NBSP as space)."""
    if element is None:
        return {}
    return {
        etree.QName(child).localname: (child.text or "").replace("\u00a0", " ")
        for child in element
        if isinstance(child.tag, str) and len(child) == 0
    }


def _child_elements(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name]


XmlRows = dict[str, list[tuple[int, list[str]]]]
"""Rows found per table, each with its CHILD element's position."""


def _read_xml(file: _File, data: bytes) -> tuple[_Batch | None, list[_Batch], list[Issue]]:
    """Header, episodes and UASC tables from an EXPSSDA903 document.

    Returns (episodes batch, [header, uasc] batches, document-level issues).
    """
    root, issues = _parse_xml(file, data)
    if root is None:
        return None, [], issues
    rows: XmlRows = {"header": [], "episodes": [], "uasc": []}
    position = 0
    for element in root:
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        if name != "CHILD":
            found = f"element <{name}> (line {element.sourceline}) ignored"
            issues.append(_issue(file, found, "only CHILD elements under EXPSSDA903", "warning"))
            continue
        position += 1
        if not _xml_child(element, position, rows):
            found = "CHILD element without HEADER: not used"
            issues.append(_issue(file, found, "a HEADER in every CHILD", row=position))
    batches = {}
    for table, found in rows.items():
        frame = pd.DataFrame([r for _, r in found], columns=TABLE_COLUMNS[table], dtype=object)
        positions = np.asarray([p for p, _ in found], dtype=np.int64)
        batches[table] = _Batch(frame.astype("str"), positions, [_Part(file, table, 0, len(frame))])
    episodes = batches.pop("episodes")
    for batch in batches.values():
        batch.parts[0].sibling = episodes.parts[0]
    return episodes, list(batches.values()), issues


def _xml_child(element: etree._Element, position: int, rows: XmlRows) -> bool:
    """Add one CHILD's header, UASC and episode rows; False if it has no HEADER."""
    headers = _child_elements(element, "HEADER")
    if not headers:
        return False
    header = _leaves(headers[0])
    rows["header"].append((position, [header.get(tag, "") for tag in XML_HEADER.values()]))
    # A UASC row for children flagged UASC or with a date UASC status ceased.
    if header.get("UASC", "").strip().upper() in UASC_YES or header.get("DUC", "").strip():
        rows["uasc"].append((position, [header.get(tag, "") for tag in XML_UASC.values()]))
    child_id = header.get("CHILDID", "")
    for episode in _child_elements(element, "EPISODE"):
        values = _leaves(episode)
        rows["episodes"].append(
            (position, [child_id] + [values.get(tag, "") for tag in XML_EPISODE.values()])
        )
    return True


# --------------------------------------------------------------------------- years


def collection_year(dates: np.ndarray) -> np.ndarray:
    """Year ending 31 March of each datetime64 (-1 for NaT)."""
    dates = dates.astype("datetime64[M]")
    months = dates.astype(np.int64)  # months since 1970-01
    years = 1970 + months // 12 + (months % 12 >= 3)
    return np.where(np.isnat(dates), -1, years)


def bulk_years(
    years: np.ndarray, trim_low: bool = False, keep: int | None = None
) -> tuple[int, int] | None:
    """The first and last collection years holding the bulk of ``years`` (-1 for none).

    Years before :data:`EARLIEST_YEAR` are never counted. The latest year (and with
    ``trim_low`` the earliest) is dropped while it is a stray one: under
    :data:`STRAY_SHARE` of the values, and either an empty year away from the next one or
    under :data:`STRAY_RATIO` of its count. A return's own year holds every episode that
    started in it (typically half the rows), so one mistyped date (2099, or 2025 in a
    2023-24 return) cannot stand for it; a file of a few rows is never trimmed. The year
    ``keep`` (the one a file or folder name gives as a range, ``2023-24``) is never
    dropped, so a quiet year of a small authority keeps its own return."""
    values = years[years >= EARLIEST_YEAR]
    if not values.size:
        return None
    found, counts = np.unique(values, return_counts=True)
    total = counts.sum()

    def stray(end: int, inner: int) -> bool:
        detached = abs(int(found[end]) - int(found[inner])) > 1
        return counts[end] < STRAY_SHARE * total and (
            detached or counts[end] < STRAY_RATIO * counts[inner]
        )

    lo, hi = 0, len(found) - 1
    while hi > lo and stray(hi, hi - 1) and found[hi] != keep:
        hi -= 1
    while trim_low and lo < hi and stray(lo, lo + 1):
        lo += 1
    return int(found[lo]), int(found[hi])


@dataclass(frozen=True)
class EpisodesYear:
    """The years one (non-stacked) episodes table covers, worked out from its dates."""

    year: int
    """Collection year (year ending 31 March) of its latest return."""
    first_year: int
    """Earliest collection year it covers: ``year`` for one return; earlier for a file
    holding several years' episodes (episodes closed before ``year`` began)."""
    late_decs: int
    """DECs after 31 March ``year``."""


def episodes_year(
    decom_years: np.ndarray, dec_years: np.ndarray, named: int | None = None
) -> EpisodesYear | None:
    """The years of one episodes table (None if it has no dates at all).

    The year is that of the latest DECOM of the bulk (:func:`bulk_years`): a return holds
    episodes open at some time in the year, so none starts after it, while a DEC after
    31 March breaks validator rules 354/385 and is a known artefact (cs-demand-model and
    the validator's sample data hold DECs of 1 April, which would otherwise move them a year
    on). If most DECs lie after that year (a year in which care ended but no episode
    started), the latest DEC of the bulk decides. A return holds only episodes open in its
    year, so the bulk of DECs reaching back before it means the file holds several years'
    episodes: it covers those years too. Inputs are collection years (-1 for blank or bad
    dates); ``named`` is the year the file's name gives as a range, if any: kept when its
    dates are there (:func:`bulk_years`), and the year of a file too small for a stray
    later date to stand out, unless most of its start dates are later.
    """
    decom_span = bulk_years(decom_years, keep=named)
    dec_span = bulk_years(dec_years, trim_low=True)
    if decom_span is None and dec_span is None:
        return None
    year = decom_span[1] if decom_span else dec_span[1]
    decoms = decom_years[decom_years >= EARLIEST_YEAR]
    # A file too small for stray years to stand out: its name decides, unless most of its
    # start dates lie after the year the name gives.
    later = int((decoms > named).sum()) if named is not None else 0
    if named is not None and year > named and (decoms == named).any() and 2 * later < decoms.size:
        year = named
    decs = dec_years[dec_years >= EARLIEST_YEAR]
    if dec_span and 2 * int((decs > year).sum()) > decs.size:
        year = dec_span[1]
    first = min(dec_span[0], year) if dec_span else year
    return EpisodesYear(year, first, int((decs > year).sum()))


def _episode_years(batch: _Batch) -> None:
    """Set ``data_year`` and ``first_year`` of the batch's (non-stacked) episodes parts;
    warn of late DECs and of files that hold several years."""
    if not batch.parts or batch.parts[0].table != "episodes" or batch.parts[0].stacked:
        return
    decom = collection_year(parse_dates(batch.frame["DECOM"])[0].to_numpy())
    dec = collection_year(parse_dates(batch.frame["DEC"])[0].to_numpy())
    for part in batch.parts:
        named = _file_name_year(part.file)
        found = episodes_year(
            decom[part.start : part.stop],
            dec[part.start : part.stop],
            named.year if named and named.is_range else None,
        )
        if found is None:
            continue
        year = found.year
        part.data_year, part.first_year = year, found.first_year
        if found.late_decs:
            part.issues.append(
                _issue(
                    part.file,
                    f"{found.late_decs} DEC date(s) after 31 March {year}, the end of the "
                    "collection year that the latest DECOM gives; not used to work out the year",
                    f"DEC on or before 31 March {year} (validator rules 354/385)",
                    "warning",
                    column="DEC",
                )
            )
        if found.first_year < year:
            part.issues.append(
                _issue(
                    part.file,
                    f"one file holding several years' episodes (episodes ended in every year "
                    f"from {_span_text(found.first_year)} to {_span_text(year)}): read as "
                    f"covering those years; its rows cannot be told apart by return, so the "
                    "last copy of an episode in the file is used",
                    "one file per return, or the stacked layout with a YEAR column",
                    "warning",
                )
            )


def _span_text(year: int) -> str:
    """A collection year as DfE writes it: 2024 -> 2023-24."""
    return f"{year - 1}-{year % 100:02d}"


@dataclass(frozen=True)
class _NameYear:
    """A collection year read from a file or folder name."""

    year: int
    """Year ending 31 March: the end of a range, or the plain year itself."""
    token: str
    is_range: bool


def name_year(name: str) -> _NameYear | None:
    """The year in a file or folder name: the last range (``2019-20``, ``201920``,
    ``2019-2020``) or, failing that, the last plain 4-digit year (19xx/20xx)."""
    ranges = [
        m for m in _RANGE_YEAR.finditer(name) if int(m.group(2)[-2:]) == (int(m.group(1)) + 1) % 100
    ]
    if ranges:
        last = ranges[-1]
        return _NameYear(int(last.group(1)) + 1, last.group(0), True)
    plain = list(_PLAIN_YEAR.finditer(name))
    if plain:
        return _NameYear(int(plain[-1].group(1)), plain[-1].group(1), False)
    return None


def _file_name_year(file: _File) -> _NameYear | None:
    """The year in the file's name, else in the nearest folder name that has one."""
    for name in (file.path.stem, *file.folders):
        found = name_year(name)
        if found:
            return found
    return None


def _label(file: _File) -> str | None:
    found = name_year(file.path.stem)
    return found.token if found else None


def _name_disagreement(part: _Part, year: int) -> Issue | None:
    """A warning if the file's (or folder's) name gives another year than ``year``."""
    named = _file_name_year(part.file)
    if named is None or named.year == year:
        return None
    span = f"{year - 1}-{year % 100:02d}"
    found = f"the name says {named.token} but the dates are for the year ending 31 March {year}"
    found += f" ({span})"
    if not named.is_range and named.year == year - 1:
        found += "; consistent only if the name labels a year by its start"
    return _issue(
        part.file,
        found,
        f"a file or folder name that agrees with the dates, e.g. {span}",
        "warning",
    )


def _assign_years(parts: list[_Part]) -> None:
    """Set every part's ``year`` (see the module docstring for the rules)."""
    by_folder: dict[Path, list[_Part]] = {}
    for part in parts:
        if part.table == "episodes" and part.data_year is not None and not part.stacked:
            by_folder.setdefault(part.file.folder, []).append(part)
    for part in parts:
        if part.stacked:
            continue
        if part.data_year is not None:
            part.year = part.data_year
            _add(part, _name_disagreement(part, part.year))
        elif part.sibling is not None and part.sibling.data_year is not None:
            part.year = part.sibling.data_year
        else:
            _inherit_year(part, by_folder.get(part.file.folder, []))
        if part.year is not None:
            first = part.first_year if part.data_year is not None else None
            part.span = (first or part.year, part.year)


def _inherit_year(part: _Part, episodes: list[_Part]) -> None:
    """Year from the folder's episodes tables, else from the name, else None."""
    label = _label(part.file)
    same_label = {e.data_year for e in episodes if _label(e.file) == label}
    if len(same_label) == 1:
        part.year = same_label.pop()
        return
    in_folder = {e.data_year for e in episodes}
    if len(in_folder) == 1:
        part.year = in_folder.pop()
        _add(part, _name_disagreement(part, part.year))
        return
    named = _file_name_year(part.file)
    if named is not None:
        part.year = named.year
        if not named.is_range:
            found = (
                f"collection year taken from the name {named.token} as the year ending "
                f"31 March {named.year}; no episodes table here confirms it"
            )
            span = f"{named.year - 1}-{named.year % 100:02d}"
            expected = f"an episodes table in the same folder, or a name like {span}"
            part.issues.append(_issue(part.file, found, expected, "warning"))
        return
    if in_folder:
        why = f"episodes tables here disagree ({', '.join(map(str, sorted(in_folder)))})"
    else:
        why = "no episodes table in the folder and no year in the file or folder name"
    found = f"collection year unknown: {why}"
    expected = "a folder per return named by its year, e.g. 2019-20"
    part.issues.append(_issue(part.file, found, expected, "warning"))


def _add(part: _Part, issue: Issue | None) -> None:
    if issue is not None:
        part.issues.append(issue)


# --------------------------------------------------------------------------- output


def _stacked_years(batch: _Batch) -> np.ndarray:
    """Per-row ``_year`` from the YEAR column, and each part's ``span``: -1 and an error
    where YEAR is not a year, or is a stray year outside the bulk of the file's years
    (:func:`bulk_years`), so that one mistyped YEAR cannot stretch the observations."""
    text = batch.frame["YEAR"].str.strip()
    digits = text.where(text.str.fullmatch(r"\d{4}(?:\.0*)?"), None)
    number = pd.to_numeric(digits, errors="coerce")
    years = number.fillna(-1).astype(np.int64).to_numpy()
    bad_rows = (years < MIN_YEAR) | (years > MAX_YEAR)
    for part in batch.parts:
        rows = slice(part.start, part.stop)
        part.span = bulk_years(np.where(bad_rows[rows], -1, years[rows]), trim_low=True)
        stray = np.zeros(len(years), dtype=bool)
        if part.span is not None:
            lo, hi = part.span
            stray[rows] = ~bad_rows[rows] & ((years[rows] < lo) | (years[rows] > hi))
        capped = _Capped(part, "bad YEAR", column="YEAR")
        bad = np.flatnonzero(bad_rows | stray)
        in_part = bad[(bad >= part.start) & (bad < part.stop)]
        for i in in_part[:MAX_ROW_ISSUES]:
            found = _bad_year(str(batch.frame["YEAR"].iat[i]), years[i])
            if stray[i]:
                found = f"YEAR {years[i]} is a stray year: the file's rows are for {lo}-{hi}"
            capped.add(int(batch.rows[i]), found)
        capped.count = len(in_part)  # the rest are only counted
        capped.close(
            f"a 4-digit year ending 31 March, {MIN_YEAR}-{MAX_YEAR}, among the file's years "
            "(row not used)",
            "error",
        )
        bad_rows = bad_rows | stray
    return np.where(bad_rows, -1, years)


def _bad_year(text: str, year: int) -> str:
    """Why a stacked YEAR is not a collection year, showing the value only when it is a
    4-digit year (anything else could be a misplaced identifier)."""
    if not text.strip():
        return "YEAR is blank"
    if year < 0:
        return f"YEAR is not a 4-digit year {WITHHELD}"
    return f"YEAR {year} is outside {MIN_YEAR}-{MAX_YEAR}"


def _provenance(batch: _Batch) -> pd.DataFrame:
    """The batch frame with _source, _row, _year and _la (LA/YEAR dropped)."""
    frame = batch.frame
    counts = [p.stop - p.start for p in batch.parts]
    if "YEAR" in frame.columns:
        years = _stacked_years(batch)
    else:
        per_part = [p.year if p.year is not None else -1 for p in batch.parts]
        years = np.repeat(np.asarray(per_part, dtype=np.int64), counts)
    la = frame["LA"].array if "LA" in frame.columns else _repeat_str([""], [len(frame)])
    frame = frame.drop(columns=[c for c in STACKED_COLUMNS if c in frame.columns])
    sources = _repeat_str([p.file.source for p in batch.parts], counts)
    return frame.assign(_source=sources, _row=batch.rows, _year=years, _la=la)


def _repeat_str(values: list[str], counts: list[int]) -> pd.api.extensions.ExtensionArray:
    """``values[i]`` repeated ``counts[i]`` times, as pandas ``str``.

    Built as an Arrow dictionary array: converting millions of Python strings is ~5x slower.
    """
    indices = pa.array(np.repeat(np.arange(len(values), dtype=np.int32), counts))
    dictionary = pa.array(values, type=pa.large_string())
    return pd.array(
        pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.large_string()), dtype="str"
    )


def _tables(batch: _Batch) -> list[RawTable]:
    frame = _provenance(batch)
    return [
        RawTable(
            part.file.source,
            part.table,
            frame.iloc[part.start : part.stop].reset_index(drop=True),
            part.year,
            part.issues,
            span=part.span,
            unread=part.unread,
        )
        for part in batch.parts
    ]


# --------------------------------------------------------------------------- entry point


def read_903(paths: Sequence[Path]) -> ReadResult:
    """Find and decode every 903 table under ``paths`` (files or folders)."""
    files, issues = _find_files(paths)
    result = ReadResult(issues=issues, files_seen=[f.source for f in files])
    plans: list[_CsvFile] = []
    batches: list[_Batch] = []
    for file in files:
        _read_one(file, plans, batches, result.issues)
    batches.extend(_csv_batches(plans))
    for batch in batches:
        _episode_years(batch)
    parts = [part for batch in batches for part in batch.parts]
    _assign_years(parts)
    for batch in batches:
        result.tables.extend(_tables(batch))
    result.tables.sort(key=lambda t: (t.source, TABLE_ORDER[t.table]))
    return result


def _read_one(
    file: _File, plans: list[_CsvFile], batches: list[_Batch], issues: list[Issue]
) -> None:
    """Classify one file: queue a CSV for parsing, read an XML, or record why not."""
    try:
        # open_input refuses FIFOs (which would block) and devices (read without end),
        # and files over the size cap.
        with open_input(file.path) as handle:
            # Classify by the first block, so a large binary file is not read whole.
            data = handle.read(SNIFF_BYTES)
            problem = _not_a_table(file, data)
            if problem is None:
                data += handle.read(max_input_bytes() + 1 - len(data))
                problem = _not_a_table(file, data)
    except OSError as error:
        issues.append(_issue(file, _unreadable(file, error), "a readable CSV or XML file"))
        return
    if problem:
        issues.append(problem)
        return
    data = _utf16_xml(data)
    if _is_xml(data):
        episodes, others, xml_issues = _read_xml(file, data)
        issues.extend(xml_issues)
        if episodes is not None:
            batches.extend([episodes, *others])
        return
    text, decode_issues = _decode(file, data)
    if text is None:
        issues.extend(decode_issues)
        return
    plan = _plan_csv(file, text, decode_issues)
    if isinstance(plan, Issue):
        issues.extend([*decode_issues, plan])
    else:
        plans.append(plan)


def _unreadable(file: _File, error: OSError) -> str:
    """Why a file could not be read, in words (never its content)."""
    missing = _missing(file.path)
    if missing:
        return f"not read ({missing})"
    return f"not read ({error.strerror})"


def all_issues(result: ReadResult) -> list[Issue]:
    """Every issue: the file-level ones, then each table's."""
    return result.issues + [issue for table in result.tables for issue in table.issues]
