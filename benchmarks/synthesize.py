"""Benchmark: synthesize 10 years for an authority with about 600 children in care.

Wall time is what the target is about; CPU time is printed too, because on a busy machine
(a shared CI runner) it is the fairer figure: the generator runs on one core.

Target (issue 2): under 30 s on one core. Prints the time of each stage, the size of what
was written, and ratios: against the target, and against a baseline run in the same
process (the smallest default authority, about 100 children in care), which shows how the
cost scales with size.

    uv run python benchmarks/synthesize.py [--seed S] [--population N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from model.synth.authorities import AuthoritySpec, simulate_authority
from model.synth.synthesize import write_authority
from model.synth.truth import true_observations
from model.synth.truth_config import load_truth
from model.synth.write_903 import return_tables

TARGET_SECONDS = 30.0
FIRST, LAST = 2016, 2025


def run(population: int, seed: int, out: Path) -> dict[str, float]:
    """Time one authority end to end, then its stages separately."""
    truth = load_truth()
    spec = AuthoritySpec("BENCH", "001", "Benchmark authority", population)
    start, cpu = time.perf_counter(), time.process_time()
    auth = write_authority(out / spec.code, truth, spec, FIRST, LAST, seed, faults=False)
    total, total_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    simulate_authority(truth, spec, FIRST, LAST, seed)
    simulate = time.perf_counter() - start
    start = time.perf_counter()
    obs = true_observations(auth)
    truth_time = time.perf_counter() - start
    start = time.perf_counter()
    episodes = sum(len(return_tables(auth, y)["episodes"]) for y in range(FIRST, LAST + 1))
    tables = time.perf_counter() - start
    care = obs[(obs.measure == "stock") & ~obs.state.isin(["cin", "cpp"])]
    in_care = care[care.period == f"{LAST}-03-31"].value.sum()
    return {
        "total": total,
        "total (CPU)": total_cpu,
        "simulate": simulate,
        "truth": truth_time,
        "903 tables": tables,
        "in care": float(in_care),
        "episode rows": float(episodes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--population",
        type=int,
        default=85_000,
        help="0-17 population (85,000 gives about 600 in care)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = run(load_truth().authorities.population_0_17_min, args.seed, Path(tmp) / "base")
        main_run = run(args.population, args.seed, Path(tmp) / "main")
    for name, figures in (("baseline (smallest authority)", base), ("benchmark", main_run)):
        print(
            f"{name}: {figures['in care']:.0f} children in care at 31 March {LAST}, "
            f"{figures['episode rows']:.0f} episode rows over {LAST - FIRST + 1} returns"
        )
        for stage in ("total", "total (CPU)", "simulate", "truth", "903 tables"):
            print(f"  {stage:>12}: {figures[stage]:6.2f} s")
    print(f"benchmark / target ({TARGET_SECONDS:.0f} s): {main_run['total'] / TARGET_SECONDS:.2f}")
    print(
        f"benchmark / baseline: {main_run['total'] / base['total']:.2f} "
        f"(size ratio {main_run['in care'] / base['in care']:.2f})"
    )


if __name__ == "__main__":
    main()
