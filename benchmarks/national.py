"""Benchmark: project a national child-level run (150 synthetic authorities) onto a cluster
of ``--cores`` CPUs from a measured sample of its authorities.

It plans the whole run with the SLURM profile (a dry run: jobs per rule and threads per job)
and reads the benchmark files of the sample (``results/national150/benchmarks``, written by
``benchmarks/resources.py run``, see profiles/README.md). Per rule it prints the arithmetic:

- ``cpu s``: mean CPU seconds per job over the sample (the work, whatever the machine's load;
  wall times on a shared machine are inflated by the other work running);
- ``job s``: a job's wall time on a dedicated node, CPU seconds / threads (the fit's chains
  run in parallel; assumes they keep their threads busy) plus ``--overhead``, the seconds
  each cluster job spends starting Snakemake on its node (not in the benchmark file:
  about 6 s of CPU here, `time snakemake -n` of one job), and the largest job's;
- ``slot s``: jobs x (mean CPU seconds + overhead): the CPU time the stage needs;
- ``stage s``: max(slot s / cores, largest job's s): the stage on ``--cores`` CPUs.

Then two figures for the whole run: stages run one after another (every authority finishes a
stage before any starts the next: the sum of the stage times, an upper estimate, since
Snakemake starts an authority's next job as soon as its own inputs are ready), and the lower
bound, max(all CPU time / cores, the longest chain of jobs one authority needs).

    uv run --frozen python benchmarks/national.py [--cores 100]
        [--benchmarks results/national150/benchmarks] [--plan dry_run.txt]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

from resources import read_benchmarks

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("synthesize", "summarise_demo", "ingest_903", "ingest_cin", "fit", "forecast")
"""The per-authority rules in the order one authority needs them (summarise_demo runs beside
the ingests, after synthesize)."""
CHAIN = ("synthesize", "ingest_903", "ingest_cin", "fit", "forecast")
"""The longest chain of jobs one authority needs, each waiting for the one before."""


def plan(plan_file: Path | None, cores: int) -> tuple[dict[str, int], dict[str, int]]:
    """Jobs per rule and threads per job of the national run's dry run (the SLURM profile)."""
    if plan_file is not None:
        output = plan_file.read_text(encoding="utf-8")
    else:
        run = subprocess.run(
            [sys.executable, "-m", "snakemake", "--nolock", "-n", "--forceall",
             "--profile", "profiles/slurm", "--configfile", "benchmarks/national_sample.yaml",
             "--cores", str(cores)],  # a dry run caps threads at --cores (default 1)
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        output = run.stdout + run.stderr
    table = output.split("Job stats:", 1)[1]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.MULTILINE)}
    threads = {}
    for block in re.split(r"\n(?=rule \w+:\n)", output):
        rule = re.match(r"rule (\w+):\n", block)
        found = re.search(r"^    threads: (\d+)$", block, re.MULTILINE)
        if rule and rule[1] not in threads:
            threads[rule[1]] = int(found[1]) if found else 1
    return counts, threads


def main() -> None:
    """Print the projection's arithmetic, stage by stage, and the whole run's wall time."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", type=int, default=100, help="CPUs of the cluster")
    parser.add_argument(
        "--benchmarks", type=Path, default=ROOT / "results" / "national150" / "benchmarks"
    )
    parser.add_argument("--plan", type=Path, default=None, help="a saved dry run's output")
    parser.add_argument(
        "--overhead", type=float, default=6.0, help="seconds a cluster job spends starting"
    )
    args = parser.parse_args()
    counts, threads = plan(args.plan, args.cores)
    measured = {fig.rule: fig for fig in read_benchmarks(args.benchmarks)}
    print(f"national run: {counts.get('total', '?')} jobs; cluster of {args.cores} cores; "
          f"per-job start-up {args.overhead:.0f} s; sample: {args.benchmarks}")  # fmt: skip
    print(
        f"{'rule':<16}{'jobs':>6}{'threads':>8}{'sampled':>8}{'cpu s':>8}{'wall s':>8}"
        f"{'job s':>8}{'max':>8}{'slot s':>10}{'stage s':>9}  arithmetic"
    )
    total_stage = total_slot = chain = 0.0
    for rule in STAGES:
        if rule not in measured or rule not in counts:
            print(f"{rule:<16} not measured or not planned")
            continue
        fig, jobs, cores = measured[rule], counts[rule], threads.get(rule, 1)
        cpu = statistics.mean(fig.cpu_s)
        job_s = cpu / cores + args.overhead
        job_max = max(fig.cpu_s) / cores + args.overhead
        slot = jobs * (cpu + args.overhead)
        stage = max(slot / args.cores, job_max)
        total_stage += stage
        total_slot += slot
        chain += job_max if rule in CHAIN else 0.0
        print(
            f"{rule:<16}{jobs:>6}{cores:>8}{len(fig.jobs):>8}{cpu:>8.1f}"
            f"{statistics.mean(fig.wall_s):>8.1f}{job_s:>8.1f}{job_max:>8.1f}{slot:>10.0f}"
            f"{stage:>9.0f}  max({jobs} x ({cpu:.1f} + {args.overhead:.0f}) / {args.cores}, "
            f"{job_max:.1f})"
        )
    lower = max(total_slot / args.cores, chain)
    print(f"stage by stage: {total_stage:.0f} s = {total_stage / 60:.1f} min (sum of stage s)")
    print(
        f"lower bound: max({total_slot:.0f} / {args.cores}, {chain:.0f}) = {lower:.0f} s = "
        f"{lower / 60:.1f} min (all CPU time over the cores; the longest job chain)"
    )


if __name__ == "__main__":
    main()
