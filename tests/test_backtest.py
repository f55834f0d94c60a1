"""Rolling-origin back-tests of one authority: cut data, fits, scores and baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic import ingested_authority

from model.config.fit import SamplerConfig, StructureConfig
from model.evaluate.backtest import (
    METHODS,
    POINT_BASELINES,
    BacktestError,
    _fixed_rates,
    backtest_authority,
    default_origins,
    march_index,
)
from model.fit.data import fit_data, read_observations
from model.synth.authorities import AuthoritySpec

FAST = SamplerConfig(chains=2, draws=150, tune=150)


@pytest.fixture(scope="module")
def observations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five years of a small synthetic authority, ingested."""
    tmp = tmp_path_factory.mktemp("backtest")
    spec = AuthoritySpec("SYN02", "002", "Backtest", 30_000)
    return ingested_authority(tmp, spec, 2020, 2024, 6)


def data_of(folder: Path):
    obs, use_cin, _ = read_observations(folder)
    return fit_data(obs, StructureConfig(), "SYN02", use_cin)


def test_origins_need_three_years_before_them(observations: Path) -> None:
    data = data_of(observations)
    assert default_origins(data, 3) == [2022, 2023]  # 31 March 2019 (opening) ... 2024
    assert march_index(data, 2024) == len(data.months)
    assert march_index(data, 2030) is None
    with pytest.raises(BacktestError, match="needs at least 7"):
        default_origins(data, 3, first_years=6)


def test_fixed_rates_follow_the_observed_path_of_their_own_years(observations: Path) -> None:
    # Projected from the stock 12 months before the end with the last year's own rates,
    # the expected path ends near what happened: the total within 10% (demographic noise
    # and within-year changes of the rates aside).
    data = data_of(observations)
    year_ago = march_index(data, 2023)
    data.stock = data.stock[: year_ago + 1]
    projected = _fixed_rates(data, 12, reference=1)[-1]
    actual = data_of(observations).stock[-1].sum(axis=1)
    assert projected.sum() == pytest.approx(actual.sum(), rel=0.1)
    assert (projected >= 0).all()


def test_backtest_scores_the_model_and_three_baselines(
    observations: Path, tmp_path: Path, stand_in_sampler: None
) -> None:
    # What is checked is the scoring, not the fits: their draws come from the stand-in.
    result = backtest_authority(
        observations, tmp_path, "SYN02", seed=3, origins=[2022, 2023], horizon_years=2,
        sampler=FAST, draws=200,
    )  # fmt: skip
    scores = pd.read_csv(tmp_path / "scores.csv")
    data = data_of(observations)
    states = len(data.states) + 1
    # 2022 has two later Marches, 2023 one: 3 origin-horizon pairs per method and state.
    assert len(scores) == len(METHODS) * 3 * states
    assert set(scores.method) == set(METHODS)
    # The observed values are the data's 31 March stocks.
    total = scores[(scores.state == "total") & (scores.method == "carecast")]
    care = [data.states.index(s) for s in data.care_states]
    for _, row in total.iterrows():
        index = march_index(data, int(row.origin) + int(row.horizon))
        assert row.observed == data.stock[index][care].sum()
    # last_value forecasts the stock at the origin.
    last = scores[(scores.method == "last_value") & (scores.state == "total")]
    for _, row in last.iterrows():
        assert row["median"] == data.stock[march_index(data, int(row.origin))][care].sum()
    # The naive walk's median is the stock at the origin too; its bands come from the
    # month-on-month changes, so they widen with the horizon.
    naive = scores[(scores.method == "naive_walk") & (scores.state == "total")]
    assert np.allclose(naive["median"], last["median"])
    # Point forecasts have no CRPS and no coverage (their CRPS would be their absolute
    # error); every probabilistic method has both.
    points = scores[scores.method.isin(POINT_BASELINES)]
    assert points.crps.isna().all() and points.covered_80.isna().all()
    probabilistic = scores[~scores.method.isin(POINT_BASELINES)]
    assert probabilistic.crps.notna().all() and probabilistic.covered_80.notna().all()
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert {"crps", "abs_error", "coverage_80", "cells", "crps_skill", "crps_skill_se"} <= set(
        summary.columns
    )
    assert set(summary.horizon.astype(str)) == {"1", "2", "all"}
    total = summary[(summary.state == "total") & (summary.horizon == "all")].set_index("method")
    assert total.loc["naive_walk", "crps_skill"] == 0.0
    assert np.isnan(total.loc["last_value", "crps_skill"])
    assert total.loc["last_value", "abs_error_ratio"] == 1.0
    assert (tmp_path / "coverage.svg").stat().st_size > 1000
    assert set(result.fits_passed) == {2022, 2023}
    assert (tmp_path / "origin_2022" / "fit" / "posterior.nc").is_file()
