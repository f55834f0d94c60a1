"""Issue 15, CIN part: hostile and broken census inputs get a clear answer, never a silent
wrong one, a child's identifier in a shared file, a traceback or a hang.

Every input is a small synthetic census written here (never real data). Each test failed
before the hardening and passes after it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd
import pytest

from model.cli import main
from model.ingest.withhold import WITHHELD
from model.ingest903 import IngestError
from model.ingestcin import CensusCutShortError, CensusYearsMissingError, ingest_cin
from model.ingestcin.read import read_cin
from model.input_files import MAX_INPUT_MB_ENV

TODAY = dt.date(2026, 12, 7)


def header(year: int, sex_year: int | None = None) -> str:
    """The start of a census for the year ending 31 March ``year`` (up to ``<Children>``)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<Message><Header><CollectionDetails>'
        f"<Collection>CIN</Collection><Year>{year}</Year>"
        f"<ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails><Source>"
        "<SourceLevel>L</SourceLevel><LEA>001</LEA><SoftwareCode>t</SoftwareCode>"
        "<Release>1</Release><SerialNo>001</SerialNo><DateTime>2023-04-01T00:00:00</DateTime>"
        "</Source></Header><Children>\n"
    )


FOOTER = "</Children></Message>\n"


def child(
    lachildid: str | None = "A1",
    referral: str = "2022-06-01",
    birth: str = "2015-01-01",
    upn: str = "",
    former_upn: str = "",
    expected_birth: str = "",
    death: str = "",
    sex: str = "<GenderCurrent>1</GenderCurrent>",
    assessment: str = "",
) -> str:
    """One Child with one CINdetails; values are XML-escaped (so any text can be given)."""

    def el(name: str, value: str | None) -> str:
        return f"<{name}>{escape(value)}</{name}>" if value else ""

    ident = "" if lachildid is None else f"<LAchildID>{escape(lachildid)}</LAchildID>"
    unknown = "" if upn else "<UPNunknown>UN1</UPNunknown>"
    module = (
        f"<Assessments><AssessmentActualStartDate>{assessment}</AssessmentActualStartDate>"
        "</Assessments>"
        if assessment
        else ""
    )
    return (
        f"<Child><ChildIdentifiers>{ident}{el('UPN', upn)}{el('FormerUPN', former_upn)}"
        f"{unknown}{el('PersonBirthDate', birth)}{el('ExpectedPersonBirthDate', expected_birth)}"
        f"{sex}{el('PersonDeathDate', death)}</ChildIdentifiers>"
        "<ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics><CINdetails>"
        f"<CINreferralDate>{escape(referral)}</CINreferralDate>"
        "<ReferralSource>1A</ReferralSource><PrimaryNeedCode>N1</PrimaryNeedCode>"
        f"{module}<ReferralNFA>0</ReferralNFA></CINdetails></Child>\n"
    )


def census(folder: Path, year: int, *children: str, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"cin_census_{year}.xml")
    path.write_text(header(year) + "".join(children) + FOOTER, encoding="utf-8")
    return path


def many(n: int, year: int = 2023) -> list[str]:
    return [child(f"C{i:04d}", referral=f"{year - 1}-06-01") for i in range(n)]


def ingest(paths: list[Path], tmp_path: Path, today: dt.date = TODAY):
    return ingest_cin(paths, "X", tmp_path / "out", tmp_path / "private", today=today)


def run_cli(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(["ingest", "cin", str(path), "--authority", "X",
                 "--out", str(tmp_path / "out"), "--private", str(tmp_path / "p")])  # fmt: skip
    return code, capsys.readouterr().err


def shared_text(tmp_path: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted((tmp_path / "out").iterdir()))


# --------------------------------------------------------------------------- 1. cut short


def test_truncated_census_fails_naming_file_line_and_children_read(tmp_path: Path) -> None:
    path = census(tmp_path / "cin", 2023, *many(40))
    text = path.read_text(encoding="utf-8")
    kept = text[: len(text) // 2]  # cut mid-way, inside a Child
    path.write_text(kept, encoding="utf-8")
    read = read_cin([path])
    (account,) = read.files
    assert account.status == "partly read" and account.cut_short
    # Found: the Child start tags left in the file (the lost half cannot be counted).
    assert account.found == kept.count("<Child>") == 20
    assert (account.read, account.unread) == (19, 1)
    with pytest.raises(CensusCutShortError) as caught:
        ingest([path], tmp_path)
    message = str(caught.value)
    assert str(path) in message and "cut short at line 2" in message
    assert "19 Child elements read before the break, 1 not read (20 found in the file)" in message
    assert f"(after Child {account.read})" in message
    assert not (tmp_path / "out" / "observations_cin.csv").exists()


def test_census_malformed_halfway_fails_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    children = many(30)
    children[15] = children[15].replace("</Ethnicity>", "</Ethnicty>")
    path = census(tmp_path / "cin", 2023, *children)
    code, err = run_cli(path, tmp_path, capsys)
    assert code == 2 and "Traceback" not in err
    assert f"{path}: census cut short at line" in err
    assert "15 Child elements read before the break, 15 not read (30 found in the file)" in err


def test_children_without_lachildid_are_read_and_quarantined(tmp_path: Path) -> None:
    path = census(tmp_path / "cin", 2023, child("A1"), child(None), child("   "), child("A4"))
    result = ingest([path], tmp_path)
    report = result.report
    # 4 Child elements found, 4 read; the 2 without id quarantined (Child + CINdetails rows).
    (account,) = result.files
    assert (account.found, account.read, account.unread) == (4, 4, 0)
    assert report["rows"]["read"] == 8 and report["rows"]["quarantined"] == 4
    assert report["plausibility_gates"]["no_lachildid"]["quarantined"] == 4
    rows = report["rows"]
    assert rows["read"] == sum(
        rows[k] for k in ("accepted", "repaired", "superseded", "quarantined")
    )
    assert report["reconciles"]
    assert len(result.clean.children) == 2


# --------------------------------------------------------------------------- 2. gates


def test_census_dated_2031_is_refused_and_does_not_move_the_window(tmp_path: Path) -> None:
    folder = tmp_path / "cin"
    census(folder, 2024, child("A1", referral="2023-06-01"), child("A2", referral="2023-07-01"))
    census(folder, 2031, child("B1", referral="2030-06-01"), child("B2", referral="2030-07-01"))
    result = ingest([folder], tmp_path)
    assert (result.first_year, result.last_year) == (2024, 2024)
    assert result.observations["period"].max() <= "2024-03-31"
    assert set(result.clean.children["LAchildID"]) == {"A1", "A2"}
    report = result.report
    assert report["census_years"] == {"001": [2024]}
    assert report["census_years_refused"] == {"001": [2031]}
    assert report["plausibility_gates"]["census_year_beyond_schemas"]["quarantined"] == 4
    assert any(k.endswith("[census_year_beyond_schemas]") for k in report["not_used"])
    # Every Child of the 2031 file failed the 2026 XSD (GenderCurrent, not Sex): loud.
    (late,) = [f for f in report["census_files"] if f["file"] == "cin_census_2031.xml"]
    assert late["children_failing_xsd"] == 2 and "failed the XSD" in late["warnings"][0]
    text = (tmp_path / "out" / "data_quality_cin.txt").read_text()
    assert "WARNING: every one of its 2 Child elements failed the XSD" in text
    assert "census_year_beyond_schemas: 4" in text


def test_a_census_year_not_started_is_refused_relative_to_today(tmp_path: Path) -> None:
    folder = tmp_path / "cin"
    census(folder, 2024, child("A1", referral="2023-06-01"))
    census(folder, 2025, child("A2", referral="2024-06-01"))
    result = ingest([folder], tmp_path, today=dt.date(2024, 2, 1))
    assert result.last_year == 2024
    assert result.report["plausibility_gates"]["census_year_in_future"]["quarantined"] == 2
    # The same files with today later: both years used.
    assert ingest([folder], tmp_path / "later", today=TODAY).last_year == 2025


def test_implausible_dates_are_quarantined_by_named_rules(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = census(
        tmp_path / "cin",
        2027,
        child("OK", referral="2026-06-01"),
        child("OLD", referral="1985-06-01", birth="1984-01-01"),
        child("DOB1900", referral="2026-06-01", birth="1900-01-01"),
        child("UNBORN", referral="2026-06-01", birth="2099-01-01"),
        child("EARLY", referral="2016-06-01", birth="2020-01-01"),
        child("PREBIRTH", referral="2026-06-01", birth="2026-09-01"),
        child("FUTURE", referral="2027-01-15"),
        child("FUTURE_MOD", referral="2026-06-01", assessment="2027-02-01"),
    )
    with caplog.at_level(logging.WARNING):
        result = ingest([path], tmp_path, today=TODAY)
    gates = {k: v["quarantined"] for k, v in result.report["plausibility_gates"].items()}
    assert gates["date_before_1990"] == 2  # OLD's birth, DOB1900's birth (child rows)
    assert gates["birth_after_census"] == 1  # UNBORN: born 2099 (use ExpectedPersonBirthDate)
    assert gates["referral_before_pregnancy"] == 1  # EARLY: referred 3.5 years before birth
    assert gates["date_in_future"] == 2  # FUTURE's referral, FUTURE_MOD's assessment
    used = set(result.clean.episodes["LAchildID"])
    assert used == {"OK", "PREBIRTH", "FUTURE_MOD"}  # a pre-birth referral is plausible
    assert len(result.clean.assessments) == 0
    assert result.observations["period"].max() <= "2027-03-31"
    assert result.observations["period"].min() >= "2026-04-30"
    assert "plausibility gates" in caplog.text and "date_in_future 2" in caplog.text
    assert result.report["reconciles"]


def test_every_child_failing_the_xsd_is_loud_on_the_console(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A 2025 census (the 2026 schema: Sex) written with GenderCurrent.
    path = census(tmp_path / "cin", 2025, child("A1", referral="2024-06-01"))
    with caplog.at_level(logging.WARNING):
        result = ingest([path], tmp_path)
    assert "every one of its 1 Child elements failed the XSD (CIN_schema_2026.xsd)" in caplog.text
    # Decided: such a child is still used (the cleaner's own checks decide what is usable).
    assert list(result.clean.children["LAchildID"]) == ["A1"]


# --------------------------------------------------------------------------- 3. identifiers

HOSTILE = [
    "A00123456789'Z'",
    'Q"ZQX\'12"',
    "ZQX1\nZQX2' is not ZQX3",
    "' is not a valid value of the atomic type 'xs:date'. ZQX4",
    "ZQX5'' has a length of 'ZQX6",
]
ELEMENTS = ["LAchildID", "UPN", "FormerUPN", "PersonBirthDate", "ExpectedPersonBirthDate",
            "PersonDeathDate"]  # fmt: skip


def fragments(value: str) -> list[str]:
    """The parts of a hostile value a leak would show (runs of 3+ letters or digits)."""
    return [f for f in re.findall(r"[A-Za-z0-9]{3,}", value) if f not in ("not", "valid", "value",
            "the", "atomic", "type", "date", "has", "length")]  # fmt: skip


@pytest.mark.parametrize("element", ELEMENTS)
@pytest.mark.parametrize("value", HOSTILE, ids=[f"hostile{i}" for i in range(len(HOSTILE))])
def test_hostile_identifiers_are_withheld_whole(element: str, value: str, tmp_path: Path) -> None:
    field = {
        "LAchildID": "lachildid",
        "UPN": "upn",
        "FormerUPN": "former_upn",
        "PersonBirthDate": "birth",
        "ExpectedPersonBirthDate": "expected_birth",
        "PersonDeathDate": "death",
    }[element]
    # LAchildID is free text in the XSD: make that child fail the XSD some other way too.
    extra = {"sex": "<GenderCurrent>7</GenderCurrent>"} if element == "LAchildID" else {}
    hostile = child(**{"lachildid": "H1", **extra, field: value})
    path = census(tmp_path / "cin", 2023, child("A1"), hostile)
    ingest([path], tmp_path)
    shared = shared_text(tmp_path)
    for fragment in fragments(value):
        assert fragment not in shared, (element, value, fragment)
    assert "'Z'" not in shared
    if element != "LAchildID":
        assert f"column {element}" in shared or f"element {element}" in shared
        assert WITHHELD in shared
        # Nothing of the value is left beside the mark (the issue's leak was
        # "(value withheld)00123456789'Z'").
        for line in shared.splitlines():
            for m in re.finditer(re.escape(WITHHELD), line):
                after = line[m.end() :]
                assert after.startswith((" is not ", " has a length ")), line


def test_syntax_errors_do_not_echo_input(tmp_path: Path) -> None:
    path = census(tmp_path / "cin", 2023, child("A1"), child("A2"))
    text = path.read_text(encoding="utf-8").replace(">A2<", ">&SECRETZQX9;<")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CensusCutShortError) as caught:
        ingest([path], tmp_path)
    assert "SECRETZQX9" not in str(caught.value) and WITHHELD in str(caught.value)
    path.write_bytes(text.replace("&SECRETZQX9;", "A2").encode().replace(b">A2<", b">\xe9ZQX8<"))
    with pytest.raises(CensusCutShortError) as caught:
        ingest([path], tmp_path)
    assert "ZQX8" not in str(caught.value) and "0xE9" not in str(caught.value)


# --------------------------------------------------------------------------- 4. tracebacks

FLAT = "LAchildID,Date,Type,CINreferralDate,PersonBirthDate,YEAR\n"


def test_flat_csv_without_required_columns_names_them(tmp_path: Path) -> None:
    path = tmp_path / "cin_flat_2023.csv"
    path.write_text("LAchildID,Date,Type\nA1,2022-06-01,CINreferralDate\n", encoding="utf-8")
    with pytest.raises(IngestError) as caught:
        ingest([path], tmp_path)
    message = str(caught.value)
    assert str(path) in message and "CINreferralDate" in message
    assert "PersonBirthDate or ExpectedPersonBirthDate" in message


def test_flat_csv_with_optional_columns_missing_is_read_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "cin_flat.csv"
    path.write_text(FLAT + "A1,2022-06-01,CINreferralDate,2022-06-01,2015-01-01,2023\n")
    result = ingest([path], tmp_path)
    assert len(result.clean.episodes) == 1
    (warning,) = [i for i in result.report["file_issues"] if i["severity"] == "warning"]
    assert "CINclosureDate" in warning["found"] and "read as blank" in warning["found"]


def test_utf16_flat_csv_is_read(tmp_path: Path) -> None:
    path = tmp_path / "cin_flat.csv"
    text = FLAT + "A1,2022-06-01,CINreferralDate,2022-06-01,2015-01-01,2023\n"
    path.write_bytes(text.encode("utf-16"))
    result = ingest([path], tmp_path)
    assert list(result.clean.episodes["LAchildID"]) == ["A1"]


def test_no_usable_referral_is_a_clear_error_not_a_type_error(tmp_path: Path) -> None:
    path = census(tmp_path / "cin", 2023, child("A1", referral="not a date"))
    with pytest.raises(IngestError, match="every one was quarantined"):
        ingest([path], tmp_path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_xml_is_read(encoding: str, tmp_path: Path) -> None:
    text = (header(2023) + child("A1") + child("A2") + FOOTER).replace("utf-8", encoding.upper())
    plain = census(tmp_path / "plain", 2023, child("A1"), child("A2"))
    wide = tmp_path / "wide" / "cin_census_2023.xml"
    wide.parent.mkdir()
    bom = "\ufeff" if encoding == "utf-16-be" else ""
    wide.write_bytes((bom + text).encode(encoding))
    got, expected = read_cin([wide]), read_cin([plain])
    assert [i.found for i in got.issues] == [i.found for i in expected.issues]
    for name in ("children", "cin_details"):
        assert (
            got.table(name)
            .drop(columns="_source")
            .equals(expected.table(name).drop(columns="_source"))
        )
    assert got.files[0].status == "read" and got.files[0].read == 2


def test_utf32_xml_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "cin_census_2023.xml"
    path.write_bytes((header(2023) + child("A1") + FOOTER).encode("utf-32"))
    (account,) = read_cin([path]).files
    assert account.status == "not read" and "UTF-32" in account.reason


def test_fifo_in_a_folder_is_not_opened(tmp_path: Path, no_hang: None) -> None:
    folder = tmp_path / "cin"
    census(folder, 2023, child("A1"))
    os.mkfifo(folder / "cin_census_2024.xml")
    result = ingest([folder], tmp_path)
    status = {f["file"]: (f["status"], f["reason"]) for f in result.report["census_files"]}
    assert status["cin_census_2024.xml"] == (
        "not read",
        "a FIFO (named pipe), expected a regular file",
    )


def test_fifo_given_directly_is_named_as_one(tmp_path: Path, no_hang: None) -> None:
    fifo = tmp_path / "cin_census_2024.xml"
    os.mkfifo(fifo)
    with pytest.raises(IngestError, match="FIFO"):
        ingest([fifo], tmp_path)


def test_census_linked_to_dev_zero_is_refused(tmp_path: Path, no_hang: None) -> None:
    folder = tmp_path / "cin"
    census(folder, 2023, child("A1"))
    (folder / "cin_census_2024.xml").symlink_to("/dev/zero")
    result = ingest([folder], tmp_path)
    (zero,) = [f for f in result.files if f.source == "cin_census_2024.xml"]
    assert zero.status == "not read" and "character device" in zero.reason


def test_census_over_the_size_cap_is_refused(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "cin"
    census(folder, 2023, *many(200))
    monkeypatch.setenv(MAX_INPUT_MB_ENV, "0.01")
    with pytest.raises(IngestError, match=f"larger than .* cap .*{MAX_INPUT_MB_ENV}"):
        ingest([folder], tmp_path)


def test_symlink_loop_is_named_as_one(tmp_path: Path) -> None:
    folder = tmp_path / "cin"
    census(folder, 2023, child("A1"))
    loop = folder / "cin_census_2024.xml"
    loop.symlink_to(loop)
    result = ingest([folder], tmp_path)
    (found,) = [f for f in result.files if f.source == "cin_census_2024.xml"]
    assert found.status == "not read" and "symlink loop" in found.reason
    with pytest.raises(IngestError, match="symlink loop"):
        ingest([loop], tmp_path / "direct")


def test_unreadable_year_folder_is_not_skipped_silently(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "cin"
    census(folder / "2023", 2023, child("A1"))
    census(folder / "2024", 2024, child("A1", referral="2023-06-01"))
    real = os.scandir

    def scandir(path):  # the tests run as root: a mode of 000 would not stop them
        if Path(path).name == "2024":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = ingest([folder], tmp_path)
    (lost,) = [f for f in result.files if f.status == "not read"]
    assert (lost.source, lost.reason) == ("2024", "unreadable folder (Permission denied)")
    assert result.report["files_by_status"]["not read"] == 1


def test_file_name_that_is_not_utf8_is_read_and_shown_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "cin"
    folder.mkdir()
    name = os.fsdecode(b"cin_census_\xff_2023.xml")
    (folder / name).write_text(header(2023) + child("A1") + FOOTER, encoding="utf-8")
    result = ingest([folder], tmp_path)
    assert [f.source for f in result.files] == ["cin_census_\\xff_2023.xml"]
    outcomes = pd.read_parquet(tmp_path / "private" / "row_outcomes_cin.parquet")
    assert set(outcomes["_source"]) == {"cin_census_\\xff_2023.xml"}
    assert "cin_census_\\\\xff_2023.xml" in (tmp_path / "out" / "data_quality_cin.json").read_text()


# --------------------------------------------------------------------------- 5. accounting


def test_every_file_and_year_found_is_accounted_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "cin"
    census(folder, 2023, child("A1"))
    census(folder, 2024, child("A1", referral="2023-06-01"))
    (folder / "notes.txt").write_text("who ran this?\n")
    (folder / "doctype.xml").write_text('<?xml version="1.0"?><!DOCTYPE m []><Message/>')
    flat = folder / "cin_flat_2022.csv"
    flat.write_text(
        FLAT + "B1,2021-06-01,CINreferralDate,2021-06-01,2015-01-01,2022\n"
        ",2021-06-01,CINreferralDate,2021-06-01,2015-01-01,2022\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING):
        result = ingest([folder], tmp_path)
    report = result.report
    by_file = {f["file"]: f for f in report["census_files"]}
    assert report["files_by_status"] == {"read": 2, "partly read": 1, "not read": 2}
    assert by_file["cin_census_2023.xml"]["census_years"] == [2023]
    assert by_file["cin_flat_2022.csv"]["status"] == "partly read"
    assert by_file["cin_flat_2022.csv"]["not_read"] == 1
    assert "without LAchildID" in by_file["cin_flat_2022.csv"]["reason"]
    assert by_file["doctype.xml"]["status"] == "not read"
    assert "DOCTYPE" in by_file["doctype.xml"]["reason"]
    assert by_file["notes.txt"]["status"] == "not read"
    assert report["reconciles"] and report["census_years"] == {"": [2022], "001": [2023, 2024]}
    for name in ("doctype.xml", "notes.txt", "cin_flat_2022.csv"):
        assert name in caplog.text
        assert any(line.startswith(name) for line in result.warnings)
    assert [f.source for f in result.files] == list(by_file)
    text = (tmp_path / "out" / "data_quality_cin.txt").read_text()
    assert "Files found: 2 read, 1 partly read, 2 not read" in text
    assert json.loads((tmp_path / "out" / "data_quality_cin.json").read_text()) == report


def test_a_year_missing_from_the_middle_fails_naming_it(tmp_path: Path) -> None:
    folder = tmp_path / "cin"
    census(folder, 2022, child("A1", referral="2021-06-01"))
    census(folder, 2024, child("A1", referral="2021-06-01"))
    # The 2023 census is there but unreadable: it is named as the likely gap.
    (folder / "cin_census_2023.xml").write_text('<?xml version="1.0"?><!DOCTYPE m []><Message/>')
    with pytest.raises(CensusYearsMissingError) as caught:
        ingest([folder], tmp_path)
    message = str(caught.value)
    assert "authority 001: census years 2022, 2024 read, 2023 missing from the middle" in message
    assert "cin_census_2023.xml (XML, year unknown): not read (XML with a DOCTYPE" in message
    assert not (tmp_path / "out").exists()
