"""Reads the header, episodes and UASC tables from a 903 XML document (EXPSSDA903), with
the safe parser settings (:mod:`model.ingest.safe_xml`); a document with a DOCTYPE is
refused.
"""

from __future__ import annotations

import codecs
import re

import numpy as np
import pandas as pd
from lxml import etree

from model.ingest.issue import Issue
from model.ingest.safe_xml import DOCTYPE, safe_parser
from model.ingest.tables import TABLE_COLUMNS
from model.ingest903.decode import decode_fallback
from model.ingest903.discover import File, file_issue
from model.ingest903.parts import Batch, Part

UASC_YES = frozenset({"1", "Y", "YES", "T", "TRUE"})

_XML_ENCODING = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")

XML_HEADER = {c: ("CHILDID" if c == "CHILD" else c) for c in TABLE_COLUMNS["header"]}
XML_UASC = {c: ("CHILDID" if c == "CHILD" else c) for c in TABLE_COLUMNS["uasc"]}
"""Table column -> HEADER element (data-formats.md §1.1; the validator renames the same)."""
XML_EPISODE = {c: ("PL" if c == "PLACE" else c) for c in TABLE_COLUMNS["episodes"] if c != "CHILD"}
"""Episodes column -> EPISODE element (CHILD comes from the HEADER's CHILDID)."""


def utf16_xml(data: bytes) -> bytes:
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


def _xml_bytes(file: File, data: bytes) -> tuple[bytes | None, list[Issue]]:
    """Bytes for lxml: as they are if they declare a non-UTF-8 encoding, else UTF-8."""
    data = data.lstrip(codecs.BOM_UTF8).lstrip()
    declared = _XML_ENCODING.match(data)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return data, []
    try:
        data.decode("utf-8")
        return data, []
    except UnicodeDecodeError:
        text = decode_fallback(data)
        if text is None:
            return None, [
                file_issue(file, "XML that is neither UTF-8 nor Windows-1252", "UTF-8 XML")
            ]
        note = file_issue(file, "XML not UTF-8; read as Windows-1252 (cp1252)", "UTF-8", "warning")
        return text.encode("utf-8"), [note]


def _parse_xml(file: File, data: bytes) -> tuple[etree._Element | None, list[Issue]]:
    """The root element of a safe parse, or None with the reason."""
    data, issues = _xml_bytes(file, data)
    if data is None:
        return None, issues
    refused = file_issue(
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
        return None, [*issues, file_issue(file, found, "well-formed XML", row=None)]
    if root.getroottree().docinfo.doctype:
        return None, [*issues, refused]
    name = etree.QName(root).localname
    if name != "EXPSSDA903":
        found = f"XML with root element <{name}> (line {root.sourceline})"
        return None, [*issues, file_issue(file, found, "903 XML: root element <EXPSSDA903>")]
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


def read_xml(file: File, data: bytes) -> tuple[Batch | None, list[Batch], list[Issue]]:
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
            issues.append(
                file_issue(file, found, "only CHILD elements under EXPSSDA903", "warning")
            )
            continue
        position += 1
        if not _xml_child(element, position, rows):
            found = "CHILD element without HEADER: not used"
            issues.append(file_issue(file, found, "a HEADER in every CHILD", row=position))
    batches = {}
    for table, found in rows.items():
        frame = pd.DataFrame([r for _, r in found], columns=TABLE_COLUMNS[table], dtype=object)
        positions = np.asarray([p for p, _ in found], dtype=np.int64)
        batches[table] = Batch(frame.astype("str"), positions, [Part(file, table, 0, len(frame))])
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
