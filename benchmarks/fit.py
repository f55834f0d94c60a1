"""Benchmark: fit one authority's 8 years of monthly child-level observations.

Target (issue 5): from observations to saved posterior, compile included, under 60 s on this
2-core machine (goal: under 15 s). Prints, for each NUTS implementation (nutpie and PyMC's
own), the wall time split into model building and compile + sampling, the worst diagnostics,
bulk ESS per second, and the ratio against the target. The baseline, run in the same
process first, is a fit of the authority's first two years, which shows how the cost scales
with the data (sufficient statistics: it should barely grow).

The observations come from a synthetic authority (no faults) ingested in a subprocess.

    uv run python benchmarks/fit.py [--population 40000] [--seed 1] [--keep DIR]
        [--backends nutpie pymc]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from model.config.fit import SamplerConfig
from model.fit.run import fit_authority

TARGET_SECONDS = 60.0
FIRST, LAST = 2018, 2025


def make_observations(folder: Path, population: int, seed: int) -> Path:
    """Synthesize and ingest one authority (in subprocesses); return its observation folder."""
    obs = folder / "obs" / "BENCH"
    if (obs / "observations_cin.csv").is_file():
        return obs
    code = f"""
from pathlib import Path
from model.ingest903 import ingest_903
from model.ingestcin import ingest_cin
from model.synth.authorities import AuthoritySpec
from model.synth.synthesize import write_authority
from model.synth.truth_config import load_truth
root = Path({str(folder)!r})
write_authority(root / "BENCH", load_truth(None), AuthoritySpec("BENCH", "001", "Bench",
                {population}), {FIRST}, {LAST}, {seed}, False)
ingest_903([root / "BENCH" / "ssda903"], "BENCH", root / "obs" / "BENCH", root / "private")
ingest_cin([root / "BENCH" / "cin"], "BENCH", root / "obs" / "BENCH", root / "private")
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    return obs


def first_years(obs: Path, out: Path, years: int) -> Path:
    """A copy of the observations cut to the first ``years`` years (the baseline)."""
    out.mkdir(parents=True, exist_ok=True)
    last = f"{FIRST + years - 1}-03-31"
    for name in ("observations_903.csv", "observations_cin.csv"):
        table = pd.read_csv(obs / name, keep_default_na=False)
        table[table.period <= last].to_csv(out / name, index=False, lineterminator="\n")
    return out


def timed(obs: Path, out: Path, backend: str, seed: int) -> dict[str, object]:
    start = time.perf_counter()
    result = fit_authority(obs, out, "BENCH", seed, sampler=SamplerConfig(backend=backend))
    seconds = time.perf_counter() - start
    d = result.diagnostics
    return {
        "backend": backend,
        "seconds": round(seconds, 1),
        "sample_incl_compile": round(result.seconds["sample_incl_compile"], 1),
        "passed": d["passed"],
        "max_rhat": round(d["max_rhat"], 4),
        "min_ess_bulk": round(d["min_ess_bulk"]),
        "divergences": d["divergences"],
        "ess_bulk_per_s": round(d["min_ess_bulk"] / seconds, 1),
        "ratio_to_target": round(seconds / TARGET_SECONDS, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep data here")
    parser.add_argument("--backends", nargs="+", default=["nutpie", "pymc"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        obs = make_observations(folder, args.population, args.seed)
        baseline = first_years(obs, folder / "baseline", 2)
        rows = [timed(baseline, folder / "fit_baseline", "nutpie", args.seed) | {"data": "2 years"}]
        for backend in args.backends:
            rows.append(
                timed(obs, folder / f"fit_{backend}", backend, args.seed) | {"data": "8 years"}
            )
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
