"""CIN census XML schemas: which XSD applies to a census year, and XSD validation.

The XSDs are copies of the liia-tools-pipeline schemas (``model/ingestcin/schemas/cin/``,
attribution in ``model/ingestcin/schemas/README.md``). Years are census years ending 31
March: ``2024`` is the census of 1 April 2023 to 31 March 2024. Used by the synthetic CIN
writer and the CIN ingest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from lxml import etree

from model.ingest.safe_xml import safe_parser

CIN_SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "cin"

_XS = "{http://www.w3.org/2001/XMLSchema}"


def _safe_parser() -> etree.XMLParser:
    """An XML parser that expands no entities and never touches the network."""
    return safe_parser()


def cin_xsd_for_year(year: int) -> Path:
    """Return the XSD in force for the CIN census year ending 31 March ``year``.

    Mapping (XSD file name = first census year it describes, checked against the XSD
    contents and DfE's change notes):

    * ``year <= 2021`` -> ``CIN_schema_2017.xsd``: ``GenderCurrent`` (1/2/0/9), no
      ``CINPlanDates`` (DfE collects CIN plans from the 2021-22 census), no assessment
      factors 18B/18C/19B/19C/24A, no referral source 5D, no closure reason RC9. Years
      before 2017 also get this, the oldest schema available (an approximation).
    * ``2022``-``2023`` -> ``CIN_schema_2022.xsd``: adds ``CINPlanDates`` and the factors
      18B/18C/19B/19C/24A (18A/19A kept).
    * ``2024`` -> ``CIN_schema_2024.xsd``: adds referral source 5D and closure reason RC9;
      still ``GenderCurrent``.
    * ``year >= 2025`` -> ``CIN_schema_2026.xsd``: ``Sex`` (M/F/U) replaces
      ``GenderCurrent`` from the 2024-25 census; otherwise as 2024 (N1 relabelled). Later
      years get this, the newest schema available.
    """
    if year <= 2021:
        schema_year = 2017
    elif year <= 2023:
        schema_year = 2022
    elif year == 2024:
        schema_year = 2024
    else:
        schema_year = 2026
    return CIN_SCHEMA_DIR / f"CIN_schema_{schema_year}.xsd"


@dataclass(frozen=True)
class CinSchemaInfo:
    """What a writer or reader needs to know about one CIN XSD, read from the XSD itself.

    ``sex_element`` is ``"GenderCurrent"`` or ``"Sex"``; ``has_cin_plans`` says whether
    ``CINPlanDates`` exists; ``codes`` maps an element name (e.g. ``"ReferralSource"``,
    ``"AssessmentFactors"``, ``"GenderCurrent"``) to the set of values its type enumerates.
    """

    path: Path
    sex_element: str
    has_cin_plans: bool
    codes: Mapping[str, frozenset[str]]


@cache
def _xsd_tree(path: Path) -> etree._ElementTree:
    """Parse an XSD file once (cached per path)."""
    return etree.parse(str(path), _safe_parser())


def _enumerations(node: etree._Element) -> frozenset[str]:
    """The ``xs:enumeration`` values under ``node``."""
    return frozenset(e.get("value") for e in node.iter(f"{_XS}enumeration"))


@cache
def cin_schema_info(year: int) -> CinSchemaInfo:
    """Describe the XSD in force for census year ``year`` (see :func:`cin_xsd_for_year`)."""
    path = cin_xsd_for_year(year)
    root = _xsd_tree(path).getroot()
    named_types = {
        t.get("name"): _enumerations(t) for t in root.iter(f"{_XS}simpleType") if t.get("name")
    }
    codes: dict[str, frozenset[str]] = {}
    element_names: set[str] = set()
    for element in root.iter(f"{_XS}element"):
        name = element.get("name")
        element_names.add(name)
        # Code lists are either a named simple type or an inline restriction.
        values = named_types.get(element.get("type", "")) or _enumerations(element)
        if values:
            codes[name] = values
    return CinSchemaInfo(
        path=path,
        sex_element="Sex" if "Sex" in element_names else "GenderCurrent",
        has_cin_plans="CINPlanDates" in element_names,
        codes=MappingProxyType(codes),
    )


@cache
def _xml_schema(path: Path) -> etree.XMLSchema:
    """Compile an XSD once (cached per path)."""
    return etree.XMLSchema(_xsd_tree(path))


def _format_log(error_log: etree._ListErrorLog) -> list[str]:
    """Turn an lxml error log into ``"line N: message"`` strings."""
    return [f"line {e.line}: {e.message}" for e in error_log]


def validate_cin_xml(path: Path, year: int) -> list[str]:
    """Validate a CIN census XML file against the XSD for census year ``year``.

    Returns one readable message per problem, ``"line N: message"``, or an empty list when
    the file is valid. A file that is not well-formed XML gives its parse errors instead, and
    a file with a DOCTYPE is rejected (census files have none; entities are never expanded
    and no network access happens while parsing).
    """
    parser = _safe_parser()
    try:
        doc = etree.parse(str(path), parser)
    except etree.XMLSyntaxError as exc:
        # The parser's own log: the exception's log also holds unrelated earlier messages.
        return _format_log(parser.error_log.filter_from_errors()) or [str(exc)]
    line = doc.getroot().sourceline
    if doc.docinfo.internalDTD is not None or doc.docinfo.doctype:
        return [f"line {line}: DOCTYPE declarations are not allowed in a CIN census file"]
    schema = _xml_schema(cin_xsd_for_year(year))
    if schema.validate(doc):
        return []
    return _format_log(schema.error_log)
