"""Issue 15, the 903 part: hostile and broken returns get a clear outcome — rows quarantined
with named reasons, every file and year accounted for, no value of an unparsed row echoed,
no traceback, no hang — and a failed rerun leaves no previous outputs looking current.

Every input is built here from a small synthetic authority (never real data).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.cli import main
from model.ingest903 import IngestError, ingest_903
from model.ingest903.recognise import ALL_COLUMNS
from model.synth.authorities import AuthoritySpec
from model.synth.synthesize import write_authority
from model.synth.truth_config import load_truth

YEARS = ("2020-21", "2021-22", "2022-23", "2023-24")
TABLE_COLUMNS_ALL = {c for columns in ALL_COLUMNS.values() for c in columns}


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four clean annual returns (2020-21 to 2023-24) and CIN censuses of one authority."""
    folder = tmp_path_factory.mktemp("synth") / "SYN01"
    spec = AuthoritySpec("SYN01", "001", "Hardening", 30_000)
    write_authority(folder, load_truth(None), spec, 2021, 2024, 3, False)
    return folder


@pytest.fixture(scope="module")
def clean_run(authority: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Observations of the four clean returns, one folder per year."""
    out = tmp_path_factory.mktemp("clean")
    result = ingest_903([authority / "ssda903"], "X", out / "out", out / "p")
    return result.observations


@pytest.fixture(scope="module")
def clean_2024(authority: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """Observations of the 2023-24 return alone."""
    out = tmp_path_factory.mktemp("clean24")
    result = ingest_903([authority / "ssda903" / "2023-24"], "X", out / "out", out / "p")
    return result.observations


def copy_returns(authority: Path, to: Path, years: tuple[str, ...] = YEARS) -> Path:
    """A copy of the authority's returns for the given years, one folder each."""
    for year in years:
        shutil.copytree(authority / "ssda903" / year, to / year)
    return to


def table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def report_text(out: Path) -> str:
    return (out / "data_quality_903.txt").read_text(encoding="utf-8")


def outcomes_of(result, source: str) -> pd.DataFrame:
    o = result.clean.outcomes
    return o[(o._source == source) & (o.table == "episodes")].set_index("_row")


def cli(inputs: list[Path], out: Path, private: Path, capsys) -> tuple[int, str]:
    code = main(["ingest", "903", *map(str, inputs), "--authority", "X",
                 "--out", str(out), "--private", str(private)])  # fmt: skip
    return code, capsys.readouterr().err


# --------------------------------------------------------------------------- 1. plausibility


def test_a_future_start_date_is_quarantined_and_cannot_move_the_window(
    authority: Path, tmp_path: Path, clean_2024: pd.DataFrame
) -> None:
    """A 2023-24 return with one episode starting 01/04/2099: that row is quarantined by a
    named rule; the observations are the return's own year, as without it."""
    folder = copy_returns(authority, tmp_path / "in", ("2023-24",))
    path = folder / "2023-24" / "episodes.csv"
    episodes = table(path)
    stray = episodes.iloc[[0]].assign(DECOM="01/04/2099", DEC="", REC="", RNE="S")
    write(pd.concat([episodes, stray]), path)
    result = ingest_903([folder], "X", tmp_path / "out", tmp_path / "p")
    assert (result.first_year, result.last_year) == (2024, 2024)
    assert result.observations.period.max() == "2024-03-31"
    pd.testing.assert_frame_equal(result.observations, clean_2024)
    row = outcomes_of(result, "2023-24/episodes.csv").loc[len(episodes) + 2]
    assert row.outcome == "quarantined"
    assert row.rule == "DECOM: a start date after the end of the return's collection year"
    assert result.report["not_used"][f"quarantined: {row.rule}"] == 1
    assert result.report["reconciles"]
    assert "after the end of the return's collection year" in report_text(tmp_path / "out")


def test_implausible_births_and_dates_before_1990_are_quarantined(
    authority: Path, tmp_path: Path
) -> None:
    """Dates of birth in 1900 and 2099, a birth after the episode's start and a start in
    1985: each quarantined with its reason; counts reconcile; the window is unchanged."""
    folder = copy_returns(authority, tmp_path / "in", ("2023-24",))
    header_path = folder / "2023-24" / "header.csv"
    episodes_path = folder / "2023-24" / "episodes.csv"
    header, episodes = table(header_path), table(episodes_path)
    with_one = episodes.groupby("CHILD").filter(lambda e: len(e) == 1)
    old, future, unborn, early = with_one.CHILD.iloc[:4]
    header.loc[header.CHILD == old, "DOB"] = "01/01/1900"
    header.loc[header.CHILD == future, "DOB"] = "01/01/2099"
    # Born (plausibly, within the return's year) the day after the episode started.
    start = pd.to_datetime(episodes.loc[episodes.CHILD == unborn, "DECOM"].iloc[0], dayfirst=True)
    header.loc[header.CHILD == unborn, "DOB"] = (start + pd.Timedelta(days=1)).strftime("%d/%m/%Y")
    episodes.loc[episodes.CHILD == early, "DECOM"] = "01/01/1985"
    write(header, header_path)
    write(episodes, episodes_path)
    result = ingest_903([folder], "X", tmp_path / "out", tmp_path / "p")
    rows = outcomes_of(result, "2023-24/episodes.csv")
    rule_of = {
        child: rows.loc[i + 2, "rule"] for i, child in episodes.CHILD.items()
        if child in (old, future, unborn, early)
    }  # fmt: skip
    assert rule_of == {
        old: "DOB: episodes of a child whose date of birth is not plausible",
        future: "DOB: episodes of a child whose date of birth is not plausible",
        unborn: "DECOM: an episode starting before the child's date of birth",
        early: "DECOM: a start date before 1990",
    }
    header_rules = result.clean.outcomes.query("table == 'header' and outcome == 'quarantined'")
    assert len(header_rules) == 2 and header_rules.rule.str.startswith("DOB: ").all()
    assert not result.clean.children.CHILD.isin([old, future]).any()
    assert result.report["reconciles"]
    assert (result.first_year, result.last_year) == (2024, 2024)
    shared = report_text(tmp_path / "out")
    assert "1900" not in shared and "2099" not in shared and old not in shared


# --------------------------------------------------------------------------- 2. years


@pytest.mark.parametrize("layout", ["one_file", "stacked_without_year"])
def test_a_file_of_several_years_gives_every_year(
    authority: Path, tmp_path: Path, clean_run: pd.DataFrame, layout: str
) -> None:
    """Four returns in one file (plain, or the stacked layout without YEAR): the same
    observations as the four returns in their folders, and a warning that says so."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("episodes", "header", "uasc"):
        frames = [table(authority / "ssda903" / y / f"{name}.csv") for y in YEARS]
        joined = pd.concat(frames, ignore_index=True)
        if layout == "stacked_without_year":
            joined["LA"] = "Synthetic"
        write(joined, folder / f"{name}.csv")
    result = ingest_903([folder], "X", tmp_path / "out", tmp_path / "p")
    assert (result.first_year, result.last_year) == (2021, 2024)
    pd.testing.assert_frame_equal(result.observations, clean_run)
    assert result.report["collection_years"]["found"] == list(YEARS)
    assert "one file holding several years' episodes" in report_text(tmp_path / "out")


def test_an_unreadable_year_folder_is_reported_and_a_missing_middle_year_fails(
    authority: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A year folder that cannot be listed (tests run as root, where chmod cannot make
    one, so listing it is made to fail): named as not read, and the run stops, because
    2021-22 is missing between 2020-21 and 2023-24."""
    folder = copy_returns(authority, tmp_path / "in")
    real_scandir = os.scandir

    def scandir(path=".", *args):
        if isinstance(path, str | os.PathLike) and os.fspath(path).endswith("2021-22"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path, *args)

    monkeypatch.setattr(os, "scandir", scandir)
    code, err = cli([folder], tmp_path / "out", tmp_path / "p", capsys)
    assert code == 2 and "Traceback" not in err
    assert "none for 2021-22" in err and "returns found for 2020-21 to 2023-24" in err
    text = report_text(tmp_path / "out")
    assert "not read: 2021-22: folder not read (Permission denied)" in text
    assert "missing between them: 2021-22" in text
    assert "File problems:\n  none" not in text
    assert not (tmp_path / "out" / "observations_903.csv").exists()


def test_a_missing_middle_year_fails_with_a_clear_message(
    authority: Path, tmp_path: Path, capsys
) -> None:
    folder = copy_returns(authority, tmp_path / "in", ("2020-21", "2022-23", "2023-24"))
    code, err = cli([folder], tmp_path / "out", tmp_path / "p", capsys)
    assert code == 2 and "Traceback" not in err
    assert "none for 2021-22" in err and "Add the missing return" in err


def test_a_200_kb_quoted_cell_is_read_with_every_row(
    authority: Path, tmp_path: Path, clean_run: pd.DataFrame
) -> None:
    """A free-text cell of 200 KB with a line break: over the csv module's default field
    limit. Every row is read and the file counts as read."""
    folder = copy_returns(authority, tmp_path / "in")
    path = folder / "2023-24" / "episodes.csv"
    episodes = table(path)
    episodes.loc[3, "HOME_POST"] = "x" * 100_000 + "\n" + "y" * 100_000
    write(episodes, path)
    result = ingest_903([folder], "X", tmp_path / "out", tmp_path / "p")
    assert result.report["file_status"] == {"read": 12, "partly read": 0, "not read": 0}
    assert result.report["rows"]["read"] == sum(len(table(p)) for p in folder.rglob("*.csv"))
    pd.testing.assert_frame_equal(result.observations, clean_run)


def test_every_file_found_is_accounted_for_in_the_report_and_on_the_console(
    authority: Path, tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    folder = copy_returns(authority, tmp_path / "in", ("2023-24",))
    (folder / "2023-24" / "notes.csv").write_text("name,colour\nfoo,blue\n")
    path = folder / "2023-24" / "episodes.csv"
    path.write_text(path.read_text() + "A,01/05/2023,S,C2,N1,U1,PR1,,,,,,,extra,cells\n")
    with caplog.at_level("INFO", logger="carecast"):
        code, _ = cli([folder], tmp_path / "out", tmp_path / "p", capsys)
    assert code == 0
    report = json.loads((tmp_path / "out" / "data_quality_903.json").read_text())
    status = {f["file"]: f["status"] for f in report["files_accounted"]}
    assert status == {"2023-24/episodes.csv": "partly read", "2023-24/header.csv": "read",
                      "2023-24/notes.csv": "not read", "2023-24/uasc.csv": "read"}  # fmt: skip
    (partly,) = [f for f in report["files_accounted"] if f["status"] == "partly read"]
    assert partly["rows_not_read"] == 1
    assert "files found 4: read 2, partly read 1, not read 1" in caplog.text
    assert "collection years 2023-24" in caplog.text


# --------------------------------------------------------------------------- 3. identifiers


def test_a_header_file_without_its_column_line_echoes_no_value(
    authority: Path, tmp_path: Path, capsys
) -> None:
    folder = copy_returns(authority, tmp_path / "in", ("2023-24",))
    path = folder / "2023-24" / "header.csv"
    lines = path.read_text().splitlines()
    first_row = lines[1].split(",")
    path.write_text("\n".join(lines[1:]) + "\n")
    code, err = cli([folder], tmp_path / "out", tmp_path / "p", capsys)
    assert code == 2  # no child has a Header row: nothing usable
    shared = (
        report_text(tmp_path / "out") + (tmp_path / "out" / "data_quality_903.json").read_text()
    )
    for value in first_row:
        if len(value) > 3:  # ids, DOB, UPN (codes such as "1" are too short to search)
            assert value not in shared and value not in err, value
    assert "is the line of column names missing?" in shared


def test_a_symlink_to_another_file_gets_none_of_its_content_echoed(
    authority: Path, tmp_path: Path
) -> None:
    folder = copy_returns(authority, tmp_path / "in", ("2023-24",))
    system = tmp_path / "passwd"
    system.write_text("root:x:0:0:SECRET-ACCOUNT:/root:/bin/bash\n")
    (folder / "2023-24" / "extra.csv").symlink_to(system)
    ingest_903([folder], "X", tmp_path / "out", tmp_path / "p")
    shared = report_text(tmp_path / "out").upper()
    assert "SECRET" not in shared and "ROOT" not in shared
    assert "not read: 2023-24/extra.csv" in report_text(tmp_path / "out")


# --------------------------------------------------------------------------- 4. no tracebacks


def test_stacked_rows_with_bad_years_are_quarantined_not_a_traceback(
    authority: Path, tmp_path: Path
) -> None:
    """Stacked layout with a blank, non-numeric, out-of-range or stray YEAR on some rows."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("episodes", "header", "uasc"):
        frames = [
            table(authority / "ssda903" / y / f"{name}.csv").assign(LA="Syn", YEAR=y[:2] + y[-2:])
            for y in YEARS
        ]
        joined = pd.concat(frames, ignore_index=True)
        if name == "episodes":
            bad = joined.index[joined.index % 10 == 3]
            joined.loc[bad, "YEAR"] = [["", "abc", "1800", "2099"][i % 4] for i in range(len(bad))]
            hostile = joined.loc[bad]
        write(joined, folder / f"{name}.csv")
    result = ingest_903([folder], "X", tmp_path / "out", tmp_path / "p")
    assert (result.first_year, result.last_year) == (2021, 2024)
    rows = outcomes_of(result, "episodes.csv").loc[hostile.index + 2]
    assert (rows.outcome == "quarantined").all()
    assert rows.rule.str.startswith("YEAR: ").all()
    assert result.report["reconciles"]
    assert "abc" not in report_text(tmp_path / "out")
    assert (result.observations.value >= 0).all()


def test_episodes_whose_every_start_date_is_unparseable_are_an_ingest_error(
    authority: Path, tmp_path: Path
) -> None:
    folder = copy_returns(authority, tmp_path / "in", ("2023-24",))
    path = folder / "2023-24" / "episodes.csv"
    write(table(path).assign(DECOM="not a date"), path)
    with pytest.raises(IngestError, match="no usable 903 episodes"):
        ingest_903([folder], "X", tmp_path / "out", tmp_path / "p")
    assert "a start date that is blank or not a date" in report_text(tmp_path / "out")


def test_a_file_name_that_is_not_utf8_is_shown_escaped(authority: Path, tmp_path: Path) -> None:
    folder = copy_returns(authority, tmp_path / "in", ("2023-24",))
    bad_name = os.fsencode(folder / "2023-24") + b"/episodes\xff.csv"
    os.rename(folder / "2023-24" / "episodes.csv", bad_name)
    result = ingest_903([folder], "X", tmp_path / "out", tmp_path / "p")
    assert "2023-24/episodes\\xff.csv (episodes)" in result.report["files"]
    outcomes = pd.read_parquet(tmp_path / "p" / "row_outcomes_903.parquet")
    assert "2023-24/episodes\\xff.csv" in set(outcomes._source)


def test_fifos_and_devices_are_refused_without_blocking(
    authority: Path, tmp_path: Path, no_hang: None
) -> None:
    folder = copy_returns(authority, tmp_path / "in", ("2023-24",))
    os.mkfifo(folder / "2023-24" / "pipe.csv")
    (folder / "2023-24" / "zero.csv").symlink_to("/dev/zero")
    result = ingest_903([folder], "X", tmp_path / "out", tmp_path / "p")
    text = report_text(tmp_path / "out")
    assert "not read: 2023-24/pipe.csv: a FIFO (named pipe)" in text
    assert "not read: 2023-24/zero.csv: a character device" in text
    assert result.report["file_status"]["not read"] == 2
    with pytest.raises(IngestError, match="FIFO"):
        ingest_903([folder / "2023-24" / "pipe.csv"], "X", tmp_path / "o2", tmp_path / "p2")


def test_a_symlink_loop_is_called_a_symlink_loop(authority: Path, tmp_path: Path) -> None:
    folder = copy_returns(authority, tmp_path / "in", ("2023-24",))
    (folder / "2023-24" / "a.csv").symlink_to(folder / "2023-24" / "b.csv")
    (folder / "2023-24" / "b.csv").symlink_to(folder / "2023-24" / "a.csv")
    ingest_903([folder], "X", tmp_path / "out", tmp_path / "p")
    assert "2023-24/a.csv: not read (a symlink loop" in report_text(tmp_path / "out")
    with pytest.raises(IngestError, match="a symlink loop"):
        ingest_903([folder / "2023-24" / "a.csv"], "X", tmp_path / "o2", tmp_path / "p2")


def test_utf16_xml_is_read(tmp_path: Path) -> None:
    document = (
        '<?xml version="1.0" encoding="UTF-16"?>\n<EXPSSDA903><CHILD><HEADER>'
        "<CHILDID>K1</CHILDID><SEX>1</SEX><DOB>01/02/2010</DOB><UPN>UN1</UPN></HEADER>"
        "<EPISODE><DECOM>01/05/2019</DECOM><RNE>S</RNE><LS>C2</LS><CIN>N1</CIN><PL>U1</PL>"
        "<PLACE_PROVIDER>PR1</PLACE_PROVIDER><DEC></DEC><REC></REC></EPISODE></CHILD>"
        "</EXPSSDA903>\n"
    )
    path = tmp_path / "return_2019-20.xml"
    path.write_bytes(document.encode("utf-16"))
    result = ingest_903([path], "X", tmp_path / "out", tmp_path / "p")
    assert result.report["rows"]["accepted"] == 2  # the Header row and the episode
    stock = result.observations.query("measure == 'stock' and period == '2020-03-31'")
    assert stock.value.sum() == 1


# --------------------------------------------------------------------------- 5. staged outputs


def test_a_failed_rerun_leaves_no_previous_outputs(authority: Path, tmp_path: Path, capsys) -> None:
    folder = copy_returns(authority, tmp_path / "in", ("2023-24",))
    out, private = tmp_path / "out", tmp_path / "p"
    assert cli([folder], out, private, capsys)[0] == 0
    assert (out / "observations_903.csv").exists()
    assert (private / "episodes_903.parquet").stat().st_mode & 0o077 == 0  # owner only
    path = folder / "2023-24" / "episodes.csv"
    write(table(path).assign(DECOM="not a date"), path)
    code, err = cli([folder], out, private, capsys)
    assert code == 2 and "no usable 903 episodes" in err
    assert not (out / "observations_903.csv").exists()
    assert not list(private.glob("*.parquet"))
    # The failed run's own report stays, to say why.
    assert "a start date that is blank or not a date" in report_text(out)
    assert not [p for p in out.iterdir() if p.name.startswith(".carecast-staging")]


def test_the_cin_ingest_in_the_same_folders_keeps_the_903_outputs(
    authority: Path, tmp_path: Path, capsys
) -> None:
    """The README's commands: both ingests into one --out and one --private; the CIN
    ingest links to the 903's private outputs there and must not clear them."""
    out, private = tmp_path / "out", tmp_path / "p"
    assert cli([authority / "ssda903"], out, private, capsys)[0] == 0
    code = main(["-q", "ingest", "cin", str(authority / "cin"), "--authority", "X",
                 "--out", str(out), "--private", str(private)])  # fmt: skip
    assert code == 0
    for name in ("observations_903.csv", "data_quality_903.txt", "observations_cin.csv"):
        assert (out / name).exists(), name
    assert (private / "episodes_903.parquet").exists()
    report = json.loads((out / "data_quality_cin.json").read_text())
    assert report["link"]["link_rate"] > 0.9
    # A failed 903 rerun clears the 903 outputs only.
    bad = copy_returns(authority, tmp_path / "bad", ("2023-24",))
    write(
        table(bad / "2023-24" / "episodes.csv").assign(DECOM="x"), bad / "2023-24" / "episodes.csv"
    )
    assert cli([bad], out, private, capsys)[0] == 2
    assert not (out / "observations_903.csv").exists()
    assert (out / "observations_cin.csv").exists()


def test_a_returns_year_comes_from_the_bulk_of_its_dates() -> None:
    """Stray years at either end are dropped; a few rows are never trimmed; a year the
    file's name gives as a range keeps a quiet return its own year."""
    from model.ingest903.years import bulk_years, episodes_year

    years = np.array([2024] * 200 + [2023] * 100 + [2021] * 5 + [2099, 1985, -1])
    assert bulk_years(years) == (2021, 2024)  # 1985: before 1990, never counted
    assert bulk_years(np.array([2099, 2024, 2024]), trim_low=True) == (2024, 2099)
    stacked = np.array([2021] * 300 + [2022] * 300 + [2023] * 300 + [1993, 2099])
    assert bulk_years(stacked, trim_low=True) == (2021, 2023)
    quiet = np.array([2024] * 4 + [2023] * 20 + [2022] * 30 + [2021] * 46)
    assert bulk_years(quiet) == (2021, 2023)
    assert bulk_years(quiet, keep=2024) == (2021, 2024)
    # Three rows, one of them 2099: only a name such as 2023-24 can tell.
    tiny, none = np.array([2024, 2024, 2099]), np.full(3, -1)
    assert episodes_year(tiny, none).year == 2099
    assert episodes_year(tiny, none, named=2024).year == 2024


def test_no_identifier_of_the_hostile_inputs_reaches_a_shared_output_or_the_console(
    authority: Path, tmp_path: Path, capsys, caplog: pytest.LogCaptureFixture
) -> None:
    """Several hostile inputs at once; then every child id, UPN, date of birth and postcode
    in the inputs is searched for in the shared outputs and in what the run printed."""
    folder = copy_returns(authority, tmp_path / "in", ("2022-23", "2023-24"))
    episodes_path = folder / "2023-24" / "episodes.csv"
    episodes = table(episodes_path)
    episodes.loc[0, "DECOM"] = "01/04/2099"
    episodes.loc[1, "DEC"] = "garbage"
    episodes.loc[2, "PLACE"] = episodes.loc[2, "CHILD"]  # an id in a code column
    write(episodes, episodes_path)
    header_path = folder / "2022-23" / "header.csv"
    header_path.write_text("\n".join(header_path.read_text().splitlines()[1:]) + "\n")
    other = tmp_path / "elsewhere.csv"
    other.write_text(episodes_path.read_text().split("\n", 1)[1])  # rows, no header line
    (folder / "2023-24" / "linked.csv").symlink_to(other)
    with caplog.at_level("INFO"):
        code, err = cli([folder], tmp_path / "out", tmp_path / "p", capsys)
    assert code == 0
    shared = err + caplog.text
    shared += "".join(p.read_text() for p in (tmp_path / "out").iterdir() if p.is_file())
    values: set[str] = set()
    for path in folder.rglob("*.csv"):
        if path.is_symlink():
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, header=None)
        values |= {v for v in frame.to_numpy().ravel() if isinstance(v, str)}
    names = set(TABLE_COLUMNS_ALL) | {""}
    identifying = {v for v in values - names if len(v) >= 5}  # ids, UPNs, DOBs, postcodes
    assert len(identifying) > 500 and "Files found" in shared  # the search has something to find
    leaked = sorted(v for v in identifying if v in shared)
    assert not leaked, leaked[:10]
