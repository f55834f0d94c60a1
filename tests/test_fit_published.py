"""The national fit of published tables: arrays, masks, the model, the saved posterior, CLI."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from model.cli import main
from model.config.published import PublishedPriorsConfig
from model.fit.published import build_published_model, walk_covariance
from model.fit.published_checks import prior_draws
from model.fit.published_data import published_data, read_published
from model.fit.published_rates import trend_draws, yearly_rates
from model.fit.run import PosteriorMismatch
from model.fit.run_published import INTERNAL, load_published_posterior
from model.outputs import STAGING_PREFIX


@pytest.fixture(scope="module")
def observations(published_observations: Path) -> Path:
    """The ingest of the cut-down published tables (13 authorities, 2 combined units): the
    shared ``conftest.published_observations``."""
    return published_observations


@pytest.fixture(scope="module")
def tables(observations: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    obs, authorities, _ = read_published(observations)
    return obs, authorities


def figure(obs: pd.DataFrame, unit: str, year: int, measure: str, state: str) -> int | None:
    """A published total (None when DfE gave no figure)."""
    rows = obs[
        (obs.authority == unit) & (obs.period == f"{year}-03-31") & (obs.measure == measure)
        & (obs.state == state) & (obs.age_band == "") & (obs.reason == "")
    ]  # fmt: skip
    return int(rows.value.iloc[0]) if len(rows) else None


def test_units_replace_broken_series_by_their_combined_unit(tables) -> None:
    data = published_data(*tables)
    # Bournemouth, Poole and Dorset county end in 2019 and BCP and the new Dorset start in
    # 2020: the combined unit is fitted over the whole period instead of any of them.
    assert "CMB_BCP_DORSET" in data.units
    members = {"E06000028", "E06000029", "E06000058", "E06000059", "E10000009"}
    assert set(data.members["CMB_BCP_DORSET"]) == members
    assert not members & set(data.units)
    # Northamptonshire has every year (its successors start after the tables end): it is
    # fitted itself, the combined unit and the successors without figures are left out.
    assert "E10000021" in data.units and "CMB_NORTHAMPTONSHIRE" not in data.units
    assert {"CMB_NORTHAMPTONSHIRE", "E06000061", "E06000062"} <= set(data.left_out)
    assert data.years == tuple(range(2010, 2022))
    layout = data.layout()
    assert layout["units"] == list(data.units) and layout["members"] == data.members


def test_at_risk_conditions_on_the_stock_and_masks_suppressed_cells(tables) -> None:
    obs, authorities = tables
    data = published_data(obs, authorities)
    la, st, ce = ("dfe_looked_after", "looked_after"), ("dfe_started", "looked_after"), (
        "dfe_ceased", "looked_after")  # fmt: skip
    checked = suppressed = 0
    for a, unit in enumerate(data.units):
        for y, year in enumerate(data.years[1:], start=1):
            stock = figure(obs, unit, year - 1, *la)
            started = figure(obs, unit, year, *st)
            ceased = figure(obs, unit, year, *ce)
            known = stock is not None and started is not None
            assert data.at_risk[a, y] == (stock + started if known else 0)
            usable = known and ceased is not None and 0 < stock + started >= ceased
            assert data.exit_observed[a, y] == usable, (unit, year)
            checked += usable
        for y, year in enumerate(data.years):
            value = figure(obs, unit, year, *st)
            series = data.series["started"]
            assert series.observed[a, y] == (value is not None)
            assert series.values[a, y] == (value or 0)
            suppressed += value is None
    assert checked > 40 and suppressed > 0
    # The population starts in 2013: earlier years take 2013's figure, and say so.
    scilly = data.units.index("E06000053")
    assert (data.population[scilly, :3] == data.population[scilly, 3]).all()
    assert data.population_filled[scilly, :3].all() and not data.population_filled[scilly, 3:].any()
    # Reasons are used only with the year's total, and a remainder never goes negative.
    seen = data.reason_observed
    assert (data.ceased_observed[..., None] | ~seen).all()
    assert ((data.reason_counts * seen).sum(axis=-1) <= data.ceased).all()


def test_masked_cells_are_left_out_of_the_likelihood(tables) -> None:
    data = published_data(*tables)
    data.series = {"referrals": data.series["referrals"]}  # one series: quicker to compile

    def logp(part: str) -> float:
        model = build_published_model(data, only=(part,))
        return model.compile_logp()(model.initial_point())

    series = data.series["referrals"]
    base = logp("counts")
    assert np.isfinite(base)
    hidden = np.argwhere(~series.observed & (np.arange(len(data.years)) >= series.first))
    shown = np.argwhere(series.observed)
    assert len(hidden) and len(shown)
    series.values[tuple(hidden[0])] = 10**6  # a value where DfE published none: ignored
    assert logp("counts") == pytest.approx(base)
    series.values[tuple(shown[0])] += 50  # a published value: it counts
    assert logp("counts") != pytest.approx(base)
    # The same for children ceasing where the stock at the start is not published.
    base = logp("exits")
    hidden = np.argwhere(data.ceased_observed & ~data.exit_observed)
    assert len(hidden)
    data.ceased[tuple(hidden[0])] += 7
    assert logp("exits") == pytest.approx(base)
    data.ceased[tuple(np.argwhere(data.exit_observed)[0])] += 7
    assert logp("exits") != pytest.approx(base)


def test_trend_is_the_rate_when_there_is_no_year_noise(tables) -> None:
    data = published_data(*tables)
    rng = np.random.default_rng(1)
    series = data.series["in_need"]
    length = series.last - series.first + 1
    rate = rng.normal(5.8, 0.3, size=(1, 3, len(data.units), length))
    posterior = xr.Dataset(
        {
            "in_need_log_rate": (("chain", "draw", "unit", "year"), rate),
            "in_need_mean": (("chain", "draw"), np.full((1, 3), 5.8)),
            "in_need_authority_sd": (("chain", "draw"), np.full((1, 3), 0.3)),
            "in_need_walk_sd": (("chain", "draw"), np.full((1, 3), 0.1)),
            "in_need_noise_sd": (("chain", "draw"), np.full((1, 3), 1e-5)),
        }
    )
    trend = trend_draws(posterior, "in_need", rng)
    assert trend.shape == (3, len(data.units), length)
    assert np.allclose(trend, rate.reshape(3, len(data.units), length), atol=1e-3)


def test_prior_draws_follow_the_configured_priors(tables) -> None:
    data = published_data(*tables)
    data.series = {"started": data.series["started"]}
    draws = 2000
    prior = prior_draws(data, PublishedPriorsConfig(), seed=3, draws=draws)
    assert prior.sizes["chain"] == 1 and prior.sizes["draw"] == draws
    assert {"exit_authority", "exit_drift", "reason_authority", "started_log_rate"} <= set(
        prior.data_vars
    )
    # started_mean ~ Normal(4, 2): mean within 4 standard errors, sd within 4 of its own
    # (sd of a sample sd ~ sigma / sqrt(2n)).
    mean = prior["started_mean"].values.ravel()
    assert abs(mean.mean() - 4.0) < 4 * 2.0 / np.sqrt(draws)
    assert abs(mean.std() - 2.0) < 4 * 2.0 / np.sqrt(2 * draws)
    # Each draw's log rates, standardised by the Cholesky factor of that draw's own
    # covariance (level, walk, noise) around its centre (mean + national shock), are
    # independent standard normals: mean 0, mean square 1, within 4 standard errors.
    rate = prior["started_log_rate"].values[0]  # [draw, unit, year]
    centre = mean[:, None] + prior["started_national"].values[0]  # [draw, year]
    z = []
    for d in range(draws):
        cov = walk_covariance(
            rate.shape[2], *(float(prior[f"started_{k}"].values[0, d]) for k in
                             ("authority_sd", "walk_sd", "noise_sd")), module=np,
        )  # fmt: skip
        z.append(np.linalg.solve(np.linalg.cholesky(cov), (rate[d] - centre[d]).T))
    z = np.concatenate(z, axis=1).ravel()
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs((z**2).mean() - 1) < 4 * np.sqrt(2 / z.size)


@pytest.fixture(scope="module")
def fitted(national_fit: SimpleNamespace):
    """A short fit of the exits, the reasons and two of the five count series (entries to
    care from 2010, children in need from 2013): the shared ``conftest.national_fit``."""
    return national_fit.out, national_fit.result


def test_fit_writes_a_diagnosed_posterior_with_its_labels(fitted) -> None:
    out, result = fitted
    diagnostics = json.loads((out / "diagnostics.json").read_text())
    # 400 draws cannot reach an ESS of 400: the fit must say it failed, and why.
    assert diagnostics["passed"] is False and any("ESS" in p for p in diagnostics["problems"])
    assert set(diagnostics["parts"]) == {"exits", "reasons", "counts"}
    trace = load_published_posterior(out / "posterior.nc")
    attrs = trace.attrs
    assert {"carecast_version", "model_hash", "data_fingerprint", "seed", "sampler",
            "diagnostics_passed", "data_layout"} <= set(attrs)  # fmt: skip
    assert attrs["diagnostics_passed"] == 0
    assert attrs["data_fingerprint"] == read_published(out.parent)[2]
    layout = json.loads(attrs["data_layout"])
    posterior = trace["posterior"].to_dataset()
    assert list(posterior["exit_authority"].unit.values) == layout["units"]
    assert list(posterior["started_log_rate"].unit.values) == list(result.data.units)
    assert not [n for n in posterior.data_vars if str(n).endswith(INTERNAL)]
    # Yearly rates read back: probabilities, shares summing to 1, rates per 10,000.
    rates = yearly_rates(posterior, result.data)
    exits = rates["exit_probability"][:, :, 1:]
    assert ((exits > 0) & (exits < 1)).all()
    assert np.allclose(np.nansum(rates["reason_share"], axis=-1)[..., 1:], 1.0)
    started = np.nanmedian(rates["started_rate"], axis=(0, 2))  # per unit
    series = result.data.series["started"]
    counts = (series.values * series.observed).sum(axis=1)
    published = 1e4 * counts / (result.data.population * series.observed).sum(axis=1)
    # Authorities with hundreds of starters pin their rate (Poisson error of the total under
    # 5%); small ones (the City of London's 250 per 10,000) are pulled towards the others.
    large = counts >= 500
    assert large.sum() >= 3
    assert np.allclose(started[large], published[large], rtol=0.1), (started, published)
    assert (started > 0).all()
    # Predictive coverage by measure, the table and the national figure.
    coverage = diagnostics["predictive_coverage"]
    assert {"ceased", "reason:adoption", "started", "in_need"} <= set(coverage)
    table = pd.read_csv(out / "ppc_posterior.csv")
    assert coverage["ceased"] == pytest.approx(table[table.measure == "ceased"].covered.mean())
    assert coverage["started"] > 0.7
    # The prior check: the same cells, with wider intervals (the data have narrowed them).
    prior = pd.read_csv(out / "ppc_prior.csv")
    assert list(prior.measure) == list(table.measure) and list(prior.unit) == list(table.unit)
    assert ((prior.upper - prior.lower) > (table.upper - table.lower)).mean() > 0.9
    assert set(diagnostics["prior_predictive_coverage"]) == set(coverage)
    for label in ("prior", "posterior"):
        assert (out / f"national_totals_{label}.png").stat().st_size > 10_000
        assert (out / f"national_totals_{label}.csv").is_file()
    summary = pd.read_csv(out / "summary.csv")
    assert {"exit_mean", "started_walk_sd", "in_need_log_rate"} <= set(summary.parameter)
    # A changed model refuses the old posterior.
    with pytest.raises(PosteriorMismatch, match="Refit"):
        load_published_posterior(
            out / "posterior.nc",
            PublishedPriorsConfig(rate_walk_sd={"dist": "HalfNormal", "sigma": 0.5}),
        )


def test_cli_sends_published_observations_to_the_national_fit(
    observations: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    result = SimpleNamespace(
        diagnostics={"passed": True, "problems": []},
        seconds={"build": 1.0},
        data=SimpleNamespace(units=("E09000002",)),
    )

    def fake_fit(*args: object) -> SimpleNamespace:
        calls.append(args)
        return result

    monkeypatch.setattr("model.fit.run_published.fit_published", fake_fit)
    assert main(["-q", "fit", str(observations), "--out", str(tmp_path)]) == 0
    # The fit writes into a staging folder of --out, moved into place when it succeeds.
    staged = Path(calls[0][1])
    assert calls and Path(calls[0][0]) == observations and staged.parent == tmp_path
    assert staged.name.startswith(STAGING_PREFIX) and not staged.exists()
    # Options of a single authority's fit make no sense for every authority at once.
    assert main(["-q", "fit", str(observations), "--out", str(tmp_path), "--authority", "X"]) == 2


def test_cli_names_both_ingests_for_a_folder_without_observations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["-q", "fit", str(tmp_path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "no observations_903.csv or observations_published.csv" in err
    assert "carecast ingest published" in err and "carecast ingest 903" in err


def test_national_walk_steps_persist_with_their_momentum(tables) -> None:
    from model.config.fit import prior_spec

    data = published_data(*tables)
    data.series = {"started": data.series["started"]}
    priors = PublishedPriorsConfig(national_momentum=prior_spec("Beta", alpha=2.0, beta=2.0))
    draws = 2000
    prior = prior_draws(data, priors, seed=4, draws=draws)
    momentum = prior["started_national_momentum"].values[0]
    # Beta(2, 2): mean 1/2, variance 1/20; the mean within 4 standard errors.
    assert abs(momentum.mean() - 0.5) < 4 * np.sqrt(0.05 / draws)
    # Each step is momentum x the last plus a shock of sd national_sd: the shocks, scaled
    # by it, are independent standard normals (mean 0, mean square 1, within 4 SE).
    steps = np.diff(prior["started_national"].values[0], axis=1)  # [draw, T - 1]
    shocks = steps[:, 1:] - momentum[:, None] * steps[:, :-1]
    z = np.concatenate([steps[:, :1], shocks], axis=1)
    z = (z / prior["started_national_sd"].values[0][:, None]).ravel()
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs((z**2).mean() - 1) < 4 * np.sqrt(2 / z.size)
    # The exit drift's steps follow the same recursion with their own momentum.
    assert "exit_drift_momentum" in prior.data_vars
