"""DfE's own validators as an external oracle on `carecast synthesize` output.

Opt-in (marker ``external``): builds the validators' separate Python 3.11 venv with
tools/dfe_validators/setup.sh (PyPI access needed the first time, ~40 s), synthesizes one
authority over four collection years and checks that no "must not fire" 903 rule
(episode structure and code lists, see tools/dfe_validators/check_synthetic.py) fires.
About 5 minutes in all, most of it reading the CIN census XML.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOLS = REPO_ROOT / "tools" / "dfe_validators"


@pytest.mark.external
def test_synthetic_output_passes_dfe_must_not_fire_rules(tmp_path: Path) -> None:
    setup = subprocess.run(
        ["bash", str(TOOLS / "setup.sh")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert setup.returncode == 0, f"setup.sh failed:\n{setup.stderr[-4000:]}"

    out = tmp_path / "synth"
    synth = subprocess.run(
        [
            sys.executable,
            "-m",
            "model.cli",
            "synthesize",
            str(out),
            "--authorities",
            "1",
            "--first-year",
            "2021",
            "--last-year",
            "2024",
            "--seed",
            "7",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert synth.returncode == 0, f"synthesize failed:\n{synth.stderr[-4000:]}"

    report_path = tmp_path / "dfe_report.json"
    check = subprocess.run(
        [sys.executable, str(TOOLS / "check_synthetic.py"), str(out), "--json", str(report_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    print(check.stdout)
    print(check.stderr, file=sys.stderr)
    assert report_path.exists(), f"check_synthetic.py wrote no report:\n{check.stderr[-4000:]}"
    report = json.loads(report_path.read_text())

    failed = [r for r in report["runs"] if "error" in r]
    assert not failed, f"validator runs failed: {failed}"
    runs_903 = [r for r in report["runs"] if r["kind"] == "903"]
    assert len(runs_903) >= 2, f"expected several 903 years, got {len(runs_903)}"
    # the year-on-year rules (502, 503A-J, 562) only run when a previous year is loaded
    assert any(r["prev_year_tables"] for r in runs_903)
    assert report["offenders"] == [], "must-not-fire 903 rules fired:\n" + "\n".join(
        report["offenders"]
    )
    assert check.returncode == 0, check.stdout[-4000:]
