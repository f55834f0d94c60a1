"""Parameter recovery on the generator's truth (slow tier, ``--slow``): across 20 synthetic
authorities of different sizes, the fits' 90% credible intervals contain the true monthly
transition log-odds for 85-95% of the rate parameters, and every fit passes diagnostics.

The fast tests check the truth's log-odds themselves against the truth file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.config.fit import DiagnosticsConfig, SamplerConfig, StructureConfig
from model.config.seeds import derive_seed
from model.fit.data import FitData, fit_data
from model.fit.diagnostics import diagnose
from model.fit.likelihood import build_model
from model.fit.run import sample
from model.synth.authorities import AuthoritySpec, authority_specs, simulate_authority
from model.synth.truth import true_observations
from model.synth.truth_config import Truth, load_truth
from model.validation.recovery import coverage_table, true_log_odds

N_AUTHORITIES = 20
FIRST, LAST = 2017, 2024
SEED = 11


def _fit_data(spec: AuthoritySpec, truth: Truth, first: int = FIRST) -> FitData:
    """The true whole-system observations of one simulated authority, as the fit sees them."""
    auth = simulate_authority(truth, spec, first, LAST, SEED)
    return fit_data(true_observations(auth), StructureConfig(), spec.code, use_cin=True)


def test_true_log_odds_follow_the_truth_file() -> None:
    truth = load_truth()
    data = _fit_data(AuthoritySpec("SMALL", "001", "Small", 3000), truth, first=LAST)
    true = true_log_odds(truth, data)
    pairs = data.network.pair_labels
    # foster_other -> adoption, under 1: 0.010 x age multiplier 2.0, against staying, which
    # is 1 minus the sum of the group's state-changing probabilities for that band.
    row = pairs.index("foster_other->adoption")
    moves = truth.care.transitions["foster_other"]
    multipliers = truth.care.age_multipliers
    stay = 1 - sum(
        rate * (multipliers[dest]["under_1"] if dest in multipliers else 1.0)
        for dest, rate in moves.items()
    )
    assert true[row, 0] == pytest.approx(np.log(0.010 * 2.0 / stay))
    # No adoption placements from 10 (multiplier 0): not a rate parameter.
    assert np.isnan(true[row, data.bands.index("10_to_15")])
    # Upstream states and ageing are never rate parameters here.
    for i, pair in enumerate(pairs):
        if pair.startswith(("cin->", "cpp->")) or pair.endswith("->age"):
            assert np.isnan(true[i]).all(), pair


@pytest.mark.slow
def test_credible_intervals_recover_the_true_rates() -> None:
    """About 30 minutes on this 2-core machine (20 simulations and fits of 8 years)."""
    truth = load_truth()
    thresholds = DiagnosticsConfig()
    tables, failed = [], []
    for spec in authority_specs(truth, N_AUTHORITIES):
        data = _fit_data(spec, truth)
        model = build_model(data)
        trace = sample(model, SamplerConfig(), derive_seed(SEED, spec.code, "fit"))
        verdict = diagnose(trace, thresholds, [v.name for v in model.free_RVs])
        if not verdict["passed"]:
            failed.append((spec.code, spec.population_0_17, verdict["problems"]))
        table = coverage_table(trace["posterior"].to_dataset(), data, truth, 0.9)
        tables.append(table.assign(population=spec.population_0_17))
    table = pd.concat(tables, ignore_index=True)
    by_size = table.groupby("population").covered.mean().round(3).to_dict()
    print(f"coverage {table.covered.mean():.3f} of {len(table)} rates; by size {by_size}")
    assert not failed, failed
    assert 0.85 <= table.covered.mean() <= 0.95, by_size
