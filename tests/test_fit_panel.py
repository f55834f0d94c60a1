"""Robust fits (slow tier, ``--slow``): 20 synthetic authorities of about 100 to 1,000
children in care, 4 to 10 years, with and without the CIN census, each fitted at the default
sampler settings, pass with margin: max R-hat <= 1.005, bulk and tail ESS >= 400, no
divergent transitions (``model.validation.fit_panel``). ``benchmarks/fit_panel.py`` prints
the same figures per authority.

The fast tests check the panel's make-up and the margin itself.
"""

from __future__ import annotations

import pytest

from model.config.fit import DiagnosticsConfig
from model.synth.truth_config import load_truth
from model.validation.fit_panel import MARGIN, fit_member, member_data, panel, summary_line

SEED = 11


def test_panel_spans_sizes_years_and_cin() -> None:
    members = panel(load_truth())
    assert len(members) == 20
    assert {m.years for m in members} == set(range(4, 11))
    assert sum(m.cin for m in members) == 10
    sizes = [m.spec.population_0_17 for m in members]
    assert min(sizes) < 25_000 and max(sizes) > 120_000  # about 100 and 1,000 in care


def test_margin_is_stricter_than_the_pass_thresholds() -> None:
    passing = DiagnosticsConfig()
    assert MARGIN.max_rhat < passing.max_rhat
    assert MARGIN.min_ess_bulk >= passing.min_ess_bulk
    assert MARGIN.min_ess_tail >= passing.min_ess_tail
    assert MARGIN.max_divergences == 0


@pytest.mark.slow
def test_every_panel_fit_passes_with_margin() -> None:
    """About 20-25 minutes on a quiet 2-core machine (20 simulations and fits; estimated from
    the fits' CPU time, the whole test not timed quiet)."""
    truth = load_truth()
    rows = []
    for member in panel(truth):
        rows.append(fit_member(member_data(member, truth, SEED), SEED))
        print(summary_line(rows[-1]))
    outside = [(r["authority"], r["problems"]) for r in rows if r["problems"]]
    assert not outside, outside
