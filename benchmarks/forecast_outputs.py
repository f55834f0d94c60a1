"""Benchmark: everything of a per-authority forecast besides the simulation.

Targets (issue 17): the figures and the workbook of an authority with 5 scenarios in under
5 s; ``carecast forecast FIT --scenarios FILE`` on an existing fit, the baseline and 5
scenarios (``config/scenarios/examples.yaml``), in under 10 s wall, on a 2-core machine.

Prints:

- outputs: the seconds of the figures and of the workbook, written from the tables of one
  forecast (4,000 draws x 60 months x baseline + 5 scenarios), the first time in the process
  (matplotlib imported and its fonts loaded) and again, each with its ratio to 5 s, and the
  CPU seconds of both (on a shared machine the wall time counts others' work too);
- command: the wall time of ``carecast forecast`` in a fresh interpreter, run twice (the
  first may compile or load numba's cache; the second is the "warm" run), its ratio to 10 s,
  its CPU seconds (both cores), and the split its ``forecast_info.json`` records (what is
  left is the interpreter, the imports and the command's own work); and which of the modules
  it does not need (pymc, pytensor, arviz; matplotlib and xlsxwriter before the outputs) the
  forecast's code imports.

The fit is the demo's first authority (``snakemake results/SYN01/fit/posterior.nc`` into
``--keep DIR``, reused when there), or ``--posterior PATH``.

    uv run python benchmarks/forecast_outputs.py [--posterior PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "config" / "scenarios" / "examples.yaml"
OUTPUTS_TARGET = 5.0
COMMAND_TARGET = 10.0
UNNEEDED = ("pymc", "pytensor", "arviz", "matplotlib", "xlsxwriter")


def demo_posterior(folder: Path) -> Path:
    """The demo's first authority fitted by the workflow into ``folder`` (kept for reuse)."""
    posterior = folder / "results" / "SYN01" / "fit" / "posterior.nc"
    if posterior.is_file():
        return posterior
    config = folder / "paths.yaml"
    config.write_text(
        f"paths:\n  results_dir: {folder / 'results'}\n  demo_dir: {folder / 'demo'}\n"
        f"  private_dir: {folder / 'private'}\n",
        encoding="utf-8",
    )
    subprocess.run(
        [sys.executable, "-m", "snakemake", str(posterior), "--nolock", "--cores", "2",
         "--configfile", str(config)],
        cwd=ROOT, check=True,
    )  # fmt: skip
    return posterior


def outputs(posterior: Path, folder: Path) -> None:
    """Time the figures and the workbook of one forecast, cold then warm."""
    from model.config.load import load_config
    from model.forecast import run

    config = load_config(ROOT / "config" / "config.yaml")
    result = run.forecast_authority(
        posterior, folder / "tables", config.seed, scenarios_file=SCENARIOS,
        structure=config.structure, priors=config.priors, forecast=config.forecast,
        costs=config.costs, write_figures=False,
    )  # fmt: skip
    history = run.history_table(result.inputs.layout, str(result.forecast.authority.iloc[0]))
    print(
        f"outputs of {len(result.inputs.draw_index)} draws x {len(result.scenarios)} scenarios "
        f"x {len(result.inputs.month_ends)} months: forecast table {len(result.forecast):,} "
        f"rows, differences {len(result.differences):,}, probabilities "
        f"{len(result.probabilities):,}"
    )
    print(
        f"{'run':<6} {'figures s':>10} {'workbook s':>11} {'total s':>8} {'ratio to 5 s':>13} "
        f"{'CPU s':>6}"
    )
    for label in ("cold", "warm"):
        out = folder / label
        cpu = time.process_time()
        seconds = run.write_reports(
            out, result.forecast, result.differences, result.probabilities, history,
            posterior, result.fit_passed,
        )  # fmt: skip
        cpu = time.process_time() - cpu
        total = sum(seconds.values())
        print(
            f"{label:<6} {seconds['figures']:>10.2f} {seconds['workbook']:>11.2f} "
            f"{total:>8.2f} {total / OUTPUTS_TARGET:>13.2f} {cpu:>6.2f}"
        )
    figures = sorted(p.name for p in (folder / "warm" / "figures").iterdir())
    print(f"figures ({len(figures)}): {', '.join(figures)}")


def command(posterior: Path, folder: Path) -> None:
    """Time ``carecast forecast`` end to end in fresh interpreters, twice."""
    print(
        f"{'run':<6} {'wall s':>7} {'ratio to 10 s':>14} {'CPU s':>6}  split from "
        "forecast_info.json (wall s)"
    )
    carecast = str(Path(sys.executable).parent / "carecast")
    for label in ("first", "second"):
        out = folder / f"command_{label}"
        start = time.perf_counter()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [carecast, "forecast", str(posterior), "--scenarios",
             str(SCENARIOS), "--config", str(ROOT / "config" / "config.yaml"), "--out",
             str(out)],
            cwd=ROOT, check=True, capture_output=True,
        )  # fmt: skip
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        split = json.loads((out / "forecast_info.json").read_text())["seconds"]
        rest = wall - sum(split.values())
        parts = ", ".join(f"{k} {v:.2f}" for k, v in split.items())
        print(
            f"{label:<6} {wall:>7.2f} {wall / COMMAND_TARGET:>14.2f} {cpu:>6.2f}  {parts}, "
            f"rest {rest:.2f}"
        )
    probe = (
        "import sys, model.cli\n"
        "from model.forecast import run\n"
        f"print(' '.join(m for m in {UNNEEDED!r} if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    print(
        "modules imported by the forecast's code before it runs: "
        f"{', '.join(found) or 'none'} of {', '.join(UNNEEDED)} "
        "(the command's own module, model/cli.py, may import more: see the report)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posterior", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep the demo fit here")
    parser.add_argument("--skip-command", action="store_true", help="the outputs part only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        posterior = args.posterior or demo_posterior(args.keep or folder)
        outputs(posterior, folder)
        if not args.skip_command:
            command(posterior, folder)


if __name__ == "__main__":
    main()
