"""What a CIN census file's children share (:class:`FileContext`: census year, LA, the
year's XSD), read from its Header or, failing that, its name.

* **Census year** = year ending 31 March of the header's ``ReferenceDate``. A ``Year``
  that disagrees, or a ReferenceDate that is not 31 March, is a warning. Without a usable
  ReferenceDate, the year in the file name (``cin_census_2024.xml``: year ending March
  2024) is used with a warning; without either the children are read with ``_year`` -1
  and not validated (an error).
* **Namespaces**: elements are matched by local name; a namespaced Child is stripped to
  local names before validation (the XSDs have no target namespace).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from model.ingest.issue import Issue
from model.ingestcin.account import CinFileAccount
from model.ingestcin.capped import Capped
from model.ingestcin.discover import year_in_name
from model.ingestcin.schema import cin_xsd_for_year
from model.ingestcin.xsd_messages import fragment_schema, xsd_issue

_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag[0] == "{" else tag


def strip_namespaces(element: etree._Element) -> None:
    """Rename a namespaced subtree to local names (the XSDs have no target namespace)."""
    for el in element.iter():
        if isinstance(el.tag, str) and el.tag[0] == "{":
            el.tag = local_name(el.tag)


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
class FileContext:
    """What a file's rows share (picklable: sent to the worker processes)."""

    source: str
    year: int = -1
    la: str = ""
    xsd: Path | None = None

    @property
    def schema(self) -> etree.XMLSchema | None:
        """The XSD the children are validated against (None: not validated)."""
        return None if self.xsd is None else fragment_schema(self.xsd)

    @property
    def xsd_name(self) -> str:
        return "" if self.xsd is None else self.xsd.name


def census_year(reference_date: str) -> int | None:
    """Year ending 31 March containing an ISO date, or None if it is not one."""
    m = _ISO_DATE.match(reference_date)
    if not m:
        return None
    year, month, day = (int(x) for x in m.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return year + 1 if month >= 4 else year


def _read_header(header: etree._Element, ctx: FileContext, issues: list[Issue]) -> None:
    """Census year and LA from the Header; warnings for disagreements."""
    if header.tag[0] == "{":
        strip_namespaces(header)
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


def set_schema(ctx: FileContext, path: Path, issues: list[Issue]) -> None:
    """Pick the XSD for the file's year (from the header, else the file name)."""
    if ctx.year < 0:
        year = year_in_name(path.name)
        if year is not None:
            ctx.year = year
            found = f"census year {ctx.year} taken from the file name"
            expected = "a Header ReferenceDate"
            issues.append(Issue(ctx.source, None, "ReferenceDate", found, expected, "warning"))
        else:
            found = "no census year (no usable ReferenceDate, no year in the file name)"
            expected = "a Header ReferenceDate; children read with year -1 and not validated"
            issues.append(Issue(ctx.source, None, "ReferenceDate", found, expected))
            return
    ctx.xsd = cin_xsd_for_year(ctx.year)


def on_header(header: etree._Element, ctx: FileContext, path: Path, issues: list[Issue]) -> None:
    """Read and validate a Header (the census year and LA for the children that follow)."""
    _read_header(header, ctx, issues)
    set_schema(ctx, path, issues)
    schema = ctx.schema
    if schema is not None and not schema.validate(header):
        for error in schema.error_log:
            issues.append(xsd_issue(ctx.source, None, error, ctx.xsd_name))


def account_context(account: CinFileAccount, ctx: FileContext, capped: Capped, read: int) -> None:
    """Fill in what a file's context says (year, LA, XSD) and how many children were read
    and failed the XSD."""
    account.read = account.found = read
    account.years = [ctx.year] if ctx.year > 0 else []
    account.la = ctx.la
    account.xsd = ctx.xsd_name
    account.xsd_invalid = capped.invalid
