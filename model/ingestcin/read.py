"""Read CIN census files into flat tables, validating each Child against its year's XSD.

``read_cin(paths)`` takes files and folders (folders are searched recursively, hidden files
and folders skipped, files read in sorted order) and returns a :class:`CinReadResult`: six
pandas DataFrames of raw text and a list of :class:`~model.ingest.tables.Issue`. It never
raises on bad input.

Tables (every cell is the text as found, "" when absent; dates stay ISO text for the
cleaner; repeated values are comma-joined):

* ``children``: one row per Child: :data:`CHILD_COLUMNS`. ``sex`` is the value of
  ``GenderCurrent`` (to 2023-24: 1/2/0/9) or ``Sex`` (from 2024-25: M/F/U), and
  ``sex_element`` says which element it came from ("" if neither).
* ``cin_details``: one row per CINdetails; ``_detail`` is its 1-based position within the
  child. ``assessments``, ``cin_plans``, ``section47`` and ``cpp`` carry ``LAchildID`` and
  the ``_detail`` of the CINdetails they belong to.
* Provenance on every table: ``_source`` (the file, as given or relative to the folder
  given), ``_child`` (1-based position of the Child element in the file: never its
  LAchildID), ``_year`` (census year, ending 31 March; -1 if unknown) and ``_la`` (the
  header's LEA, or the flat file's LA column).

Decisions:

* **Pieces**: a file whose layout allows it (:func:`_find_layout`: the first Child within
  the first MiB, a simple prologue and Header, only end tags after the last Child, an
  ASCII-based encoding) is cut at ``<Child`` start tags into pieces of about
  :data:`PIECE_BYTES`; each piece is parsed as the small document ``prefix + piece +
  suffix`` (the bytes before the first Child and after the last), its children validated
  and flattened by one XSLT call into fixed-width tab-separated lines, parsed by Arrow's
  CSV reader, and the piece freed. Parsing small documents whole is about twice as fast as
  ``iterparse`` and needs no moving of elements. Memory holds one piece's tree plus the
  tables (Arrow strings: about the text's length, not ~50 bytes per Python ``str``).
* **Parallel**: a file of at least :data:`PARALLEL_MIN_BYTES` is also read by worker
  processes (:data:`WORKERS`; fresh interpreters started with ``sys.executable``): this
  process starts on the first piece at once, and each worker, once its imports are done,
  takes the back half of what is left. Tables and issues are put together in file order,
  as one process would have them.
* **Streaming** (any other file, and any file whose pieces do not all parse or nest as
  expected, such as malformed XML): ``lxml.etree.iterparse`` on ``Header`` and ``Child``
  end events; every :data:`BATCH_CHILDREN` children are moved out of the parse tree into a
  holder and handled like a piece. Every way of reading gives the same tables, row order
  and issues.
* **Safety**: entities are never resolved, no DTD is loaded, no network is used, and
  ``huge_tree`` is off. Any DOCTYPE is refused (the whole file) with an Issue: census files
  have none, and refusing it defeats entity-expansion bombs and external entities
  outright. The check is made before a file is cut, and a cut file's prefix holds no
  ``<!`` at all; pieces are parsed with the same safe settings.
* **Census year** = year ending 31 March of the header's ``ReferenceDate``. A ``Year``
  that disagrees, or a ReferenceDate that is not 31 March, is a warning. Without a usable
  ReferenceDate, the year in the file name (``cin_census_2024.xml``: year ending March
  2024) is used with a warning; without either the children are read with ``_year`` -1
  and not validated (an error).
* **Validation** is per Child, against :func:`model.ingestcin.schema.cin_xsd_for_year`'s XSD
  with top-level ``Child`` and ``Header`` elements added (their types are the XSD's own
  ``childtype``/``headertype``), so one bad child costs only its own Issues (a batch is
  first validated in one call, and child by child only if it fails: :func:`_validate`).
  Whatever can be used is still extracted from an invalid child. XSD messages become
  Issues naming the file, the Child position, the element and the expectation; the values
  of identifying elements (LAchildID, UPNs, birth and death dates) are removed from
  messages whole, by :func:`model.ingest.withhold.withhold_values` (a value holding quotes
  included). A child failing the XSD is still used (decided: most failures are order or
  format slips the cleaner's own checks catch where they matter); a file whose every
  Child fails gets a warning in its account. Issues are capped at
  :data:`MAX_ISSUES_PER_KIND` per file, element and kind, plus one summary, and listed in
  the order of the children they are about.
* **Tabs and line breaks inside a value** become spaces (the flattened lines are
  tab-separated; a batch whose lines come out the wrong width is redone with a stylesheet
  that translates them).
* **A Child without LAchildID** (absent or blank) gives an error; its rows are read with
  a blank LAchildID, so that the cleaner quarantines and counts them (every Child found is
  counted as read).
* **Malformed XML** gives an error with the line number and libxml2's message (quoted
  input withheld); the children read before the error are kept, and the ``<Child`` start
  tags in the file's bytes are counted, so the file's :class:`CinFileAccount` says how
  many were read and how many not. A file that breaks after its first Child is
  ``cut_short``: the ingest refuses to carry on (:mod:`model.ingestcin`).
* **Inputs**: every file is opened first with :func:`model.input_files.open_input` (a
  regular file within the size cap: a FIFO, a device or a symlink loop is refused by name,
  never read); names are :func:`~model.input_files.display_name` text. XML in UTF-16 (by
  its byte-order mark, or ``<`` next to a zero byte) is streamed, libxml2 decoding it;
  UTF-32 is refused by name. Every file found gets a :class:`CinFileAccount`.
* **Namespaces**: elements are matched by local name; a namespaced Child is stripped to
  local names before validation (the XSDs have no target namespace).
* **Flat CSV** (liia-tools layout, data-formats.md §2.3 item 1, any file not starting with
  ``<``): the tables are rebuilt from the one-row-per-event layout; see
  :func:`_read_flat`. Files of neither kind get an Issue.
"""

from __future__ import annotations

import bisect
import codecs
import errno
import io
import mmap
import os
import pickle
import re
import select
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree
from pyarrow import csv as pa_csv

from model.ingest.safe_xml import DOCTYPE, SAFE_OPTIONS, safe_parser
from model.ingest.tables import Issue
from model.ingest.withhold import WITHHELD, withhold_values
from model.ingestcin.schema import cin_xsd_for_year
from model.input_files import InputFileError, display_name, open_input, read_input

CHILD_COLUMNS = [
    "LAchildID", "UPN", "FormerUPN", "UPNunknown", "PersonBirthDate",
    "ExpectedPersonBirthDate", "sex", "sex_element", "PersonDeathDate", "Ethnicity",
    "Disabilities",
]  # fmt: skip
DETAIL_COLUMNS = [
    "LAchildID", "_detail", "CINreferralDate", "ReferralSource", "PrimaryNeedCode",
    "CINclosureDate", "ReasonForClosure", "DateOfInitialCPC", "ReferralNFA",
]  # fmt: skip
ASSESSMENT_COLUMNS = [
    "LAchildID", "_detail", "AssessmentActualStartDate", "AssessmentInternalReviewDate",
    "AssessmentAuthorisationDate", "AssessmentFactors",
]  # fmt: skip
PLAN_COLUMNS = ["LAchildID", "_detail", "CINPlanStartDate", "CINPlanEndDate"]
S47_COLUMNS = [
    "LAchildID", "_detail", "S47ActualStartDate", "InitialCPCtarget", "DateOfInitialCPC",
    "ICPCnotRequired",
]  # fmt: skip
CPP_COLUMNS = [
    "LAchildID", "_detail", "CPPstartDate", "CPPendDate", "InitialCategoryOfAbuse",
    "LatestCategoryOfAbuse", "NumberOfPreviousCPP", "CPPreviewDate",
]  # fmt: skip
PROVENANCE_COLUMNS = ["_source", "_child", "_year", "_la"]
TABLES: dict[str, list[str]] = {
    "children": CHILD_COLUMNS,
    "cin_details": DETAIL_COLUMNS,
    "assessments": ASSESSMENT_COLUMNS,
    "cin_plans": PLAN_COLUMNS,
    "section47": S47_COLUMNS,
    "cpp": CPP_COLUMNS,
}
"""Table name -> data columns (provenance columns follow)."""
INT_COLUMNS = frozenset({"_detail", "_child", "_year"})

BATCH_CHILDREN = 2000
"""Children validated and extracted together when a file is streamed (amortises the calls;
bounds the tree kept in memory)."""
PIECE_BYTES = 2 << 20
"""Bytes per piece when a file is cut at Child boundaries (about 2000 children): each piece
is parsed as one small document, validated and extracted like a batch."""
PARALLEL_MIN_BYTES = 20 << 20
"""Files of at least this many bytes are read by several processes, a range of pieces each
(smaller files: starting a process, about a second, would cost more than it saves)."""
WORKERS: int | None = None
"""Processes reading one big file, this one included; None: min(2, CPUs available)."""
WORKER_WAIT_SECONDS = 0.0
"""How long to wait for the worker processes to be ready before reading (tests wait, to
read a small file in parallel; otherwise workers join in when ready: this process never
waits)."""
MAX_ISSUES_PER_KIND = 20
"""Issues kept per file, element and kind; the rest are counted in one summary Issue."""
SENSITIVE_ELEMENTS = frozenset(
    {"LAchildID", "UPN", "FormerUPN", "PersonBirthDate", "ExpectedPersonBirthDate",
     "PersonDeathDate"}
)  # fmt: skip
"""Elements whose values identify a child: never quoted in an Issue."""

_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")
_NAME_YEAR = re.compile(r"(?<!\d)(20\d\d|19\d\d)(?!\d)")
_XSD_MESSAGE = re.compile(r"^Element '([^']+)'(?:, attribute '[^']+')?: (.*)$", re.DOTALL)
_INPUT_BYTES = re.compile(r"Bytes: (?:0x[0-9A-Fa-f]{2}\s*)+")
"""The bytes of the input libxml2 quotes in an encoding error (they may be part of an id)."""
PROLOGUE_BYTES = 65536
"""Bytes searched for a DOCTYPE before parsing (the parse also checks the document's own
DOCTYPE record, for a DOCTYPE after a very long prologue)."""


READ, PARTLY_READ, NOT_READ = "read", "partly read", "not read"
"""What became of a file found (:attr:`CinFileAccount.status`)."""


@dataclass
class CinFileAccount:
    """What became of one file found under the paths given, for the report and the log.

    ``status``: :data:`READ` (every Child element, or every row of a flat file, read),
    :data:`PARTLY_READ` (``unread`` of them not read, for ``reason``) or :data:`NOT_READ`
    (nothing read, for ``reason``). ``found`` counts the Child elements in an XML file
    (every ``<Child`` start tag in its bytes, when the XML breaks before the end) or the
    data rows of a flat file; ``read`` those read into the tables (children without
    LAchildID included: the cleaner quarantines them), so ``found = read + unread``.
    ``cut_short``: the XML broke (truncated or malformed) after its first Child, so the
    census is incomplete. ``xsd_invalid``: children that failed the XSD (``xsd``).
    ``years``: census years (ending 31 March) of the rows read; ``warnings``: loud notes
    (every Child failing the XSD...). Never holds a child's identifier.
    """

    source: str
    kind: str = ""
    status: str = READ
    found: int = 0
    read: int = 0
    unread: int = 0
    unit: str = "Child elements"
    reason: str = ""
    cut_short: bool = False
    xsd: str = ""
    xsd_invalid: int = 0
    years: list[int] = field(default_factory=list)
    la: str = ""
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the file, its years and what became of it."""
        years = ", ".join(map(str, self.years)) or "year unknown"
        text = f"{self.source} ({self.kind or 'unknown kind'}, {years}): {self.status}"
        if self.status != NOT_READ:
            text += f", {self.read} of {self.found} {self.unit}"
        if self.reason:
            text += f" ({self.reason})"
        return text


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


# --------------------------------------------------------------------------- files


def _find_files(paths: Sequence[Path]) -> tuple[list[tuple[Path, str]], list[Issue]]:
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
                found = f"unreadable folder ({_open_problem(error)})"
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


def _open_problem(error: OSError) -> str:
    """Why a file could not be opened, in words (a symlink loop named as one)."""
    reason = error.strerror or str(error)
    if error.errno == errno.ELOOP or reason == os.strerror(errno.ELOOP):
        return f"a symlink loop ({reason})"
    return reason


# --------------------------------------------------------------------------- tables


class _Tables:
    """Rows collected per table, moved into Arrow arrays chunk by chunk."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple]] = {name: [] for name in TABLES}
        self.chunks: dict[str, list[pa.Table]] = {name: [] for name in TABLES}

    def flush(self) -> None:
        """Move the collected rows into Arrow tables (frees the Python strings)."""
        for name, rows in self.rows.items():
            if not rows:
                continue
            columns = [*TABLES[name], *PROVENANCE_COLUMNS]
            arrays = []
            for col, values in zip(columns, zip(*rows, strict=True), strict=True):
                kind = pa.int64() if col in INT_COLUMNS else pa.large_string()
                arrays.append(pa.array(values, type=kind))
            self.chunks[name].append(pa.Table.from_arrays(arrays, names=columns))
            rows.clear()

    def frames(self) -> dict[str, pd.DataFrame]:
        """One DataFrame per table: text columns as pandas ``str``, the rest int64."""
        self.flush()
        out = {}
        for name, chunks in self.chunks.items():
            columns = [*TABLES[name], *PROVENANCE_COLUMNS]
            if chunks:
                table = pa.concat_tables(chunks)
                frame = pd.DataFrame(
                    {
                        col: table.column(col).to_numpy()
                        if col in INT_COLUMNS
                        else pd.Series(table.column(col), dtype="str")
                        for col in columns
                    }
                )
            else:
                frame = pd.DataFrame(
                    {
                        c: pd.Series([], dtype="int64" if c in INT_COLUMNS else "str")
                        for c in columns
                    }
                )
            out[name] = frame
        self.chunks = {name: [] for name in TABLES}
        return out

    def mark(self) -> dict[str, int]:
        """Where the tables end now (see :meth:`rollback`)."""
        self.flush()
        return {name: len(chunks) for name, chunks in self.chunks.items()}

    def rollback(self, mark: dict[str, int]) -> None:
        """Drop the rows added since ``mark`` (a file read again another way)."""
        for name, n in mark.items():
            del self.chunks[name][n:]


class _Capped:
    """Collects one file's row-level issues, keeping at most ``limit`` per (element, kind).

    Issues are listed by child position (stable), so the list does not depend on how the
    file was cut into batches, pieces or ranges.
    """

    def __init__(self, source: str, limit: int | None = None) -> None:
        self.source = source
        self.limit = MAX_ISSUES_PER_KIND if limit is None else limit
        self.kept: list[tuple[Issue, tuple[str | None, str]]] = []
        self.counts: Counter[tuple[str | None, str]] = Counter()
        self.invalid = 0
        """Children that failed the XSD (each counted once, however many errors)."""

    def add(self, issue: Issue, kind: str) -> None:
        key = (issue.column, kind)
        self.counts[key] += 1
        if self.counts[key] <= self.limit:
            self.kept.append((issue, key))

    def merge(self, other: _Capped, rows: int, lines: int) -> None:
        """Add the issues of the range of the file that follows: ``other``'s child
        positions and XSD line numbers are shifted by ``rows`` and ``lines``."""
        kept: Counter[tuple[str | None, str]] = Counter()
        self.invalid += other.invalid
        for issue, key in other.kept:
            kept[key] += 1
            self.counts[key] += 1
            if self.counts[key] <= self.limit:
                self.kept.append((_shift_issue(issue, rows, lines), key))
        for key, n in other.counts.items():
            self.counts[key] += n - kept[key]

    def issues(self) -> list[Issue]:
        """The kept issues plus one summary per kind that overflowed."""
        kept = sorted(self.kept, key=lambda ik: -1 if ik[0].row is None else ik[0].row)
        out = [issue for issue, _ in kept]
        keys = dict.fromkeys([key for _, key in kept] + list(self.counts))
        for column, kind in keys:
            n = self.counts[(column, kind)]
            if n > self.limit:
                found = f"{n - self.limit} more of: {kind} (not listed)"
                out.append(Issue(self.source, None, column, found, "see the issues above"))
        return out


_LINE_SUFFIX = re.compile(r" \(line (\d+)\)$")
"""How :func:`_xsd_issue` ends its ``found`` text."""


def _shift_issue(issue: Issue, rows: int, lines: int) -> Issue:
    """The issue of a range of pieces, located in the whole file: its child position moved
    on by ``rows``, the line of an XSD message by ``lines``."""
    found = issue.found
    if lines and found.startswith("XSD: "):
        found = _LINE_SUFFIX.sub(lambda m: f" (line {int(m.group(1)) + lines})", found)
    row = None if issue.row is None else issue.row + rows
    return replace(issue, row=row, found=found)


# --------------------------------------------------------------------------- schemas


_BATCH_TAG = "CinReaderBatch"
"""Root element of a batch of children validated in one call (a name no XSD uses)."""


@cache
def _fragment_schema(xsd: Path) -> etree.XMLSchema:
    """The XSD with top-level ``Child`` and ``Header`` elements added, so that one Child (or
    the Header) can be validated on its own against the XSD's own types, and a top-level
    :data:`_BATCH_TAG` element holding any number of those ``Child`` elements, so that a
    batch of children can be validated in one call (valid only if every Child is)."""
    parser = safe_parser()
    tree = etree.parse(str(xsd), parser)
    root = tree.getroot()
    xs = "http://www.w3.org/2001/XMLSchema"
    globals_ = {e.get("name") for e in root.findall(f"{{{xs}}}element")}
    for name, type_ in (("Child", "childtype"), ("Header", "headertype")):
        if name not in globals_:
            etree.SubElement(root, f"{{{xs}}}element", name=name, type=type_)
    batch = etree.SubElement(root, f"{{{xs}}}element", name=_BATCH_TAG)
    batch_type = etree.SubElement(batch, f"{{{xs}}}complexType")
    sequence = etree.SubElement(batch_type, f"{{{xs}}}sequence")
    etree.SubElement(
        sequence, f"{{{xs}}}element", ref="Child", minOccurs="0", maxOccurs="unbounded"
    )
    return etree.XMLSchema(tree)


def _expectation(rest: str, xsd_name: str) -> str:
    """What an XSD message says was expected, in words."""
    if m := re.search(r"Expected is (?:one of )?\(\s*(.*?)\s*\)", rest):
        return f"element(s) {m.group(1)} here ({xsd_name})"
    if m := re.search(r"atomic type '([^']+)'", rest):
        return "a date yyyy-mm-dd" if m.group(1) == "xs:date" else f"a valid {m.group(1)}"
    if m := re.search(r"element of the set \{(.*)\}", rest, re.DOTALL):
        codes = m.group(1).split(", ")
        if len(codes) > 12:
            return f"one of the {len(codes)} codes {xsd_name} lists"
        return f"one of {m.group(1)} ({xsd_name})"
    if m := re.search(r"pattern '([^']*)'", rest):
        return f"a value matching the pattern {m.group(1)}"
    if "Character content" in rest:
        return "only child elements (no stray text)"
    return f"what {xsd_name} allows"


def _xsd_issue(
    source: str, position: int | None, error: etree._LogEntry, xsd_name: str, lines: int = 0
) -> Issue:
    """An Issue for one XSD error in one Child, without identifying values; ``lines`` is
    added to the error's line (the lines of the file before the piece parsed)."""
    m = _XSD_MESSAGE.match(error.message.strip())
    element, rest = (m.group(1), m.group(2)) if m else (None, error.message.strip())
    if element and element.startswith("{"):
        element = element.split("}", 1)[1]
    if element is None or element in SENSITIVE_ELEMENTS:
        # The one shared withholding rule: a value holding quotes is cut out whole.
        rest = withhold_values(rest)
    expected = _expectation(rest, xsd_name)
    rest = re.sub(r" \{[^}]{200,}\}", " {...}", rest)  # long code lists: see expected
    found = f"XSD: {rest.rstrip('.')} (line {error.line + lines})"
    return Issue(source, position, element, found, expected)


# --------------------------------------------------------------------------- XML


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag[0] == "{" else tag


def _strip_namespaces(element: etree._Element) -> None:
    """Rename a namespaced subtree to local names (the XSDs have no target namespace)."""
    for el in element.iter():
        if isinstance(el.tag, str) and el.tag[0] == "{":
            el.tag = _local(el.tag)


def _leaves(element: etree._Element | None) -> dict[str, str]:
    """Text of the element's leaf children by name (the first of a repeated name)."""
    out: dict[str, str] = {}
    if element is None:
        return out
    for c in element:
        tag = c.tag
        if isinstance(tag, str) and len(c) == 0 and tag not in out:
            out[tag] = c.text or ""
    return out


@dataclass
class _FileContext:
    """What a file's rows share (picklable: sent to the worker processes)."""

    source: str
    year: int = -1
    la: str = ""
    xsd: Path | None = None

    @property
    def schema(self) -> etree.XMLSchema | None:
        """The XSD the children are validated against (None: not validated)."""
        return None if self.xsd is None else _fragment_schema(self.xsd)

    @property
    def xsd_name(self) -> str:
        return "" if self.xsd is None else self.xsd.name


_SAFE = "translate({}, '&#9;&#10;&#13;', '   ')"
"""XPath turning tabs and line breaks into spaces (used only when a value holds them)."""


def _xsl_value(expr: str) -> str:
    """XSLT emitting a tab and the text of ``expr``."""
    return f'<xsl:text>&#9;</xsl:text><xsl:value-of select="{expr}"/>'


def _make_safe(xslt: str) -> str:
    """The stylesheet with every value passed through :data:`_SAFE`."""
    return re.sub(
        r'<xsl:value-of select="(?!\$)([^"]+)"/>',
        lambda m: f'<xsl:value-of select="{_SAFE.format(m.group(1))}"/>',
        xslt,
    )


def _xsl_joined(expr: str) -> str:
    """XSLT emitting a tab and the comma-joined texts of the nodes ``expr`` selects."""
    return (
        f'<xsl:text>&#9;</xsl:text><xsl:for-each select="{expr}">'
        '<xsl:if test="position() &gt; 1">,</xsl:if>'
        '<xsl:value-of select="."/></xsl:for-each>'
    )


def _xsl_fields(prefix: str, names: Iterable[str]) -> str:
    return "".join(_xsl_value(f"{prefix}{n}") for n in names)


WIDTH = 2 + len(CHILD_COLUMNS) - 1
"""Fields per line of the flattening stylesheet's output (code, LAchildID on a child's line,
then the widest table's data columns; shorter rows are padded)."""
_ID_EXPR = "string(ChildIdentifiers/LAchildID)"
_TABLE_DATA = {
    "C": ("children", CHILD_COLUMNS[1:]),
    "D": ("cin_details", DETAIL_COLUMNS[2:]),
    "A": ("assessments", ASSESSMENT_COLUMNS[2:]),
    "P": ("cin_plans", PLAN_COLUMNS[2:]),
    "S": ("section47", S47_COLUMNS[2:]),
    "K": ("cpp", CPP_COLUMNS[2:]),
}
"""Line code -> (table, data columns after LAchildID and _detail, in output order)."""


def _flatten_xslt() -> str:
    """The stylesheet turning a batch of Child elements into tab-separated lines.

    One line per row, :data:`WIDTH` fields: a table code (:data:`_TABLE_DATA`), the
    child's LAchildID (on its C line only; "" on the others), then the table's data
    columns in order (padded with empty fields). A child's C line comes first, then for
    each CINdetails its D line and then its A, P, S and K lines, so the child and
    CINdetails each line belongs to are counted from the codes (:func:`_extract`) rather
    than written on every line: each ``value-of`` costs about half a microsecond, and
    leaving out the child position, CINdetails number and LAchildID from every line makes
    the stylesheet about a quarter faster. Extraction in libxslt is still faster than
    walking the tree from Python (element proxies), and the fixed width lets Arrow's CSV
    reader parse the whole batch at once. The first of a repeated element is used (the
    XSD reports the repetition).
    """
    ident = "ChildIdentifiers/"
    sex = (
        "<xsl:text>&#9;</xsl:text><xsl:choose>"
        f'<xsl:when test="{ident}GenderCurrent"><xsl:value-of select="{ident}GenderCurrent"/>'
        "&#9;GenderCurrent</xsl:when>"
        f'<xsl:when test="{ident}Sex"><xsl:value-of select="{ident}Sex"/>&#9;Sex</xsl:when>'
        "<xsl:otherwise><xsl:text>&#9;</xsl:text></xsl:otherwise></xsl:choose>"
    )

    def line(code: str, body: str, n_data: int) -> str:
        pad = "&#9;" * (WIDTH - 2 - n_data)
        child_id = f'<xsl:value-of select="{_ID_EXPR}"/>' if code == "C" else ""
        return f"<xsl:text>{code}&#9;</xsl:text>{child_id}{body}<xsl:text>{pad}&#10;</xsl:text>"

    def block(code: str, select: str, body: str) -> str:
        n_data = len(_TABLE_DATA[code][1])
        return f'<xsl:for-each select="{select}">{line(code, body, n_data)}</xsl:for-each>'

    child = line(
        "C",
        _xsl_fields(ident, CHILD_COLUMNS[1:6])
        + sex
        + _xsl_value(f"{ident}PersonDeathDate")
        + _xsl_value("ChildCharacteristics/Ethnicity")
        + _xsl_joined("ChildCharacteristics/Disabilities/Disability"),
        len(_TABLE_DATA["C"][1]),
    )
    detail = line("D", _xsl_fields("", DETAIL_COLUMNS[2:]), len(_TABLE_DATA["D"][1]))
    blocks = (
        block("A", "Assessments", _xsl_fields("", ASSESSMENT_COLUMNS[2:5])
              + _xsl_joined("FactorsIdentifiedAtAssessment/AssessmentFactors"))
        + block("P", "CINPlanDates", _xsl_fields("", PLAN_COLUMNS[2:]))
        + block("S", "Section47", _xsl_fields("", S47_COLUMNS[2:]))
        + block("K", "ChildProtectionPlans", _xsl_fields("", CPP_COLUMNS[2:7])
                + _xsl_joined("Reviews/CPPreviewDate"))
    )  # fmt: skip
    return (
        '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
        '<xsl:output method="text" encoding="UTF-8"/>'
        '<xsl:template match="/*"><xsl:for-each select="Child">'
        f'{child}<xsl:for-each select="CINdetails">'
        f"{detail}{blocks}</xsl:for-each></xsl:for-each></xsl:template></xsl:stylesheet>"
    )


@cache
def _flatten(safe: bool = False) -> etree.XSLT:
    """The compiled :func:`_flatten_xslt` (no file, network or extension access); ``safe``
    turns tabs and line breaks inside values into spaces (slower: a fallback)."""
    access = etree.XSLTAccessControl.DENY_ALL
    source = _flatten_xslt()
    if safe:
        source = _make_safe(source)
    return etree.XSLT(etree.XML(source), access_control=access)


_CSV_NAMES = [f"f{i}" for i in range(WIDTH)]
_CSV_READ = pa_csv.ReadOptions(column_names=_CSV_NAMES, use_threads=False)
_CSV_PARSE = pa_csv.ParseOptions(
    delimiter="\t", quote_char=False, escape_char=False, newlines_in_values=False
)
_CSV_CONVERT = pa_csv.ConvertOptions(
    column_types={name: pa.large_string() for name in _CSV_NAMES},
    strings_can_be_null=False,
    quoted_strings_can_be_null=False,
)


def _flat_table(root: etree._Element, children: int) -> pa.Table:
    """The lines of the ``children`` Child elements under ``root`` as an Arrow table of
    WIDTH string columns; redone with the safe stylesheet if a value held a tab or line
    break (a line of the wrong width, or a C line too many)."""
    for safe in (False, True):
        data = bytes(_flatten(safe)(root))
        if not data:
            break
        try:
            flat = pa_csv.read_csv(
                io.BytesIO(data),
                read_options=_CSV_READ,
                parse_options=_CSV_PARSE,
                convert_options=_CSV_CONVERT,
            ).combine_chunks()
        except pa.ArrowInvalid:
            if safe:
                raise
            continue
        if pc.sum(pc.equal(flat.column("f0"), "C")).as_py() == children:
            return flat
        if safe:  # not expected: the safe lines cannot be split by a value
            raise pa.ArrowInvalid("the stylesheet's lines do not match the Child elements")
    return pa.table({name: pa.array([], pa.large_string()) for name in _CSV_NAMES})


def _validate(
    root: etree._Element,
    children: Sequence[etree._Element],
    first: int,
    ctx: _FileContext,
    capped: _Capped,
    lines: int = 0,
) -> None:
    """Validate ``children`` (all of ``root``'s Child elements, ``first`` being the file
    position of the first) and add their XSD issues; ``lines``: see :func:`_xsd_issue`.

    ``root`` is first validated whole as a :data:`_BATCH_TAG` (renamed to it): one call
    instead of one per child, about a third faster. Only if that fails is each Child
    validated on its own, which gives the same issues per child as before (a batch with
    anything besides Child elements fails, and so takes this way too).
    """
    schema = ctx.schema
    if schema is None or not children:
        return
    if not root.attrib:  # attributes (xsi:type...) could change what the batch means
        root.tag = _BATCH_TAG
        if schema.validate(root):
            return
    for position, child in enumerate(children, first):
        if not schema.validate(child):
            capped.invalid += 1
            for error in schema.error_log:
                issue = _xsd_issue(ctx.source, position, error, ctx.xsd_name, lines)
                capped.add(issue, issue.expected)


def _extract(
    root: etree._Element,
    children: int,
    first: int,
    ctx: _FileContext,
    tables: _Tables,
    capped: _Capped,
) -> None:
    """Add the rows of ``root``'s ``children`` Child elements to ``tables`` (``first``: the
    file position of the first). A Child without LAchildID gets an Issue, and its rows
    are added with a blank LAchildID: read, so that the cleaner quarantines and counts
    them (skipping them here would lose them from the accounting)."""
    flat = _flat_table(root, children)
    if flat.num_rows == 0:
        return
    code = flat.column("f0")
    # Each line's child (1-based in the batch) and CINdetails (1-based in the child), from
    # the running counts of C and D lines (see _flatten_xslt for the order of lines).
    is_child = pc.equal(code, "C")
    child = pc.cumulative_sum(pc.cast(is_child, pa.int64()))
    index = pc.subtract(child, 1)
    details = pc.cumulative_sum(pc.cast(pc.equal(code, "D"), pa.int64()))
    detail = pc.subtract(details, pc.take(details.filter(is_child), index))
    ident = pc.take(flat.column("f1").filter(is_child), index)
    has_id = pc.not_equal(pc.utf8_trim_whitespace(ident), "")
    position = pc.add(child, first - 1)
    no_id = pc.and_(is_child, pc.invert(has_id))
    for pos in position.filter(no_id).to_pylist():
        found = "Child without LAchildID (blank or absent): its records quarantined"
        capped.add(Issue(ctx.source, pos, "LAchildID", found, "a child id"), "no LAchildID")
    for letter, (table, data_columns) in _TABLE_DATA.items():
        mask = pc.equal(code, letter)
        rows = flat.filter(mask)
        n = rows.num_rows
        if n == 0:
            continue
        arrays = {"LAchildID": ident.filter(mask)}
        if table != "children":
            arrays["_detail"] = detail.filter(mask)
        for i, name in enumerate(data_columns):
            arrays[name] = rows.column(f"f{2 + i}")
        arrays["_source"] = pa.array([ctx.source] * n, pa.large_string())
        arrays["_child"] = position.filter(mask)
        arrays["_year"] = pa.array([ctx.year] * n, pa.int64())
        arrays["_la"] = pa.array([ctx.la] * n, pa.large_string())
        columns = [*TABLES[table], *PROVENANCE_COLUMNS]
        tables.chunks[table].append(pa.table([arrays[c] for c in columns], names=columns))


def _flush_batch(
    batch: list[etree._Element], first: int, ctx: _FileContext, tables: _Tables, capped: _Capped
) -> None:
    """Validate and extract a batch of streamed Child elements, then free them.

    ``first`` is the file position of the batch's first Child.
    """
    if not batch:
        return
    holder = etree.Element(_BATCH_TAG)
    holder.extend(batch)  # moves them out of the parse tree, so they are freed below
    _validate(holder, batch, first, ctx, capped)
    n = len(batch)
    batch.clear()
    _extract(holder, n, first, ctx, tables, capped)


def census_year(reference_date: str) -> int | None:
    """Year ending 31 March containing an ISO date, or None if it is not one."""
    m = _ISO_DATE.match(reference_date)
    if not m:
        return None
    year, month, day = (int(x) for x in m.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return year + 1 if month >= 4 else year


def _read_header(header: etree._Element, ctx: _FileContext, issues: list[Issue]) -> None:
    """Census year and LA from the Header; warnings for disagreements."""
    if header.tag[0] == "{":
        _strip_namespaces(header)
    details = _leaves(header.find("CollectionDetails"))
    ctx.la = _leaves(header.find("Source")).get("LEA", "").strip()
    ref = details.get("ReferenceDate", "").strip()
    stated = details.get("Year", "").strip()
    year = census_year(ref)
    src = ctx.source
    if year is None:
        found = f"Header ReferenceDate {ref!r}" if ref else "no Header ReferenceDate"
        issues.append(Issue(src, None, "ReferenceDate", found, "a date yyyy-mm-dd (31 March)"))
        return
    ctx.year = year
    if not ref.endswith("-03-31"):
        found = f"ReferenceDate {ref} is not 31 March; census year taken as {year}"
        issues.append(Issue(src, None, "ReferenceDate", found, "31 March", "warning"))
    if stated != str(year):
        found = f"Year {stated or '(absent)'} but ReferenceDate {ref} (census year {year})"
        expected = f"Year {year}; the ReferenceDate's year ending 31 March is used"
        issues.append(Issue(src, None, "Year", found, expected, "warning"))


def _set_schema(ctx: _FileContext, path: Path, issues: list[Issue]) -> None:
    """Pick the XSD for the file's year (from the header, else the file name)."""
    if ctx.year < 0:
        years = _NAME_YEAR.findall(path.name)
        if len(set(years)) == 1:
            ctx.year = int(years[0])
            found = f"census year {ctx.year} taken from the file name"
            expected = "a Header ReferenceDate"
            issues.append(Issue(ctx.source, None, "ReferenceDate", found, expected, "warning"))
        else:
            found = "no census year (no usable ReferenceDate, no year in the file name)"
            expected = "a Header ReferenceDate; children read with year -1 and not validated"
            issues.append(Issue(ctx.source, None, "ReferenceDate", found, expected))
            return
    ctx.xsd = cin_xsd_for_year(ctx.year)


def _has_doctype_prologue(path: Path, encoding: str | None) -> bool:
    """Whether a DOCTYPE is in the file's first :data:`PROLOGUE_BYTES` (``encoding``: a
    UTF-16/32 encoding to decode them from, None for an ASCII-based file)."""
    with open_input(path) as handle:
        head = handle.read(PROLOGUE_BYTES)
    if encoding is not None:
        head = head.decode(encoding, "replace").encode("utf-8")
    return bool(DOCTYPE.search(head))


def _refused(source: str) -> Issue:
    return Issue(
        source, None, None, "XML with a DOCTYPE declaration (refused: it can define entities)",
        "CIN census XML without a DOCTYPE",
    )  # fmt: skip


def _on_header(header: etree._Element, ctx: _FileContext, path: Path, issues: list[Issue]) -> None:
    """Read and validate a Header (the census year and LA for the children that follow)."""
    _read_header(header, ctx, issues)
    _set_schema(ctx, path, issues)
    schema = ctx.schema
    if schema is not None and not schema.validate(header):
        for error in schema.error_log:
            issues.append(_xsd_issue(ctx.source, None, error, ctx.xsd_name))


def _read_xml(path: Path, source: str, tables: _Tables, account: CinFileAccount) -> list[Issue]:
    """Read one CIN XML file into ``tables``; return its issues and fill in ``account``.

    A file whose layout allows it (:func:`_find_layout`) is cut into pieces (read by
    several processes if it is big); any other file, or one whose pieces do not all parse
    as expected (malformed XML, odd nesting), is streamed: same tables and issues, and the
    exact error and the children before it for a malformed file. A UTF-16 or UTF-32 file
    (:func:`_wide_encoding`) is streamed: libxml2 decodes it, cutting bytes would not.
    """
    account.kind = "XML"
    encoding = _wide_encoding(path)
    if encoding is not None and encoding.startswith("utf-32"):
        found = "XML in UTF-32 (libxml2 cannot read it)"
        return [Issue(source, None, None, found, "CIN census XML in UTF-8 or UTF-16")]
    if _has_doctype_prologue(path, encoding):
        return [_refused(source)]
    layout = _find_layout(path) if encoding is None else None
    if layout is not None:
        mark = tables.mark()
        issues = _read_pieces(path, source, layout, tables, account)
        if issues is not None:
            return issues
        tables.rollback(mark)
    return _read_streaming(path, source, tables, account, encoding)


def _account_context(
    account: CinFileAccount, ctx: _FileContext, capped: _Capped, read: int
) -> None:
    """Fill in what a file's context says (year, LA, XSD) and how many children were read
    and failed the XSD."""
    account.read = account.found = read
    account.years = [ctx.year] if ctx.year > 0 else []
    account.la = ctx.la
    account.xsd = ctx.xsd_name
    account.xsd_invalid = capped.invalid


_QUOTED_PART = re.compile(r"'([^']*)'")


def _syntax_error(error: etree.XMLSyntaxError, path: Path) -> tuple[int, str]:
    """(line, message) of the error that broke the XML at ``path``. iterparse can raise
    a bare "no element found" at line 0 (for an undefined entity, say), the real error
    being in the log; the log also holds earlier parses' messages, so only this file's
    last fatal entry is taken."""
    if error.lineno and error.msg != "no element found":
        return error.lineno, str(error.msg)
    name = os.fsdecode(os.fsencode(path))
    fatal = [e for e in error.error_log if e.level_name == "FATAL" and e.filename == name]
    if fatal:
        return fatal[-1].line, fatal[-1].message
    return error.lineno or 0, str(error.msg or error)


def _syntax_message(message: str) -> str:
    """libxml2's message without the input it quotes (a name, an entity, raw bytes: they
    may be part of a child's identifier). A quoted part that is only punctuation (``'>'``)
    is syntax, kept; any other goes through :func:`withhold_values`."""
    message = _INPUT_BYTES.sub(f"bytes {WITHHELD}", message.strip())
    if all(not any(c.isalnum() for c in q) for q in _QUOTED_PART.findall(message)):
        return message
    return withhold_values(message)


def _count_children(path: Path, encoding: str | None) -> int:
    """``<Child`` start tags in the file's bytes (decoded from ``encoding`` first if given):
    the children a file held, however far its XML could be parsed."""
    if encoding is not None:
        return len(_CHILD_START.findall(read_input(path).decode(encoding, "replace").encode()))
    with open_input(path) as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return 0
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return sum(1 for _ in _CHILD_START.finditer(data))


def _cut_short(
    path: Path,
    source: str,
    error: etree.XMLSyntaxError,
    position: int,
    account: CinFileAccount,
    encoding: str | None,
) -> Issue:
    """The Issue for XML that breaks, and the file's account: children found in its
    bytes, read (the ``position`` before the break) and not read."""
    line, message = _syntax_error(error, path)
    message = _syntax_message(message)
    where = f"line {line}" + (f" (after Child {position})" if position else "")
    found = f"malformed XML at line {line}: {message}"
    account.found = max(_count_children(path, encoding), position)
    account.unread = account.found - position
    if account.found:
        # A census that breaks after its first Child is incomplete, however many
        # children follow the break: the run must not carry on as if it were whole.
        account.cut_short = True
        found += (
            f" ({position} Child elements before it read and kept, {account.unread} from "
            "there on not read: the census is cut short)"
        )
        account.reason = f"cut short at {where}: {message}"
    return Issue(source, None, None, found, "well-formed XML")


def _read_streaming(
    path: Path, source: str, tables: _Tables, account: CinFileAccount, encoding: str | None
) -> list[Issue]:
    """Stream one CIN XML file into ``tables`` with iterparse; return its issues."""
    issues: list[Issue] = []
    ctx = _FileContext(source)
    capped = _Capped(source)
    position = 0
    # By name, not through a handle (checked by open_input before): from a Python file
    # object libxml2 loses the line and the message of some errors ("line 0: no element
    # found" for an undefined entity).
    context = etree.iterparse(
        os.fsencode(path),  # bytes: a name that is not valid UTF-8 still opens
        events=("end",),
        tag=("{*}Header", "{*}Child"),
        remove_comments=True,
        remove_pis=True,
        **SAFE_OPTIONS,
    )
    checked = False
    batch: list[etree._Element] = []
    try:
        for _event, elem in context:
            if not checked:
                # The root and any DOCTYPE are known by the first event.
                tree = elem.getroottree()
                if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
                    return [_refused(source)]
                root = tree.getroot()
                if _local(root.tag) != "Message":
                    return [_wrong_root(source, root)]
                checked = True
            if _local(elem.tag) == "Header":
                _on_header(elem, ctx, path, issues)
                continue
            if position == 0 and ctx.schema is None and ctx.year < 0:
                # No Header before the first Child.
                _set_schema(ctx, path, issues)
            position += 1
            if elem.tag[0] == "{":
                _strip_namespaces(elem)
            batch.append(elem)
            if len(batch) >= BATCH_CHILDREN:
                # Moving the batch out of the parse tree frees it once extracted, so
                # memory holds at most one batch of children.
                parent = elem.getparent()
                _flush_batch(batch, position - BATCH_CHILDREN + 1, ctx, tables, capped)
                if parent is not None:
                    del parent[:]  # anything else that accumulated (not Child: ignored)
    except etree.XMLSyntaxError as error:
        _flush_batch(batch, position - len(batch) + 1, ctx, tables, capped)
        _account_context(account, ctx, capped, position)
        issues.append(_cut_short(path, source, error, position, account, encoding))
        return [*issues, *capped.issues()]
    _flush_batch(batch, position - len(batch) + 1, ctx, tables, capped)
    root = context.root
    if root is not None and not checked:
        tree = root.getroottree()
        if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
            return [_refused(source)]
        if _local(root.tag) != "Message":
            return [_wrong_root(source, root)]
    _account_context(account, ctx, capped, position)
    if position == 0:
        issues.append(Issue(source, None, "Child", "no Child elements", "at least one Child"))
    return [*issues, *capped.issues()]


def _wrong_root(source: str, root: etree._Element) -> Issue:
    found = f"XML with root element <{_local(root.tag)}> (line {root.sourceline})"
    return Issue(source, None, None, found, "CIN census XML: root element <Message>")


# --------------------------------------------------------------------------- pieces

_CHILD_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Child[\s/>]")
_CHILD_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?Child\s*>")
_END_TAGS = re.compile(rb"\s*(?:</[^\s<>/]+\s*>\s*)*")
_XML_DECLARATION = re.compile(rb"<\?xml\s[^>]*?\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")
_ASCII_BASED = re.compile(
    rb"(?i)utf-?8|(?:us-)?ascii|iso[-_]?8859-\d+|latin-?1|(?:windows|cp)-?125\d"
)
"""Encodings in which a ``<`` byte is always the character ``<`` (so cutting bytes at
``<Child`` cuts characters)."""
PREFIX_MAX_BYTES = 1 << 20
"""The first Child must start within this many bytes for a file to be cut into pieces."""
SUFFIX_MAX_BYTES = 1 << 16
"""The last Child must end within this many bytes of the end of the file."""


@dataclass(frozen=True)
class _Layout:
    """How a file is cut: the bytes before the first Child (``prefix``: declaration, root,
    Header...), after the last (``suffix``: end tags), and the piece boundaries (file
    offsets of Child start tags, then the end of the last Child)."""

    prefix: bytes
    suffix: bytes
    bounds: tuple[int, ...]


def _simple_prefix(prefix: bytes) -> bool:
    """Whether every ``<`` in the prefix starts a tag (no comment, CDATA, DOCTYPE or
    processing instruction besides the XML declaration), in an ASCII-based encoding."""
    text = prefix.removeprefix(codecs.BOM_UTF8)
    declaration = _XML_DECLARATION.match(text)
    if declaration:
        encoding = _ENCODING.search(declaration.group())
        if encoding and not _ASCII_BASED.fullmatch(encoding.group(1)):
            return False
        text = text[declaration.end() :]
    return b"<!" not in text and b"<?" not in text


def _find_layout(path: Path) -> _Layout | None:
    """Where the file can be cut into pieces that each parse as a document of their own
    (``prefix + piece + suffix``), or None (the file is then streamed).

    Pieces are about :data:`PIECE_BYTES` long and start at a ``<Child`` start tag (any
    namespace prefix). The prefix must be simple (:func:`_simple_prefix`), so it holds no
    Child, and the suffix only end tags. A cut that fell inside a comment, CDATA section
    or processing instruction leaves it unterminated in its piece (the suffix cannot end
    it), so that piece fails to parse and the file is streamed instead: a wrong cut can
    cost time, never change a result. Boundaries depend only on the file, not on the
    number of processes, so every way of reading gives the same batches.
    """
    with open_input(path) as handle:
        if os.fstat(handle.fileno()).st_size < 2:
            return None
        return _layout_of(handle)


def _layout_of(handle: io.BufferedReader) -> _Layout | None:
    """:func:`_find_layout` on an open file (mapped, not read into memory)."""
    with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        first = _CHILD_START.search(data, 0, PREFIX_MAX_BYTES)
        if first is None or not _simple_prefix(data[: first.start()]):
            return None
        tail = max(first.end(), len(data) - SUFFIX_MAX_BYTES)
        ends = list(_CHILD_END.finditer(data, tail))
        if not ends or not _END_TAGS.fullmatch(data, ends[-1].end()):
            return None
        last = ends[-1]
        bounds = [first.start()]
        while m := _CHILD_START.search(data, bounds[-1] + max(1, PIECE_BYTES), last.end()):
            bounds.append(m.start())
        bounds.append(last.end())
        return _Layout(data[: first.start()], data[last.end() :], tuple(bounds))


def _piece_parser() -> etree.XMLParser:
    return safe_parser(remove_comments=True, remove_pis=True)


def _prefix_headers(
    path: Path, layout: _Layout, ctx: _FileContext, issues: list[Issue]
) -> int | None:
    """Read the Header(s) before the first Child, as streaming would, from the document
    ``prefix + suffix``; return how many there are, or None if the file should be streamed
    (the prefix and suffix do not make a document with a <Message> root and no Child)."""
    try:
        root = etree.fromstring(layout.prefix + layout.suffix, _piece_parser())
    except etree.XMLSyntaxError:
        return None
    if _local(root.tag) != "Message":
        return None  # streaming reports the wrong root
    headers = 0
    for _event, elem in etree.iterwalk(root, events=("end",), tag=("{*}Header", "{*}Child")):
        if _local(elem.tag) != "Header":
            return None
        _on_header(elem, ctx, path, issues)
        headers += 1
    if ctx.schema is None and ctx.year < 0:
        _set_schema(ctx, path, issues)  # as streaming does at the first Child
    return headers


def _piece_children(root: etree._Element, headers: int) -> list[etree._Element] | None:
    """The piece's Child elements, or None unless they are all siblings and the only
    Header elements are the prefix's ``headers`` (else streaming, which reads Child and
    Header elements at any depth, could read the file differently)."""
    children = []
    seen_headers = 0
    for elem in root.iter("{*}Header", "{*}Child"):
        if _local(elem.tag) == "Header":
            seen_headers += 1
        else:
            children.append(elem)
    if seen_headers != headers or not children:
        return None
    parent = children[0].getparent()
    if any(child.getparent() is not parent for child in children):
        return None
    return children


def _read_range(
    path: Path,
    ctx: _FileContext,
    layout: _Layout,
    headers: int,
    span: tuple[int, int],
    tables: _Tables,
    capped: _Capped,
    poll: Callable[[int, int], int] | None = None,
) -> tuple[int, int] | None:
    """Read pieces ``span[0]`` to ``span[1] - 1`` into ``tables`` and ``capped``, child
    positions counted from 1 and XSD lines as if the range followed the prefix; return
    (children read, line breaks in the range), or None if the file should be streamed.

    ``poll(next piece, end)``, called after each piece, returns the range's new end (the
    pieces after it having been handed to a worker process).
    """
    parser = _piece_parser()
    bounds = layout.bounds
    position = lines = 0
    i, end = span
    with open_input(path) as handle:
        handle.seek(bounds[i])
        while i < end:
            piece = handle.read(bounds[i + 1] - bounds[i])
            try:
                root = etree.fromstring(layout.prefix + piece + layout.suffix, parser)
            except etree.XMLSyntaxError:
                return None
            children = _piece_children(root, headers)
            if children is None:
                return None
            for child in children:
                if child.tag[0] == "{":
                    _strip_namespaces(child)
            # Validated and extracted where they are: moving them into a holder, as
            # streaming does, would cost about a tenth of the time.
            container = children[0].getparent()
            _validate(container, children, position + 1, ctx, capped, lines)
            _extract(container, len(children), position + 1, ctx, tables, capped)
            position += len(children)
            lines += piece.count(b"\n")
            i += 1
            if poll is not None:
                end = poll(i, end)
    return position, lines


@dataclass
class _RangeResult:
    """What a worker process read: tables with child positions counted from 1 in the
    range, issues with lines counted as if the range followed the prefix."""

    tables: dict[str, pa.Table]
    capped: _Capped
    children: int
    lines: int


def _range_worker(
    path: Path, ctx: _FileContext, layout: _Layout, headers: int, span: tuple[int, int],
    limit: int,
) -> _RangeResult | None:  # fmt: skip
    """Read one range of pieces on its own (in a worker process, or here as a fallback)."""
    tables = _Tables()
    capped = _Capped(ctx.source, limit)
    stats = _read_range(path, ctx, layout, headers, span, tables, capped)
    if stats is None:
        return None
    frames = {name: pa.concat_tables(chunks) for name, chunks in tables.chunks.items() if chunks}
    return _RangeResult(frames, capped, *stats)


def _workers(size: int) -> int:
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


def _back_half(bounds: Sequence[int], start: int, end: int) -> int | None:
    """The piece from which pieces ``start`` to ``end - 1`` hold about half their bytes, or
    None if there are too few pieces to share."""
    if end - start < 2:
        return None
    middle = (bounds[start] + bounds[end]) // 2
    return min(max(bisect.bisect_left(bounds, middle, start, end), start + 1), end - 1)


_READY = b"R"
_WORKER_SCRIPT = (
    "import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
    "from model.ingestcin.read import _serve_range; _serve_range()"
)
"""What a worker process runs: with this process's import path (so it imports the same
code), :func:`_serve_range`. Not multiprocessing's spawn, which would also import the
caller's main script again in each worker (running it all over again unless it has an
``if __name__ == "__main__":`` guard)."""


def _serve_range() -> None:
    """In a worker process, once imports are done: say so (:data:`_READY` on stdout), read
    the arguments of :func:`_range_worker` (pickled, on stdin) and write its result, pickled,
    to stdout. Stdin closed without arguments: not needed after all."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed must not mix with the result
    out.write(_READY)
    out.flush()
    try:
        args = pickle.load(sys.stdin.buffer)
    except EOFError:
        return
    pickle.dump(_range_worker(*args), out, protocol=5)  # 5: Arrow buffers without a copy
    out.flush()


class _WorkerFailed(Exception):
    """A worker process could not read its range (its range is read in this one)."""


class _Worker:
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
    def start(cls) -> _Worker | None:
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
                self.waiting = os.read(self.stdout.fileno(), 1) == _READY  # b"": it died
            except OSError:
                pass
            self.failed = not self.waiting
        return self.waiting

    def assign(self, args: tuple, span: tuple[int, int]) -> bool:
        """Send the worker its range; ``args``: the arguments of :func:`_range_worker` but
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

    def result(self) -> _RangeResult | None:
        """The worker's result: None if the file should be streamed; raises _WorkerFailed."""
        try:
            result = pickle.load(self.stdout)
        except Exception as error:  # a worker that died, or wrote something else
            raise _WorkerFailed from error
        if self.process.wait() != 0 or not (result is None or isinstance(result, _RangeResult)):
            raise _WorkerFailed
        return result

    def stop(self) -> None:
        """End the worker if it still runs (its result is no longer wanted) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.stdin, self.stdout):
            stream.close()


def _read_pieces(
    path: Path, source: str, layout: _Layout, tables: _Tables, account: CinFileAccount
) -> list[Issue] | None:
    """Read a file piece by piece into ``tables``; return its issues, or None if the file
    should be streamed instead (the caller then drops what was added to ``tables``).

    For a big file, worker processes (fresh interpreters: no state copied from this one)
    are started, and this one starts reading. Each worker that is ready takes the back
    half of the pieces this one has still to read; their tables follow this one's, in
    order, with child positions, issue rows and XSD lines moved on by the ranges before.
    A worker that fails has its range read here. ``account``: see :func:`_read_xml`.
    """
    ctx = _FileContext(source)
    issues: list[Issue] = []
    headers = _prefix_headers(path, layout, ctx, issues)
    if headers is None:
        return None
    capped = _Capped(source)
    n_workers = _workers(path.stat().st_size) - 1
    workers = [w for w in (_Worker.start() for _ in range(n_workers)) if w is not None]
    args = (path, ctx, layout, headers, capped.limit)

    def poll(start: int, end: int) -> int:
        for worker in workers:
            if worker.ready():
                split = _back_half(layout.bounds, start, end)
                if split is not None and worker.assign(args, (split, end)):
                    end = split
        return end

    try:
        for worker in workers:
            worker.ready(WORKER_WAIT_SECONDS)  # 0: only look (see poll)
        span = (0, poll(0, len(layout.bounds) - 1))
        stats = _read_range(path, ctx, layout, headers, span, tables, capped, poll)
        if stats is None:
            return None
        children, lines = stats
        for worker in sorted((w for w in workers if w.span), key=lambda w: w.span or ()):
            try:
                part = worker.result()
            except _WorkerFailed:
                assert worker.span is not None
                part = _range_worker(path, ctx, layout, headers, worker.span, capped.limit)
            if part is None:
                return None
            for name, table in part.tables.items():
                index = table.schema.get_field_index("_child")
                moved = pc.add(table.column("_child"), children)
                tables.chunks[name].append(table.set_column(index, "_child", moved))
            capped.merge(part.capped, children, lines)
            children += part.children
            lines += part.lines
    finally:
        for worker in workers:
            worker.stop()
    _account_context(account, ctx, capped, children)
    return [*issues, *capped.issues()]


# --------------------------------------------------------------------------- flat CSV

FLAT_REQUIRED = ("LAchildID", "Date", "Type", "CINreferralDate")
"""Columns without which a flat file cannot be used at all."""
FLAT_BIRTH = ("PersonBirthDate", "ExpectedPersonBirthDate")
"""At least one of these is needed (every child needs a birth date for its age band)."""
FLAT_COLUMNS = (
    "ReferralSource", "PrimaryNeedCode", "CINclosureDate", "ReasonForClosure",
    "DateOfInitialCPC", "ReferralNFA", "CINPlanStartDate", "CINPlanEndDate",
    "S47ActualStartDate", "InitialCPCtarget", "ICPCnotRequired", "AssessmentActualStartDate",
    "AssessmentInternalReviewDate", "AssessmentAuthorisationDate", "Factors", "CPPstartDate",
    "CPPendDate", "InitialCategoryOfAbuse", "LatestCategoryOfAbuse", "NumberOfPreviousCPP",
    "UPN", "FormerUPN", "UPNunknown", "PersonDeathDate", "Ethnicity", "Disabilities",
)  # fmt: skip
"""The rest of the liia-tools layout (data-formats.md §2.3): read as blank when absent,
with a warning naming them."""
FLAT_EXPECTED = "CIN census XML or liia-tools flat CSV"


def _flat_columns(source: str, columns: Sequence[str]) -> list[Issue] | None:
    """Issues about the flat file's columns: an error (the file is not used) when a
    required one is missing, a warning naming the optional ones missing; None if fine.
    Only our own column names are named: a file's first line may be data."""
    missing = [c for c in FLAT_REQUIRED if c not in columns]
    if not any(c in columns for c in FLAT_BIRTH):
        missing.append(" or ".join(FLAT_BIRTH))
    if missing:
        found = f"a file without column(s) {', '.join(missing)} (file not used)"
        return [Issue(source, None, None, found, FLAT_EXPECTED)]
    absent = [c for c in FLAT_COLUMNS if c not in columns]
    if "GenderCurrent" not in columns and "Sex" not in columns:
        absent.append("GenderCurrent or Sex")
    if not absent:
        return None
    found = f"no column(s) {', '.join(absent)}: read as blank"
    return [Issue(source, None, None, found, "every column of the liia-tools layout", "warning")]


def _read_flat(path: Path, source: str, tables: _Tables, account: CinFileAccount) -> list[Issue]:
    """Rebuild the tables from a liia-tools flat CSV (one row per dated event).

    CINdetails are the distinct (LAchildID, CINreferralDate) pairs, numbered within the
    child in file order; assessments, CIN plans, S47s and CPPs are the distinct start dates
    within a CINdetails (rows of any Type carry them); ``CPPreviewDate`` joins the dates of
    the ``CPPreviewDate`` rows. Each ``YEAR`` is a census of its own (the cleaner merges
    years as it merges files): ``_child`` is the 1-based order of first appearance of the
    (child, year) in the file, ``_year`` the ``YEAR`` column when present, else the year in
    the file name; ``_la`` the ``LA`` column. The flat layout has one ``DateOfInitialCPC`` column,
    used for both CINdetails and Section47. No XSD validation (this is not XML).

    ``account`` counts the file's data rows: rows without LAchildID are not read (they
    cannot be given to a child) and are counted as unread.
    """
    account.kind, account.unit = "flat CSV", "rows"
    raw = read_input(path)
    try:
        # UTF-16/32 by its byte-order mark (Excel's "Unicode text"), else UTF-8.
        text = raw.decode(_wide_encoding_of(raw) or "utf-8-sig").removeprefix("\ufeff")
    except UnicodeDecodeError:
        found = "a file that is neither XML nor UTF-8 text"
        return [Issue(source, None, None, found, FLAT_EXPECTED)]
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        found = f"not a CSV table ({str(error).splitlines()[0]})"
        return [Issue(source, None, None, found, FLAT_EXPECTED)]
    frame.columns = [str(c).strip() for c in frame.columns]
    problems = _flat_columns(source, list(frame.columns))
    if problems and problems[0].severity == "error":
        return problems
    issues: list[Issue] = problems or []
    if "YEAR" in frame.columns:
        years = pd.to_numeric(frame["YEAR"], errors="coerce").fillna(-1).astype("int64")
    else:
        name_years = set(_NAME_YEAR.findall(path.name))
        year = int(name_years.pop()) if len(name_years) == 1 else -1
        if year < 0:
            found = "no YEAR column and no year in the file name"
            issues.append(Issue(source, None, "YEAR", found, "a census year; -1 used"))
        years = pd.Series(year, index=frame.index, dtype="int64")
    frame = frame.assign(_year=years.to_numpy(), _la=frame.get("LA", ""))
    col = {c: frame[c] if c in frame.columns else pd.Series("", index=frame.index) for c in (
        *DETAIL_COLUMNS, *ASSESSMENT_COLUMNS, *PLAN_COLUMNS, *S47_COLUMNS, *CPP_COLUMNS,
        *CHILD_COLUMNS, "Factors", "GenderCurrent", "Sex")}  # fmt: skip
    blank_id = frame["LAchildID"].str.strip() == ""
    for line in (frame.index[blank_id] + 2)[:MAX_ISSUES_PER_KIND]:
        issues.append(Issue(source, int(line), "LAchildID", "row without LAchildID: not used",
                            "a child id"))  # fmt: skip
    keep = ~blank_id
    account.found, account.unread = len(frame), int(blank_id.sum())
    account.read = account.found - account.unread
    account.years = sorted(int(y) for y in years[keep].unique() if y > 0)
    account.la = ",".join(sorted(set(frame.loc[keep, "LA"]))) if "LA" in frame.columns else ""
    if account.unread:
        account.reason = f"{account.unread} rows without LAchildID not read"
    # Each YEAR of a stacked file is a census of its own: the cleaner merges them as it
    # merges separate files, so a record's later state (a closure, an authorisation) wins.
    child_year = zip(frame.loc[keep, "LAchildID"], frame.loc[keep, "_year"], strict=True)
    child_order = {key: i for i, key in enumerate(dict.fromkeys(child_year), 1)}
    detail_no: dict[tuple[str, int, str], int] = {}
    per_child: Counter[tuple[str, int]] = Counter()
    seen: set[tuple] = set()
    reviews: dict[tuple, list[str]] = {}
    cpp_rows: dict[tuple, list] = {}
    # Plain dicts per row: pandas .at per cell would be ~100x slower.
    values = pd.DataFrame(col)[keep.to_numpy()].to_dict("records")
    extra = frame.loc[keep, ["LAchildID", "Type", "Date", "_year", "_la"]].to_dict("records")
    for v, r in zip(values, extra, strict=True):
        cid, year = r["LAchildID"], int(r["_year"])
        prov = (source, child_order[cid, year], year, str(r["_la"]))
        if (cid, year) not in seen:
            seen.add((cid, year))
            sex_el = "GenderCurrent" if v["GenderCurrent"] else ("Sex" if v["Sex"] else "")
            tables.rows["children"].append(
                (cid, v["UPN"], v["FormerUPN"], v["UPNunknown"], v["PersonBirthDate"],
                 v["ExpectedPersonBirthDate"], v["GenderCurrent"] or v["Sex"], sex_el,
                 v["PersonDeathDate"], v["Ethnicity"], v["Disabilities"], *prov)
            )  # fmt: skip
        dkey = (cid, year, v["CINreferralDate"])
        if dkey not in detail_no:
            per_child[cid, year] += 1
            detail_no[dkey] = per_child[cid, year]
            tables.rows["cin_details"].append(
                (cid, per_child[cid, year], v["CINreferralDate"], v["ReferralSource"],
                 v["PrimaryNeedCode"], v["CINclosureDate"], v["ReasonForClosure"],
                 v["DateOfInitialCPC"], v["ReferralNFA"], *prov)
            )  # fmt: skip
        n = detail_no[dkey]
        kind = r["Type"].strip()
        if (
            v["AssessmentActualStartDate"]
            and (dkey, "a", v["AssessmentActualStartDate"]) not in seen
        ):
            seen.add((dkey, "a", v["AssessmentActualStartDate"]))
            tables.rows["assessments"].append(
                (cid, n, v["AssessmentActualStartDate"], v["AssessmentInternalReviewDate"],
                 v["AssessmentAuthorisationDate"], v["Factors"] or v["AssessmentFactors"], *prov)
            )  # fmt: skip
        if v["CINPlanStartDate"] and (dkey, "p", v["CINPlanStartDate"]) not in seen:
            seen.add((dkey, "p", v["CINPlanStartDate"]))
            tables.rows["cin_plans"].append(
                (cid, n, v["CINPlanStartDate"], v["CINPlanEndDate"], *prov)
            )
        if v["S47ActualStartDate"] and (dkey, "s", v["S47ActualStartDate"]) not in seen:
            seen.add((dkey, "s", v["S47ActualStartDate"]))
            tables.rows["section47"].append(
                (cid, n, v["S47ActualStartDate"], v["InitialCPCtarget"], v["DateOfInitialCPC"],
                 v["ICPCnotRequired"], *prov)
            )  # fmt: skip
        if v["CPPstartDate"]:
            ckey = (dkey, v["CPPstartDate"])
            if ckey not in cpp_rows:
                cpp_rows[ckey] = [
                    cid, n, v["CPPstartDate"], v["CPPendDate"], v["InitialCategoryOfAbuse"],
                    v["LatestCategoryOfAbuse"], v["NumberOfPreviousCPP"], "", *prov,
                ]  # fmt: skip
                reviews[ckey] = []
            if kind == "CPPreviewDate":
                reviews[ckey].append(r["Date"])
    for ckey, row in cpp_rows.items():
        row[7] = ",".join(reviews[ckey])
        tables.rows["cpp"].append(tuple(row))
    return issues


# --------------------------------------------------------------------------- entry point


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
"""Byte-order marks of the encodings in which ``<`` is not one byte (UTF-32 first: its LE
mark starts with UTF-16's)."""


def _wide_encoding_of(head: bytes) -> str | None:
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


def _head(path: Path) -> bytes:
    """The file's first 4 KiB (opened as an input: a regular file within the cap)."""
    with open_input(path) as handle:
        return handle.read(4096)


def _wide_encoding(path: Path) -> str | None:
    """:func:`_wide_encoding_of` the file's first bytes."""
    return _wide_encoding_of(_head(path))


def _is_xml(head: bytes) -> bool:
    """Whether a file starting with ``head`` is XML: its first character, after a
    byte-order mark and whitespace, is ``<``, in UTF-8 or an ASCII-based encoding, or in
    UTF-16/32 (which libxml2 decodes)."""
    encoding = _wide_encoding_of(head)
    if encoding is not None:
        text = head[: len(head) - len(head) % 4].decode(encoding, "replace")
        return text.lstrip("\ufeff").lstrip().startswith("<")
    return head.lstrip(codecs.BOM_UTF8).lstrip().startswith(b"<")


def _read_file(path: Path, source: str, tables: _Tables, account: CinFileAccount) -> list[Issue]:
    """Read one file (XML or flat CSV) into ``tables``; return its issues, fill in
    ``account``. The file is first opened as an input (:func:`open_input`): a FIFO, a
    device, a symlink loop or a file over the size cap is refused before anything else
    (the mapping and worker processes below open it again, by path)."""
    if _is_xml(_head(path)):
        return _read_xml(path, source, tables, account)
    return _read_flat(path, source, tables, account)


def _settle(account: CinFileAccount, issues: Sequence[Issue]) -> None:
    """The file's status from its counts; the reason a file was not read is its first
    error when nothing more precise was said."""
    if account.read == 0 and not account.cut_short:
        account.status = NOT_READ
        if not account.reason:
            errors = [i.found for i in issues if i.severity == "error" and i.row is None]
            account.reason = errors[0] if errors else "nothing to read"
    elif account.unread or account.cut_short:
        account.status = PARTLY_READ
    if account.read and account.xsd_invalid == account.read and account.kind == "XML":
        account.warnings.append(
            f"every one of its {account.read} Child elements failed the XSD ({account.xsd}): "
            "is the census year right, and is the file a CIN census of that year?"
        )


def read_cin(paths: Sequence[Path]) -> CinReadResult:
    """Read CIN census XML (and liia-tools flat CSV) files and folders into flat tables.

    See the module docstring for the tables, provenance columns and decisions. Never raises
    on bad input: every problem is an :class:`Issue` in ``CinReadResult.issues``, and what
    became of every file found is a :class:`CinFileAccount` in ``CinReadResult.files``.
    """
    files, issues = _find_files(paths)
    tables = _Tables()
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
        _settle(account, found)
        issues.extend(found)
        accounts.append(account)
    frames = tables.frames()
    return CinReadResult(**frames, issues=issues, files_seen=seen, files=accounts)


def _unreadable(source: str, error: OSError) -> list[Issue]:
    """The Issue for a file that could not be opened or read."""
    if isinstance(error, InputFileError):
        return [Issue(source, None, None, _open_problem(error), "a regular CIN census file")]
    reason = f"unreadable file ({_open_problem(error)})"
    return [Issue(source, None, None, reason, "a readable CIN census file")]


def issue_messages(issues: Iterable[Issue]) -> list[str]:
    """Readable lines for a list of issues (for logs and tests)."""
    return [f"[{i.severity}] {i.message()}" for i in issues]
