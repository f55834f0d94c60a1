"""The stock-flow fit: sufficient statistics, the saved posterior, diagnostics, hash check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.cli import main
from model.config.fit import PriorsConfig, SamplerConfig, StructureConfig
from model.fit.data import FitDataError, fit_data, read_observations
from model.fit.network import Network
from model.fit.run import FitResult, PosteriorMismatch, fit_authority, load_posterior

FAST = SamplerConfig(chains=2, draws=150, tune=150)


@pytest.fixture(scope="module")
def observations(small_observations: Path) -> Path:
    """Ingest outputs of a small synthetic authority over three years (the shared
    ``conftest.small_observations``)."""
    return small_observations


def test_sufficient_statistics_conserve_children(observations: Path) -> None:
    obs, use_cin, fingerprint = read_observations(observations)
    assert use_cin and len(fingerprint) == 64
    data = fit_data(obs, StructureConfig(), "SYN01", use_cin)
    assert data.states[:2] == ("cin", "cpp") and data.windows == ("2022", "2023", "2024")
    # Stayers in each year are the stocks at its month ends; leavers only where allowed.
    for w in range(len(data.windows)):
        months = data.month_window == w
        assert (data.counts[w, :, :, 0] == data.stock[1:][months].sum(axis=0)).all()
    assert (data.counts[..., ~data.network.pair_allowed.any(axis=0)] == 0).all()
    assert data.entries.sum() == data.composition.sum()
    # Leaving care at 18 is the last band's "age", not an exit by reason.
    age = data.destinations.index("age")
    care = [data.states.index(s) for s in data.care_states]
    at_18 = obs.loc[obs.measure == "left_at_18", "value"].sum()
    assert at_18 > 0 and data.counts[:, care, -1, age].sum() == at_18
    assert data.counts[:, : len(data.states) - len(care), -1, age].sum() == 0
    # Merging groups and bands keeps every child.
    merged = StructureConfig(
        placement_groups={**StructureConfig().placement_groups, "foster_kin": "foster",
                          "foster_other": "foster"},
        age_bands={**StructureConfig().age_bands, "under_1": "under_5", "1_to_4": "under_5"},
    )  # fmt: skip
    coarse = fit_data(obs, merged, "SYN01", use_cin)
    assert "foster" in coarse.states and "under_5" in coarse.bands
    assert coarse.stock.sum() == data.stock.sum()
    assert coarse.entries.sum() == data.entries.sum()
    # Without the CIN funnel only care is modelled.
    care_only = fit_data(obs, StructureConfig(cin_funnel=False), "SYN01", use_cin=False)
    assert "cin" not in care_only.states and care_only.streams == ("care",)


def test_too_little_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FitDataError, match=r"no observations_903\.csv"):
        read_observations(tmp_path)


def test_fit_writes_a_diagnosed_posterior_that_guards_its_model(
    observations: Path, small_fit_run: tuple[Path, FitResult], tmp_path: Path
) -> None:
    # The shared fit of these observations (seed 7, the same short sampler as FAST).
    out, result = small_fit_run
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    assert set(diagnostics) >= {"passed", "problems", "max_rhat", "min_ess_bulk", "divergences"}
    # 300 draws cannot reach an ESS of 400: the fit must say it failed, and why.
    assert diagnostics["passed"] is False
    assert any("ESS" in p for p in diagnostics["problems"])
    # The fit's time, split by stage; the stages add up to the fit's total.
    seconds = diagnostics["seconds"]
    stages = ("data", "compile", "warmup", "sampling", "diagnostics", "checks", "writing")
    assert all(seconds[stage] >= 0 for stage in stages), seconds
    assert sum(seconds[stage] for stage in stages) == pytest.approx(seconds["total"], rel=0.05)
    trace = load_posterior(out / "posterior.nc")
    assert trace.attrs["diagnostics_passed"] == 0
    assert trace.attrs["data_fingerprint"] == result.data.fingerprint
    assert {"alpha", "eta", "entry_level", "composition_care", "landing"} <= set(
        trace["posterior"].data_vars
    )
    # The network the model was fitted with is a group of the posterior, over named dims.
    assert set(trace["network"].dims) >= {"state", "band", "destination", "stream"}
    assert Network.from_dataset(trace["network"].to_dataset()).same_as(result.data.network)
    # A well-measured rate: the posterior of the cin -> cpp log-odds in the largest band is
    # close to the observed share (within a few posterior sds plus the drift's spread).
    data = result.data
    pair = "cin->cpp"
    eta = trace["posterior"]["eta"].sel(pair=pair).values.reshape(-1, len(data.bands))
    s, d = data.states.index("cin"), data.destinations.index("cpp")
    b = int(data.at_risk[:, s].sum(axis=0).argmax())
    leavers, at_risk = data.counts[:, s, b, d].sum(), data.at_risk[:, s, b].sum()
    stay = data.counts[:, s, b, 0].sum()
    empirical = np.log(leavers / stay)
    assert abs(eta[:, b].mean() - empirical) < 0.3, (eta[:, b].mean(), empirical, at_risk)
    # Predictive checks: under the posterior, the 90% intervals cover the observed yearly
    # flows at least about as often as nominal (a posterior check is conservative: the data
    # were used), within three binomial standard errors; prior intervals are wider.
    posterior_check = pd.read_csv(out / "ppc_posterior.csv")
    prior_check = pd.read_csv(out / "ppc_prior.csv")
    flows = posterior_check[posterior_check.kind == "transition"]
    n = len(flows)
    assert flows.covered.mean() >= 0.9 - 3 * np.sqrt(0.9 * 0.1 / n), flows[~flows.covered]
    width = lambda t: (t.upper - t.lower).median()  # noqa: E731
    assert width(prior_check) > width(posterior_check)
    assert (out / "ppc_posterior.png").stat().st_size > 0
    assert diagnostics["predictive_coverage"]["posterior_transition"] == flows.covered.mean()
    # Same seed, same draws.
    again = fit_authority(observations, tmp_path / "again", "SYN01", seed=7, sampler=FAST)
    assert np.array_equal(
        again.trace["posterior"]["alpha"].values, result.trace["posterior"]["alpha"].values
    )
    # A changed model refuses the old posterior.
    with pytest.raises(PosteriorMismatch, match="Refit"):
        load_posterior(
            out / "posterior.nc",
            priors=PriorsConfig(drift_sd={"dist": "HalfNormal", "sigma": 0.3}),
        )


def test_fit_command_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["-q", "fit", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code == 2 and "no observations_903.csv" in capsys.readouterr().err


def test_partially_centred_walk_steps_keep_the_model() -> None:
    """Whatever the centring weight, a walk's steps are Normal(0, scale): the steps over
    their scale, drawn from the prior, have sd 1 (within 4 standard errors of 4,000 draws)."""
    import pymc as pm

    from model.fit.likelihood import walk_steps

    with pm.Model():
        scale = pm.HalfNormal("scale", 0.2)
        pm.Deterministic("ratio", walk_steps("steps", scale, 3, np.array([0.0, 0.5, 1.0])) / scale)
        draws = pm.sample_prior_predictive(4000, random_seed=1, var_names=["ratio"])
    ratio = draws["prior"]["ratio"].values.reshape(-1, 3)
    assert np.allclose(ratio.std(axis=0), 1.0, atol=4 * np.sqrt(1 / (2 * len(ratio))))
    assert np.allclose(ratio.mean(axis=0), 0.0, atol=4 / np.sqrt(len(ratio)))
