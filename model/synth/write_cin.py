"""Write one CIN census XML file from a simulated authority's full CIN history.

The census for year ``Y`` (year ending 31 March ``Y``) covers 1 April ``Y-1`` to the reference
date 31 March ``Y``. :func:`write_cin_census` cuts that year out of the tables in
:class:`model.synth.records.SimulatedAuthority` the way an LA system would at census time:

* **Scope.** Every child with a CIN episode open at any time in the year
  (``referral_date <= 31 March Y`` and closure missing or ``>= 1 April Y-1``), with all of
  those episodes.
* **Nothing after the reference date is known.** A closure after 31 March ``Y`` is written as
  an open episode (no ``CINclosureDate``/``ReasonForClosure``); assessments, S47 enquiries,
  CIN plans and CPPs starting after it are dropped; end, authorisation and ICPC dates and CPP
  review dates after it are omitted (assessment factors too, as the assessment is still
  open); a ``Reviews`` element is written only when it holds a date. A child born after the
  reference date is unborn at census time: ``ExpectedPersonBirthDate`` and sex unknown
  (``GenderCurrent`` 0 / ``Sex`` U, validator rule 8750).
* **Finished business is not resubmitted.** As in the real census (validator rules 8696,
  8930, 4013, 8715, 8740), modules completed before 1 April ``Y-1`` are left out: assessments
  authorised, CPPs and CIN plans ended, S47s whose ICPC was held before then, and S47s that
  needed no ICPC and started before then. They appear in the earlier years' files.
* **Schema by year** (:func:`model.ingestcin.schema.cin_xsd_for_year`): ``GenderCurrent`` (1 male,
  2 female) up to 2023-24, ``Sex`` (M/F) from 2024-25; ``CINPlanDates`` only from 2021-22,
  so CIN plans are not written before then (DfE did not collect them).
* The ICPC date is written in ``Section47`` only, never at ``CINdetails`` level (rule 2884).
  ``InitialCPCtarget`` is a planned date, known in advance, so it is kept even when it falls
  after the reference date. CPP review dates before 1 April ``Y-1`` are kept (no rule
  excludes them).
* **Disabilities** are not simulated: a deterministic ``DISABILITY_SHARE`` of children, picked
  by a CRC32 hash of the child id, get one disability code (uniform over the 12 codes);
  everyone else gets ``NONE``. The same child gets the same answer in every year.

Codes and required fields are checked against the year's XSD before writing: a value the XSD
would reject, or a missing required field, raises ``ValueError`` naming the element and an
offending ``cin_id``/``child_id``, instead of producing an invalid file.

Output is byte-deterministic: same tables and year give the same bytes (no clock, no
randomness; children in order of first appearance in ``auth.children``, episodes by referral
date, modules by start date).
"""

from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from lxml import etree

from model.ingestcin.schema import CinSchemaInfo, cin_schema_info
from model.synth.records import (
    CIN_DETAIL_COLUMNS,
    CPP_COLUMNS,
    SECTION47_COLUMNS,
    SimulatedAuthority,
)

SOFTWARE_CODE = "carecast-synthetic"
# Fixed (not the package version) so that files stay byte-identical across releases.
RELEASE = "1"
SERIAL_NO = "001"

# Share of children (0-1) given a disability. Roughly the order of magnitude of children in
# need with a recorded disability in DfE statistics; not calibrated, not linked to need code.
DISABILITY_SHARE = 0.12
# The 12 XSD disability codes other than NONE, in XSD order.
DISABILITY_CODES = (
    "MOB",
    "HAND",
    "PC",
    "INC",
    "COMM",
    "LD",
    "HEAR",
    "VIS",
    "BEH",
    "CON",
    "AUT",
    "DDA",
)

_UPN_PATTERN = re.compile(r"[A-Za-z]\d{11}[0-9A-Za-z]")  # the XSD's upntype
_LEA_PATTERN = re.compile(r"\d{3}")
_GENDER_CURRENT = {"M": "1", "F": "2", "U": "0"}  # U: "not recorded or unborn"
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class _Window:
    """The census year: ``start`` = 1 April ``year - 1``, ``ref`` = 31 March ``year``."""

    year: int
    start: pd.Timestamp
    ref: pd.Timestamp
    ref_iso: str

    @classmethod
    def for_year(cls, year: int) -> _Window:
        return cls(year, pd.Timestamp(year - 1, 4, 1), pd.Timestamp(year, 3, 31), f"{year}-03-31")


def _fail(window: _Window, message: str) -> ValueError:
    """A ValueError that says which census is being written."""
    return ValueError(f"CIN census {window.year}: {message}")


def _iso(dates: pd.Series) -> list[str | None]:
    """Format a datetime column as ``yyyy-mm-dd`` strings, ``None`` where NaT."""
    text = dates.dt.strftime("%Y-%m-%d").tolist()
    return [v if isinstance(v, str) else None for v in text]


def _after(dates: pd.Series, when: pd.Timestamp) -> pd.Series:
    """Blank out (NaT) the dates later than ``when``: they are not known yet."""
    return dates.where(~(dates > when))


def _as_list(values: Iterable) -> list:
    """A plain list; ``Series.tolist`` is much faster than iterating a pandas string array."""
    return values.tolist() if isinstance(values, pd.Series) else list(values)


def _check_codes(
    values: Iterable[str], ids: Iterable[object], element: str, info: CinSchemaInfo, w: _Window
) -> None:
    """Raise unless every value is in the XSD code list of ``element`` (blank is missing)."""
    allowed = info.codes[element]
    bad = {v: i for v, i in zip(_as_list(values), _as_list(ids), strict=True) if v not in allowed}
    if bad:
        examples = ", ".join(f"{v!r} (id {i})" for v, i in sorted(bad.items(), key=str))
        raise _fail(w, f"{element} missing or not allowed by {info.path.name}: {examples}")


def _check_no_nulls(df: pd.DataFrame, columns: list[str], table: str, w: _Window) -> None:
    """Raise if a required column has missing values in the rows to be written."""
    for column in columns:
        missing = df[column].isna()
        if missing.any():
            first = df.loc[missing].iloc[0]
            raise _fail(w, f"{table}.{column} is missing (row {first.to_dict()})")


def _cin_details_in_scope(cin_details: pd.DataFrame, w: _Window) -> pd.DataFrame:
    """CIN episodes open at any time in the census year, closures after it removed."""
    _check_no_nulls(cin_details, ["cin_id", "child_id", "referral_date"], "cin_details", w)
    d = cin_details
    open_in_year = (d["referral_date"] <= w.ref) & (
        d["closure_date"].isna() | (d["closure_date"] >= w.start)
    )
    d = d.loc[open_in_year].copy()
    closed_later = d["closure_date"] > w.ref
    d["closure_date"] = d["closure_date"].where(~closed_later)
    d["closure_reason"] = d["closure_reason"].where(~closed_later, "")
    return d


def _modules(table: pd.DataFrame, cin_ids: pd.Series, name: str, w: _Window) -> pd.DataFrame:
    """Rows of a module table belonging to in-scope episodes and started by the ref date."""
    rows = table.loc[table["cin_id"].isin(cin_ids)]
    _check_no_nulls(rows, ["start_date"], name, w)
    rows = rows.loc[rows["start_date"] <= w.ref]
    return rows.sort_values(["cin_id", "start_date"], kind="stable").copy()


def _assessments(auth: SimulatedAuthority, ids: pd.Series, w: _Window) -> pd.DataFrame:
    """Assessments in the census, authorisation and factors blanked while still open."""
    a = _modules(auth.assessments, ids, "assessments", w)
    a = a.loc[~(a["authorisation_date"] < w.start)]
    a["authorisation_date"] = _after(a["authorisation_date"], w.ref)
    # Factors are recorded when the assessment is authorised (rule 8614).
    a["factors"] = a["factors"].where(a["authorisation_date"].notna(), "").fillna("")
    return a


def _section47(auth: SimulatedAuthority, ids: pd.Series, w: _Window) -> pd.DataFrame:
    """S47 enquiries in the census, ICPC dates after the reference date blanked."""
    s = _modules(auth.section47, ids, "section47", w)
    _check_no_nulls(s, ["icpc_not_required"], "section47", w)
    finished_before = (s["icpc_date"] < w.start) | (
        s["icpc_date"].isna() & s["icpc_not_required"].astype(bool) & (s["start_date"] < w.start)
    )
    s = s.loc[~finished_before].copy()
    s["icpc_date"] = _after(s["icpc_date"], w.ref)
    return s


def _cpp(auth: SimulatedAuthority, ids: pd.Series, w: _Window) -> pd.DataFrame:
    """Child protection plans in the census, ends and reviews after the ref date removed."""
    c = _modules(auth.cpp, ids, "cpp", w)
    _check_no_nulls(c, ["n_previous"], "cpp", w)
    c = c.loc[~(c["end_date"] < w.start)].copy()
    c["end_date"] = _after(c["end_date"], w.ref)
    c["review_dates"] = [_reviews_known(r, w.ref) for r in c["review_dates"].tolist()]
    bad = c.loc[c["n_previous"].astype(int) < 0]
    if len(bad):
        raise _fail(w, f"cpp.n_previous is negative for cin_id {bad['cin_id'].iloc[0]}")
    return c


def _reviews_known(reviews: object, ref: pd.Timestamp) -> tuple[str, ...]:
    """Review dates up to ``ref``, sorted, as ``yyyy-mm-dd`` strings."""
    if isinstance(reviews, str) or not isinstance(reviews, Iterable):
        return ()
    dates = sorted(pd.Timestamp(d) for d in reviews if not pd.isna(d))
    return tuple(d.strftime("%Y-%m-%d") for d in dates if d <= ref)


def _cin_plans(auth: SimulatedAuthority, ids: pd.Series, w: _Window) -> pd.DataFrame:
    """CIN plans in the census, ends after the reference date blanked."""
    p = _modules(auth.cin_plans, ids, "cin_plans", w)
    p = p.loc[~(p["end_date"] < w.start)].copy()
    p["end_date"] = _after(p["end_date"], w.ref)
    return p


def _group(df: pd.DataFrame, columns: list[str]) -> dict[int, list[tuple]]:
    """Rows of ``df`` as tuples of ``columns``, grouped by cin_id in table order."""
    out: dict[int, list[tuple]] = defaultdict(list)
    values = [
        _iso(df[c]) if pd.api.types.is_datetime64_any_dtype(df[c]) else df[c].tolist()
        for c in columns
    ]
    for cin_id, *row in zip(df["cin_id"].tolist(), *values, strict=True):
        out[cin_id].append(tuple(row))
    return out


def _disability_code(child_id: str) -> str | None:
    """A disability code for a deterministic ``DISABILITY_SHARE`` of child ids, else None."""
    h = zlib.crc32(child_id.encode("utf-8"))
    if (h % 10_000) >= DISABILITY_SHARE * 10_000:
        return None
    return DISABILITY_CODES[(h // 10_000) % len(DISABILITY_CODES)]


def _children_in_scope(auth: SimulatedAuthority, details: pd.DataFrame, w: _Window) -> pd.DataFrame:
    """The census children, in order of first appearance in ``auth.children``."""
    children = auth.children.drop_duplicates("child_id", keep="first")
    wanted = set(details["child_id"].tolist())
    # A Python set lookup: Series.isin is slow on pyarrow-backed strings.
    children = children.loc[[c in wanted for c in children["child_id"].tolist()]]
    unknown = wanted - set(children["child_id"].tolist())
    if unknown:
        raise _fail(w, f"cin_details refer to children not in auth.children: {sorted(unknown)[:5]}")
    _check_no_nulls(children, ["sex", "ethnicity"], "children", w)
    return children


@dataclass
class _Census:
    """Everything needed to build the XML, already cut to the census year."""

    children: pd.DataFrame
    details: dict[str, list[tuple]]
    assessments: dict[int, list[tuple]]
    plans: dict[int, list[tuple]]
    s47: dict[int, list[tuple]]
    cpp: dict[int, list[tuple]]


def _cut_census(auth: SimulatedAuthority, info: CinSchemaInfo, w: _Window) -> _Census:
    """Select, truncate and check the census year's rows; group them for writing."""
    d = _cin_details_in_scope(auth.cin_details, w)
    if d.empty:
        raise _fail(w, "no child has a CIN episode open in the year; the XSD needs one Child")
    children = _children_in_scope(auth, d, w)
    _check_details(d, info, w)
    ids = d["cin_id"]
    a = _assessments(auth, ids, w)
    s = _section47(auth, ids, w)
    c = _cpp(auth, ids, w)
    p = _cin_plans(auth, ids, w) if info.has_cin_plans else auth.cin_plans.iloc[0:0]
    _check_modules(children, a, c, info, w)

    d = d.sort_values(["referral_date", "cin_id"], kind="stable")
    details: dict[str, list[tuple]] = defaultdict(list)
    columns = [c for c in CIN_DETAIL_COLUMNS if c != "child_id"]
    rows = zip(d["child_id"].tolist(), *(_column(d, col) for col in columns), strict=True)
    for child_id, *row in rows:
        details[child_id].append(tuple(row))
    return _Census(
        children=children,
        details=details,
        assessments=_group(a, ["start_date", "authorisation_date", "factors"]),
        plans=_group(p, ["start_date", "end_date"]),
        s47=_group(s, SECTION47_COLUMNS[1:]),
        cpp=_group(c, CPP_COLUMNS[1:]),
    )


def _column(df: pd.DataFrame, column: str) -> list:
    """A column as a list, dates formatted as ISO strings."""
    if pd.api.types.is_datetime64_any_dtype(df[column]):
        return _iso(df[column])
    return df[column].tolist()


def _check_details(d: pd.DataFrame, info: CinSchemaInfo, w: _Window) -> None:
    """Check the CINdetails codes the XSD constrains."""
    _check_no_nulls(d, ["referral_nfa"], "cin_details", w)
    _check_codes(d["referral_source"].fillna(""), d["cin_id"], "ReferralSource", info, w)
    need = d.loc[d["primary_need"].fillna("") != ""]
    _check_codes(need["primary_need"], need["cin_id"], "PrimaryNeedCode", info, w)
    closed = d.loc[d["closure_date"].notna()]
    _check_codes(closed["closure_reason"].fillna(""), closed["cin_id"], "ReasonForClosure", info, w)


def _check_modules(
    children: pd.DataFrame, a: pd.DataFrame, c: pd.DataFrame, info: CinSchemaInfo, w: _Window
) -> None:
    """Check child, assessment and CPP codes against the XSD code lists."""
    ids = children["child_id"]
    _check_codes(children["ethnicity"], ids, "Ethnicity", info, w)
    sexes = set(_GENDER_CURRENT)
    bad_sex = [s for s in children["sex"].tolist() if s not in sexes]
    if bad_sex:
        raise _fail(w, f"children.sex must be M/F/U, got {bad_sex[0]!r}")
    no_upn = children.loc[children["upn"].fillna("") == ""]
    _check_codes(no_upn["upn_unknown"].fillna(""), no_upn["child_id"], "UPNunknown", info, w)
    upns = children["upn"].fillna("").tolist()
    bad_upn = [u for u in upns if u and not _UPN_PATTERN.fullmatch(u)]
    if bad_upn:
        raise _fail(w, f"UPN not matching the XSD pattern: {bad_upn[:5]}")
    factor_rows = [
        (f, i)
        for fs, i in zip(a["factors"].tolist(), a["cin_id"].tolist(), strict=True)
        for f in _split_factors(fs)
    ]
    _check_codes(
        [f for f, _ in factor_rows], [i for _, i in factor_rows], "AssessmentFactors", info, w
    )
    for column, element in [
        ("initial_category", "InitialCategoryOfAbuse"),
        ("latest_category", "LatestCategoryOfAbuse"),
    ]:
        _check_codes(c[column].fillna(""), c["cin_id"], element, info, w)


def _split_factors(factors: str) -> list[str]:
    """Split a comma-joined factor list into codes (empty list for "")."""
    return [f.strip() for f in factors.split(",") if f.strip()]


def _text(parent: etree._Element, tag: str, text: str | None) -> None:
    """Append ``<tag>text</tag>`` unless text is None (optional element absent)."""
    if text is not None:
        etree.SubElement(parent, tag).text = text


def _header(root: etree._Element, lea: str, w: _Window) -> None:
    """The Header block; DateTime is derived from the year so output is reproducible."""
    header = etree.SubElement(root, "Header")
    collection = etree.SubElement(header, "CollectionDetails")
    _text(collection, "Collection", "CIN")
    _text(collection, "Year", str(w.year))
    _text(collection, "ReferenceDate", w.ref_iso)
    source = etree.SubElement(header, "Source")
    _text(source, "SourceLevel", "L")
    _text(source, "LEA", lea)
    _text(source, "SoftwareCode", SOFTWARE_CODE)
    _text(source, "Release", RELEASE)
    _text(source, "SerialNo", SERIAL_NO)
    _text(source, "DateTime", f"{w.year}-05-01T09:00:00")


def _child_identifiers(child: etree._Element, row: tuple, info: CinSchemaInfo, w: _Window) -> None:
    """ChildIdentifiers in XSD order; unborn children get an expected birth date."""
    child_id, dob, sex, upn, upn_unknown = row
    ids = etree.SubElement(child, "ChildIdentifiers")
    _text(ids, "LAchildID", child_id)
    if upn:
        _text(ids, "UPN", upn)
    else:
        _text(ids, "UPNunknown", upn_unknown)
    unborn = dob is not None and dob > w.ref_iso  # ISO date strings sort as dates
    _text(ids, "ExpectedPersonBirthDate" if unborn else "PersonBirthDate", dob)
    sex = "U" if unborn else sex
    if info.sex_element == "Sex":
        _text(ids, "Sex", sex)
    else:
        _text(ids, "GenderCurrent", _GENDER_CURRENT[sex])


def _child_characteristics(child: etree._Element, child_id: str, ethnicity: str) -> None:
    """Ethnicity and the (deterministic, synthetic) disability list."""
    chars = etree.SubElement(child, "ChildCharacteristics")
    _text(chars, "Ethnicity", ethnicity)
    disabilities = etree.SubElement(chars, "Disabilities")
    _text(disabilities, "Disability", _disability_code(child_id) or "NONE")


def _yes_no(value: object) -> str:
    """The XSD's yesnotype: "1" true, "0" false."""
    return "1" if bool(value) else "0"


def _cin_details(child: etree._Element, row: tuple, census: _Census) -> None:
    """One CINdetails element, children in the XSD's order."""
    cin_id, referral, source, need, closure, reason, nfa = row
    det = etree.SubElement(child, "CINdetails")
    _text(det, "CINreferralDate", referral)
    _text(det, "ReferralSource", source)
    _text(det, "PrimaryNeedCode", need or None)
    _text(det, "CINclosureDate", closure)
    _text(det, "ReasonForClosure", reason if closure else None)
    for start, authorised, factors in census.assessments.get(cin_id, ()):
        _assessment(det, start, authorised, factors)
    for start, end in census.plans.get(cin_id, ()):
        plan = etree.SubElement(det, "CINPlanDates")
        _text(plan, "CINPlanStartDate", start)
        _text(plan, "CINPlanEndDate", end)
    for start, target, icpc, not_required in census.s47.get(cin_id, ()):
        s47 = etree.SubElement(det, "Section47")
        _text(s47, "S47ActualStartDate", start)
        _text(s47, "InitialCPCtarget", target)
        _text(s47, "DateOfInitialCPC", icpc)
        _text(s47, "ICPCnotRequired", _yes_no(not_required))
    _text(det, "ReferralNFA", _yes_no(nfa))
    for plan_row in census.cpp.get(cin_id, ()):
        _protection_plan(det, *plan_row)


def _assessment(det: etree._Element, start: str, authorised: str | None, factors: str) -> None:
    """One Assessments element; factors only for an authorised assessment."""
    el = etree.SubElement(det, "Assessments")
    _text(el, "AssessmentActualStartDate", start)
    _text(el, "AssessmentAuthorisationDate", authorised)
    codes = _split_factors(factors)
    if codes:
        found = etree.SubElement(el, "FactorsIdentifiedAtAssessment")
        for code in codes:
            _text(found, "AssessmentFactors", code)


def _protection_plan(
    det: etree._Element,
    start: str,
    end: str | None,
    initial: str,
    latest: str,
    n_previous: int,
    reviews: tuple[str, ...],
) -> None:
    """One ChildProtectionPlans element; Reviews only when there is a review date."""
    el = etree.SubElement(det, "ChildProtectionPlans")
    _text(el, "CPPstartDate", start)
    _text(el, "CPPendDate", end)
    _text(el, "InitialCategoryOfAbuse", initial)
    _text(el, "LatestCategoryOfAbuse", latest)
    _text(el, "NumberOfPreviousCPP", str(int(n_previous)))
    if reviews:
        el_reviews = etree.SubElement(el, "Reviews")
        for review in reviews:
            _text(el_reviews, "CPPreviewDate", review)


def _build(
    auth: SimulatedAuthority, census: _Census, info: CinSchemaInfo, w: _Window
) -> etree._Element:
    """The whole Message tree."""
    root = etree.Element("Message")
    _header(root, auth.lea, w)
    children_el = etree.SubElement(root, "Children")
    ch = census.children
    rows = zip(
        ch["child_id"].tolist(),
        _iso(ch["dob"]),
        ch["sex"].tolist(),
        ch["upn"].fillna("").tolist(),
        ch["upn_unknown"].fillna("").tolist(),
        ch["ethnicity"].tolist(),
        strict=True,
    )
    for child_id, dob, sex, upn, upn_unknown, ethnicity in rows:
        child = etree.SubElement(children_el, "Child")
        _child_identifiers(child, (child_id, dob, sex, upn, upn_unknown), info, w)
        _child_characteristics(child, child_id, ethnicity)
        for row in census.details[child_id]:
            _cin_details(child, row, census)
    return root


def write_cin_census(auth: SimulatedAuthority, year: int, path: Path) -> int:
    """Write the CIN census XML for the year ending 31 March ``year``; return #Child elements.

    The file is UTF-8 with an XML declaration, pretty-printed, valid against the XSD in force
    for ``year`` (see the module docstring for the scope and truncation rules). Raises
    ``ValueError`` when the tables hold a value that the XSD would reject or lack a required
    field, and when no child is in scope (the XSD needs at least one ``Child``).
    """
    w = _Window.for_year(year)
    if not _LEA_PATTERN.fullmatch(str(auth.lea)):
        raise _fail(w, f"LEA must be 3 digits, got {auth.lea!r}")
    info = cin_schema_info(year)
    census = _cut_census(auth, info, w)
    root = _build(auth, census, info, w)
    # Double-quoted declaration as in LA systems' files (lxml's own uses single quotes).
    data = _DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(census.children)
