"""model.report.demo_summary: counts per year from a returns folder, never child identifiers."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from model.report.demo_summary import parse_date, summarise_folder, year_ending_march

ROOT = Path(__file__).resolve().parents[1]

EPISODES_HEADER = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\n"


def cin_census(reference_date: str, child_ids: list[str]) -> str:
    children = "".join(
        f"<Child><ChildIdentifiers><LAchildID>{cid}</LAchildID></ChildIdentifiers></Child>"
        for cid in child_ids
    )
    return (
        "<Message><Header><CollectionDetails><Collection>CIN</Collection>"
        f"<ReferenceDate>{reference_date}</ReferenceDate></CollectionDetails></Header>"
        f"<Children>{children}</Children></Message>"
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An authority folder with two 903 years, two censuses and the odd faulty file."""
    la = tmp_path / "SYN01"
    y2016 = la / "ssda903" / "2015-16"
    y2017 = la / "ssda903" / "2016-17"
    y2016.mkdir(parents=True)
    y2017.mkdir(parents=True)
    # BOM and CRLF, as some case systems write; one DEC on 1 April (a known artefact) must
    # not move the file into the next year
    (y2016 / "episodes.csv").write_bytes(
        (
            "\ufeff"
            + EPISODES_HEADER
            + "C1,01/05/2015,S,C2,N1,U1,PR1,01/06/2015,E11,\r\n"
            + "C2,01/05/2015,S,C2,N1,U1,PR1,01/04/2016,E11,\r\n"
            + "C3,01/05/2014,S,C2,N1,U1,PR1,02/02/2016,E11,\r\n"
            + "C4,01/03/2016,S,C2,N1,U1,PR1,,,\r\n"
        ).encode("utf-8")
    )
    (y2016 / "header.csv").write_text("CHILD,SEX,DOB,ETHNIC,UPN\nC1,M,01/01/2010,WBRI,UN1\n")
    # only open episodes, ISO dates: the year comes from the latest DECOM
    (y2017 / "episodes.csv").write_text(
        EPISODES_HEADER + "C4,2016-03-01,S,C2,N1,U1,PR1,,,\n" + "C5,2016-05-01,S,C2,N1,U1,PR1,,,\n"
    )
    (la / "cin").mkdir()
    (la / "cin" / "a.xml").write_text(cin_census("2016-03-31", ["C1", "C2", "C2"]))
    (la / "cin" / "b.xml").write_text(cin_census("2017-03-31", ["C1"]))
    (la / "cin" / "broken.xml").write_text("<Message><Header>")
    (la / "truth").mkdir()
    (la / "truth" / "observations.csv").write_text("x\n1\n")
    (la / ".snakemake_timestamp").write_text("")  # tool files are not data
    (la / "DONE").write_text("")
    return la


def test_counts_per_year(folder: Path):
    summary = summarise_folder(folder)
    assert summary["authority"] == "SYN01"
    assert summary["complete"] is True
    assert summary["files"] == {"ssda903": 3, "cin": 3, "truth": 1, "other": 1, "total": 8}
    assert summary["years"] == {
        "2016": {"ssda903_episode_rows": 4, "cin_children": 2},  # C2 twice counts once
        "2017": {"ssda903_episode_rows": 2, "cin_children": 1},
    }
    [unread] = summary["unread_files"]
    assert unread["file"] == "cin/broken.xml"


def test_summary_holds_no_child_identifiers(folder: Path):
    text = json.dumps(summarise_folder(folder))
    for child_id in ("C1", "C2", "C3", "C4", "C5"):
        assert f'"{child_id}"' not in text and f"{child_id}," not in text


def test_incomplete_folder_is_flagged(folder: Path):
    (folder / "DONE").unlink()
    assert summarise_folder(folder)["complete"] is False


def test_stacked_layout_uses_its_year_column(tmp_path: Path):
    la = tmp_path / "LA"
    (la / "ssda903").mkdir(parents=True)
    (la / "ssda903" / "stacked.csv").write_text(
        "CHILD,DECOM,RNE,YEAR\nA,2015-05-01,S,2016\nA,2015-05-01,S,2017\nB,2016-05-01,S,2017\n"
    )
    years = summarise_folder(la)["years"]
    assert {y: v["ssda903_episode_rows"] for y, v in years.items()} == {"2016": 1, "2017": 2}


def test_903_xml(tmp_path: Path):
    la = tmp_path / "LA"
    (la / "ssda903").mkdir(parents=True)
    episode = "<EPISODE><DECOM>2019-06-01</DECOM><DEC>2019-08-01</DEC></EPISODE>"
    (la / "ssda903" / "return.xml").write_text(
        f"<EXPSSDA903><CHILD><HEADER/>{episode}{episode}</CHILD></EXPSSDA903>"
    )
    assert summarise_folder(la)["years"] == {"2020": {"ssda903_episode_rows": 2, "cin_children": 0}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31/03/2016", date(2016, 3, 31)),
        ("2016-03-31", date(2016, 3, 31)),
        ("31/03/16", date(2016, 3, 31)),
        ("2016-03-31T00:00:00", date(2016, 3, 31)),
        ("31/03/2016 00:00", date(2016, 3, 31)),
        ("42460", date(2016, 3, 31)),  # Excel serial
        ("", None),
        ("  ", None),
        (None, None),
        ("not a date", None),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_year_ending_march():
    assert year_ending_march(date(2016, 3, 31)) == 2016
    assert year_ending_march(date(2016, 4, 1)) == 2017


def test_rule_script_runs_by_hand(folder: Path, tmp_path: Path):
    out = tmp_path / "out" / "summary.json"
    script = ROOT / "workflow" / "scripts" / "summarise_demo.py"
    subprocess.run([sys.executable, str(script), str(folder), str(out)], check=True)
    assert json.loads(out.read_text())["years"]["2016"]["cin_children"] == 2
