"""model.logs: one logging set-up (a rule's log file, warnings captured, third-party INFO
off unless verbose) and the progress lines of long work."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import model.logs
from model.cli import build_parser
from model.logs import SamplingProgress, stage, steps

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "workflow" / "scripts"

# What a workflow script does: set up the rule's log, import the model (PyMC, ArviZ and
# PyTensor load: their import-time INFO, as when the `carecast` command imports them after
# its set-up), then work: PyMC's "Sampling: [...]" of a predictive check, a warning, a fit's
# sampling. Then the same set-up again, verbose, into a second log.
SCRIPT = """
import logging, sys, warnings
from model.logs import setup_logging

setup_logging(sys.argv[1], verbose=False)
import pymc as pm
import arviz

from model.config.fit import SamplerConfig
from model.fit.run import sample

logging.getLogger("carecast").info("SYN01: fitted")
warnings.warn("a warning that matters")
with pm.Model() as model:
    pm.Normal("x")
    pm.sample_prior_predictive(draws=5, random_seed=1)
sample(model, SamplerConfig(chains=2, cores=1, draws=200, tune=100), 1)

setup_logging(sys.argv[2], verbose=True)
logging.getLogger("carecast").info("SYN01: fitted")
with model:
    pm.sample_prior_predictive(draws=5, random_seed=1)
"""


@pytest.fixture(scope="module")
def script_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The log files the script set-up writes, quiet and verbose (run in a fresh Python,
    as Snakemake runs a rule's script)."""
    folder = tmp_path_factory.mktemp("logs")
    logs = {name: folder / f"{name}.log" for name in ("quiet", "verbose")}
    env = {k: v for k, v in os.environ.items() if k != model.logs.VERBOSE_ENV}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(logs["quiet"]), str(logs["verbose"])],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Sampling: [" not in done.stderr  # (PyMC's own stderr handler is gone)
    return {name: path.read_text() for name, path in logs.items()}


def test_a_script_log_has_carecast_lines_progress_and_warnings_but_no_library_chatter(
    script_logs: dict[str, str],
) -> None:
    text = script_logs["quiet"]
    assert "INFO carecast: SYN01: fitted" in text
    assert "WARNING py.warnings" in text and "a warning that matters" in text
    assert "compiling the model: done in" in text
    assert re.search(r"INFO carecast.progress: sampling: \d+/600 draws \(\d+%\)", text)
    assert "sampling: 600 draws, 0 divergences, in" in text
    for chatter in ("Suppressed KeyError", "INFO arviz", "INFO pymc", "Sampling: ["):
        assert chatter not in text


def test_verbose_brings_the_libraries_info_back(script_logs: dict[str, str]) -> None:
    text = script_logs["verbose"]
    assert "INFO pymc" in text and "Sampling: [x]" in text
    assert "INFO carecast: SYN01: fitted" in text


def test_the_environment_switch_turns_verbose_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(model.logs.VERBOSE_ENV, "1")
    assert model.logs.verbose_from_environment()
    monkeypatch.setenv(model.logs.VERBOSE_ENV, "0")
    assert not model.logs.verbose_from_environment()


def test_every_workflow_script_with_a_log_uses_the_one_set_up() -> None:
    for script in sorted(SCRIPTS.glob("*.py")):
        text = script.read_text()
        assert "basicConfig" not in text, script.name
        if "smk.log" in text:
            assert "setup_logging(" in text, script.name


def test_the_command_takes_verbose_or_quiet_not_both(capsys) -> None:
    parser = build_parser()
    assert parser.parse_args(["--verbose", "synthesize", "out"]).verbose
    assert parser.parse_args(["-q", "synthesize", "out"]).quiet
    with pytest.raises(SystemExit):
        parser.parse_args(["-q", "-v", "synthesize", "out"])
    assert "not allowed with" in capsys.readouterr().err


def chains(done: tuple[int, ...], total: int, tuning: bool, divergences: int) -> list:
    """Stand-ins of ``nutpie.ChainProgress`` (the fields the callback reads)."""
    return [
        SimpleNamespace(finished_draws=d, total_draws=total, started=d > 0, tuning=tuning,
                        divergences=divergences)
        for d in done
    ]  # fmt: skip


def test_nutpie_progress_is_a_line_per_callback_and_a_last_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="carecast.progress"):
        progress = SamplingProgress(chains=2, draws_per_chain=300)
        arguments = progress.nutpie_arguments()
        assert arguments["progress_bar"] is False
        callback = arguments["progress_callback"]
        callback(chains((50, 0), 300, tuning=True, divergences=0))
        callback(chains((300, 150), 300, tuning=False, divergences=1))  # each
        progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("sampling: 50/600 draws (8%), warm-up, 1 of 2 chains running")
    assert lines[1].startswith("sampling: 450/600 draws (75%), sampling, 1 of 2 chains")
    assert "2 divergences" in lines[1] and "left]" in lines[1]
    assert lines[2].startswith("sampling: 600 draws, 2 divergences, in ")
    assert len(lines) == 3


def test_pymc_progress_counts_draws_and_divergences_after_warm_up(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model.logs, "PROGRESS_SECONDS", 0.0)
    with caplog.at_level(logging.INFO, logger="carecast.progress"):
        progress = SamplingProgress(chains=1, draws_per_chain=4)
        callback = progress.pymc_arguments()["callback"]
        for i, diverging in enumerate([True, False, True, False]):
            draw = SimpleNamespace(tuning=i < 2, stats=[{"diverging": diverging}])
            callback(trace=None, draw=draw)
        progress.close()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[-1].startswith("sampling: 4 draws, 1 divergences, in ")  # warm-up's not
    assert any(line.startswith("sampling: 4/4 draws (100%)") for line in lines)


def test_a_failed_run_logs_no_last_line(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.INFO, logger="carecast.progress"),
        pytest.raises(RuntimeError),
        model.logs.sampling_progress(2, 10),
    ):
        raise RuntimeError("the sampler failed")
    assert not caplog.records


def test_steps_say_which_item_runs_how_many_are_done_and_the_total(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="carecast.progress"):
        seen = list(steps([2022, 2023, 2024], "SYN01: back-test", "origin"))
        with stage("writing"):
            pass
    lines = [r.getMessage() for r in caplog.records]
    assert seen == [2022, 2023, 2024]
    assert lines[0].startswith("SYN01: back-test: origin 2022 (0/3 done) [00:00 elapsed")
    assert lines[2].startswith("SYN01: back-test: origin 2024 (2/3 done)")
    assert lines[3].startswith("SYN01: back-test: 3 origins done in ")
    assert lines[4] == "writing" and lines[5].startswith("writing: done in ")
    assert len(lines) == 6


def test_quiet_logs_no_progress(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert list(steps(["a"], "run", "step")) == ["a"]
        with model.logs.sampling_progress(1, 5) as progress:
            assert progress.nutpie_arguments() == {"progress_bar": False}
    assert not caplog.records
