"""Benchmark: simulate one authority's forecast, 4,000 draws x 60 months x the default
structure x 5 scenarios, on one core.

Target (issue 6): under 2 s per authority on one core. Prints the simulation's wall time
(compiled code only: the first call, which compiles or loads the cache, is reported apart),
microseconds per simulated month of one draw and scenario, the ratio against the target,
and the same on two threads. The baseline, run in the same process first, is one scenario
of 1,000 draws: the cost should scale with draws x scenarios. A last row splits the cost:
the same 1,000 draws with a tenth of the children and entries. The work per cell and month
(odds, feedback, scenario changes) stays and the random draws, which grow with the
children, shrink; so ``c = (t - t/10)/0.9`` is about the part that grows with them.

The posterior is the per-authority benchmark's fit (``benchmarks/fit.py --keep DIR`` writes
``DIR/fit_nutpie/posterior.nc``), or a short fit of a synthetic authority made here (the
simulator's cost does not depend on how well the fit mixed).

    uv run python benchmarks/forecast.py [--posterior PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))

from fit import make_observations

from model.config.fit import SamplerConfig
from model.fit.run import fit_authority, load_posterior
from model.forecast.inputs import draw_inputs
from model.forecast.simulate import no_changes, simulate

TARGET_SECONDS = 2.0
HORIZON = 60


def timed(
    trace, draws: int, scenarios: int, threads: int, children: float = 1.0
) -> dict[str, object]:
    """Seconds to simulate ``draws`` x ``scenarios`` for HORIZON months (best of three);
    ``children``: the share of the fit's children and entries simulated."""
    inputs = draw_inputs(trace, HORIZON, draws, np.random.default_rng(1))
    layout = inputs.layout
    shape = (len(layout.states), len(layout.destinations), len(layout.streams))
    changes = no_changes(scenarios, HORIZON, shape, layout.capacity, layout.workforce)
    start = np.floor(layout.last_stock * children).astype(int)
    log_entries = inputs.log_entries + np.log(children)
    args = (
        start, inputs.odds, inputs.drift, inputs.year_of_month, log_entries,
        inputs.dispersion, inputs.composition, inputs.landing, inputs.feedback,
        layout.caseload_mean, layout.network, changes, 5,
    )  # fmt: skip
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        simulate(*args, threads=threads)
        best = min(best, time.perf_counter() - start)
    paths = len(inputs.draw_index) * scenarios * HORIZON
    return {
        "draws": len(inputs.draw_index),
        "scenarios": scenarios,
        "threads": threads,
        "children": children,
        "seconds": round(best, 2),
        "us_per_month_path": round(best / paths * 1e6, 2),
        "ratio_to_target": round(best / TARGET_SECONDS, 1),
    }


def posterior_path(args: argparse.Namespace, folder: Path) -> Path:
    if args.posterior:
        return args.posterior
    obs = make_observations(folder, 40_000, 1)
    out = folder / "fit_short"
    if not (out / "posterior.nc").is_file():
        fit_authority(obs, out, "BENCH", 1, sampler=SamplerConfig(draws=1000, tune=300))
    return out / "posterior.nc"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posterior", type=Path, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep data here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trace = load_posterior(posterior_path(args, args.keep or Path(tmp)))
        start = time.perf_counter()
        timed(trace, 10, 1, 1)
        print(f"first call (compile or load the cache): {time.perf_counter() - start:.1f} s")
        rows = [timed(trace, 1000, 1, 1), timed(trace, 4000, 5, 1), timed(trace, 4000, 5, 2)]
        rows.append(timed(trace, 1000, 1, 1, children=0.1))
        table = pd.DataFrame(rows)
        print(table.to_string(index=False))
        full, tenth = table.seconds.iloc[0], table.seconds.iloc[-1]
        print(
            f"of the 1,000 x 1 run's {full:.2f} s, about {(full - tenth) / 0.9:.2f} s grows with "
            f"the children simulated and {full - (full - tenth) / 0.9:.2f} s does not"
        )


if __name__ == "__main__":
    main()
