"""Hardening of the published-table ingest, the fit and the config (issue 15).

Each test builds a broken input from the cut copies in ``tests/data/published`` (or from
scratch) in ``tmp_path`` and checks what carecast now does with it: refuse with a message
naming the file and what was expected, or read it and account for it in the report. Before
these changes every case here exited 0 with a wrong or empty answer, or a traceback.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from model.cli import main
from model.config.errors import ConfigError
from model.config.fit import StructureConfig
from model.config.load import load_config
from model.fit.data import FitDataError, fit_data, read_observations
from model.fit.run import fit_authority
from model.fit.run_published import fit_published
from model.ingest903 import ingest_903
from model.ingestpub import PublishedInputError, ingest_published
from model.synth.authorities import AuthoritySpec
from model.synth.synthesize import write_authority
from model.synth.truth_config import load_truth

DATA = Path(__file__).parent / "data" / "published"
CEASED = "cla/la_children_who_ceased_during_year_2018_2022.csv.gz"
B1 = "cin/b1_children_in_need_2013_to_2025.csv"


def read_table(path: Path) -> pd.DataFrame:
    """A published CSV file (gzipped or not) as text cells."""
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    return pd.read_csv(io.StringIO(raw.decode("utf-8-sig")), dtype=str, keep_default_na=False)


def write_table(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` as CSV (gzipped when the name says so)."""
    data = table.to_csv(index=False).encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)


def copy_data(tmp_path: Path) -> Path:
    """A private copy of the published test tables."""
    folder = tmp_path / "published"
    shutil.copytree(DATA, folder)
    return folder


def edit(folder: Path, name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    """Rewrite the table ``name`` under ``folder`` through ``change``."""
    path = folder / name
    write_table(change(read_table(path)), path)


# --------------------------------------------------- A1: a table lacking a needed column


def test_table_lacking_its_value_column_stops_the_run(tmp_path: Path) -> None:
    """The ceased-by-characteristic table without ``number``: its rows used to be dropped
    without a word (rows used 1,237 -> 871, observations 2,024 -> 1,753); now the run stops
    naming the file, the column and a figure no other file gives, and leaves no output of
    an earlier run behind."""
    out = tmp_path / "out"
    ingest_published(DATA, out)
    assert (out / "observations_published.csv").exists()
    folder = copy_data(tmp_path)
    edit(folder, CEASED, lambda t: t.drop(columns="number"))
    with pytest.raises(PublishedInputError) as caught:
        ingest_published(folder, out)
    message = str(caught.value)
    assert CEASED in message
    assert "lacks the column 'number' or 'children_count'" in message
    assert "341 figures it holds come from no other file" in message
    assert "dfe_ceased" in message
    assert not (out / "observations_published.csv").exists()
    assert not (out / "data_quality_published.json").exists()


def test_cli_refuses_a_table_lacking_its_value_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_data(tmp_path)
    edit(folder, CEASED, lambda t: t.drop(columns="number"))
    status = main(["ingest", "published", str(folder), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert f"{CEASED} (CLA ceased during the year by characteristic): lacks the column" in err


def test_table_lacking_a_column_whose_figures_other_files_give_is_reported(
    tmp_path: Path,
) -> None:
    """A second copy of b1 without ``At31_episodes``: not read, with the reason, in the
    report and in the result (for the log), and the output is the clean run's. (Only the
    rows whose figure b1 gives are copied: a figure no file read gives, even one withheld
    there, might have been a number in the damaged file, and would stop the run.)"""
    clean = ingest_published(DATA, tmp_path / "clean")
    folder = copy_data(tmp_path)
    copy = "cin/copy/b1_children_in_need_2013_to_2025.csv"
    (folder / copy).parent.mkdir()
    b1 = read_table(folder / B1)
    b1 = b1[b1["At31_episodes"].str.fullmatch(r"\d+")]
    write_table(b1.drop(columns="At31_episodes"), folder / copy)
    result = ingest_published(folder, tmp_path / "out")
    pd.testing.assert_frame_equal(result.observations, clean.observations)
    assert result.not_read == [
        f"{copy}: not read: lacks the column 'At31_episodes'; every figure it holds comes "
        "from other files"
    ]
    report = json.loads((tmp_path / "out" / "data_quality_published.json").read_text())
    assert report["files_not_read"] == [
        {"file": copy, "table": "CIN b1: children in need", "reason": result.not_read[0][
            len(copy) + len(": not read: "):].split(";")[0]}
    ]  # fmt: skip
    entry = next(f for f in report["files"] if f["file"] == copy)
    assert entry["status"] == "not read" and entry["rows_used"] == 0
    assert entry["rows_not_used"] == {"file not read": entry["rows_read"]}
    assert entry["rows_read"] == len(b1) > 0
    assert report["reconciles"]
    text = (tmp_path / "out" / "data_quality_published.txt").read_text()
    assert f"NOT READ {copy} (CIN b1: children in need): lacks the column" in text


def test_every_file_found_is_accounted_for(tmp_path: Path) -> None:
    """Read, not read (with the reason), not recognised or not a table: every file once."""
    folder = copy_data(tmp_path)
    (folder / "notes.txt").write_text("guidance\n")
    (folder / "other.csv").write_text("a,b\n1,2\n")
    result = ingest_published(folder, tmp_path / "out")
    report = result.report
    found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert sorted(f["file"] for f in report["files"]) == found
    assert sum(report["files_by_status"].values()) == report["files_seen"] == len(found)
    status = {f["file"]: f["status"] for f in report["files"]}
    assert status["notes.txt"] == "not a table" and status["other.csv"] == "not recognised"
    assert status[B1] == "read" and status["README.md"] == "not a table"


@pytest.mark.parametrize(
    ("name", "column", "expected"),
    [
        (B1, "time_period", r"lacks the column 'time_period', so which figures"),
        (CEASED, "new_la_code", None),  # old_la_code still names every authority
        (
            "cla/sfr/2013/SFR36_CLA2013.csv",
            "CLA_Mar2013",
            r"lacks the column 'CLA_MarYYYY' \(its total; YYYY the year\); 64 figures",
        ),
        ("cla/sfr/2011/SFR21_CEA.csv", "geog_c", r"lacks the column 'geog_c', so which"),
        ("cla/la_cla_headline_panel_2010_2025.csv", "source", r"lacks the column 'source'"),
        ("cla/la_cla_headline_panel_2010_2025.csv", "cla_31_march", r"129 figures it holds"),
        (
            "population/ons_mid_year_population_0_17_by_la_2012_to_2024.csv",
            "population_estimate",
            r"lacks the column 'population_estimate'; 88 figures",
        ),
        ("cin/c1_referrals_and_rereferrals_2013_to_2025.csv", "rereferral_count", r"158 fig"),
    ],
)
def test_other_missing_columns(tmp_path: Path, name: str, column: str, expected: str) -> None:
    """Lacking the year, the total, a geography or the release column stops the run too
    (each used to drop the file's figures silently); lacking one of two authority codes
    does not."""
    folder = copy_data(tmp_path)
    table = read_table(folder / name).drop(columns=column)
    write_table(table, folder / name)
    if expected is None:
        result = ingest_published(folder, tmp_path / "out")
        assert result.not_read == [] and result.report["output"]["rows"] == 2024
        return
    with pytest.raises(PublishedInputError, match=expected) as caught:
        ingest_published(folder, tmp_path / "out")
    assert name in str(caught.value)


# ------------------------------------------------------------ A2: every value suppressed


def test_all_suppressed_tables_are_refused(tmp_path: Path) -> None:
    """Every authority's figure suppressed: this used to exit 0 with 0 observations."""
    folder = tmp_path / "suppressed"
    (folder / "cin").mkdir(parents=True)
    for name in (B1, "cin/d5_cpp_at_31_march_by_duration_2013_to_2025.csv"):
        table = read_table(DATA / name)
        for column in ("At31_episodes", "CPP_At31"):
            if column in table:
                table[column] = "c"
        write_table(table, folder / name)
    with pytest.raises(PublishedInputError) as caught:
        ingest_published(folder, tmp_path / "out")
    message = str(caught.value)
    assert "no local-authority figure survives" in message
    assert f"{B1}: " in message and "cin/d5_cpp" in message and "suppressed" in message
    status = main(["ingest", "published", str(folder), "--out", str(tmp_path / "cli")])
    assert status == 2
    assert not (tmp_path / "cli" / "observations_published.csv").exists()


# ------------------------------------------------------- how files are opened and named


def test_a_fifo_named_like_a_table_is_refused_by_name(tmp_path: Path) -> None:
    """A FIFO used to be passed over silently (and one opened would block forever)."""
    folder = copy_data(tmp_path)
    os.mkfifo(folder / "cin" / "pipe.csv")
    with pytest.raises(PublishedInputError, match=r"cin/pipe\.csv: not read: a FIFO"):
        ingest_published(folder, tmp_path / "out")


def test_a_file_name_that_is_not_utf8_is_shown_escaped(tmp_path: Path) -> None:
    """A name with an undecodable byte used to crash the text report's writer."""
    folder = copy_data(tmp_path)
    odd = os.fsencode(folder / "cin") + b"/b1_copy_\xe9.csv"
    shutil.copyfile(folder / B1, odd)
    result = ingest_published(folder, tmp_path / "out")
    assert "cin/b1_copy_\\xe9.csv" in [f["file"] for f in result.report["files"]]
    text = (tmp_path / "out" / "data_quality_published.txt").read_text(encoding="utf-8")
    assert "b1_copy_\\xe9.csv" in text


# ------------------------------------------------------------- C: a malformed config


def config_error(tmp_path: Path, content: bytes) -> str:
    """The message of the ConfigError ``load_config`` raises for a file of ``content``."""
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    return str(caught.value)


@pytest.mark.parametrize(
    ("content", "where", "what"),
    [
        (b"seed: 1\ndemo: [\n", "line 3, column 1", "expected the node content"),
        (b"seed: 1\n\tdemo: 2\n", "line 2, column 1", "found character '\\t'"),
        # used to give "position 12" of an "<unicode string>", no line
        (b"seed: 1\ndemo:\x00\n", "line 2, column 6", "the character U+0000 is not allowed"),
        # used to be a UnicodeDecodeError traceback
        (b"seed: 1\nname: caf\xe9\n", "line 2, column 10", "byte 0xe9 is not UTF-8 text"),
        # used to be accepted silently, the second value winning
        (b"seed: 1\ndemo:\n  enabled: true\nseed: 2\n", "line 4, column 1",
         "the key 'seed' is given twice (first at line 1)"),
    ],
)  # fmt: skip
def test_config_syntax_errors_name_file_line_and_column(
    tmp_path: Path, content: bytes, where: str, what: str
) -> None:
    message = config_error(tmp_path, content)
    assert message.startswith(f"Config file {tmp_path / 'config.yaml'} is not valid YAML at")
    assert f"at {where}: " in message and what in message
    assert "Traceback" not in message and "<unicode string>" not in message


def test_config_validation_errors_name_file_and_key_path(tmp_path: Path) -> None:
    message = config_error(tmp_path, b"seed: 1\ndemo:\n  first_year: 1066\n")
    assert message.startswith(f"Invalid config in {tmp_path / 'config.yaml'}")
    assert "demo.first_year: got 1066; allowed: a whole number from" in message


def test_config_that_is_a_fifo_is_refused_not_waited_for(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "config.yaml")
    with pytest.raises(ConfigError, match=r"config\.yaml: a FIFO \(named pipe\), expected"):
        load_config(tmp_path / "config.yaml")


# ------------------------------------------------- B: a fit to observations of nothing


@pytest.fixture(scope="module")
def zero_observations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic authority's 903 observations with every value set to 0 (the
    layout, months, states and bands kept)."""
    tmp = tmp_path_factory.mktemp("zero")
    folder = tmp / "SYN01"
    spec = AuthoritySpec("SYN01", "001", "Zero", 5_000)
    write_authority(folder, load_truth(None), spec, 2023, 2024, 4, False)
    out = tmp / "obs"
    ingest_903([folder / "ssda903"], "SYN01", out, tmp / "private")
    obs = pd.read_csv(out / "observations_903.csv", dtype=str, keep_default_na=False)
    assert (obs["value"].astype(int) > 0).any()
    obs["value"] = "0"
    obs.to_csv(out / "observations_903.csv", index=False)
    return out


def test_fit_to_all_zero_observations_is_refused(zero_observations: Path, tmp_path: Path) -> None:
    """It used to sample the prior and report "diagnostics passed"."""
    with pytest.raises(FitDataError, match=r"SYN01: nothing to learn from: every stock and flow"):
        fit_authority(zero_observations, tmp_path / "fit", "SYN01", seed=1)
    assert not (tmp_path / "fit" / "diagnostics.json").exists()


def test_fit_with_no_child_ever_in_care_is_refused(zero_observations: Path) -> None:
    """CIN activity but nobody in care: the care rates would be the prior's."""
    obs, _, _ = read_observations(zero_observations, cin_funnel=False)
    months = sorted(obs.loc[obs.measure == "stock", "period"].unique())
    cin = pd.DataFrame(
        {"period": months, "measure": "stock", "state": "cin", "age_band": "5_to_9",
         "to_state": "", "reason": "", "value": 40}
    )  # fmt: skip
    obs = pd.concat([obs, cin[obs.columns]], ignore_index=True)
    with pytest.raises(FitDataError, match=r"no child was in care at any time"):
        fit_data(obs, StructureConfig(), "SYN01", use_cin=True)


def test_fit_command_refuses_all_zero_observations(
    zero_observations: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-q", "fit", str(zero_observations), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "nothing to learn from" in err and "Traceback" not in err


def test_national_fit_to_all_zero_published_figures_is_refused(tmp_path: Path) -> None:
    """Published tables whose every count is 0 ingest (a 0 is a figure) but do not fit."""
    folder = tmp_path / "tables"
    folder.mkdir()
    panel = read_table(DATA / "cla/la_cla_headline_panel_2010_2025.csv")
    for column in ("cla_31_march", "started", "ceased"):
        panel[column] = panel[column].where(panel[column] == "", "0")
    write_table(panel, folder / "panel.csv")
    population = "population/ons_mid_year_population_0_17_by_la_2012_to_2024.csv"
    shutil.copyfile(DATA / population, folder / "population.csv")
    ingest_published(folder, tmp_path / "obs")
    with pytest.raises(FitDataError, match=r"nothing to learn from: every figure"):
        fit_published(tmp_path / "obs", tmp_path / "fit", seed=1)


def test_a_gzip_file_that_decompresses_past_the_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap applies to what a .csv.gz holds, not only to its compressed size."""
    folder = tmp_path / "bomb"
    folder.mkdir()
    (folder / "b1.csv.gz").write_bytes(gzip.compress(b"time_period," + b"0" * 3_000_000))
    monkeypatch.setenv("CARECAST_MAX_INPUT_MB", "1")
    with pytest.raises(PublishedInputError, match=r"b1\.csv\.gz: decompresses to more than"):
        ingest_published(folder, tmp_path / "out")


def test_a_table_cut_short_is_refused(tmp_path: Path) -> None:
    """b1 cut in the middle of a line: its last row's missing values used to read as "not
    available" and the rows after the cut were gone without a word."""
    folder = copy_data(tmp_path)
    path = folder / B1
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(PublishedInputError, match=rf"{B1}: line \d+ has \d+ of the 19 fields"):
        ingest_published(folder, tmp_path / "out")
