"""Benchmark: do the per-authority fits pass with margin at the default sampler settings?

Fits the robustness panel (``model.validation.fit_panel``: 20 synthetic authorities of
about 100 to 1,000 children in care, 4 to 10 years, with and without the CIN census) and,
with ``--demo``, ingested authorities' observation folders (the demo's SYN01-03) through
``fit_authority``. Prints one line per fit (max R-hat, min bulk and tail ESS and the
variables holding them, divergences, seconds), the number outside the margin (R-hat <=
1.005, ESS >= 400, no divergences), and the smallest ESS per kept draw, from which the
draws the ESS floor needs follow. Asserts nothing.

    uv run python benchmarks/fit_panel.py [--n 20] [--demo results/SYN01 ...]
        [--draws N] [--tune N] [--target-accept X] [--work DIR] [--csv FILE]

``--work`` keeps the simulated panel's data between runs (simulating 20 authorities takes
minutes); ``--csv`` writes the table.
"""

from __future__ import annotations

import argparse
import pickle
import tempfile
import time
from pathlib import Path

import pandas as pd

from model.config.fit import SamplerConfig
from model.fit.run import fit_authority
from model.synth.truth_config import load_truth
from model.validation.fit_panel import (
    MARGIN,
    fit_member,
    member_data,
    panel,
    summary_line,
)

SEED = 11


def cached_data(member: object, truth: object, work: Path) -> object:
    """The member's fit data, simulated once and kept in ``work``."""
    path = work / f"{member.spec.code}_{member.years}y_{int(member.cin)}.pkl"  # type: ignore[attr-defined]
    if path.is_file():
        return pickle.loads(path.read_bytes())
    data = member_data(member, truth, SEED)  # type: ignore[arg-type]
    path.write_bytes(pickle.dumps(data))
    return data


def demo_row(folder: Path, out: Path, sampler: SamplerConfig) -> dict[str, object]:
    """Fit one ingested authority as ``carecast fit`` does and return its figures."""
    code = folder.name
    start = time.perf_counter()
    result = fit_authority(folder, out / code, code, 20250331, sampler=sampler, thresholds=MARGIN)
    d = result.diagnostics
    by = {k: v for k, v in d["by_variable"].items()}

    def worst(key: str, pick: object) -> str:
        values = {k: v[key] for k, v in by.items() if v[key] is not None}
        return pick(values, key=values.get) if values else ""  # type: ignore[operator]

    from model.validation.fit_panel import children_in_care

    return {
        "authority": code,
        "children_in_care": round(children_in_care(result.data)),
        "years": len(result.data.windows),
        "cin": "cin" in result.data.states,
        "max_rhat": d["max_rhat"],
        "rhat_worst": worst("rhat", max),
        "min_ess_bulk": d["min_ess_bulk"],
        "bulk_worst": worst("ess_bulk", min),
        "min_ess_tail": d["min_ess_tail"],
        "tail_worst": worst("ess_tail", min),
        "divergences": d["divergences"],
        "seconds": time.perf_counter() - start,
        "problems": d["problems"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="panel authorities (0: none)")
    parser.add_argument("--demo", type=Path, nargs="*", default=[], help="observation folders")
    parser.add_argument("--draws", type=int, default=None)
    parser.add_argument("--tune", type=int, default=None)
    parser.add_argument("--target-accept", type=float, default=None)
    parser.add_argument("--work", type=Path, default=None, help="keep simulated data here")
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args()
    overrides = {"draws": args.draws, "tune": args.tune, "target_accept": args.target_accept}
    sampler = SamplerConfig(**{k: v for k, v in overrides.items() if v is not None})
    print(f"sampler: {sampler.model_dump()}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for folder in args.demo:
            rows.append(demo_row(folder, Path(tmp) / "demo", sampler))
            print(summary_line(rows[-1]), flush=True)
        truth = load_truth(None)
        for member in panel(truth, args.n):
            data = cached_data(member, truth, work)
            rows.append(fit_member(data, SEED, sampler))  # type: ignore[arg-type]
            print(summary_line(rows[-1]), flush=True)
    table = pd.DataFrame(rows)
    kept = sampler.chains * sampler.draws
    worst_ess = table[["min_ess_bulk", "min_ess_tail"]].min(axis=1)
    outside = table[table.problems.map(bool)]
    print(
        f"{len(outside)} of {len(table)} fits outside the margin "
        f"(R-hat <= {MARGIN.max_rhat}, ESS >= {MARGIN.min_ess_bulk:.0f}, no divergences); "
        f"max R-hat {table.max_rhat.max():.4f}; smallest ESS {worst_ess.min():.0f} of {kept} "
        f"kept draws ({worst_ess.min() / kept:.3f} per draw: draws per chain for ESS 400 "
        f"{400 / (worst_ess.min() / kept) / sampler.chains:.0f}); divergences "
        f"{int(table.divergences.sum())}; seconds {table.seconds.sum():.0f}"
    )
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
