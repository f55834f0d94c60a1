"""Benchmark: each rule's measured wall time and peak memory against what it asks the
scheduler for (workflow/resources.yaml), from the benchmark files of a workflow run.

Every rule writes ``results/benchmarks/<rule>/<wildcards>.tsv`` (Snakemake's ``benchmark:``).
This prints, per rule: the jobs measured, the median and largest wall time (s) and peak
resident memory (MB, ``max_rss``, summed over the job's processes), CPU seconds, the declared
``runtime`` (min) and ``mem_mb``, and the ratios largest / declared (above 1: the declared
figure is too small, the job would be killed on a cluster; well below 1: it wastes a slot).

    uv run --frozen python benchmarks/resources.py [--benchmarks results/benchmarks]

Snakemake samples a job's memory every 0.5 s for its first 15 s, then every 30 s, so a
short-lived peak in a long job can be missed. For a tighter figure, run the workflow
through this script, which samples every second for the whole job (any Snakemake arguments
after ``--``; the figures are printed at the end)::

    uv run --frozen python benchmarks/resources.py run -- --cores 2 --configfile FILE TARGETS
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
DECLARED_FILE = ROOT / "workflow" / "resources.yaml"
SAMPLE_SECONDS = 1
"""Memory sampling interval of ``run`` (Snakemake's default is 30 s after the first 15 s)."""


@dataclass(frozen=True)
class RuleFigures:
    """One rule's measured jobs: wall seconds, peak MB and CPU seconds per job."""

    rule: str
    jobs: list[str]
    wall_s: list[float]
    max_rss_mb: list[float]
    cpu_s: list[float]


def read_benchmarks(folder: Path) -> list[RuleFigures]:
    """Every rule's benchmark files under ``folder`` (one sub-folder per rule)."""
    figures = []
    for rule_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(rule_dir.glob("*.tsv"))
        if not files:
            continue
        # A file holds one line per repeat (`benchmark: repeat(...)`): keep every line.
        tables = [pd.read_csv(f, sep="\t", na_values=["NA", "-"]).assign(job=f.stem) for f in files]
        table = pd.concat(tables, ignore_index=True)
        figures.append(
            RuleFigures(
                rule=rule_dir.name,
                jobs=table.job.tolist(),
                wall_s=table.s.astype(float).tolist(),
                max_rss_mb=table.max_rss.astype(float).fillna(0.0).tolist(),
                cpu_s=table.cpu_time.astype(float).fillna(0.0).tolist(),
            )
        )
    return figures


def report(figures: list[RuleFigures], declared: dict[str, dict[str, int]]) -> str:
    """The table: measured figures per rule beside the declared ones, and their ratios."""
    header = (
        f"{'rule':<18}{'jobs':>5}{'wall s med':>11}{'max':>8}{'cpu s max':>10}"
        f"{'runtime':>9}{'ratio':>7}{'rss MB med':>11}{'max':>8}{'mem_mb':>8}{'ratio':>7}"
        "  largest job"
    )
    lines = [header, "-" * len(header)]
    for fig in figures:
        asked = declared.get(fig.rule, {})
        runtime_s = asked.get("runtime", 0) * 60
        mem_mb = asked.get("mem_mb", 0)
        wall_max, rss_max = max(fig.wall_s), max(fig.max_rss_mb)
        largest = fig.jobs[fig.wall_s.index(wall_max)]
        lines.append(
            f"{fig.rule:<18}{len(fig.jobs):>5}{statistics.median(fig.wall_s):>11.1f}"
            f"{wall_max:>8.1f}{max(fig.cpu_s):>10.1f}"
            f"{asked.get('runtime', '-'):>9}{_ratio(wall_max, runtime_s):>7}"
            f"{statistics.median(fig.max_rss_mb):>11.0f}{rss_max:>8.0f}"
            f"{mem_mb or '-':>8}{_ratio(rss_max, mem_mb):>7}  {largest}"
        )
    lines.append(
        "ratio: largest measured / declared (runtime in minutes, mem_mb in MB); above 1.00 "
        "the job would outgrow its request."
    )
    return "\n".join(lines)


def _ratio(measured: float, declared: float) -> str:
    return f"{measured / declared:.2f}" if declared else "-"


def run_snakemake(arguments: list[str]) -> int:
    """Run Snakemake in this process with memory sampled every :data:`SAMPLE_SECONDS`."""
    import snakemake.benchmark as benchmark
    from snakemake.cli import main

    # The interval is a default argument of benchmarked(), bound when it was defined.
    defaults = benchmark.benchmarked.__wrapped__.__defaults__
    benchmark.benchmarked.__wrapped__.__defaults__ = (*defaults[:-1], SAMPLE_SECONDS)
    benchmark.BENCHMARK_INTERVAL = SAMPLE_SECONDS
    try:
        main(arguments)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def main() -> None:
    """Print the table (``run``: after running Snakemake with the arguments after ``--``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=["run"], help="run Snakemake first")
    parser.add_argument(
        "--benchmarks", type=Path, default=None, help="folder of benchmark files (default: "
        "the results_dir of the config files given to Snakemake, else results/)",
    )  # fmt: skip
    parser.add_argument("snakemake_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    extra = [a for a in args.snakemake_args if a != "--"]
    if args.command == "run":
        status = run_snakemake(extra)
        if status:
            sys.exit(status)
    folder = args.benchmarks or _benchmark_folder(extra)
    if not folder.is_dir():
        sys.exit(f"no benchmark files: {folder} is not a folder (run the workflow first)")
    declared = yaml.safe_load(DECLARED_FILE.read_text(encoding="utf-8"))
    print(f"benchmark files: {folder}; declared: {DECLARED_FILE.relative_to(ROOT)}")
    print(report(read_benchmarks(folder), declared))


def _benchmark_folder(snakemake_args: list[str]) -> Path:
    """results_dir/benchmarks of the config files given to Snakemake (else the default)."""
    results = Path("results")
    files = [ROOT / "config" / "config.yaml"]
    if "--configfile" in snakemake_args:
        files.append(Path(snakemake_args[snakemake_args.index("--configfile") + 1]))
    for file in files:
        config = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        results = Path((config.get("paths") or {}).get("results_dir") or results)
    return results / "benchmarks"


if __name__ == "__main__":
    main()
