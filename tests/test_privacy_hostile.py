"""Hostile and broken returns: whatever the ingest makes of them, no child id, UPN, date of
birth or postcode of the inputs reaches a shared output or the console, and no run ends in a
traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from privacy_scan import identifiers, leaks

from model.synth import synthesize

YEARS = (2024, 2025)
# What follows a quote is what a withholding that stops at the first quote lets through.
PLANTED_UPN, UPN_TAIL = "Z'00123456789", "00123456789"
PLANTED_CHILD, CHILD_TAIL = "X'7654321", "7654321"
PLANTED_DOB = "2011-02-30'x"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile_source")
    synthesize(folder, authorities=1, first_year=YEARS[0], last_year=YEARS[1], seed=9)
    return folder / "SYN01"


def _copy(clean: Path, tmp_path: Path) -> Path:
    target = tmp_path / "SYN01"
    shutil.copytree(clean, target, ignore=shutil.ignore_patterns("truth"))
    return target


def _header_without_names(folder: Path) -> None:
    """The header file's column-name line is missing: its first row is a child's."""
    header = next(folder.glob("ssda903/*/header.csv"))
    header.write_text(header.read_text().split("\n", 1)[1])


def _symlink_to_private_file(folder: Path) -> None:
    """A 'return' that is a symlink to some other file whose first line holds a child id."""
    header = next(folder.glob("ssda903/*/header.csv"))
    secret = folder.parent / "secret.txt"
    secret.write_text(header.read_text().split("\n")[1] + "\nmore\n")
    (header.parent / "notes.csv").symlink_to(secret)


def _set_cell(path: Path, row: int, column: int, value: str) -> None:
    """Write ``value`` into one cell of a CSV return (row 1: the first after the names)."""
    lines = path.read_text().split("\n")
    cells = lines[row].split(",")
    cells[column] = value
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines))


def _bad_dates(folder: Path) -> None:
    """Unparseable and impossible dates next to a child's id in episodes and header."""
    _set_cell(next(folder.glob("ssda903/*/episodes.csv")), 1, 1, "31/02/20x4")
    _set_cell(next(folder.glob("ssda903/*/header.csv")), 1, 2, "01/01/2099")


def _hostile_census(folder: Path) -> None:
    """Identifiers with quotes in them, failing the schema, in the CIN census."""
    census = sorted(folder.glob("cin/*.xml"))[-1]
    text = census.read_text()
    start = text.index("<UPN>") + len("<UPN>")
    text = text[:start] + PLANTED_UPN.replace("'", "&apos;") + text[text.index("</UPN>", start) :]
    start = text.index("<LAchildID>") + len("<LAchildID>")
    end = text.index("</LAchildID>", start)
    text = text[:start] + PLANTED_CHILD.replace("'", "&apos;") + text[end:]
    start = text.index("<PersonBirthDate>") + len("<PersonBirthDate>")
    end = text.index("</PersonBirthDate>", start)
    text = text[:start] + PLANTED_DOB.replace("'", "&apos;") + text[end:]
    census.write_text(text)


def _truncated_census(folder: Path) -> None:
    census = sorted(folder.glob("cin/*.xml"))[-1]
    data = census.read_bytes()
    census.write_bytes(data[: len(data) // 2])


CASES = {
    "header_without_names": _header_without_names,
    "symlink_to_private_file": _symlink_to_private_file,
    "bad_dates": _bad_dates,
    "hostile_census": _hostile_census,
    "truncated_census": _truncated_census,
}


def _carecast(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "model.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input_leaks_nothing(clean: Path, tmp_path: Path, case: str) -> None:
    folder = _copy(clean, tmp_path)
    found = identifiers(clean)
    found["UPN"] |= {PLANTED_UPN, UPN_TAIL}
    found["child id"] |= {PLANTED_CHILD, CHILD_TAIL}
    found["DOB"].add(PLANTED_DOB)
    CASES[case](folder)
    out, private = tmp_path / "out", tmp_path / "private"
    runs = [
        _carecast("ingest", "903", str(folder / "ssda903"), "--authority", "SYN01",
                  "--out", str(out), "--private", str(private / "ssda903")),
        _carecast("ingest", "cin", str(folder / "cin"), "--authority", "SYN01",
                  "--out", str(out), "--private", str(private / "cin"),
                  "--link-903", str(private / "ssda903")),
    ]  # fmt: skip
    console = {f"console of run {i}": r.stdout + r.stderr for i, r in enumerate(runs)}
    for name, text in console.items():
        assert "Traceback" not in text, f"{name}:\n{text}"
    assert leaks(found, [out], console) == []
