"""Skill of the per-authority model on synthetic authorities: rolling-origin back-tests of
several authorities pooled into one skill table, against the same baselines as the national
back-test (naive random walk, AutoETS, AutoARIMA; last value, linear trend, fixed rates).

    uv run python benchmarks/backtest_synthetic.py --authorities 12 --out results/skill_synthetic

For each synthetic authority (``model.synth``: sizes spread over the truth's range, each
with its own seed): write ``--first-year``..``--last-year`` of returns, ingest the 903 and
the CIN census, and back-test the model from the last ``--origins`` years ending 31 March
that leave a later year to score (``model.evaluate.backtest.backtest_authority``, the
config's sampler unless ``--draws``/``--tune`` are given). The authorities' scores are
pooled and summarised by ``model.evaluate.skill`` with whole authorities resampled for the
standard errors. Prints the skill table of the children looked after (in total and by
placement group) and writes ``scores.csv`` and ``summary.csv`` to ``--out``. It prints the
seconds each stage took; it asserts nothing (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from model.config.carecast import CarecastConfig
from model.config.load import load_config
from model.config.seeds import derive_seed
from model.evaluate.backtest import backtest_authority
from model.evaluate.skill import skill_summary
from model.ingest903 import ingest_903
from model.ingestcin import ingest_cin
from model.synth.authorities import authority_specs
from model.synth.synthesize import write_authority
from model.synth.truth_config import load_truth

COLUMNS = ["state", "method", "horizon", "cells", "crps_skill", "crps_skill_se",
           "carecast_crps_skill", "abs_error_ratio", "coverage_80", "coverage_95"]  # fmt: skip


def main() -> None:
    """Run the back-tests and print the pooled skill table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authorities", type=int, default=12)
    parser.add_argument("--first-year", type=int, default=2016)
    parser.add_argument("--last-year", type=int, default=2024)
    parser.add_argument("--origins", type=int, default=3, help="origins per authority")
    parser.add_argument("--horizon-years", type=int, default=3)
    parser.add_argument("--draws", type=int, default=None, help="sampler draws per chain")
    parser.add_argument("--tune", type=int, default=None, help="sampler warm-up per chain")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("results/skill_synthetic"))
    args = parser.parse_args()
    config = load_config(args.config) if args.config else CarecastConfig()
    sampler = config.sampler.model_copy(
        update={k: v for k, v in (("draws", args.draws), ("tune", args.tune)) if v is not None}
    )
    truth = load_truth(None)
    origins = list(range(args.last_year - args.origins, args.last_year))
    frames, seconds = [], {"synthesise and ingest": 0.0, "back-test": 0.0}
    for spec in authority_specs(truth, args.authorities):
        work = args.out / spec.code
        start = time.perf_counter()
        seed = derive_seed(config.seed, "skill_synthetic", spec.code)
        write_authority(work / "raw", truth, spec, args.first_year, args.last_year, seed, False)
        observations = work / "observations"
        ingest_903([work / "raw" / "ssda903"], spec.code, observations, work / "private")
        ingest_cin([work / "raw" / "cin"], spec.code, observations, work / "private")
        middle = time.perf_counter()
        result = backtest_authority(
            observations, work / "backtest", spec.code, config.seed, origins,
            args.horizon_years, config.structure, config.priors, sampler, config.diagnostics,
        )  # fmt: skip
        seconds["synthesise and ingest"] += middle - start
        seconds["back-test"] += time.perf_counter() - middle
        failed = [y for y, ok in result.fits_passed.items() if not ok]
        print(f"{spec.code}: {time.perf_counter() - start:.0f} s; fits failed: {failed or 'none'}")
        frames.append(result.scores)
    scores = pd.concat(frames, ignore_index=True)
    by = ["measure", "state"]
    summary = pd.concat(
        [skill_summary(scores, [*by, "horizon"], "authority"),
         skill_summary(scores, by, "authority").assign(horizon="all")],
        ignore_index=True,
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    scores.to_csv(args.out / "scores.csv", index=False, lineterminator="\n")
    summary.to_csv(args.out / "summary.csv", index=False, lineterminator="\n")
    pd.set_option("display.width", 200)
    probabilistic = summary[summary.crps_skill.notna() | (summary.horizon == "all")]
    print(probabilistic[COLUMNS].round(3).to_string(index=False))
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))


if __name__ == "__main__":
    main()
