"""Inputs are opened only as regular files within the size cap; names any writer accepts;
values withheld from shared messages; outputs staged so a failed run leaves nothing stale."""

from __future__ import annotations

import os
import stat

import pytest

from model.ingest.withhold import WITHHELD, withhold_values
from model.input_files import (
    MAX_INPUT_MB_ENV,
    InputFileError,
    display_name,
    open_input,
    read_input,
)
from model.outputs import MANIFEST, staged_outputs


def test_regular_file_is_read(tmp_path):
    path = tmp_path / "a.csv"
    path.write_bytes(b"CHILD,DOB\n")
    assert read_input(path) == b"CHILD,DOB\n"


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "episodes.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputFileError, match="FIFO") as caught:
        open_input(fifo)
    assert "episodes.csv" in str(caught.value)


def test_device_is_refused(tmp_path):
    link = tmp_path / "census.xml"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputFileError, match="character device"):
        read_input(link)


def test_symlink_loop_is_named_as_such(tmp_path):
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    with pytest.raises(InputFileError, match="symbolic links"):
        open_input(loop)


def test_size_cap_can_be_raised(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 3 * 1024 * 1024)
    monkeypatch.setenv(MAX_INPUT_MB_ENV, "2")
    with pytest.raises(InputFileError, match=f"cap.*{MAX_INPUT_MB_ENV}"):
        read_input(path)
    monkeypatch.setenv(MAX_INPUT_MB_ENV, "4")
    assert len(read_input(path)) == 3 * 1024 * 1024
    monkeypatch.setenv(MAX_INPUT_MB_ENV, "lots")
    with pytest.raises(InputFileError, match="megabytes"):
        read_input(path)


def test_undecodable_name_is_escaped(tmp_path):
    name = os.fsdecode(b"ep\xffisodes.csv")
    shown = display_name(tmp_path / name)
    assert shown.endswith("ep\\xffisodes.csv")
    shown.encode("utf-8")  # a writer of UTF-8 text (Parquet, JSON) accepts it


@pytest.mark.parametrize(
    "value",
    ["00123456789'Z'", "A' is not accepted", "x'; DROP", "line\nbreak'", "''", "A1' has a length "],
)
def test_quoted_values_are_withheld_whole(value):
    details = [
        f"[facet 'pattern'] The value '{value}' is not accepted by the pattern '[A-Z]'.",
        f"'{value}' is not a valid value of the atomic type 'xs:date'.",
        f"[facet 'maxLength'] The value '{value}' has a length of '14'; this exceeds 13.",
    ]
    for detail in details:
        shown = withhold_values(detail)
        assert WITHHELD in shown
        for part in [value, *value.split("'")]:
            if len(part) >= 2 and part.strip() not in ("is not accepted", "has a length"):
                assert part not in shown, (detail, shown)


def test_unknown_message_shapes_lose_every_quoted_part():
    assert withhold_values("Something new: 'A123' and 'B'") == (
        f"Something new: {WITHHELD} and {WITHHELD}"
    )


def test_staged_outputs_replace_and_clear(tmp_path):
    out = tmp_path / "out"
    with staged_outputs(out, "ingest-903") as staging:
        (staging / "report.txt").write_text("first")
        (staging / "sub").mkdir()
        (staging / "sub" / "x.csv").write_text("1")
    assert (out / "report.txt").read_text() == "first"
    assert (out / "sub" / "x.csv").exists()
    with staged_outputs(out, "ingest-cin") as staging:
        (staging / "cin.txt").write_text("another stage's")
    with pytest.raises(RuntimeError), staged_outputs(out, "ingest-903") as staging:
        (staging / "report.txt").write_text("half")
        raise RuntimeError("the stage failed")
    # Neither the half-written output nor the previous run's is left looking current.
    assert not (out / "report.txt").exists() and not (out / "sub").exists()
    # Another stage's outputs in the same folder are left alone.
    assert sorted(p.name for p in out.iterdir()) == [
        MANIFEST.format(stage="ingest-cin"),
        "cin.txt",
    ]


def test_private_outputs_are_owner_only(tmp_path):
    with staged_outputs(tmp_path / "private", "ingest-903", private=True) as staging:
        (staging / "episodes.parquet").write_bytes(b"x")
    mode = stat.S_IMODE((tmp_path / "private" / "episodes.parquet").stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o700
