"""The CIN census reader streams census XML into flat tables, validates each Child against
its year's XSD, and turns every bad input into an Issue (never an exception, never a child
identifier)."""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from model.ingest.tables import Issue
from model.ingestcin import capped as cin_capped
from model.ingestcin import document as cin_document
from model.ingestcin import pieces as cin_pieces
from model.ingestcin import read as cin_read
from model.ingestcin import stream as cin_stream
from model.ingestcin import workers as cin_workers
from model.ingestcin.read import PROVENANCE_COLUMNS, TABLES, CinReadResult, read_cin
from model.synth import synthesize

SAMPLES = Path(__file__).parent / "data" / "samples" / "cin_census" / "synthetic"
DFE_2024 = SAMPLES / "csc_validator_cin_fake" / "CIN_Census_2024.xml"

# Elements counted per table, independently of the reader.
TABLE_ELEMENTS = {
    "children": "Child",
    "cin_details": "CINdetails",
    "assessments": "Assessments",
    "cin_plans": "CINPlanDates",
    "section47": "Section47",
    "cpp": "ChildProtectionPlans",
}

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Header>
    <CollectionDetails><Collection>CIN</Collection><Year>2024</Year>
      <ReferenceDate>2024-03-31</ReferenceDate></CollectionDetails>
    <Source><SourceLevel>L</SourceLevel><LEA>123</LEA></Source>
  </Header>
  <Children>
"""
FOOTER = "  </Children>\n</Message>\n"


def child_xml(
    child_id: str | None = "C1",
    referral: str = "2023-05-01",
    upn: str = "",
    ethnicity: str = "WBRI",
) -> str:
    """One Child valid against the 2024 XSD (unless the arguments make it otherwise)."""
    ident = f"<LAchildID>{child_id}</LAchildID>" if child_id is not None else ""
    upn_xml = f"<UPN>{upn}</UPN>" if upn else ""
    return f"""    <Child>
      <ChildIdentifiers>{ident}{upn_xml}<PersonBirthDate>2015-01-02</PersonBirthDate>
        <GenderCurrent>1</GenderCurrent></ChildIdentifiers>
      <ChildCharacteristics><Ethnicity>{ethnicity}</Ethnicity>
        <Disabilities><Disability>HAND</Disability><Disability>HEAR</Disability></Disabilities>
      </ChildCharacteristics>
      <CINdetails>
        <CINreferralDate>{referral}</CINreferralDate><ReferralSource>1A</ReferralSource>
        <PrimaryNeedCode>N4</PrimaryNeedCode>
        <Assessments><AssessmentActualStartDate>2023-05-02</AssessmentActualStartDate>
          <FactorsIdentifiedAtAssessment><AssessmentFactors>1A</AssessmentFactors>
          <AssessmentFactors>2B</AssessmentFactors></FactorsIdentifiedAtAssessment></Assessments>
        <ReferralNFA>0</ReferralNFA>
        <ChildProtectionPlans><CPPstartDate>2023-06-01</CPPstartDate>
          <InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>
          <LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>
          <NumberOfPreviousCPP>0</NumberOfPreviousCPP>
          <Reviews><CPPreviewDate>2023-07-01</CPPreviewDate>
          <CPPreviewDate>2023-10-01</CPPreviewDate></Reviews></ChildProtectionPlans>
      </CINdetails>
      <CINdetails>
        <CINreferralDate>2024-01-05</CINreferralDate><ReferralSource>6</ReferralSource>
        <PrimaryNeedCode>N1</PrimaryNeedCode><ReferralNFA>0</ReferralNFA>
      </CINdetails>
    </Child>
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def census(tmp_path: Path, *children: str, name: str = "cin_census_2024.xml") -> Path:
    return write(tmp_path, name, HEADER + "".join(children) + FOOTER)


def errors(result: CinReadResult) -> list[Issue]:
    return [i for i in result.issues if i.severity == "error"]


def assert_no_identifiers(result: CinReadResult, *identifiers: str) -> None:
    text = "\n".join(i.message() for i in result.issues)
    for value in identifiers:
        assert value not in text


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synthesize(out, authorities=1, first_year=2022, last_year=2024, seed=1)
    return out / "SYN01" / "cin"


def count_elements(path: Path) -> dict[str, int]:
    root = etree.parse(str(path)).getroot()
    return {table: len(root.findall(f".//{tag}")) for table, tag in TABLE_ELEMENTS.items()}


# --------------------------------------------------------------------------- generated


def test_generated_census_row_counts_and_years(generated: Path) -> None:
    files = sorted(generated.glob("cin_census_*.xml"))
    assert len(files) == 3
    result = read_cin([generated])
    assert result.files_seen == [f.name for f in files]
    assert errors(result) == []
    for path in files:
        year = int(path.stem[-4:])
        expected = count_elements(path)
        assert expected["children"] > 1000 and expected["cpp"] > 0
        for table, n in expected.items():
            frame = result.table(table)
            rows = frame[frame["_source"] == path.name]
            assert len(rows) == n, (path.name, table)
            assert set(rows["_year"]) == {year}
            assert set(rows["_la"]) == {"001"}
    for table, columns in TABLES.items():
        assert list(result.table(table).columns) == [*columns, *PROVENANCE_COLUMNS]


def test_generated_values_match_the_xml(generated: Path) -> None:
    path = generated / "cin_census_2024.xml"
    result = read_cin([path])
    root = etree.parse(str(path)).getroot()
    children = root.findall(".//Child")
    # Child positions are 1..n in file order; LAchildIDs as in the file.
    assert list(result.children["_child"]) == list(range(1, len(children) + 1))
    assert list(result.children["LAchildID"]) == [c.findtext(".//LAchildID") for c in children]
    # Comma-joined repeated values: the number of joined items equals the element count.
    n_reviews = len(root.findall(".//CPPreviewDate"))
    joined = result.cpp["CPPreviewDate"]
    assert sum(len(v.split(",")) for v in joined if v) == n_reviews
    n_factors = len(root.findall(".//AssessmentFactors"))
    assert sum(len(v.split(",")) for v in result.assessments["AssessmentFactors"] if v) == n_factors
    # Every sub-table row links to a CINdetails row of the same child.
    details = set(zip(result.cin_details["_child"], result.cin_details["_detail"], strict=True))
    for table in ("assessments", "cin_plans", "section47", "cpp"):
        frame = result.table(table)
        assert set(zip(frame["_child"], frame["_detail"], strict=True)) <= details
    # A referral per CINdetails, in order, for a child with several.
    first_multi = next(c for c in children if len(c.findall("CINdetails")) > 1)
    position = children.index(first_multi) + 1
    rows = result.cin_details[result.cin_details["_child"] == position]
    assert list(rows["_detail"]) == list(range(1, len(first_multi.findall("CINdetails")) + 1))
    assert list(rows["CINreferralDate"]) == [
        d.findtext("CINreferralDate") for d in first_multi.findall("CINdetails")
    ]
    assert set(result.children["sex_element"]) == {"GenderCurrent"}


def assert_same(expected: CinReadResult, got: CinReadResult) -> None:
    """Same tables (values, types, row order) and the same issues in the same order."""
    for table in TABLES:
        assert expected.table(table).equals(got.table(table)), table
    assert got.issues == expected.issues


def read_streaming(paths: list[Path], monkeypatch: pytest.MonkeyPatch) -> CinReadResult:
    """Read with iterparse only (as for a file that cannot be cut into pieces)."""
    with monkeypatch.context() as m:
        m.setattr(cin_read, "find_layout", lambda path: None)
        return read_cin(paths)


def read_parallel(
    paths: list[Path], monkeypatch: pytest.MonkeyPatch, workers: int = 3, piece_bytes: int = 1
) -> tuple[CinReadResult, list[tuple[int, int]]]:
    """Read small files as if big: in pieces of about ``piece_bytes`` (1: one Child each),
    shared with worker processes (waited for), each reading its range 3 pieces a task; also
    return the ranges they were given."""
    given: list[tuple[int, int]] = []
    assign = cin_workers.Worker.assign

    def spy(worker: cin_workers.Worker, task: Callable, args: tuple, span: tuple[int, int]) -> bool:
        given.append(span)
        return assign(worker, task, args, span)

    with monkeypatch.context() as m:
        m.setattr(cin_workers, "PARALLEL_MIN_BYTES", 0)
        m.setattr(cin_workers, "WORKERS", workers)
        m.setattr(cin_pieces, "PIECE_BYTES", piece_bytes)
        m.setattr(cin_workers, "WORKER_WAIT_SECONDS", 120)
        m.setattr(cin_workers, "TASK_PIECES", 3)
        m.setattr(cin_workers.Worker, "assign", spy)
        return read_cin(paths), given


def test_small_batches_give_the_same_tables(
    generated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = generated / "cin_census_2023.xml"
    default = read_cin([path])
    monkeypatch.setattr(cin_stream, "BATCH_CHILDREN", 97)
    assert_same(default, read_streaming([path], monkeypatch))
    monkeypatch.setattr(cin_pieces, "PIECE_BYTES", 20_000)
    assert cin_pieces.find_layout(path) is not None
    assert_same(default, read_cin([path]))


def mixed_census(tmp_path: Path) -> Path:
    """Valid children, invalid ones (several kinds of XSD issue), children without an id,
    a value with a tab and a line break: more issues of a kind than the cap."""
    children = []
    for i in range(40):
        referral = "31/12/2023" if i % 3 == 0 else "2023-05-01"
        upn = "X1" if i % 4 == 1 else ""
        ethnicity = "WB\tRI\nX" if i == 7 else "WBRI"
        child_id = None if i % 9 == 4 else f"M{i}"
        children.append(child_xml(child_id, referral, upn, ethnicity))
    return census(tmp_path, *children, name="mixed_2024.xml")


def test_parallel_read_is_the_same_as_streaming(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces read by worker processes give the same tables, row order and issues (caps,
    rows, XSD line numbers) as the same file streamed, and as read in one process."""
    monkeypatch.setattr(cin_capped, "MAX_ISSUES_PER_KIND", 5)  # caps across ranges
    path = mixed_census(tmp_path)
    streamed = read_streaming([path], monkeypatch)
    assert any("more of" in i.found for i in streamed.issues)
    parallel, given = read_parallel([path], monkeypatch, workers=3)
    # Two workers, each given the back half of what was left, in order.
    assert len(given) == 2 and given[1][1] == given[0][0]
    assert_same(streamed, parallel)
    assert_same(streamed, read_cin([path]))  # one process, one piece
    # XSD lines of children read by workers: where the element is in the file.
    text = path.read_text(encoding="utf-8")
    starts = [m.start() for m in re.finditer("<Child>", text)]
    checked = 0
    for issue in parallel.issues:
        if issue.row and issue.column in ("CINreferralDate", "UPN"):
            element = text.index(f"<{issue.column}>", starts[issue.row - 1])
            line = text.count("\n", 0, element) + 1
            assert issue.found.endswith(f"(line {line})")
            checked += issue.row > given[1][0]
    assert checked


def test_malformed_file_read_in_parallel_is_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    children = [child_xml(f"A{i}") for i in range(12)]
    text = HEADER + "".join(children[:9]) + "    <Child><ChildIdentifiers>\n"
    path = write(tmp_path, "cin_census_2024.xml", text + "".join(children[9:]) + FOOTER)
    streamed = read_streaming([path], monkeypatch)
    parallel, given = read_parallel([path], monkeypatch, workers=2)
    assert given  # the worker had a range: the back half, with the malformed piece
    assert_same(streamed, parallel)
    (malformed,) = errors(parallel)
    assert malformed.found.startswith("malformed XML at line 310: Opening and ending tag")


_RANGE_WORKER = cin_pieces.range_worker


def die_at_start(module: str) -> None:
    """A worker's first step that ends its process (run in the worker process)."""
    os._exit(3)


def die_in_worker(*args: object) -> object:
    """The range task of a worker that takes a range and then dies; here, read as usual."""
    if multiprocessing.parent_process() is not None:
        os._exit(1)
    return _RANGE_WORKER(*args)


def test_failing_worker_has_its_range_read_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = mixed_census(tmp_path)
    expected = read_streaming([path], monkeypatch)
    # A worker that dies at once, and one that takes a range and then dies.
    with monkeypatch.context() as m:
        m.setattr(cin_workers, "_start", die_at_start)
        assert_same(expected, read_parallel([path], monkeypatch, workers=2)[0])
    monkeypatch.setattr(cin_pieces, "range_worker", die_in_worker)
    result, given = read_parallel([path], monkeypatch, workers=2)
    assert given
    assert_same(expected, result)


XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="x"'
ODD_LAYOUTS: dict[str, tuple[tuple[str, str], str, str]] = {
    # case: ((text in HEADER, replaced by), between the 4th and 5th Child, after the end)
    "comment with a Child tag": (("", ""), "<!-- <Child> old </Child> -->\n", ""),
    "CDATA with a Child tag": (("", ""), child_xml("CD", ethnicity="<![CDATA[<Child>x]]>"), ""),
    "nested Child": (
        ("", ""),
        "<Child><ChildIdentifiers><LAchildID>O</LAchildID></ChildIdentifiers>"
        + child_xml("IN")
        + "</Child>",
        "",
    ),
    "Header among the children": (
        ("", ""),
        "<Header><CollectionDetails><ReferenceDate>2022-03-31</ReferenceDate>"
        "</CollectionDetails></Header>",
        "",
    ),
    "other element among the children": (("", ""), "<Foo>bar</Foo>stray text", ""),
    "Child without content": (("", ""), "<Child/>", ""),
    "comment in the Header": (("<Header>", "<!-- hi --><Header>"), "", ""),
    "comment at the end": (("", ""), "", "<!-- end -->\n"),
    "attributes on Children": (("<Children>", f"<Children {XSI}>"), "", ""),
}


@pytest.mark.parametrize("case", ODD_LAYOUTS)
def test_odd_layouts_read_the_same_in_pieces(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Comments, CDATA and odd nesting where a file is cut: still the streamed result."""
    (old, new), middle, end = ODD_LAYOUTS[case]
    head = HEADER.replace(old, new) if old else HEADER
    children = [child_xml(f"P{i}", upn="X1" if i == 5 else "") for i in range(8)]
    text = head + "".join(children[:4]) + middle + "".join(children[4:]) + FOOTER + end
    path = write(tmp_path, "cin_census_2024.xml", text)
    monkeypatch.setattr(cin_pieces, "PIECE_BYTES", 1)  # a piece per Child
    assert_same(read_streaming([path], monkeypatch), read_cin([path]))


def test_namespaced_and_latin1_files_are_cut_into_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = HEADER.replace("<Message>", '<c:Message xmlns:c="urn:x">').replace(
        "<Children>", "<c:Children>"
    )
    children = [child_xml(f"S{i}").replace("Child>", "c:Child>") for i in range(6)]
    end = FOOTER.replace("</Children>", "</c:Children>").replace("</Message>", "</c:Message>")
    prefixed = write(tmp_path, "ns_2024.xml", ns + "".join(children) + end)
    latin = tmp_path / "latin_2024.xml"
    latin_head = HEADER.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"')
    latin.write_bytes((latin_head + child_xml("Lé") + child_xml("L2") + FOOTER).encode("latin-1"))
    # An encoding where a "<" byte need not be "<" (ISO-2022-JP): streamed, not cut.
    jis_head = HEADER.replace('encoding="UTF-8"', 'encoding="ISO-2022-JP"')
    jis = write(tmp_path, "jis_2024.xml", jis_head + child_xml("J1") + FOOTER)
    monkeypatch.setattr(cin_pieces, "PIECE_BYTES", 1)
    for path in (prefixed, latin):
        layout = cin_pieces.find_layout(path)
        assert layout is not None and len(layout.bounds) > 2
    assert cin_pieces.find_layout(jis) is None
    paths = [prefixed, latin, jis]
    result = read_cin(paths)
    assert_same(read_streaming(paths, monkeypatch), result)
    assert result.issues == []
    # Files are read in name order.
    assert list(result.children["LAchildID"]) == ["J1", "Lé", "L2"] + [f"S{i}" for i in range(6)]


# --------------------------------------------------------------------------- DfE samples


def test_dfe_samples_read_with_their_issues() -> None:
    result = read_cin([SAMPLES])
    assert len(result.files_seen) == 4
    assert len(result.children) > 300
    issues = [i for i in result.issues if i.source.endswith("CIN_Census_2024.xml")]
    by_column = {(i.row, i.column) for i in issues}
    # Year says 2023 but ReferenceDate is 31 March 2024: a warning, year 2024 used.
    year = [i for i in issues if i.column == "Year"]
    assert len(year) == 1 and year[0].severity == "warning" and "2023" in year[0].found
    # Sex is not in the 2024 XSD (GenderCurrent until 2024-25): both children.
    assert {(1, "Sex"), (2, "Sex")} <= by_column
    sex = next(i for i in issues if i.column == "Sex")
    assert "GenderCurrent" in sex.expected
    # The fake file's invalid assessment factor and boolean.
    factor = next(i for i in issues if i.column == "AssessmentFactors")
    assert factor.row == 1 and "'RB'" in factor.found and "codes" in factor.expected
    assert (1, "ICPCnotRequired") in by_column
    # Still read: the values as given, with which sex element they came from.
    children = result.children[result.children["_source"].str.endswith("CIN_Census_2024.xml")]
    assert len(children) == 2
    assert set(children["_year"]) == {2024}
    assert set(children["sex_element"]) == {"Sex"}
    assert_no_identifiers(result, *result.children["LAchildID"], *result.children["UPN"][1:2])


def test_dfe_sample_issues_are_capped_per_kind() -> None:
    result = read_cin([SAMPLES / "csc_validator_cin_fake" / "fake_CIN_data.xml"])
    nfa = [i for i in result.issues if i.column == "ReferralNFA"]
    assert len(nfa) == cin_capped.MAX_ISSUES_PER_KIND + 1
    assert "more of" in nfa[-1].found


# --------------------------------------------------------------------------- bad input


def test_malformed_xml_names_the_line_and_keeps_earlier_children(tmp_path: Path) -> None:
    text = HEADER + child_xml("A1") + child_xml("A2") + "    <Child><ChildIdentifiers>\n"
    path = write(tmp_path, "cin_census_2024.xml", text + "  </Children>\n")
    result = read_cin([path])
    malformed = [i for i in errors(result) if "malformed XML at line" in i.found]
    assert len(malformed) == 1 and "2 Child elements" in malformed[0].found
    assert list(result.children["LAchildID"]) == ["A1", "A2"]


def test_billion_laughs_is_refused_quickly(tmp_path: Path, no_hang: None) -> None:
    # Refused at the DOCTYPE, before any entity is expanded (the issue below says so): no
    # wall-time figure is asserted, and no_hang fails the test rather than let an expansion
    # run on.
    lols = "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    text = (
        f'<?xml version="1.0"?>\n<!DOCTYPE Message [<!ENTITY lol0 "lol">{lols}]>\n'
        "<Message><Children><Child><ChildIdentifiers><LAchildID>&lol9;</LAchildID>"
        "</ChildIdentifiers></Child></Children></Message>"
    )
    result = read_cin([write(tmp_path, "bomb.xml", text)])
    assert [i.found for i in result.issues] == [
        "XML with a DOCTYPE declaration (refused: it can define entities)"
    ]
    assert result.children.empty


def test_external_entity_is_refused(tmp_path: Path) -> None:
    text = (
        '<?xml version="1.0"?>\n<!DOCTYPE Message [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        + HEADER.split("\n", 1)[1].replace("<LEA>123</LEA>", "<LEA>&xxe;</LEA>")
        + child_xml("X1")
        + FOOTER
    )
    result = read_cin([write(tmp_path, "xxe.xml", text)])
    assert len(result.issues) == 1 and "DOCTYPE" in result.issues[0].found
    assert result.children.empty
    assert "root:" not in result.issues[0].message()


def test_doctype_after_a_long_prologue_is_still_refused(tmp_path: Path) -> None:
    padding = "<!--" + "x" * (cin_document.PROLOGUE_BYTES + 10) + "-->\n"
    text = (
        f'<?xml version="1.0"?>\n{padding}<!DOCTYPE Message [<!ENTITY e "v">]>\n'
        + HEADER.split("\n", 1)[1]
        + child_xml("D1")
        + FOOTER
    )
    result = read_cin([write(tmp_path, "late_doctype.xml", text)])
    assert any("DOCTYPE" in i.found for i in errors(result))
    assert result.children.empty


def test_wrong_root_element(tmp_path: Path) -> None:
    path = write(tmp_path, "wrong.xml", "<EXPSSDA903><CHILD/></EXPSSDA903>")
    result = read_cin([path])
    assert len(result.issues) == 1
    assert "<EXPSSDA903>" in result.issues[0].found and "<Message>" in result.issues[0].expected
    # A wrong root holding Child elements is refused too.
    path = write(
        tmp_path, "wrong2.xml", "<Returns><Children>" + child_xml() + "</Children></Returns>"
    )
    result = read_cin([path])
    assert len(result.issues) == 1 and "<Returns>" in result.issues[0].found
    assert result.children.empty


def test_child_without_lachildid_is_read_with_a_blank_id(tmp_path: Path) -> None:
    # Read (with a blank id) rather than skipped, so that the cleaner quarantines and
    # counts its rows: a skipped child was never counted as read (issue 15).
    path = census(tmp_path, child_xml("K1"), child_xml(None), child_xml("  "), child_xml("K4"))
    result = read_cin([path])
    missing = [i for i in result.issues if i.found.startswith("Child without LAchildID")]
    assert [(i.row, i.column, i.expected) for i in missing] == [
        (2, "LAchildID", "a child id"),
        (3, "LAchildID", "a child id"),
    ]
    assert list(result.children["LAchildID"]) == ["K1", "", "  ", "K4"]
    assert list(result.children["_child"]) == [1, 2, 3, 4]
    assert set(result.cin_details["_child"]) == {1, 2, 3, 4}
    assert len(result.cin_details) == 8 and len(result.cpp) == 4
    (account,) = result.files
    assert (account.status, account.found, account.read, account.unread) == ("read", 4, 4, 0)


def test_non_date_in_a_date_element_is_an_xsd_issue(tmp_path: Path) -> None:
    path = census(tmp_path, child_xml("N1"), child_xml("N2", referral="31/12/2023"))
    result = read_cin([path])
    (issue,) = errors(result)
    assert (issue.row, issue.column) == (2, "CINreferralDate")
    assert "31/12/2023" in issue.found and issue.expected == "a date yyyy-mm-dd"
    assert "line" in issue.found
    # Still extracted, as given: parsing dates is the cleaner's job.
    assert list(result.cin_details["CINreferralDate"]) == [
        "2023-05-01", "2024-01-05", "31/12/2023", "2024-01-05",
    ]  # fmt: skip


def test_a_date_outside_the_census_year_is_not_a_reader_issue(tmp_path: Path) -> None:
    result = read_cin([census(tmp_path, child_xml("O1", referral="1999-01-01"))])
    assert result.issues == []
    assert result.cin_details["CINreferralDate"].iloc[0] == "1999-01-01"


def test_identifying_values_are_withheld_from_issues(tmp_path: Path) -> None:
    path = census(tmp_path, child_xml("SECRET1", upn="BADUPN123"))
    result = read_cin([path])
    upn = [i for i in result.issues if i.column == "UPN"]
    assert upn and "(value withheld)" in upn[0].found
    assert_no_identifiers(result, "SECRET1", "BADUPN123")


def test_tab_or_line_break_inside_a_value_keeps_rows_aligned(tmp_path: Path) -> None:
    path = census(tmp_path, child_xml("T1", ethnicity="WB\tRI\nX"), child_xml("T2"))
    result = read_cin([path])
    assert list(result.children["Ethnicity"]) == ["WB RI X", "WBRI"]
    assert len(result.cin_details) == 4


def test_child_without_sex_element_is_read(tmp_path: Path) -> None:
    # Neither GenderCurrent nor Sex: an XSD issue, and the child's other values are read.
    path = census(tmp_path, child_xml("G1").replace("<GenderCurrent>1</GenderCurrent>", ""))
    result = read_cin([path])
    assert [i.column for i in errors(result)] == ["ChildIdentifiers"]
    assert list(result.children[["LAchildID", "sex", "sex_element"]].iloc[0]) == ["G1", "", ""]
    assert len(result.cin_details) == 2


def test_header_year_and_reference_date_warnings(tmp_path: Path) -> None:
    header = HEADER.replace("2024-03-31", "2023-09-30").replace("<Year>2024", "<Year>2023")
    path = write(tmp_path, "census.xml", header + child_xml("H1") + FOOTER)
    result = read_cin([path])
    assert {(i.column, i.severity) for i in result.issues} == {
        ("ReferenceDate", "warning"),
        ("Year", "warning"),
    }
    assert set(result.children["_year"]) == {2024}


def test_no_header_takes_the_year_from_the_file_name(tmp_path: Path) -> None:
    text = "<Message><Children>" + child_xml("Y1") + "</Children></Message>"
    result = read_cin([write(tmp_path, "cin_2024.xml", text)])
    assert [i.severity for i in result.issues] == ["warning"]
    assert list(result.children["_year"]) == [2024]
    result = read_cin([write(tmp_path, "cin.xml", text)])
    assert [i.severity for i in result.issues] == ["error"]
    assert list(result.children["_year"]) == [-1]


def test_namespaced_file_is_read_and_validated(tmp_path: Path) -> None:
    text = HEADER.replace("<Message>", '<Message xmlns="urn:example:cin">')
    path = write(tmp_path, "ns.xml", text + child_xml("S1") + FOOTER)
    result = read_cin([path])
    assert result.issues == []
    assert list(result.children["LAchildID"]) == ["S1"]
    assert len(result.cpp) == 1


def test_missing_path_and_non_cin_files(tmp_path: Path) -> None:
    write(tmp_path, "notes.csv", "a,b\n1,2\n")
    write(tmp_path, "empty.xml", "")
    result = read_cin([tmp_path, tmp_path / "nope"])
    found = {i.source: i.found for i in result.issues}
    assert "without column(s) LAchildID" in found["notes.csv"]
    assert "no such file or folder" in found[str(tmp_path / "nope")]
    assert len(result.issues) == 3  # empty.xml: malformed (no root element)


# --------------------------------------------------------------------------- flat CSV


def test_liia_flat_csv(tmp_path: Path) -> None:
    columns = [
        "LAchildID",
        "Date",
        "Type",
        "CINreferralDate",
        "ReferralSource",
        "PrimaryNeedCode",
        "CINclosureDate",
        "ReasonForClosure",
        "DateOfInitialCPC",
        "ReferralNFA",
        "CINPlanStartDate",
        "CINPlanEndDate",
        "S47ActualStartDate",
        "InitialCPCtarget",
        "ICPCnotRequired",
        "AssessmentActualStartDate",
        "AssessmentInternalReviewDate",
        "AssessmentAuthorisationDate",
        "Factors",
        "CPPstartDate",
        "CPPendDate",
        "InitialCategoryOfAbuse",
        "LatestCategoryOfAbuse",
        "NumberOfPreviousCPP",
        "UPN",
        "FormerUPN",
        "UPNunknown",
        "PersonBirthDate",
        "ExpectedPersonBirthDate",
        "GenderCurrent",
        "PersonDeathDate",
        "PersonSchoolYear",
        "Ethnicity",
        "Disabilities",
        "LA",
        "YEAR",
    ]

    def row(**values: str) -> str:
        base = {"LAchildID": "F1", "CINreferralDate": "2023-05-01", "ReferralSource": "1A",
                "ReferralNFA": "0", "GenderCurrent": "1", "Ethnicity": "WBRI",
                "LA": "Barnet", "YEAR": "2024"}  # fmt: skip
        base.update(values)
        return ",".join(f'"{base.get(c, "")}"' for c in columns)

    lines = [
        ",".join(columns),
        row(Date="2023-05-01", Type="CINreferralDate"),
        row(Date="2023-05-02", Type="AssessmentActualStartDate",
            AssessmentActualStartDate="2023-05-02", Factors="1A,2B"),
        row(Date="2023-06-01", Type="CPPstartDate", CPPstartDate="2023-06-01"),
        row(Date="2023-07-01", Type="CPPreviewDate", CPPstartDate="2023-06-01"),
        row(Date="2023-10-01", Type="CPPreviewDate", CPPstartDate="2023-06-01"),
        row(LAchildID="F2", Date="2024-01-05", Type="CINreferralDate",
            CINreferralDate="2024-01-05"),
        row(LAchildID="", Date="2024-01-05", Type="CINreferralDate"),
    ]  # fmt: skip
    result = read_cin([write(tmp_path, "cin_flat.csv", "\n".join(lines) + "\n")])
    assert [(i.row, i.column) for i in result.issues] == [(8, "LAchildID")]
    assert list(result.children["LAchildID"]) == ["F1", "F2"]
    assert list(result.children["_child"]) == [1, 2]
    assert len(result.cin_details) == 2 and set(result.cin_details["_year"]) == {2024}
    assert result.assessments["AssessmentFactors"].tolist() == ["1A,2B"]
    assert result.cpp["CPPreviewDate"].tolist() == ["2023-07-01,2023-10-01"]
    assert set(result.cpp["_la"]) == {"Barnet"}
