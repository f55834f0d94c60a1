"""The year's XSD made to validate a Child, a Header or a batch of children on its own, and
XSD messages as Issues without identifying values.

Validation is per Child, against :func:`model.ingestcin.schema.cin_xsd_for_year`'s XSD with
top-level ``Child`` and ``Header`` elements added (their types are the XSD's own
``childtype``/``headertype``: :func:`fragment_schema`), so one bad child costs only its own
Issues. XSD messages become Issues naming the file, the Child position, the element and the
expectation; the values of identifying elements (LAchildID, UPNs, birth and death dates) are
removed from messages whole, by :func:`model.ingest.withhold.withhold_values` (a value
holding quotes included).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from lxml import etree

from model.ingest.issue import Issue
from model.ingest.safe_xml import safe_parser
from model.ingest.withhold import withhold_values

SENSITIVE_ELEMENTS = frozenset(
    {"LAchildID", "UPN", "FormerUPN", "PersonBirthDate", "ExpectedPersonBirthDate",
     "PersonDeathDate"}
)  # fmt: skip
"""Elements whose values identify a child: never quoted in an Issue."""

_XSD_MESSAGE = re.compile(r"^Element '([^']+)'(?:, attribute '[^']+')?: (.*)$", re.DOTALL)

BATCH_TAG = "CinReaderBatch"
"""Root element of a batch of children validated in one call (a name no XSD uses)."""


@cache
def fragment_schema(xsd: Path) -> etree.XMLSchema:
    """The XSD with top-level ``Child`` and ``Header`` elements added, so that one Child (or
    the Header) can be validated on its own against the XSD's own types, and a top-level
    :data:`BATCH_TAG` element holding any number of those ``Child`` elements, so that a
    batch of children can be validated in one call (valid only if every Child is)."""
    parser = safe_parser()
    tree = etree.parse(str(xsd), parser)
    root = tree.getroot()
    xs = "http://www.w3.org/2001/XMLSchema"
    globals_ = {e.get("name") for e in root.findall(f"{{{xs}}}element")}
    for name, type_ in (("Child", "childtype"), ("Header", "headertype")):
        if name not in globals_:
            etree.SubElement(root, f"{{{xs}}}element", name=name, type=type_)
    batch = etree.SubElement(root, f"{{{xs}}}element", name=BATCH_TAG)
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


def xsd_issue(
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
