"""Benchmark: the national fit of every authority's published yearly figures.

Target (issue 5): the pooled yearly model of all ~150 authorities, from observations to
saved posterior, compile included, under 10 minutes on this 2-core machine, with every
diagnostic passed (goal: under 3 minutes, so that the demo can include it). Prints, for each
NUTS implementation (nutpie and PyMC's own), the wall time (model building; compile and
sampling; the whole fit with its predictive check and outputs), the worst diagnostics, the
worst bulk ESS per second and the ratio against the target, then the seconds and worst
ESS of each part of the model (exits, exit reasons, yearly counts: sampled one after the
other). The baseline, run first in the same process, is the nutpie fit of every tenth
authority: how the cost grows with the number of authorities.

The tables are data/published (bundled), or ../shared/data/dfe_published when present;
they are ingested in a subprocess.

    uv run python benchmarks/fit_published.py [--tables DIR] [--keep DIR] [--backends nutpie pymc]
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from model.config.fit import SamplerConfig
from model.fit.run_published import fit_published

TARGET_SECONDS = 600.0
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "dfe_published"
BUNDLED = ROOT / "data" / "published"


def ingest(tables: Path, out: Path) -> Path:
    """``carecast ingest published`` in a subprocess (skipped when already done)."""
    if not (out / "observations_published.csv").is_file():
        subprocess.run(
            [sys.executable, "-m", "model.cli", "-q", "ingest", "published", str(tables),
             "--out", str(out)],
            check=True,
        )  # fmt: skip
    return out


def every_tenth(obs_dir: Path, out: Path) -> Path:
    """A copy of the observations with every tenth authority (not reorganised) only."""
    out.mkdir(parents=True, exist_ok=True)
    authorities = pd.read_csv(obs_dir / "authorities.csv", keep_default_na=False, dtype=str)
    plain = authorities[(authorities.kind == "authority") & (authorities.part_of == "")]
    kept = authorities[authorities.authority.isin(plain.authority.iloc[::10])]
    kept.to_csv(out / "authorities.csv", index=False, lineterminator="\n")
    obs = pd.read_csv(obs_dir / "observations_published.csv", keep_default_na=False)
    obs[obs.authority.isin(kept.authority)].to_csv(
        out / "observations_published.csv", index=False, lineterminator="\n"
    )
    return out


def timed(obs: Path, out: Path, backend: str, label: str) -> tuple[dict, list[dict]]:
    start = time.perf_counter()
    result = fit_published(obs, out, seed=1, sampler=SamplerConfig(backend=backend))
    seconds = time.perf_counter() - start
    d = result.diagnostics
    row = {
        "data": label,
        "backend": backend,
        "units": len(result.data.units),
        "build_s": round(result.seconds["build"], 1),
        "sample_incl_compile_s": round(result.seconds["sample_incl_compile"], 1),
        "total_s": round(seconds, 1),
        "passed": d["passed"],
        "max_rhat": round(d["max_rhat"], 4),
        "min_ess_bulk": round(d["min_ess_bulk"]),
        "min_ess_tail": round(d["min_ess_tail"]),
        "divergences": d["divergences"],
        "min_bfmi": round(min(d["bfmi"]), 2),
        "ess_bulk_per_s": round(d["min_ess_bulk"] / seconds, 2),
        "ratio_to_target": round(seconds / TARGET_SECONDS, 2),
    }
    parts = [
        {"data": label, "backend": backend, "part": part, "seconds": round(p["seconds"], 1),
         "max_rhat": round(p["max_rhat"], 4), "min_ess_bulk": round(p["min_ess_bulk"]),
         "min_ess_tail": round(p["min_ess_tail"]), "divergences": p["divergences"]}
        for part, p in d["parts"].items()
    ]  # fmt: skip
    return row, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=Path, default=SHARED if SHARED.is_dir() else BUNDLED)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep outputs here")
    parser.add_argument("--backends", nargs="+", default=["nutpie", "pymc"])
    args = parser.parse_args()
    logging.getLogger("pytensor").setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        obs = ingest(args.tables, folder / "national")
        baseline = every_tenth(obs, folder / "tenth")
        rows, parts = [], []
        for data, label, backend in [(baseline, "every 10th", "nutpie")] + [
            (obs, "all", backend) for backend in args.backends
        ]:
            row, part_rows = timed(data, folder / f"fit_{label[:5]}_{backend}", backend, label)
            rows.append(row)
            parts += part_rows
            print(pd.DataFrame([row]).to_string(index=False), flush=True)
        print(f"\ntables: {args.tables}")
        print(pd.DataFrame(rows).to_string(index=False))
        print(pd.DataFrame(parts).to_string(index=False))


if __name__ == "__main__":
    main()
