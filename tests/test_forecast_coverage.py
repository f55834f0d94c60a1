"""Forecast calibration on synthetic truth (slow tier, ``--slow``): authorities simulated by
the generator for 2017-2025 are fitted on 2017-2022 and forecast three years; the 50/80/95%
intervals of the children in each state at 31 March 2023, 2024 and 2025 must cover the true
counts as often as they say, within sampling error. Coverage is that of the randomised PIT
(``model.evaluate.scores.covered``): many states hold a few children, and intervals with
their ends included would cover more than their level even if the forecasts were exact.

Cells of one authority share its fit and its draws, so they are not independent: the
standard error of the pooled coverage is taken between authorities (each authority's
coverage is one observation of the same mean), and the test allows 3 of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.config.fit import StructureConfig
from model.evaluate.backtest import march_index, model_draws, with_total
from model.evaluate.scores import score_cells
from model.fit.data import fit_data
from model.fit.run import fit_observations
from model.synth.authorities import authority_specs, simulate_authority
from model.synth.truth import true_observations
from model.synth.truth_config import load_truth

N_AUTHORITIES = 12
FIRST, ORIGIN, LAST = 2017, 2022, 2025
SEED = 23
LEVELS = (0.5, 0.8, 0.95)


@pytest.mark.slow
def test_forecast_intervals_cover_the_truth_as_often_as_they_say(tmp_path) -> None:
    """About 15 minutes on this 2-core machine (12 simulations, fits of 5 years)."""
    truth = load_truth()
    tables = []
    for spec in authority_specs(truth, N_AUTHORITIES):
        obs = true_observations(simulate_authority(truth, spec, FIRST, LAST, SEED))
        full = fit_data(obs, StructureConfig(), spec.code, use_cin=True)
        fitted = obs[obs.period <= f"{ORIGIN}-03-31"]
        result = fit_observations(fitted, True, "", tmp_path / spec.code, spec.code, SEED)
        draws = model_draws(result.trace, 12 * (LAST - ORIGIN), 1000, SEED, ORIGIN)
        care = np.array([s in full.care_states for s in full.states])
        for h in range(1, LAST - ORIGIN + 1):
            observed = with_total(full.stock[march_index(full, ORIGIN + h)].sum(axis=1), care)
            table = score_cells(draws[:, 12 * h - 1].T, observed, LEVELS)
            tables.append(table.assign(authority=spec.code, horizon=h))
    scores = pd.concat(tables, ignore_index=True)
    for level in LEVELS:
        column = f"covered_{round(level * 100)}"
        per_authority = scores.groupby("authority")[column].mean().astype(float)
        coverage = per_authority.mean()
        se = per_authority.std(ddof=1) / np.sqrt(len(per_authority))
        by_horizon = scores.groupby("horizon")[column].mean().astype(float).round(3).to_dict()
        print(f"{level:.0%} intervals cover {coverage:.3f} (se {se:.3f}); by horizon {by_horizon}")
        assert abs(coverage - level) <= 3 * max(se, 0.01), (level, coverage, se)
