"""The 903 reader finds, decodes and labels the tables in real-world files, and turns every
bad input into an Issue (never an exception, never a child identifier)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from lxml import etree

from model.ingest.dates import parse_dates
from model.ingest.tables import PROVENANCE_COLUMNS, TABLE_COLUMNS, Issue, ReadResult
from model.ingest903.read import all_issues, read_903
from model.ingest903.recognise import identify_table
from model.ingest903.years import name_year
from model.synth import synthesize
from model.synth.write_903 import collection_folder

SHARED_DATA = Path(__file__).parent / "data" / "samples"
SHARED = SHARED_DATA / "ssda903" / "synthetic"
DEMAND_MODEL = SHARED / "cs_demand_model_2017_2021"
VALIDATOR_FAKE = SHARED / "csc_validator_903_fake"
STACKED = SHARED / "liia_tools" / "SSDA903_episodes_for_testing_fixes_INPUT.csv"
SCHEMAS = Path(__file__).resolve().parents[1] / "model" / "ingestcin" / "schemas"
XSD = SCHEMAS / "ssda903" / "CLA_903_xml.xsd"
EPISODE_HEADER = ",".join(TABLE_COLUMNS["episodes"])


def _issues_for(result: ReadResult, source: str) -> list[Issue]:
    return [i for i in all_issues(result) if i.source == source]


def _table(result: ReadResult, source: str, table: str | None = None):
    found = [t for t in result.tables if t.source == source and table in (None, t.table)]
    assert len(found) == 1, [(t.source, t.table) for t in result.tables]
    return found[0]


def _data_lines(path: Path) -> int:
    """Lines after the header, whatever the line endings."""
    return path.read_bytes().replace(b"\r\n", b"\n").rstrip(b"\n").count(b"\n")


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01/04/2019", "2019-04-01"),
        ("1/4/2019", "2019-04-01"),
        ("  01/04/2019 ", "2019-04-01"),
        ("2019-04-01", "2019-04-01"),
        ("01/04/19", "2019-04-01"),
        ("31/03/69", "2069-03-31"),
        ("01/01/70", "1970-01-01"),
        ("15/06/99", "1999-06-15"),
        ("2019-04-01 00:00:00", "2019-04-01"),
        ("01/04/2019 00:00", "2019-04-01"),
        ("2019-04-01T13:45:00", "2019-04-01"),
        ("43556", "2019-04-01"),
        ("43556.0", "2019-04-01"),
        ("1", "1899-12-31"),
        ("29/02/2020", "2020-02-29"),
        ("01-Apr-2019", "2019-04-01"),
    ],
)
def test_parse_dates_accepts_each_format(text: str, expected: str) -> None:
    dates, bad = parse_dates(pd.Series([text]))
    assert dates.iloc[0] == pd.Timestamp(expected)
    assert not bad.iloc[0]


@pytest.mark.parametrize(
    "text", ["31/02/2019", "29/02/2019", "01/13/2019", "NA", "unknown", "0", "80001", "2019-13-01"]
)
def test_parse_dates_flags_bad_values(text: str) -> None:
    dates, bad = parse_dates(pd.Series([text]))
    assert pd.isna(dates.iloc[0])
    assert bad.iloc[0]


def test_parse_dates_blank_is_not_bad_and_index_is_kept() -> None:
    values = pd.Series(["", "  ", None, "01/04/2019"], index=[10, 11, 12, 13], dtype=object)
    dates, bad = parse_dates(values)
    assert dates.dtype == "datetime64[s]" and bad.dtype == bool
    assert list(dates.index) == [10, 11, 12, 13] and list(bad.index) == [10, 11, 12, 13]
    assert dates.isna().tolist() == [True, True, True, False]
    assert not bad.any()


def test_parse_dates_of_mixed_forms_at_scale() -> None:
    """Mostly dd/mm/yyyy, some blank, dd/mm/yy, ISO datetimes and Excel serials. (Its speed
    is measured by benchmarks/parse_dates.py, not here.)"""
    rng = np.random.default_rng(0)
    pool = pd.Series(pd.date_range("1995-01-01", "2025-12-31", freq="D"))
    serials = (pool - pd.Timestamp("1899-12-30")).dt.days.astype(str)
    formats = ["%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d 00:00:00"]
    forms = np.stack([*(pool.dt.strftime(f) for f in formats), serials]).astype(object)
    day = rng.integers(0, len(pool), 200_000)
    form = rng.choice(4, size=len(day), p=[0.85, 0.05, 0.05, 0.05])
    text = pd.Series(forms[form, day])
    blank = rng.random(len(day)) < 0.3
    text[blank] = ""
    dates, bad = parse_dates(text)
    assert not bad.any()
    assert (dates.to_numpy()[~blank] == pool.to_numpy()[day[~blank]]).all()
    assert dates[blank].isna().all()


# --------------------------------------------------------------------------- shared samples


def test_cs_demand_model_years_come_from_the_data_not_the_start_year_label() -> None:
    """``2017-*.csv`` is the 2017-18 return: year 2018. Each episodes file gets one warning
    that its name (2017) disagrees with its dates; the other tables share that label and
    take the year of their episodes file without another warning."""
    result = read_903([DEMAND_MODEL])
    assert len(result.tables) == 40 and not result.issues
    for table in result.tables:
        label = int(table.source[:4])
        assert table.year == label + 1, table.source
        assert (table.data["_year"] == label + 1).all()
        assert len(table.data) == _data_lines(DEMAND_MODEL / table.source)
    name_warnings = [i for i in all_issues(result) if "the name says" in i.found]
    assert sorted(i.source for i in name_warnings) == [
        f"{y}-episodes.csv" for y in range(2017, 2022)
    ]
    assert {i.severity for i in name_warnings} == {"warning"}
    first = next(i for i in name_warnings if i.source == "2017-episodes.csv")
    assert "says 2017" in first.found and "31 March 2018" in first.found
    tables = {t.table for t in result.tables}
    assert tables == {"episodes", "header", "uasc", "oc2", "oc3", "reviews", "missing",
                      "previous_permanence"}  # fmt: skip


def test_validator_fake_every_table_is_recognised() -> None:
    result = read_903([VALIDATOR_FAKE])
    assert not result.issues
    expected = {
        "DoLo.csv": "dolo", "ad1.csv": "ad1", "episodes.csv": "episodes", "header.csv": "header",
        "missing.csv": "missing", "oc2.csv": "oc2", "oc3.csv": "oc3",
        "placed_for_adoption.csv": "placed_for_adoption",
        "placed_for_adoption_errors.csv": "placed_for_adoption",
        "previous_permanence.csv": "previous_permanence", "reviews.csv": "reviews",
        "sw_episodes.csv": "sw_episodes", "uasc.csv": "uasc",
    }  # fmt: skip
    assert {t.source: t.table for t in result.tables} == expected
    assert {t.year for t in result.tables} == {2018}
    sw = _table(result, "sw_episodes.csv").data
    assert list(sw.columns[:6]) == ["CHILD", "DOB", "SW_ID", "SW_DECOM", "SW_DEC", "SW_REASON"]
    assert sw["SW_REASON"].tolist() == ["SWLAZY"]  # no CR left from the CRLF ending
    for table in result.tables:
        assert len(table.data) == _data_lines(VALIDATOR_FAKE / table.source), table.source


def test_stacked_layout_takes_year_and_la_per_row() -> None:
    result = read_903([STACKED])
    (table,) = result.tables
    with STACKED.open(newline="", encoding="utf-8") as handle:
        raw = list(csv.DictReader(handle))
    assert table.table == "episodes" and table.year is None
    assert table.data["_year"].tolist() == [int(r["YEAR"]) for r in raw]
    assert table.data["_la"].tolist() == [r["LA"] for r in raw]
    assert table.data["DECOM"].tolist() == [r["DECOM"] for r in raw]  # ISO text untouched
    assert "LA" not in table.data and "YEAR" not in table.data
    assert table.data["_row"].tolist() == list(range(2, len(raw) + 2))


# --------------------------------------------------------------------------- generated data

FAULT_RATES = {
    "cp1252": 0.6,
    "byte_order_mark": 0.4,
    "windows_line_endings": 0.5,
    "excel_serial_dates": 0.4,
    "two_digit_years": 0.6,
}
"""Raised file-fault rates, so that three years of one authority hold every file fault."""


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    truth = out / "truth.yaml"
    truth.write_text(yaml.safe_dump({"warmup_years": 4, "faults": FAULT_RATES}), encoding="utf-8")
    synthesize(out, authorities=1, first_year=2022, last_year=2024, seed=1, faults=True,
               truth_file=truth)  # fmt: skip
    return out / "SYN01"


def test_generated_returns_are_all_read_with_table_year_and_rows(generated: Path) -> None:
    faults = pd.read_csv(generated / "truth" / "faults.csv")
    file_faults = {"byte_order_mark", "windows_line_endings", "cp1252", "excel_serial_dates",
                   "two_digit_years"}  # fmt: skip
    assert file_faults <= set(faults["fault"])  # else this test no longer covers them
    folder = generated / "ssda903"
    result = read_903([folder])
    files = sorted(folder.rglob("*.csv"))
    assert len(files) == 9 and len(result.tables) == 9 and not result.issues
    for path in files:
        source = path.relative_to(folder).as_posix()
        table = _table(result, source)
        year = int(path.parent.name[:4]) + 1
        assert path.parent.name == collection_folder(year)
        assert (table.table, table.year) == (path.stem, year)
        assert len(table.data) == _data_lines(path)
        assert table.data["_row"].tolist() == list(range(2, len(table.data) + 2))
        assert list(table.data.columns) == TABLE_COLUMNS[path.stem] + PROVENANCE_COLUMNS
        cells = table.data[TABLE_COLUMNS[path.stem]]
        assert not cells.apply(lambda c: c.str.contains("\u00a0|\r")).any().any()
        assert not any(i.severity == "error" for i in table.issues)


def test_generated_faults_are_decoded_not_repaired(generated: Path) -> None:
    faults = pd.read_csv(generated / "truth" / "faults.csv")
    result = read_903([generated / "ssda903"])
    by_file = {(int(t.source[:4]) + 1, t.table): t for t in result.tables}
    kinds = ["cp1252", "excel_serial_dates", "two_digit_years"]
    for row in faults[faults.fault.isin(kinds)].itertuples():
        table = by_file[(row.year, row.table)]
        if row.fault == "cp1252":
            assert any("Windows-1252" in i.found for i in table.issues)
            assert table.data["PLACE"].str.endswith(" ").sum() > 0  # NBSP read as a space
        elif row.fault == "excel_serial_dates":
            column = "DECOM" if row.table == "episodes" else "DOB"
            assert table.data[column].str.fullmatch(r"\d{4,5}").all()  # raw text kept
        else:
            dec = table.data["DEC"]
            assert dec[dec != ""].str.fullmatch(r"\d\d/\d\d/\d\d").all()


def test_generated_issues_hold_no_child_identifiers(generated: Path) -> None:
    result = read_903([generated])  # the whole authority: CIN XML and truth files too
    children = set().union(*(set(t.data["CHILD"]) for t in result.tables)) - {""}
    messages = " ".join(i.message() for i in all_issues(result))
    assert result.issues  # the CIN census and truth files are reported, not read
    assert not children & set(re.findall(r"[A-Za-z0-9]+", messages))


# --------------------------------------------------------------------------- bad input


def _write(folder: Path, name: str, content: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def _one_error(result: ReadResult, source: str) -> Issue:
    errors = [i for i in _issues_for(result, source) if i.severity == "error"]
    assert len(errors) == 1, errors
    assert errors[0].expected
    return errors[0]


def test_missing_required_column_is_an_error_naming_it(tmp_path: Path) -> None:
    header = EPISODE_HEADER.replace("DECOM,", "")
    _write(tmp_path, "episodes.csv", f"{header}\nSECRET42,S,C2,N1,U1,PR1,,,,,,\n")
    _write(tmp_path, "uasc.csv", "CHILD,SEX,DOB\nSECRET43,1,01/01/2010\n")
    result = read_903([tmp_path])
    assert not result.tables
    episodes = _one_error(result, "episodes.csv")
    assert "DECOM" in episodes.found and "episodes" in episodes.found
    assert "DECOM" in episodes.expected
    assert "DUC" in _one_error(result, "uasc.csv").found
    assert "SECRET" not in " ".join(i.message() for i in all_issues(result))


def test_file_that_is_not_a_903_table(tmp_path: Path) -> None:
    _write(tmp_path, "notes.txt", "name,age\nbob,3\n")
    issue = _one_error(read_903([tmp_path]), "notes.txt")
    # The first line's fields are not echoed: it could be a row of data (issue 15).
    assert "2 field(s)" in issue.found and "not a 903 table" in issue.found
    assert "age" not in issue.found and "bob" not in issue.found
    assert "episodes (missing" in issue.expected


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    _write(tmp_path, "empty.csv", b"")
    _write(tmp_path, "2019-20-episodes.csv", EPISODE_HEADER + "\r\n")
    result = read_903([tmp_path])
    assert "empty" in _one_error(result, "empty.csv").found
    table = _table(result, "2019-20-episodes.csv")
    assert table.table == "episodes" and len(table.data) == 0 and table.year == 2020
    (warning,) = [i for i in table.issues if "no rows" in i.found]
    assert warning.severity == "warning"


def test_binary_and_excel_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    _write(tmp_path, "episodes.csv", rng.integers(0, 256, 4000, dtype=np.uint8).tobytes() + b"\0")
    _write(tmp_path, "header.xlsx", b"PK\x03\x04\x14\x00\x06\x00[Content_Types].xml xl/workbook")
    result = read_903([tmp_path])
    assert not result.tables
    assert "binary" in _one_error(result, "episodes.csv").found
    assert "export each sheet as CSV" in _one_error(result, "header.xlsx").expected


XML_ERRORS = {
    "malformed.xml": ('<?xml version="1.0"?>\n<EXPSSDA903>\n<CHILD><HEADER>\n</CHILD>\n'
                      "</EXPSSDA903>\n", "line 4"),
    "bomb.xml": ('<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
                 ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
                 ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n'
                 ']>\n<EXPSSDA903>&lol3;</EXPSSDA903>\n', "DOCTYPE"),
    "xxe.xml": ('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
                "<EXPSSDA903><CHILD><HEADER><CHILDID>&xxe;</CHILDID></HEADER></CHILD></EXPSSDA903>\n",
                "DOCTYPE"),
    "cin.xml": ('<?xml version="1.0"?>\n<Message><Header/></Message>\n', "<Message>"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(XML_ERRORS))
def test_bad_xml_is_an_issue_not_an_exception(tmp_path: Path, name: str) -> None:
    content, expected_text = XML_ERRORS[name]
    _write(tmp_path, name, content)
    result = read_903([tmp_path / name])
    assert not result.tables
    issue = _one_error(result, str(tmp_path / name))
    assert expected_text in issue.found
    assert "passwd" not in issue.message()


def test_bad_stacked_year_is_a_row_error(tmp_path: Path) -> None:
    rows = [f"{EPISODE_HEADER},LA,YEAR", "A1,2019-04-01,S,C2,N1,U1,PR1,,,,,,,Barnet,2020",
            "A2,2019-05-01,S,C2,N1,U1,PR1,,,,,,,Barnet,20x0"]  # fmt: skip
    _write(tmp_path, "stacked.csv", "\n".join(rows) + "\n")
    table = _table(read_903([tmp_path]), "stacked.csv")
    assert table.data["_year"].tolist() == [2020, -1]
    (issue,) = [i for i in table.issues if i.severity == "error"]
    assert (issue.row, issue.column) == (3, "YEAR") and "A2" not in issue.message()


def test_ragged_rows_blank_lines_and_quoted_newlines_keep_line_numbers(tmp_path: Path) -> None:
    lines = [
        EPISODE_HEADER + ",",  # trailing delimiter: an unnamed empty column
        "C1,01/04/2019,S,C2,N1,U1,PR1,,,,,,,",
        "",
        'C2,"02/04/2019",S,C2,N1,U1,PR1,,,,,,',  # one cell short of the header
        "C3,03/04/2019,S,C2,N1,U1,PR1,,,,,,,,,,zz",  # too many cells: not used
        'C4,03/04/2019,S,C2,N1,U1,PR1,,,,"a\nb",,,',  # a quoted newline (lines 6-7)
        "C5,05/04/2019,S",
    ]
    _write(tmp_path, "episodes.csv", "\n".join(lines) + "\n")
    table = _table(read_903([tmp_path]), "episodes.csv")
    assert table.data["CHILD"].tolist() == ["C1", "C2", "C4", "C5"]
    assert table.data["_row"].tolist() == [2, 4, 6, 8]
    assert table.data.loc[3, "DEC"] == "" and table.data.loc[2, "HOME_POST"] == "a\nb"
    rows = {(i.row, i.severity) for i in table.issues if i.row is not None}
    assert rows == {(4, "warning"), (5, "error"), (6, "warning"), (8, "warning")}
    assert any(i.row == 6 and "lines 6-7" in i.found for i in table.issues)
    assert any("1 blank row" in i.found for i in table.issues)


def test_header_names_are_normalised_and_unknown_columns_kept(tmp_path: Path) -> None:
    header = "child, decom ,rne,ls,cin,place,Place Provider,dec,rec,reason place change,EXTRA"
    _write(tmp_path, "eps.csv", header + "\nX1,01/04/2019,s ,C2,N1,U1,PR1,,,,e\n")
    table = _table(read_903([tmp_path]), "eps.csv")
    assert list(table.data.columns) == TABLE_COLUMNS["episodes"] + ["EXTRA"] + PROVENANCE_COLUMNS
    assert table.data.loc[0, "RNE"] == "s " and table.data.loc[0, "URN"] == ""
    found = " ".join(i.found for i in table.issues)
    assert "EXTRA" in found and "HOME_POST, PL_POST, URN absent" in found


# --------------------------------------------------------------------------- years and names


def test_name_years() -> None:
    for name in ("2019-20", "201920", "2019_2020", "returns 2019-2020 final"):
        assert (name_year(name).year, name_year(name).is_range) == (2020, True), name
    assert (name_year("SSDA903_2020_episodes").year, name_year("2020").is_range) == (2020, False)
    assert name_year("episodes") is None and name_year("SSDA903") is None


def _episodes(*rows: tuple[str, str]) -> str:
    """An episodes CSV with one open episode per (CHILD, DECOM)."""
    return EPISODE_HEADER + "\n" + "".join(f"{c},{d},S,C2,N1,U1,PR1,,,,,,\n" for c, d in rows)


def test_year_rules_and_name_warnings(tmp_path: Path) -> None:
    good, plain, late = tmp_path / "2019-20", tmp_path / "misc", tmp_path / "old"
    for folder in (good, plain, late):
        folder.mkdir()
    _write(good, "episodes.csv", _episodes(("A", "01/04/2019"), ("B", "31/03/2020")))
    _write(good, "header.csv", "CHILD,SEX,DOB\nA,1,01/01/2010\n")
    _write(plain, "2019-episodes.csv", _episodes(("A", "01/05/2019")))
    _write(plain, "2019-uasc.csv", "CHILD,SEX,DOB,DUC\nA,1,01/01/2005,\n")
    _write(late, "uasc_2016.csv", "CHILD,SEX,DOB,DUC\nA,1,01/01/2005,\n")
    result = read_903([tmp_path])
    years = {t.source: t.year for t in result.tables}
    assert years == {"2019-20/episodes.csv": 2020, "2019-20/header.csv": 2020,
                     "misc/2019-episodes.csv": 2020, "misc/2019-uasc.csv": 2020,
                     "old/uasc_2016.csv": 2016}  # fmt: skip
    warned = {i.source for i in all_issues(result) if "name says" in i.found}
    assert warned == {"misc/2019-episodes.csv"}  # plain "2019" for 2019-20: worth a look
    (guess,) = _issues_for(result, "old/uasc_2016.csv")
    assert "taken from the name" in guess.found and guess.severity == "warning"


def test_year_ignores_a_stray_april_dec_and_unknown_year_is_reported(tmp_path: Path) -> None:
    rows = [("A", "01/05/2018", "01/06/2018"), ("B", "01/07/2018", "01/04/2019"),
            ("C", "01/08/2018", ""), ("D", "01/09/2018", "01/10/2018")]  # fmt: skip
    lines = [f"{c},{decom},S,C2,N1,U1,PR1,{dec},E11,,,," for c, decom, dec in rows]
    _write(tmp_path, "episodes.csv", "\n".join([EPISODE_HEADER, *lines]) + "\n")
    (tmp_path / "x").mkdir()
    _write(tmp_path / "x", "header.csv", "CHILD,SEX,DOB\nA,1,01/01/2010\n")
    result = read_903([tmp_path])
    assert _table(result, "episodes.csv").year == 2019
    assert any("after 31 March 2019" in i.found for i in _issues_for(result, "episodes.csv"))
    header = _table(result, "x/header.csv")
    assert header.year is None and (header.data["_year"] == -1).all()
    assert any("collection year unknown" in i.found for i in header.issues)


def test_sources_are_relative_hidden_files_skipped_and_order_sorted(tmp_path: Path) -> None:
    for name in ("b", "a"):
        (tmp_path / name / ".git").mkdir(parents=True)
        _write(tmp_path / name, "episodes.csv", _episodes(("A", "01/05/2019")))
        _write(tmp_path / name, ".hidden.csv", "junk")
        _write(tmp_path / name / ".git", "HEAD", "junk")
    single = read_903([tmp_path / "a"])
    assert single.files_seen == ["episodes.csv"] and not single.issues
    both = read_903([tmp_path / "b", tmp_path / "a", tmp_path / "a" / "episodes.csv"])
    assert both.files_seen == ["a/episodes.csv", "b/episodes.csv"]
    assert [t.source for t in both.tables] == ["a/episodes.csv", "b/episodes.csv"]
    missing = read_903([tmp_path / "nowhere"])
    assert not missing.tables and "no such file" in missing.issues[0].found


def test_identify_table_prefers_the_best_match() -> None:
    assert identify_table(set(TABLE_COLUMNS["uasc"]))[0] == "uasc"
    assert identify_table(set(TABLE_COLUMNS["header"]) | {"UASC", "DUC"})[0] == "header"
    table, (found, _) = identify_table({"CHILD", "DOB"})
    assert table is None and "not a 903 table" in found


# --------------------------------------------------------------------------- XML


def _xml_document() -> bytes:
    """Two children, three episodes, one of them UASC (valid against the 903 XSD)."""
    E = etree.Element

    def leaf(parent: etree._Element, tag: str, text: str = "") -> None:
        etree.SubElement(parent, tag).text = text

    root = E("EXPSSDA903")
    k1_episodes = [
        ("01/05/2019", "S", "U1", "01/09/2019", "X1\u00a0"),
        ("01/09/2019", "P", "U2", "", ""),
    ]
    k2_episodes = [("10/10/2019", "S", "R1", "20/03/2020", "E11")]
    children = [
        ("K1", "1", "01/02/2010", "WBRI", "", "", k1_episodes),
        ("K2", "2", "03/04/2005", "AIND", "1", "03/04/2023", k2_episodes),
    ]
    for child_id, sex, dob, ethnic, uasc, duc, episodes in children:
        child = etree.SubElement(root, "CHILD")
        header = etree.SubElement(child, "HEADER")
        for tag, text in (("CHILDID", child_id), ("UPN", "UN1"), ("SEX", sex), ("DOB", dob),
                          ("ETHNIC", ethnic), ("UASC", uasc)):  # fmt: skip
            leaf(header, tag, text)
        if duc:
            leaf(header, "DUC", duc)
        for decom, rne, place, dec, rec in episodes:
            episode = etree.SubElement(child, "EPISODE")
            for tag, text in (("DECOM", decom), ("RNE", rne), ("LS", "C2"), ("CIN", "N1"),
                              ("PL", place), ("PLACE_PROVIDER", "PR1"), ("DEC", dec),
                              ("REC", rec)):  # fmt: skip
                leaf(episode, tag, text)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def test_xml_round_trip(tmp_path: Path) -> None:
    document = _xml_document()
    schema = etree.XMLSchema(etree.parse(XSD))
    assert schema.validate(etree.fromstring(document)), schema.error_log
    path = _write(tmp_path, "return_2019-20.xml", document)
    result = read_903([path])
    assert not all_issues(result)
    header, episodes, uasc = (_table(result, str(path), t) for t in ("header", "episodes", "uasc"))
    assert {header.year, episodes.year, uasc.year} == {2020}
    assert header.data["CHILD"].tolist() == ["K1", "K2"] and header.data["_row"].tolist() == [1, 2]
    assert header.data["DOB"].tolist() == ["01/02/2010", "03/04/2005"]
    assert episodes.data["CHILD"].tolist() == ["K1", "K1", "K2"]
    assert episodes.data["_row"].tolist() == [1, 1, 2]
    assert episodes.data["PLACE"].tolist() == ["U1", "U2", "R1"]  # from PL
    assert episodes.data["REC"].tolist() == ["X1 ", "", "E11"]  # NBSP read as a space
    assert episodes.data["DEC"].tolist() == ["01/09/2019", "", "20/03/2020"]
    assert uasc.data[["CHILD", "DUC"]].values.tolist() == [["K2", "03/04/2023"]]
    assert list(episodes.data.columns) == TABLE_COLUMNS["episodes"] + PROVENANCE_COLUMNS


def test_xml_child_without_header_and_stray_elements(tmp_path: Path) -> None:
    document = _xml_document().replace(b"</EXPSSDA903>", b"<CHILD/><NOTE>x</NOTE></EXPSSDA903>")
    path = _write(tmp_path, "return.xml", document)
    result = read_903([path])
    assert len(_table(result, str(path), "header").data) == 2
    (error,) = [i for i in result.issues if i.severity == "error"]
    assert error.row == 3 and "without HEADER" in error.found
    (warning,) = [i for i in result.issues if i.severity == "warning"]
    assert "<NOTE>" in warning.found
