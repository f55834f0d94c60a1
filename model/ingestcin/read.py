"""Stream CIN census files into flat tables, validating each Child against its year's XSD.

``read_cin(paths)`` takes files and folders (folders are searched recursively, hidden files
and folders skipped, files read in sorted order) and returns a :class:`CinReadResult`: six
pandas DataFrames of raw text and a list of :class:`~model.ingest903.tables.Issue`. It never
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

* **Streaming**: ``lxml.etree.iterparse`` on ``Header`` and ``Child`` end events only. Each
  Child is validated as it ends; every :data:`BATCH_CHILDREN` children are moved out of the
  parse tree into a holder, flattened by one XSLT call into fixed-width tab-separated lines,
  parsed by Arrow's CSV reader and freed. Memory holds one batch's tree plus the tables
  (Arrow strings: about the text's length, not ~50 bytes per Python ``str``).
* **Safety**: entities are never resolved, no DTD is loaded, no network is used, and
  ``huge_tree`` is off. Any DOCTYPE is refused (the whole file) with an Issue: census files
  have none, and refusing it defeats entity-expansion bombs and external entities
  outright.
* **Census year** = year ending 31 March of the header's ``ReferenceDate``. A ``Year``
  that disagrees, or a ReferenceDate that is not 31 March, is a warning. Without a usable
  ReferenceDate, the year in the file name (``cin_census_2024.xml``: year ending March
  2024) is used with a warning; without either the children are read with ``_year`` -1
  and not validated (an error).
* **Validation** is per Child, against :func:`model.cin_schema.cin_xsd_for_year`'s XSD
  with top-level ``Child`` and ``Header`` elements added (their types are the XSD's own
  ``childtype``/``headertype``), so one bad child costs only its own Issues. Whatever can be
  used is still extracted from an invalid child. XSD messages become Issues naming the
  file, the Child position, the element and the expectation; the values of identifying
  elements (LAchildID, UPNs, birth and death dates) are removed from messages. Issues are
  capped at :data:`MAX_ISSUES_PER_KIND` per file, element and kind, plus one summary.
* **Tabs and line breaks inside a value** become spaces (the flattened lines are
  tab-separated; a batch whose lines come out the wrong width is redone with a stylesheet
  that translates them).
* **A Child without LAchildID** (absent or blank) gives an error and is skipped; the
  other children are read.
* **Malformed XML** gives an error with the line number; the children read before the
  error are kept (the Issue says how many), so a truncated file is visible, not silent.
* **Namespaces**: elements are matched by local name; a namespaced Child is stripped to
  local names before validation (the XSDs have no target namespace).
* **Flat CSV** (liia-tools layout, data-formats.md §2.3 item 1, any file not starting with
  ``<``): the tables are rebuilt from the one-row-per-event layout; see
  :func:`_read_flat`. Files of neither kind get an Issue.
"""

from __future__ import annotations

import codecs
import io
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree
from pyarrow import csv as pa_csv

from model.cin_schema import cin_xsd_for_year
from model.ingest903.tables import Issue
from model.safe_xml import DOCTYPE, SAFE_OPTIONS, safe_parser

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
"""Children extracted per XSLT call (amortises the call; bounds the tree kept in memory)."""
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
_QUOTED_VALUE = re.compile(r"(The value |^)'[^']*'")
PROLOGUE_BYTES = 65536
"""Bytes searched for a DOCTYPE before parsing (the parse also checks the document's own
DOCTYPE record, for a DOCTYPE after a very long prologue)."""


@dataclass
class CinReadResult:
    """What :func:`read_cin` found: the six tables, issues, and the files read."""

    children: pd.DataFrame
    cin_details: pd.DataFrame
    assessments: pd.DataFrame
    cin_plans: pd.DataFrame
    section47: pd.DataFrame
    cpp: pd.DataFrame
    issues: list[Issue] = field(default_factory=list)
    files_seen: list[str] = field(default_factory=list)

    def table(self, name: str) -> pd.DataFrame:
        """The table called ``name`` (a key of :data:`TABLES`)."""
        return getattr(self, name)


# --------------------------------------------------------------------------- files


def _find_files(paths: Sequence[Path]) -> tuple[list[tuple[Path, str]], list[Issue]]:
    """(file, source name) pairs, sorted; folders searched recursively, hidden names skipped.

    Files given directly keep the path as given; files found in a folder are named relative
    to the folder given.
    """
    found: dict[Path, str] = {}
    issues: list[Issue] = []
    for given in map(Path, paths):
        if given.is_dir():
            for dirpath, dirnames, filenames in os.walk(given):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(f for f in filenames if not f.startswith(".")):
                    path = Path(dirpath, name)
                    found.setdefault(path.resolve(), path.relative_to(given).as_posix())
        elif given.is_file():
            found.setdefault(given.resolve(), str(given))
        else:
            issues.append(
                Issue(str(given), None, None, "no such file or folder", "a CIN census file")
            )
    return sorted(((p, s) for p, s in found.items()), key=lambda ps: ps[1]), issues


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


class _Capped:
    """Collects one file's row-level issues, keeping at most MAX_ISSUES_PER_KIND per kind."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.kept: list[Issue] = []
        self.counts: Counter[tuple[str | None, str]] = Counter()

    def add(self, issue: Issue, kind: str) -> None:
        key = (issue.column, kind)
        self.counts[key] += 1
        if self.counts[key] <= MAX_ISSUES_PER_KIND:
            self.kept.append(issue)

    def issues(self) -> list[Issue]:
        """The kept issues plus one summary per kind that overflowed."""
        out = list(self.kept)
        for (column, kind), n in self.counts.items():
            if n > MAX_ISSUES_PER_KIND:
                found = f"{n - MAX_ISSUES_PER_KIND} more of: {kind} (not listed)"
                out.append(Issue(self.source, None, column, found, "see the issues above"))
        return out


# --------------------------------------------------------------------------- schemas


@cache
def _fragment_schema(xsd: Path) -> etree.XMLSchema:
    """The XSD with top-level ``Child`` and ``Header`` elements added, so that one Child (or
    the Header) can be validated on its own against the XSD's own types."""
    parser = safe_parser()
    tree = etree.parse(str(xsd), parser)
    root = tree.getroot()
    xs = "http://www.w3.org/2001/XMLSchema"
    globals_ = {e.get("name") for e in root.findall(f"{{{xs}}}element")}
    for name, type_ in (("Child", "childtype"), ("Header", "headertype")):
        if name not in globals_:
            etree.SubElement(root, f"{{{xs}}}element", name=name, type=type_)
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


def _xsd_issue(source: str, position: int, error: etree._LogEntry, xsd_name: str) -> Issue:
    """An Issue for one XSD error in one Child, without identifying values."""
    m = _XSD_MESSAGE.match(error.message.strip())
    element, rest = (m.group(1), m.group(2)) if m else (None, error.message.strip())
    if element and element.startswith("{"):
        element = element.split("}", 1)[1]
    if element in SENSITIVE_ELEMENTS:
        rest = _QUOTED_VALUE.sub(lambda q: f"{q.group(1)}(value withheld)", rest)
    expected = _expectation(rest, xsd_name)
    rest = re.sub(r" \{[^}]{200,}\}", " {...}", rest)  # long code lists: see expected
    found = f"XSD: {rest.rstrip('.')} (line {error.line})"
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
    """What a file's rows share."""

    source: str
    year: int = -1
    la: str = ""
    schema: etree.XMLSchema | None = None
    xsd_name: str = ""


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


WIDTH = 4 + len(CHILD_COLUMNS) - 1
"""Fields per line of the flattening stylesheet's output (code, child, detail, LAchildID,
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

    One line per row, :data:`WIDTH` fields: a table code (:data:`_TABLE_DATA`), the Child's
    position in the batch, the CINdetails number ("" for C), the child's LAchildID, then
    the table's data columns in order (padded with empty fields). Extraction in libxslt is
    several times faster than walking the tree from Python (no element proxies), and the
    fixed width lets Arrow's CSV reader parse the whole batch at once. The first of a
    repeated element is used (the XSD reports the repetition).
    """
    ident = "ChildIdentifiers/"
    sex = (
        "<xsl:text>&#9;</xsl:text><xsl:choose>"
        f'<xsl:when test="{ident}GenderCurrent"><xsl:value-of select="{ident}GenderCurrent"/>'
        "&#9;GenderCurrent</xsl:when>"
        f'<xsl:when test="{ident}Sex"><xsl:value-of select="{ident}Sex"/>&#9;Sex</xsl:when>'
        "<xsl:otherwise>&#9;</xsl:otherwise></xsl:choose>"
    )

    def line(code: str, body: str, n_data: int) -> str:
        pad = "&#9;" * (WIDTH - 4 - n_data)
        detail_no = "" if code == "C" else '<xsl:value-of select="$d"/>'
        return (
            f'<xsl:text>{code}&#9;</xsl:text><xsl:value-of select="$c"/>'
            f"<xsl:text>&#9;</xsl:text>{detail_no}"
            f'<xsl:text>&#9;</xsl:text><xsl:value-of select="$id"/>{body}'
            f"<xsl:text>{pad}&#10;</xsl:text>"
        )

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
        '<xsl:variable name="c" select="position()"/>'
        f'<xsl:variable name="id" select="{_ID_EXPR}"/>'
        f'{child}<xsl:for-each select="CINdetails"><xsl:variable name="d" select="position()"/>'
        f"{detail}{blocks}</xsl:for-each></xsl:for-each></xsl:template></xsl:stylesheet>"
    )


@cache
def _flatten(safe: bool = False) -> etree.XSLT:
    """The compiled :func:`_flatten_xslt` (no file, network or extension access); ``safe``
    turns tabs and line breaks inside values into spaces (slower: a fallback)."""
    access = etree.XSLTAccessControl.DENY_ALL
    source = _flatten_xslt()
    if safe:
        source = _make_safe(source).replace(
            f'select="{_ID_EXPR}"', f'select="{_SAFE.format(_ID_EXPR)}"'
        )
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


def _flat_table(holder: etree._Element) -> pa.Table:
    """The batch's lines as an Arrow table of WIDTH string columns; redone with the safe
    stylesheet if a value held a tab or line break (a line of the wrong width)."""
    for safe in (False, True):
        data = bytes(_flatten(safe)(holder))
        if not data:
            break
        try:
            return pa_csv.read_csv(
                io.BytesIO(data),
                read_options=_CSV_READ,
                parse_options=_CSV_PARSE,
                convert_options=_CSV_CONVERT,
            )
        except pa.ArrowInvalid:
            if safe:
                raise
    return pa.table({name: pa.array([], pa.large_string()) for name in _CSV_NAMES})


def _flush_batch(
    batch: list[etree._Element], first: int, ctx: _FileContext, tables: _Tables, capped: _Capped
) -> None:
    """Extract the rows of a batch of (already validated) Child elements, then free them.

    ``first`` is the file position of the batch's first Child. Children without LAchildID
    get an Issue and no rows.
    """
    if not batch:
        return
    holder = etree.Element("Batch")
    holder.extend(batch)  # moves them out of the parse tree, so they are freed below
    batch.clear()
    flat = _flat_table(holder)
    del holder
    if flat.num_rows == 0:
        return
    code = flat.column("f0")
    has_id = pc.not_equal(pc.utf8_trim_whitespace(flat.column("f3")), "")
    position = pc.add(pc.cast(flat.column("f1"), pa.int64()), first - 1)
    no_id = pc.and_(pc.equal(code, "C"), pc.invert(has_id))
    for pos in position.filter(no_id).to_pylist():
        found = "Child without LAchildID (blank or absent): child not used"
        capped.add(Issue(ctx.source, pos, "LAchildID", found, "a child id"), "no LAchildID")
    for letter, (table, data_columns) in _TABLE_DATA.items():
        mask = pc.and_(pc.equal(code, letter), has_id)
        rows = flat.filter(mask)
        n = rows.num_rows
        if n == 0:
            continue
        arrays = {"LAchildID": rows.column("f3")}
        if table != "children":
            arrays["_detail"] = pc.cast(rows.column("f2"), pa.int64())
        for i, name in enumerate(data_columns):
            arrays[name] = rows.column(f"f{4 + i}")
        arrays["_source"] = pa.array([ctx.source] * n, pa.large_string())
        arrays["_child"] = position.filter(mask)
        arrays["_year"] = pa.array([ctx.year] * n, pa.int64())
        arrays["_la"] = pa.array([ctx.la] * n, pa.large_string())
        columns = [*TABLES[table], *PROVENANCE_COLUMNS]
        tables.chunks[table].append(pa.table([arrays[c] for c in columns], names=columns))


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
    xsd = cin_xsd_for_year(ctx.year)
    ctx.schema = _fragment_schema(xsd)
    ctx.xsd_name = xsd.name


def _has_doctype_prologue(path: Path) -> bool:
    with path.open("rb") as handle:
        return bool(DOCTYPE.search(handle.read(PROLOGUE_BYTES)))


def _read_xml(path: Path, source: str, tables: _Tables) -> list[Issue]:
    """Stream one CIN XML file into ``tables``; return its issues."""
    issues: list[Issue] = []
    refused = Issue(
        source, None, None, "XML with a DOCTYPE declaration (refused: it can define entities)",
        "CIN census XML without a DOCTYPE",
    )  # fmt: skip
    if _has_doctype_prologue(path):
        return [refused]
    ctx = _FileContext(source)
    capped = _Capped(source)
    position = 0
    context = etree.iterparse(
        str(path),
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
                    return [refused]
                root = tree.getroot()
                if _local(root.tag) != "Message":
                    return [_wrong_root(source, root)]
                checked = True
            if _local(elem.tag) == "Header":
                _read_header(elem, ctx, issues)
                _set_schema(ctx, path, issues)
                if ctx.schema is not None and not ctx.schema.validate(elem):
                    for error in ctx.schema.error_log:
                        issues.append(_xsd_issue(source, None, error, ctx.xsd_name))
                continue
            if position == 0 and ctx.schema is None and ctx.year < 0:
                # No Header before the first Child.
                _set_schema(ctx, path, issues)
            position += 1
            if elem.tag[0] == "{":
                _strip_namespaces(elem)
            if ctx.schema is not None and not ctx.schema.validate(elem):
                for error in ctx.schema.error_log:
                    issue = _xsd_issue(source, position, error, ctx.xsd_name)
                    capped.add(issue, issue.expected)
            batch.append(elem)
            if len(batch) >= BATCH_CHILDREN:
                # Moving the batch out of the parse tree frees it once extracted, so memory
                # holds at most one batch of children.
                parent = elem.getparent()
                _flush_batch(batch, position - BATCH_CHILDREN + 1, ctx, tables, capped)
                if parent is not None:
                    del parent[:]  # anything else that accumulated (not Child: ignored)
    except etree.XMLSyntaxError as error:
        _flush_batch(batch, position - len(batch) + 1, ctx, tables, capped)
        found = f"malformed XML at line {error.lineno}: {error.msg}"
        if position:
            found += f" ({position} Child elements before it were read and kept)"
        issues.append(Issue(source, None, None, found, "well-formed XML"))
        return [*issues, *capped.issues()]
    _flush_batch(batch, position - len(batch) + 1, ctx, tables, capped)
    root = context.root
    if root is not None and not checked:
        tree = root.getroottree()
        if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
            return [refused]
        if _local(root.tag) != "Message":
            return [_wrong_root(source, root)]
    if position == 0:
        issues.append(Issue(source, None, "Child", "no Child elements", "at least one Child"))
    return [*issues, *capped.issues()]


def _wrong_root(source: str, root: etree._Element) -> Issue:
    found = f"XML with root element <{_local(root.tag)}> (line {root.sourceline})"
    return Issue(source, None, None, found, "CIN census XML: root element <Message>")


# --------------------------------------------------------------------------- flat CSV

FLAT_REQUIRED = ("LAchildID", "Date", "Type")


def _read_flat(path: Path, source: str, tables: _Tables) -> list[Issue]:
    """Rebuild the tables from a liia-tools flat CSV (one row per dated event).

    CINdetails are the distinct (LAchildID, CINreferralDate) pairs, numbered within the
    child in file order; assessments, CIN plans, S47s and CPPs are the distinct start dates
    within a CINdetails (rows of any Type carry them); ``CPPreviewDate`` joins the dates of
    the ``CPPreviewDate`` rows. ``_child`` is the child's 1-based order of first appearance
    in the file, ``_year`` the ``YEAR`` column when present, else the year in the file
    name; ``_la`` the ``LA`` column. The flat layout has one ``DateOfInitialCPC`` column,
    used for both CINdetails and Section47. No XSD validation (this is not XML).
    """
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [Issue(source, None, None, "a file that is neither XML nor UTF-8 text", "CIN XML")]
    except OSError as error:
        return [Issue(source, None, None, f"unreadable file ({error.strerror})", "a CIN file")]
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        found = f"not a CSV table ({str(error).splitlines()[0]})"
        return [Issue(source, None, None, found, "CIN census XML or liia-tools flat CSV")]
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in FLAT_REQUIRED if c not in frame.columns]
    if missing:
        found = f"a file without column(s) {', '.join(missing)}"
        return [Issue(source, None, None, found, "CIN census XML or liia-tools flat CSV")]
    issues: list[Issue] = []
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
    child_order = {cid: i for i, cid in enumerate(dict.fromkeys(frame.loc[keep, "LAchildID"]), 1)}
    detail_no: dict[tuple[str, str], int] = {}
    per_child: Counter[str] = Counter()
    seen: set[tuple] = set()
    reviews: dict[tuple, list[str]] = {}
    cpp_rows: dict[tuple, list] = {}
    # Plain dicts per row: pandas .at per cell would be ~100x slower.
    values = pd.DataFrame(col)[keep.to_numpy()].to_dict("records")
    extra = frame.loc[keep, ["LAchildID", "Type", "Date", "_year", "_la"]].to_dict("records")
    for v, r in zip(values, extra, strict=True):
        cid = r["LAchildID"]
        prov = (source, child_order[cid], int(r["_year"]), str(r["_la"]))
        if cid not in seen:
            seen.add(cid)
            sex_el = "GenderCurrent" if v["GenderCurrent"] else ("Sex" if v["Sex"] else "")
            tables.rows["children"].append(
                (cid, v["UPN"], v["FormerUPN"], v["UPNunknown"], v["PersonBirthDate"],
                 v["ExpectedPersonBirthDate"], v["GenderCurrent"] or v["Sex"], sex_el,
                 v["PersonDeathDate"], v["Ethnicity"], v["Disabilities"], *prov)
            )  # fmt: skip
        dkey = (cid, v["CINreferralDate"])
        if dkey not in detail_no:
            per_child[cid] += 1
            detail_no[dkey] = per_child[cid]
            tables.rows["cin_details"].append(
                (cid, per_child[cid], v["CINreferralDate"], v["ReferralSource"],
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


def _is_xml(path: Path) -> bool:
    """Whether the file's content starts with ``<`` (after a BOM and whitespace)."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    return head.lstrip(codecs.BOM_UTF8).lstrip().startswith(b"<")


def read_cin(paths: Sequence[Path]) -> CinReadResult:
    """Read CIN census XML (and liia-tools flat CSV) files and folders into flat tables.

    See the module docstring for the tables, provenance columns and decisions. Never raises
    on bad input: every problem is an :class:`Issue` in ``CinReadResult.issues``.
    """
    files, issues = _find_files(paths)
    tables = _Tables()
    seen: list[str] = []
    for path, source in files:
        seen.append(source)
        try:
            if _is_xml(path):
                issues.extend(_read_xml(path, source, tables))
            else:
                issues.extend(_read_flat(path, source, tables))
        except OSError as error:
            found = f"unreadable file ({error.strerror or error})"
            issues.append(Issue(source, None, None, found, "a readable CIN census file"))
        except (etree.LxmlError, pa.ArrowException) as error:
            # A last guard so one odd file cannot stop the run; not expected to happen.
            found = f"file could not be read ({type(error).__name__}: {str(error)[:200]})"
            issues.append(Issue(source, None, None, found, "a CIN census file"))
        tables.flush()
    frames = tables.frames()
    return CinReadResult(**frames, issues=issues, files_seen=seen)


def issue_messages(issues: Iterable[Issue]) -> list[str]:
    """Readable lines for a list of issues (for logs and tests)."""
    return [f"[{i.severity}] {i.message()}" for i in issues]
