"""Benchmark: simulate one authority's forecast, 4,000 draws x 60 months x the default
structure x (baseline + the 5 scenarios of ``config/scenarios/examples.yaml``), on one core.

Targets (issue 17): under 2 s on one core (the issue's floor: 5 s). Before issue 17 the
simulator took 29.4 microseconds per simulated month of one draw and scenario (one core, a
300-draw fit of the demo's SYN01, commit 6f61f67), about 42 s for this job; the figures
printed here are compared with that and with the targets.

Prints the first call apart (it compiles the kernel, or loads numba's on-disk cache:
run the script twice to see both), then, for each row, the best of ``--repeats`` runs:
wall and CPU seconds (CPU: the process's, so other work on a shared machine inflates it
less than wall time), microseconds per month-path (draws x scenarios x months, including
the months a scenario shares with the baseline before its first change, which the kernel
copies instead of simulating), and the ratios. Rows: the full job on one thread and on
two; the baseline alone on 1,000 draws; and the same with a tenth of the children and
entries, which splits the cost: ``c = (t - t/10)/0.9`` is about the part that grows with
the children simulated.

The posterior is ``--posterior`` (e.g. the demo's ``results/SYN01/fit/posterior.nc``,
or the per-authority benchmark's fit: ``benchmarks/fit.py --keep DIR`` writes
``DIR/fit_nutpie/posterior.nc``), or a short fit of a synthetic authority made here (the
simulator's cost does not depend on how well the fit mixed, but it does on the number of
children: say which posterior a figure comes from).

    uv run python benchmarks/forecast.py [--posterior PATH] [--keep DIR] [--repeats R]
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
from model.forecast.effects import build_changes
from model.forecast.inputs import draw_inputs
from model.forecast.scenarios import load_scenarios
from model.forecast.simulate import no_changes, simulate

TARGET_SECONDS = 2.0
FLOOR_SECONDS = 5.0
BEFORE_US_PER_MONTH_PATH = 29.4
"""Before issue 17 (see the module): microseconds per simulated month of a draw and
scenario, one core."""
HORIZON = 60
DRAWS = 4000
SCENARIOS = Path(__file__).parents[1] / "config" / "scenarios" / "examples.yaml"


def timed(
    trace, draws: int, with_scenarios: bool, threads: int, repeats: int, children: float = 1.0
) -> dict[str, object]:
    """Best of ``repeats`` runs simulating ``draws`` for HORIZON months, the baseline and
    (``with_scenarios``) the example scenarios; ``children``: the share of the fit's
    children and entries simulated."""
    inputs = draw_inputs(trace, HORIZON, draws, np.random.default_rng(1))
    layout = inputs.layout
    if with_scenarios:
        scenarios = load_scenarios(SCENARIOS, layout.network)
        changes = build_changes(scenarios, layout, inputs.month_ends)
    else:
        shape = (len(layout.states), len(layout.destinations), len(layout.streams))
        changes = no_changes(1, HORIZON, shape, layout.capacity, layout.workforce)
    start = np.floor(layout.last_stock * children).astype(int)
    log_entries = inputs.log_entries + np.log(children)
    args = (
        start, inputs.odds, inputs.drift, inputs.year_of_month, log_entries,
        inputs.dispersion, inputs.composition, inputs.landing, inputs.feedback,
        layout.caseload_mean, layout.network, changes, 5,
    )  # fmt: skip
    wall = cpu = np.inf
    for _ in range(repeats):
        clock, cpu_clock = time.perf_counter(), time.process_time()
        simulate(*args, threads=threads)
        wall = min(wall, time.perf_counter() - clock)
        cpu = min(cpu, time.process_time() - cpu_clock)
    n_scenarios = changes.capacity.shape[0]
    paths = len(inputs.draw_index) * n_scenarios * HORIZON
    return {
        "draws": len(inputs.draw_index),
        "scenarios": n_scenarios,
        "threads": threads,
        "children": children,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "us_per_month_path": round(wall / paths * 1e6, 2),
        "cpu_us_per_month_path": round(cpu / paths * 1e6, 2),
        "speedup_vs_before": round(BEFORE_US_PER_MONTH_PATH / (wall / paths * 1e6), 1),
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
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trace = load_posterior(posterior_path(args, args.keep or Path(tmp)))
        clock, cpu_clock = time.perf_counter(), time.process_time()
        timed(trace, 10, True, 1, 1)
        print(
            f"first call (compiles, or loads numba's cache): {time.perf_counter() - clock:.1f} s "
            f"wall, {time.process_time() - cpu_clock:.1f} s CPU"
        )
        full = timed(trace, DRAWS, True, 1, args.repeats)
        rows = [full, timed(trace, DRAWS, True, 2, args.repeats)]
        rows += [timed(trace, 1000, False, 1, args.repeats)]
        rows += [timed(trace, 1000, False, 1, args.repeats, children=0.1)]
        table = pd.DataFrame(rows)
        print(table.to_string(index=False))
        seconds, cpu = float(full["wall_s"]), float(full["cpu_s"])  # type: ignore[arg-type]
        before = BEFORE_US_PER_MONTH_PATH * 1e-6 * full["draws"] * full["scenarios"] * HORIZON  # type: ignore[operator]
        print(
            f"full job ({full['draws']} draws x {HORIZON} months x {full['scenarios']} "
            f"scenarios, one core): {seconds:.2f} s wall ({cpu:.2f} s CPU); "
            f"ratio to the {TARGET_SECONDS:g} s target {seconds / TARGET_SECONDS:.2f} "
            f"(CPU {cpu / TARGET_SECONDS:.2f}), to the {FLOOR_SECONDS:g} s floor "
            f"{seconds / FLOOR_SECONDS:.2f} (CPU {cpu / FLOOR_SECONDS:.2f}); before issue 17 "
            f"about {before:.1f} s ({BEFORE_US_PER_MONTH_PATH} us per month-path): "
            f"{before / seconds:.1f} times faster"
        )
        whole, tenth = table.wall_s.iloc[-2], table.wall_s.iloc[-1]
        print(
            f"of the 1,000-draw baseline's {whole:.2f} s, about {(whole - tenth) / 0.9:.2f} s "
            f"grows with the children simulated and {whole - (whole - tenth) / 0.9:.2f} s "
            "does not"
        )


if __name__ == "__main__":
    main()
