"""Tests for the synthetic CIN census writer and the CIN XSD helpers.

The fixture is a hand-made authority of six children whose CIN histories cover the cases the
census cut must handle; the expected contents of each year's file are worked out by hand in
the comments next to the rows.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from lxml import etree

from model.ingestcin.schema import cin_schema_info, cin_xsd_for_year, validate_cin_xml
from model.synth import write_cin
from model.synth.records import (
    ASSESSMENT_COLUMNS,
    CHILD_COLUMNS,
    CIN_DETAIL_COLUMNS,
    CIN_PLAN_COLUMNS,
    CPP_COLUMNS,
    SECTION47_COLUMNS,
    SimulatedAuthority,
)
from model.synth.write_cin import write_cin_census

SHARED_DATA = Path(__file__).parent / "data" / "samples"
FAKE_CIN_2024 = SHARED_DATA / "cin_census/synthetic/csc_validator_cin_fake/CIN_Census_2024.xml"

YEARS = [2018, 2021, 2022, 2023, 2024, 2025, 2026]

# Children, deliberately not in id order: the file must follow this order.
CHILDREN = [
    # child_id, dob, sex, ethnicity, upn, upn_unknown
    ("C004", "2010-01-01", "M", "WBRI", "C12345678901A", ""),
    ("C001", "2015-06-01", "M", "WBRI", "A123456789012", ""),
    ("C002", "2012-02-10", "F", "BAFR", "", "UN2"),  # no UPN
    ("C003", "2019-09-09", "F", "AIND", "B123456789013", ""),
    ("C005", "2008-05-05", "M", "MWBC", "D123456789014", ""),
    ("C006", "2024-06-15", "F", "WBRI", "", "UN1"),  # unborn at 31 March 2024
]
CIN_DETAILS = [
    # cin_id, child_id, referral, source, need, closure, reason, nfa
    (10, "C001", "2023-01-15", "2A", "N1", "2024-06-30", "RC7", False),  # open across 31/3/24
    (21, "C002", "2023-11-10", "6", "N5", None, "", False),  # C002's 2nd episode in 2023-24
    (20, "C002", "2023-04-03", "1A", "N4", "2023-05-20", "RC8", False),  # closed in-year
    (30, "C003", "2024-01-10", "9", "", "2024-01-10", "RC7", True),  # NFA referral
    (40, "C004", "2021-06-01", "5A", "N2", None, "", False),  # open for years
    (50, "C005", "2019-05-01", "3A", "N3", "2020-06-15", "RC7", False),  # in 2020, 2021
    (51, "C005", "2017-06-01", "10", "N6", "2018-02-01", "RC5", False),  # in 2018 only
    (60, "C006", "2024-02-01", "3B", "N1", None, "", False),  # pre-birth referral
]
ASSESSMENTS = [
    # cin_id, start, authorisation, factors
    (10, "2023-01-16", "2023-02-20", "3B,4B"),  # done before 2023-24: in 2023 file only
    (20, "2023-04-04", "2023-05-19", "21"),
    (21, "2024-03-01", "2024-04-20", "1B,2B"),  # open at 31/3/24
    (40, "2021-06-02", "2021-07-10", ""),  # authorised, no factors
]
SECTION47 = [
    # cin_id, start, icpc_target, icpc_date, icpc_not_required
    (10, "2023-10-02", "2023-10-16", "2023-10-13", False),
    (21, "2023-11-12", "2023-11-26", None, True),  # no ICPC needed
    (40, "2023-11-20", "2023-12-04", "2023-12-01", False),
    (51, "2017-06-05", "2017-06-19", None, True),
    (60, "2024-03-20", "2024-04-03", "2024-04-02", False),  # ICPC after 31/3/24
]
CPP = [
    # cin_id, start, end, initial, latest, n_previous, reviews
    (10, "2023-10-13", "2024-05-31", "NEG", "EMO", 1, ("2024-04-05", "2024-01-05")),
    (40, "2021-08-01", "2022-08-01", "PHY", "PHY", 0, ("2021-11-01", "2022-03-01")),
    (40, "2023-12-01", None, "PHY", "MUL", 1, ()),  # open, no reviews yet
    (60, "2024-04-02", None, "NEG", "NEG", 0, ()),  # starts after 31/3/24
]
CIN_PLANS = [
    # cin_id, start, end
    (10, "2023-02-21", "2023-09-30"),
    (10, "2024-06-01", "2024-06-30"),
    (50, "2020-02-01", "2020-06-15"),  # 2017 schema years: not written
]
EXPECTED_CHILDREN = {
    2018: ["C005"],
    2021: ["C005"],
    2022: ["C004"],
    2023: ["C004", "C001"],
    2024: ["C004", "C001", "C002", "C003", "C006"],
    2025: ["C004", "C001", "C002", "C006"],
    2026: ["C004", "C002", "C006"],
}


def _dates(values: list) -> pd.Series:
    """ISO strings / None as a whole-day datetime column (NaT for None)."""
    return pd.Series(pd.to_datetime(values)).astype("datetime64[s]")


def _frame(rows: list[tuple], columns: list[str], date_columns: list[str]) -> pd.DataFrame:
    """A records table from literal rows, with the date columns converted."""
    df = pd.DataFrame(rows, columns=columns)
    for column in date_columns:
        df[column] = _dates(df[column].tolist())
    return df


def _authority() -> SimulatedAuthority:
    """The hand-made six-child authority."""
    children = pd.DataFrame(CHILDREN, columns=CHILD_COLUMNS[:6])
    children["dob"] = _dates(children["dob"].tolist())
    children["uasc"] = False
    children["duc"] = _dates([None] * len(children))
    cpp = _frame(
        [(*row[:6], tuple(pd.Timestamp(d) for d in row[6])) for row in CPP],
        CPP_COLUMNS,
        ["start_date", "end_date"],
    )
    return SimulatedAuthority(
        code="SYN1",
        lea="123",
        name="Synthetic test authority",
        population_0_17=10_000,
        first_year=2018,
        last_year=2026,
        children=children[CHILD_COLUMNS],
        episodes=pd.DataFrame(),
        cin_details=_frame(CIN_DETAILS, CIN_DETAIL_COLUMNS, ["referral_date", "closure_date"]),
        assessments=_frame(ASSESSMENTS, ASSESSMENT_COLUMNS, ["start_date", "authorisation_date"]),
        section47=_frame(SECTION47, SECTION47_COLUMNS, ["start_date", "icpc_target", "icpc_date"]),
        cpp=cpp,
        cin_plans=_frame(CIN_PLANS, CIN_PLAN_COLUMNS, ["start_date", "end_date"]),
    )


@pytest.fixture
def auth() -> SimulatedAuthority:
    return _authority()


def _write(auth: SimulatedAuthority, year: int, tmp_path: Path) -> etree._Element:
    """Write the census for ``year`` and parse it back."""
    path = tmp_path / f"cin_{year}.xml"
    write_cin_census(auth, year, path)
    return etree.parse(str(path)).getroot()


def _child(root: etree._Element, child_id: str) -> etree._Element:
    """The Child element with this LAchildID."""
    (child,) = root.xpath(f"Children/Child[ChildIdentifiers/LAchildID='{child_id}']")
    return child


def _texts(el: etree._Element, xpath: str) -> list[str]:
    """Text of every element matching ``xpath`` under ``el``."""
    return [e.text for e in el.xpath(xpath)]


# --- schema choice -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "schema", "sex_element", "has_plans"),
    [
        (2015, "CIN_schema_2017.xsd", "GenderCurrent", False),
        (2021, "CIN_schema_2017.xsd", "GenderCurrent", False),
        (2022, "CIN_schema_2022.xsd", "GenderCurrent", True),
        (2023, "CIN_schema_2022.xsd", "GenderCurrent", True),
        (2024, "CIN_schema_2024.xsd", "GenderCurrent", True),
        (2025, "CIN_schema_2026.xsd", "Sex", True),
        (2026, "CIN_schema_2026.xsd", "Sex", True),
        (2030, "CIN_schema_2026.xsd", "Sex", True),
    ],
)
def test_schema_for_year(year: int, schema: str, sex_element: str, has_plans: bool) -> None:
    path = cin_xsd_for_year(year)
    assert path.name == schema
    assert path.is_file()
    info = cin_schema_info(year)
    assert (info.sex_element, info.has_cin_plans) == (sex_element, has_plans)


def test_code_lists_follow_the_schema_year() -> None:
    assert "RC9" not in cin_schema_info(2023).codes["ReasonForClosure"]
    assert "RC9" in cin_schema_info(2024).codes["ReasonForClosure"]
    assert "5D" in cin_schema_info(2024).codes["ReferralSource"]
    assert "24A" not in cin_schema_info(2021).codes["AssessmentFactors"]
    assert "24A" in cin_schema_info(2022).codes["AssessmentFactors"]
    assert cin_schema_info(2024).codes["GenderCurrent"] == {"0", "1", "2", "9"}
    assert cin_schema_info(2025).codes["Sex"] == {"M", "F", "U"}
    assert cin_schema_info(2025).codes["ReferralNFA"] == {"0", "1"}


# --- (a) validity and scope per year ---------------------------------------------------------


@pytest.mark.parametrize("year", YEARS)
def test_written_file_is_valid_for_its_year(
    auth: SimulatedAuthority, year: int, tmp_path: Path
) -> None:
    path = tmp_path / "cin.xml"
    n = write_cin_census(auth, year, path)
    assert validate_cin_xml(path, year) == []
    root = etree.parse(str(path)).getroot()
    assert n == len(EXPECTED_CHILDREN[year])
    assert _texts(root, "Children/Child/ChildIdentifiers/LAchildID") == EXPECTED_CHILDREN[year]
    assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Message>')


def test_header(auth: SimulatedAuthority, tmp_path: Path) -> None:
    root = _write(auth, 2024, tmp_path)
    assert _texts(root, "Header/CollectionDetails/*") == ["CIN", "2024", "2024-03-31"]
    assert _texts(root, "Header/Source/*") == [
        "L",
        "123",
        "carecast-synthetic",
        "1",
        "001",
        "2024-05-01T09:00:00",
    ]


# --- (b) GenderCurrent vs Sex ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "expected"),
    # 2024: C004 M, C001 M, C002 F, C003 F, C006 unborn ("0", not recorded or unborn).
    [(2018, ["1"]), (2023, ["1", "1"]), (2024, ["1", "1", "2", "2", "0"])],
)
def test_gender_current_up_to_2024(
    auth: SimulatedAuthority, year: int, expected: list[str], tmp_path: Path
) -> None:
    root = _write(auth, year, tmp_path)
    assert root.xpath("//Sex") == []
    assert _texts(root, "//GenderCurrent") == expected


@pytest.mark.parametrize("year", [2025, 2026])
def test_sex_from_2025(auth: SimulatedAuthority, year: int, tmp_path: Path) -> None:
    root = _write(auth, year, tmp_path)
    assert root.xpath("//GenderCurrent") == []
    expected = {2025: ["M", "M", "F", "F"], 2026: ["M", "F", "F"]}[year]
    assert _texts(root, "//Sex") == expected


def test_unborn_child_has_expected_birth_date(auth: SimulatedAuthority, tmp_path: Path) -> None:
    ids_2024 = _child(_write(auth, 2024, tmp_path), "C006").find("ChildIdentifiers")
    assert [e.tag for e in ids_2024] == [
        "LAchildID",
        "UPNunknown",
        "ExpectedPersonBirthDate",
        "GenderCurrent",
    ]
    assert ids_2024.findtext("ExpectedPersonBirthDate") == "2024-06-15"
    ids_2025 = _child(_write(auth, 2025, tmp_path), "C006").find("ChildIdentifiers")
    assert ids_2025.findtext("PersonBirthDate") == "2024-06-15"
    assert ids_2025.find("ExpectedPersonBirthDate") is None
    assert ids_2025.findtext("Sex") == "F"


def test_upn_or_upn_unknown(auth: SimulatedAuthority, tmp_path: Path) -> None:
    root = _write(auth, 2024, tmp_path)
    c001 = _child(root, "C001").find("ChildIdentifiers")
    assert (c001.findtext("UPN"), c001.find("UPNunknown")) == ("A123456789012", None)
    c002 = _child(root, "C002").find("ChildIdentifiers")
    assert (c002.find("UPN"), c002.findtext("UPNunknown")) == (None, "UN2")


# --- (c) scope and truncation ------------------------------------------------------------------


def test_closure_after_reference_date_is_written_open(
    auth: SimulatedAuthority, tmp_path: Path
) -> None:
    det_2024 = _child(_write(auth, 2024, tmp_path), "C001").find("CINdetails")
    assert det_2024.find("CINclosureDate") is None
    assert det_2024.find("ReasonForClosure") is None
    det_2025 = _child(_write(auth, 2025, tmp_path), "C001").find("CINdetails")
    assert (det_2025.findtext("CINclosureDate"), det_2025.findtext("ReasonForClosure")) == (
        "2024-06-30",
        "RC7",
    )


def test_two_episodes_in_one_year_sorted_by_referral(
    auth: SimulatedAuthority, tmp_path: Path
) -> None:
    child = _child(_write(auth, 2024, tmp_path), "C002")
    details = child.findall("CINdetails")
    assert [d.findtext("CINreferralDate") for d in details] == ["2023-04-03", "2023-11-10"]
    closed, current = details
    assert (closed.findtext("CINclosureDate"), closed.findtext("ReasonForClosure")) == (
        "2023-05-20",
        "RC8",
    )
    assert _texts(closed, "Assessments/FactorsIdentifiedAtAssessment/AssessmentFactors") == ["21"]
    assert current.find("CINclosureDate") is None
    # Only the open episode is in the next year's file.
    child_2025 = _child(_write(auth, 2025, tmp_path), "C002")
    assert _texts(child_2025, "CINdetails/CINreferralDate") == ["2023-11-10"]


def test_assessment_open_at_census_date(auth: SimulatedAuthority, tmp_path: Path) -> None:
    current = _child(_write(auth, 2024, tmp_path), "C002").findall("CINdetails")[1]
    (assessment,) = current.findall("Assessments")
    assert [e.tag for e in assessment] == ["AssessmentActualStartDate"]
    assert assessment.findtext("AssessmentActualStartDate") == "2024-03-01"
    # Authorised in 2024-25: date and factors appear in that year's file.
    current_2025 = _child(_write(auth, 2025, tmp_path), "C002").find("CINdetails")
    (assessment_2025,) = current_2025.findall("Assessments")
    assert assessment_2025.findtext("AssessmentAuthorisationDate") == "2024-04-20"
    assert _texts(assessment_2025, "FactorsIdentifiedAtAssessment/AssessmentFactors") == [
        "1B",
        "2B",
    ]


def test_assessment_without_factors_has_no_factor_element(
    auth: SimulatedAuthority, tmp_path: Path
) -> None:
    (assessment,) = _child(_write(auth, 2022, tmp_path), "C004").xpath("CINdetails/Assessments")
    assert assessment.findtext("AssessmentAuthorisationDate") == "2021-07-10"
    assert assessment.find("FactorsIdentifiedAtAssessment") is None


def test_modules_finished_before_the_year_are_not_resubmitted(
    auth: SimulatedAuthority, tmp_path: Path
) -> None:
    c001 = _child(_write(auth, 2024, tmp_path), "C001").find("CINdetails")
    assert c001.find("Assessments") is None  # authorised 2023-02-20, in the 2023 file
    c001_2023 = _child(_write(auth, 2023, tmp_path), "C001").find("CINdetails")
    assert _texts(c001_2023, "Assessments/AssessmentAuthorisationDate") == ["2023-02-20"]
    c004 = _child(_write(auth, 2024, tmp_path), "C004").find("CINdetails")
    assert _texts(c004, "ChildProtectionPlans/CPPstartDate") == ["2023-12-01"]
    assert c004.find("Assessments") is None


def test_s47_with_and_without_icpc(auth: SimulatedAuthority, tmp_path: Path) -> None:
    root = _write(auth, 2024, tmp_path)
    (with_icpc,) = _child(root, "C001").xpath("CINdetails/Section47")
    assert [(e.tag, e.text) for e in with_icpc] == [
        ("S47ActualStartDate", "2023-10-02"),
        ("InitialCPCtarget", "2023-10-16"),
        ("DateOfInitialCPC", "2023-10-13"),
        ("ICPCnotRequired", "0"),
    ]
    (not_required,) = _child(root, "C002").xpath("CINdetails/Section47")
    assert not_required.find("DateOfInitialCPC") is None
    assert not_required.findtext("ICPCnotRequired") == "1"
    # ICPC held on 2 April 2024: not known at 31 March, the target date is.
    (pending,) = _child(root, "C006").xpath("CINdetails/Section47")
    assert pending.find("DateOfInitialCPC") is None
    assert pending.findtext("InitialCPCtarget") == "2024-04-03"
    assert pending.findtext("ICPCnotRequired") == "0"
    # No ICPC at CINdetails level (rule 2884).
    assert root.xpath("//CINdetails/DateOfInitialCPC") == []


def test_cpp_open_and_closed_with_reviews(auth: SimulatedAuthority, tmp_path: Path) -> None:
    (open_2024,) = _child(_write(auth, 2024, tmp_path), "C001").xpath(".//ChildProtectionPlans")
    assert open_2024.find("CPPendDate") is None
    assert _texts(open_2024, "Reviews/CPPreviewDate") == ["2024-01-05"]  # 2024-04-05 unknown
    assert _texts(open_2024, "InitialCategoryOfAbuse|LatestCategoryOfAbuse") == ["NEG", "EMO"]
    assert open_2024.findtext("NumberOfPreviousCPP") == "1"
    (closed_2025,) = _child(_write(auth, 2025, tmp_path), "C001").xpath(".//ChildProtectionPlans")
    assert closed_2025.findtext("CPPendDate") == "2024-05-31"
    assert _texts(closed_2025, "Reviews/CPPreviewDate") == ["2024-01-05", "2024-04-05"]


def test_cpp_without_reviews_has_no_reviews_element(
    auth: SimulatedAuthority, tmp_path: Path
) -> None:
    (plan,) = _child(_write(auth, 2024, tmp_path), "C004").xpath(".//ChildProtectionPlans")
    assert [e.tag for e in plan] == [
        "CPPstartDate",
        "InitialCategoryOfAbuse",
        "LatestCategoryOfAbuse",
        "NumberOfPreviousCPP",
    ]


def test_modules_starting_after_reference_date_are_dropped(
    auth: SimulatedAuthority, tmp_path: Path
) -> None:
    c006 = _child(_write(auth, 2024, tmp_path), "C006")
    assert c006.xpath(".//ChildProtectionPlans") == []  # CPP starts 2024-04-02
    c006_2025 = _child(_write(auth, 2025, tmp_path), "C006")
    assert _texts(c006_2025, "CINdetails/ChildProtectionPlans/CPPstartDate") == ["2024-04-02"]
    c001 = _child(_write(auth, 2024, tmp_path), "C001")
    assert _texts(c001, "CINdetails/CINPlanDates/CINPlanStartDate") == ["2023-02-21"]


def test_cin_plans(auth: SimulatedAuthority, tmp_path: Path) -> None:
    det_2023 = _child(_write(auth, 2023, tmp_path), "C001").find("CINdetails")
    (plan,) = det_2023.findall("CINPlanDates")
    assert [(e.tag, e.text) for e in plan] == [("CINPlanStartDate", "2023-02-21")]  # ends later
    det_2024 = _child(_write(auth, 2024, tmp_path), "C001").find("CINdetails")
    assert _texts(det_2024, "CINPlanDates/CINPlanEndDate") == ["2023-09-30"]
    det_2025 = _child(_write(auth, 2025, tmp_path), "C001").find("CINdetails")
    assert _texts(det_2025, "CINPlanDates/CINPlanStartDate") == ["2024-06-01"]
    # CINdetails children in XSD order: Assessments?, CINPlanDates, Section47, ReferralNFA, CPP.
    assert [e.tag for e in det_2024][-4:] == [
        "CINPlanDates",
        "Section47",
        "ReferralNFA",
        "ChildProtectionPlans",
    ]


def test_no_cin_plans_with_the_2017_schema(auth: SimulatedAuthority, tmp_path: Path) -> None:
    root = _write(auth, 2021, tmp_path)
    assert root.xpath("//CINPlanDates") == []
    assert _texts(root, "//CINdetails/CINclosureDate") == ["2020-06-15"]


def test_nfa_referral(auth: SimulatedAuthority, tmp_path: Path) -> None:
    det = _child(_write(auth, 2024, tmp_path), "C003").find("CINdetails")
    assert det.findtext("ReferralNFA") == "1"
    assert det.find("PrimaryNeedCode") is None
    assert [e.tag for e in det] == [
        "CINreferralDate",
        "ReferralSource",
        "CINclosureDate",
        "ReasonForClosure",
        "ReferralNFA",
    ]


def test_disabilities(auth: SimulatedAuthority, tmp_path: Path) -> None:
    root = _write(auth, 2024, tmp_path)
    for child in root.iter("Child"):
        (code,) = _texts(child, "ChildCharacteristics/Disabilities/Disability")
        expected = write_cin._disability_code(child.findtext("ChildIdentifiers/LAchildID"))
        assert code == (expected or "NONE")
    codes = [write_cin._disability_code(f"X{i}") for i in range(20_000)]
    share = sum(c is not None for c in codes) / len(codes)
    assert abs(share - write_cin.DISABILITY_SHARE) < 0.01
    assert {c for c in codes if c} == set(write_cin.DISABILITY_CODES)


# --- (d) determinism ---------------------------------------------------------------------------


def test_same_input_same_bytes(auth: SimulatedAuthority, tmp_path: Path) -> None:
    first, second, shuffled = (tmp_path / f"{n}.xml" for n in ("a", "b", "c"))
    write_cin_census(auth, 2024, first)
    write_cin_census(_authority(), 2024, second)
    assert first.read_bytes() == second.read_bytes()
    # Row order of the CIN tables does not matter: episodes and modules are sorted.
    reordered = replace(
        auth,
        cin_details=auth.cin_details.iloc[::-1],
        assessments=auth.assessments.iloc[::-1],
        section47=auth.section47.iloc[::-1],
        cpp=auth.cpp.iloc[::-1],
    )
    write_cin_census(reordered, 2024, shuffled)
    assert shuffled.read_bytes() == first.read_bytes()


# --- fail loudly instead of writing invalid XML -------------------------------------------------


def test_code_not_in_the_years_schema_raises(auth: SimulatedAuthority, tmp_path: Path) -> None:
    details = auth.cin_details.copy()
    details.loc[details["cin_id"].isin([20, 51]), "closure_reason"] = "RC9"
    with_rc9 = replace(auth, cin_details=details)
    assert write_cin_census(with_rc9, 2024, tmp_path / "ok.xml") == 5  # RC9 exists from 2024
    with pytest.raises(ValueError, match=r"ReasonForClosure .*'RC9' \(id 51\)"):
        write_cin_census(with_rc9, 2018, tmp_path / "bad.xml")


def test_missing_required_field_raises(auth: SimulatedAuthority, tmp_path: Path) -> None:
    details = auth.cin_details.copy()
    details.loc[details["cin_id"] == 30, "referral_source"] = ""
    with pytest.raises(ValueError, match=r"ReferralSource missing or not allowed"):
        write_cin_census(replace(auth, cin_details=details), 2024, tmp_path / "x.xml")


def test_child_without_upn_or_reason_raises(auth: SimulatedAuthority, tmp_path: Path) -> None:
    children = auth.children.copy()
    children.loc[children["child_id"] == "C002", "upn_unknown"] = ""
    with pytest.raises(ValueError, match=r"UPNunknown .*'' \(id C002\)"):
        write_cin_census(replace(auth, children=children), 2024, tmp_path / "x.xml")


def test_bad_factor_for_old_schema_raises(auth: SimulatedAuthority, tmp_path: Path) -> None:
    extra = pd.DataFrame([(51, "2017-06-02", "2017-07-01", "24A")], columns=ASSESSMENT_COLUMNS)
    for column in ["start_date", "authorisation_date"]:
        extra[column] = _dates(extra[column].tolist())
    with_24a = replace(auth, assessments=pd.concat([auth.assessments, extra], ignore_index=True))
    with pytest.raises(ValueError, match="AssessmentFactors"):
        write_cin_census(with_24a, 2018, tmp_path / "x.xml")


def test_year_without_children_raises(auth: SimulatedAuthority, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no child"):
        write_cin_census(auth, 2019, tmp_path / "x.xml")
    assert not (tmp_path / "x.xml").exists()


# --- (e) validate_cin_xml reports errors with line numbers --------------------------------------


def _line_of(text: str, needle: str) -> int:
    """1-based line number of the first line containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_validator_reports_bad_date_with_line(auth: SimulatedAuthority, tmp_path: Path) -> None:
    path = tmp_path / "cin.xml"
    write_cin_census(auth, 2024, path)
    text = path.read_text().replace(
        "<CINreferralDate>2024-01-10</CINreferralDate>",
        "<CINreferralDate>2024-02-30</CINreferralDate>",
    )
    path.write_text(text)
    errors = validate_cin_xml(path, 2024)
    assert len(errors) == 1
    assert errors[0].startswith(f"line {_line_of(text, '2024-02-30')}: Element 'CINreferralDate'")
    assert "2024-02-30" in errors[0]


def test_validator_reports_wrong_order_with_line(auth: SimulatedAuthority, tmp_path: Path) -> None:
    path = tmp_path / "cin.xml"
    write_cin_census(auth, 2024, path)
    lines = path.read_text().splitlines(keepends=True)
    i = _line_of("".join(lines), "<ReferralSource>") - 1  # swap with CINreferralDate above
    lines[i - 1], lines[i] = lines[i], lines[i - 1]
    path.write_text("".join(lines))
    errors = validate_cin_xml(path, 2024)
    assert errors
    assert errors[0].startswith(f"line {i}: Element 'ReferralSource': This element is not expected")


def test_validator_reports_wrong_year_schema(auth: SimulatedAuthority, tmp_path: Path) -> None:
    path = tmp_path / "cin.xml"
    write_cin_census(auth, 2024, path)
    errors = validate_cin_xml(path, 2025)  # GenderCurrent where the 2024-25 schema wants Sex
    assert len(errors) == 5
    assert all("Element 'GenderCurrent': This element is not expected" in e for e in errors)


def test_validator_reports_malformed_xml(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text('<?xml version="1.0"?>\n<Message>\n  <Children>\n</Message>\n')
    errors = validate_cin_xml(path, 2024)
    assert errors
    assert errors[0].startswith("line 4: ")


def test_validator_does_not_expand_entities(tmp_path: Path) -> None:
    path = tmp_path / "xxe.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        "<Message><Children>&x;</Children></Message>\n"
    )
    assert validate_cin_xml(path, 2024) == [
        "line 3: DOCTYPE declarations are not allowed in a CIN census file"
    ]


def test_validator_on_csc_validator_fake_file() -> None:
    # The file is a 2024-25 return (Sex codes, referrals in autumn 2024) with planted errors.
    errors = validate_cin_xml(FAKE_CIN_2024, 2025)
    found = [(e.split(":")[0], e.split("'")[1]) for e in errors]
    assert found == [
        ("line 19", "ChildIdentifiers"),  # stray text "PersonBirthDate" between elements
        ("line 25", "Sex"),  # Sex 1 instead of M/F/U
        ("line 46", "AssessmentFactors"),  # factor code RB
        ("line 58", "ICPCnotRequired"),  # "false": the XSD yes/no type is 0/1
        ("line 95", "FactorsIdentifiedAtAssessment"),  # empty factor list
        ("line 97", "ReferralNFA"),  # "false"
    ]
    assert "The value '1' is not an element of the set" in errors[1]
    # Against the 2023-24 schema both Sex elements are wrong (GenderCurrent expected).
    errors_2024 = validate_cin_xml(FAKE_CIN_2024, 2024)
    sex_errors = [e for e in errors_2024 if "Element 'Sex': This element is not expected" in e]
    assert [e.split(":")[0] for e in sex_errors] == ["line 25", "line 78"]
