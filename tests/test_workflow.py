"""The Snakemake workflow: lint, the default target's jobs, and config errors at start-up.

Snakemake runs as ``sys.executable -m snakemake`` so it uses this test environment.
"""

import json
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pandas as pd
import pytest
import yaml
from privacy_scan import identifiers, leaks

ROOT = Path(__file__).resolve().parents[1]
integration = pytest.mark.integration
"""Runs Snakemake: in the default tier, left out of a quick loop by ``-m "not integration"``."""


def snakemake(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run Snakemake in the repository root; --nolock so parallel runs do not collide."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--nolock", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    table = output.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.MULTILINE)}


@integration
def test_lint_is_clean():
    run = snakemake("--lint")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Lints for" not in run.stdout + run.stderr


@integration
def test_dry_run_of_default_target_lists_demo_jobs():
    # --forceall: list every job even where outputs from an earlier run exist
    run = snakemake("-n", "--forceall", "--cores", "1")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    counts = job_counts(output)
    assert counts["synthesize"] == 3
    assert counts["summarise_demo"] == 3
    assert counts["ingest_903"] == 3
    assert counts["ingest_cin"] == 3
    assert counts["fit"] == 3
    # One forecast per authority, every scenario in it: the baseline is simulated once.
    assert counts["forecast"] == 3 and "forecast_scenario" not in counts
    assert counts["all"] == 1
    for code in ("SYN01", "SYN02", "SYN03"):
        assert f"data/demo/{code}/DONE" in output
        assert f"results/{code}/demo_summary.json" in output


@integration
def test_one_scenario_alone_is_a_target_of_its_own():
    target = "results/SYN01/forecast/scenarios/edge_of_care/forecast.csv"
    run = snakemake("-n", "--forceall", "--cores", "1", target)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    counts = job_counts(output)
    assert counts["forecast_scenario"] == 1 and "forecast" not in counts
    assert "results/SYN01/forecast/scenarios/edge_of_care/figures" in output


@integration
def test_bad_config_file_stops_with_the_plain_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: -3\ndemo:\n  autorities: 5\n  first_year: 2010\n", encoding="utf-8")
    run = snakemake("-n", "--cores", "1", "--configfile", str(bad))
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"Invalid config in config/config.yaml overridden by {bad} (3 problems):" in output
    assert "- seed: got -3; allowed: a whole number >= 0" in output
    assert "- demo.autorities: unknown key; did you mean 'authorities'?" in output
    assert "- demo.first_year: got 2010; allowed: a whole number from 2012 to 2030" in output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) < 10, output  # the message, not a wall


@integration
def test_bad_command_line_value_names_the_flag():
    run = snakemake("-n", "--cores", "1", "--config", "seed=-1")
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "overridden by --config (1 problem):" in output
    assert "Traceback" not in output


@integration
def test_missing_real_authority_folder_is_named(tmp_path):
    config = tmp_path / "real.yaml"
    raw = tmp_path / "raw"
    (raw / "E09000001").mkdir(parents=True)
    config.write_text(
        yaml.safe_dump({"paths": {"raw_data_dir": str(raw)}, "authorities": ["E09000002"]}),
        encoding="utf-8",
    )
    run = snakemake("-n", "--cores", "1", "--configfile", str(config))
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "authorities ['E09000002'] have no folder" in output
    assert "found: E09000001" in output
    assert "Traceback" not in output


def test_conda_env_lists_the_project_dependencies():
    """workflow/envs/carecast.yaml (for --sdm conda) must not fall behind pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = {
        re.split(r"[<>=!~ \[]", dep, maxsplit=1)[0].lower()
        for dep in project["project"]["dependencies"]
    } - {"snakemake"}  # Snakemake runs the jobs; it is not needed inside their environment
    env = yaml.safe_load((ROOT / "workflow" / "envs" / "carecast.yaml").read_text())
    listed = {
        re.split(r"[<>=!~ ]", dep, maxsplit=1)[0].lower()
        for dep in env["dependencies"]
        if isinstance(dep, str)
    }
    assert wanted <= listed, f"add to workflow/envs/carecast.yaml: {sorted(wanted - listed)}"


def _generator_available() -> bool:
    try:
        from model.synth import synthesize  # noqa: F401
    except ImportError:
        return False
    return True


@integration
@pytest.mark.skipif(not _generator_available(), reason="model.synth.synthesize not written yet")
def test_demo_runs_end_to_end(tmp_path):
    """One small demo authority through every stage, in a temporary folder: the default
    tier's one run of the whole workflow (marked integration)."""
    config = tmp_path / "small.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            paths:
              results_dir: {tmp_path / "results"}
              demo_dir: {tmp_path / "demo"}
              private_dir: {tmp_path / "private"}
            demo:
              authorities: 1
              first_year: 2024
              last_year: 2025
            sampler:
              chains: 2
              draws: 200
              tune: 200
            forecast:
              draws: 200
              # The shipped examples start from April 2026: a 12-month window (to March
              # 2026) would not hold them, and a change outside the window is refused.
              horizon_months: 24
            """
        ),
        encoding="utf-8",
    )
    # The default target, and one scenario alone (a user's target) beside it.
    forecasts = tmp_path / "results" / "SYN01" / "forecast"
    alone = forecasts / "scenarios" / "edge_of_care" / "forecast.csv"
    # (targets before --configfile, which takes every file name after it)
    run = snakemake("all", str(alone), "--cores", "2", "--configfile", str(config), timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads((tmp_path / "results" / "SYN01" / "demo_summary.json").read_text())
    assert summary["complete"] is True
    assert summary["files"]["ssda903"] > 0 and summary["files"]["cin"] > 0
    assert {"2024", "2025"} <= set(summary["years"])
    assert (tmp_path / "results" / "logs" / "synthesize" / "SYN01.log").is_file()
    quality = json.loads((tmp_path / "results" / "SYN01" / "data_quality_cin.json").read_text())
    # The demo injects faults: a child whose only census lost its LAchildID cannot link.
    assert quality["reconciles"] and quality["link"]["link_rate"] > 0.98
    assert (tmp_path / "private" / "SYN01" / "cin" / "episodes_cin.parquet").is_file()
    fit = json.loads((tmp_path / "results" / "SYN01" / "fit" / "diagnostics.json").read_text())
    assert isinstance(fit["passed"], bool) and (tmp_path / "results" / "SYN01" / "fit").is_dir()
    # One forecast of the baseline and every shipped example; the scenario run alone agrees.
    assert (forecasts / "forecast.xlsx").is_file() and (forecasts / "draws.nc").is_file()
    together = pd.read_csv(forecasts / "forecast.csv")
    names = ["baseline", "edge_of_care", "reunification_drive", "foster_recruitment",
             "step_down", "more_capacity"]  # fmt: skip
    assert list(dict.fromkeys(together.scenario)) == names
    edge = pd.read_csv(alone)
    assert set(edge.scenario) == {"baseline", "edge_of_care"}
    kept = together[together.scenario.isin(["baseline", "edge_of_care"])]
    assert edge.equals(kept.reset_index(drop=True))
    # (Snakemake marks a folder it made with a hidden .snakemake_timestamp)
    figures = {p.stem for p in (forecasts / "figures").iterdir() if not p.name.startswith(".")}
    assert figures == {f"SYN01_{name}" for name in ("looked_after", "children_in_need",
                       "child_protection", "placements", "costs", "scenarios")}  # fmt: skip
    # No child id, UPN, date of birth or postcode of the inputs in any shared output or log.
    found = identifiers(tmp_path / "demo")
    assert all(len(values) > 10 for values in found.values()), {k: len(v) for k, v in found.items()}
    console = {"snakemake console": run.stdout + run.stderr}
    assert leaks(found, [tmp_path / "results"], console) == []


@integration
def test_broken_default_config_is_named_with_its_line(tmp_path):
    for name in ("Snakefile", "workflow", "config"):
        source = ROOT / name
        copy = shutil.copytree if source.is_dir() else shutil.copy
        copy(source, tmp_path / name)
    config = tmp_path / "config" / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "demo: [1\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "--nolock", "-n", "--cores", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "Config file config/config.yaml is not valid YAML at line" in output, output
    assert "Traceback" not in output
