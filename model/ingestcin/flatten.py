"""The XSLT that flattens a batch of Child elements into fixed-width tab-separated lines,
parsed by Arrow's CSV reader (:func:`flat_table`).

**Tabs and line breaks inside a value** become spaces (the flattened lines are
tab-separated; a batch whose lines come out the wrong width is redone with a stylesheet
that translates them).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree
from pyarrow import csv as pa_csv

from model.ingestcin.tables import (
    ASSESSMENT_COLUMNS,
    CHILD_COLUMNS,
    CPP_COLUMNS,
    DETAIL_COLUMNS,
    PLAN_COLUMNS,
    S47_COLUMNS,
)

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
TABLE_DATA = {
    "C": ("children", CHILD_COLUMNS[1:]),
    "D": ("cin_details", DETAIL_COLUMNS[2:]),
    "A": ("assessments", ASSESSMENT_COLUMNS[2:]),
    "P": ("cin_plans", PLAN_COLUMNS[2:]),
    "S": ("section47", S47_COLUMNS[2:]),
    "K": ("cpp", CPP_COLUMNS[2:]),
}
"""Line code -> (table, data columns after LAchildID and _detail, in output order)."""


def flatten_xslt() -> str:
    """The stylesheet turning a batch of Child elements into tab-separated lines.

    One line per row, :data:`WIDTH` fields: a table code (:data:`TABLE_DATA`), the
    child's LAchildID (on its C line only; "" on the others), then the table's data
    columns in order (padded with empty fields). A child's C line comes first, then for
    each CINdetails its D line and then its A, P, S and K lines, so the child and
    CINdetails each line belongs to are counted from the codes
    (:func:`model.ingestcin.batch.extract`) rather
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
        n_data = len(TABLE_DATA[code][1])
        return f'<xsl:for-each select="{select}">{line(code, body, n_data)}</xsl:for-each>'

    child = line(
        "C",
        _xsl_fields(ident, CHILD_COLUMNS[1:6])
        + sex
        + _xsl_value(f"{ident}PersonDeathDate")
        + _xsl_value("ChildCharacteristics/Ethnicity")
        + _xsl_joined("ChildCharacteristics/Disabilities/Disability"),
        len(TABLE_DATA["C"][1]),
    )
    detail = line("D", _xsl_fields("", DETAIL_COLUMNS[2:]), len(TABLE_DATA["D"][1]))
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
    """The compiled :func:`flatten_xslt` (no file, network or extension access); ``safe``
    turns tabs and line breaks inside values into spaces (slower: a fallback)."""
    access = etree.XSLTAccessControl.DENY_ALL
    source = flatten_xslt()
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


def flat_table(root: etree._Element, children: int) -> pa.Table:
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
