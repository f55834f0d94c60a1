"""Prior and posterior predictive checks of the national fit: replicated yearly figures
against the published ones, cell by cell and as national totals.

For a sample of parameter draws (from the prior: :func:`prior_draws`; or the posterior),
each published figure is drawn again from the model:

- ``ceased``: beta-binomial of the children at risk (the observed stock at the start of the
  year plus starters) with the draw's exit probability;
- ``reason:<group>``: the count ceasing for that reason given the year's total ceased
  (the Dirichlet-multinomial's margin: beta-binomial);
- each count series: Poisson of population / 10,000 x exp(trend + national walk + new
  noise): the authority's own year noise is drawn again, so the check tests the walks and
  the noise, not only the Poisson.

The table has one row per published cell (measure, unit, year) with the observed value, the
predicted median and the central interval; ``covered`` says whether the observation falls
inside. Coverage by measure is the share of cells covered (about ``interval`` when the
model is calibrated; more for a posterior check, which has seen the data; near 1 for a
prior check, whose intervals should be wide but not absurd: its medians and interval widths
show what the priors alone imply). The figure sets
the national totals (sums over the cells published in each year) beside their predictive
intervals.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from model.config.published import PublishedPriorsConfig
from model.fit.published import build_published_model, parts
from model.fit.published_data import PublishedData
from model.fit.published_rates import (
    beta_probability,
    count_log_rates,
    log_count_mean,
    yearly_rates,
)

CHECK_DRAWS = 400
"""Parameter draws used by each predictive check."""
MAX_EXPECTED_COUNT = 1e12
"""Cap on a replicated count's Poisson mean: prior draws of a log rate can reach the
hundreds, whose exponential numpy cannot draw a Poisson count of (the cap is far above any
real count, so the interval still shows the prior's width)."""


def prior_draws(
    data: PublishedData, priors: PublishedPriorsConfig, seed: int, draws: int = CHECK_DRAWS
) -> xr.Dataset:
    """``draws`` joint draws of every parameter from the prior, named and shaped as in the
    posterior ([chain=1, draw, ...])."""
    groups = []
    for part in parts(data):
        model = build_published_model(data, priors, (part,), generative=True)
        names = [v.name for v in model.free_RVs + model.deterministics]
        with warnings.catch_warnings():
            # The potentials are the likelihood: prior draws must ignore them, as PyMC warns.
            warnings.filterwarnings("ignore", message="The effect of Potentials")
            prior = pm.sample_prior_predictive(
                draws, model=model, random_seed=seed, var_names=names
            )
        groups.append(prior["prior"].to_dataset())
    return xr.merge(groups)


def _beta_binomial(
    rng: np.random.Generator, n: np.ndarray, p: np.ndarray, concentration: np.ndarray
) -> np.ndarray:
    """Children of ``n`` [cells] drawn beta-binomial with rate ``p`` [N, cells]."""
    return rng.binomial(n, beta_probability(rng, p, concentration))


def predictive_check(
    posterior: xr.Dataset, data: PublishedData, rng: np.random.Generator, interval: float
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(the per-cell table, replicated national totals per measure [draws, years]);
    ``posterior``: parameter draws, of the posterior or of the prior."""
    n_total = posterior.sizes["chain"] * posterior.sizes["draw"]
    pick = np.sort(rng.choice(n_total, size=min(CHECK_DRAWS, n_total), replace=False))
    rates = yearly_rates(posterior, data, pick)
    frames, totals = [], {}
    a, y = np.nonzero(data.exit_observed)
    c = rates["exit_concentration"][:, None]
    simulated = _beta_binomial(rng, data.at_risk[a, y], rates["exit_probability"][:, a, y], c)
    frames.append(_cells("ceased", data, a, y, data.ceased[a, y], simulated))
    totals["ceased"] = _national(data, a, y, data.ceased[a, y], simulated)
    if "reason_share" in rates:
        c = rates["reason_concentration"][:, None]
        for r, reason in enumerate(data.reasons):
            a, y = np.nonzero(data.reason_observed[..., r] & data.reason_cells)
            share = rates["reason_share"][:, a, y, r]
            simulated = _beta_binomial(rng, data.ceased[a, y], share, c)
            observed = data.reason_counts[a, y, r]
            frames.append(_cells(f"reason:{reason}", data, a, y, observed, simulated))
    for name, series in data.series.items():
        span = np.arange(series.first, series.last + 1)
        log_rate = count_log_rates(posterior, data, name, pick, span, rng, new_noise=True)
        a, t = np.nonzero(series.observed[:, series.span])
        y = t + series.first
        log_mu = log_count_mean(log_rate[:, a, t], data.population[a, y])
        mu = np.exp(np.minimum(log_mu, np.log(MAX_EXPECTED_COUNT)))
        simulated = rng.poisson(mu)
        observed = series.values[a, y]
        frames.append(_cells(name, data, a, y, observed, simulated))
        totals[name] = _national(data, a, y, observed, simulated)
    lo, hi = (1 - interval) / 2, (1 + interval) / 2
    table = pd.concat(frames, ignore_index=True)
    replicas = np.stack(table.pop("replicas"))
    table["lower"] = np.quantile(replicas, lo, axis=1)
    table["upper"] = np.quantile(replicas, hi, axis=1)
    table["covered"] = (table.observed >= table.lower) & (table.observed <= table.upper)
    table.attrs["draws"] = len(pick)
    return table, totals


def _cells(
    measure: str,
    data: PublishedData,
    a: np.ndarray,
    y: np.ndarray,
    observed: np.ndarray,
    simulated: np.ndarray,
) -> pd.DataFrame:
    """One row per cell; the simulated values travel along until the quantiles are taken."""
    return pd.DataFrame(
        {
            "measure": measure,
            "unit": np.asarray(data.units)[a],
            "year": np.asarray(data.years)[y],
            "observed": observed.astype("int64"),
            "median": np.median(simulated, axis=0),
            "replicas": list(simulated.T),
        }
    )


def _national(
    data: PublishedData, a: np.ndarray, y: np.ndarray, observed: np.ndarray, simulated: np.ndarray
) -> dict[str, np.ndarray]:
    """Observed and replicated sums over the published cells of each year."""
    n_years = len(data.years)
    return {
        "observed": np.bincount(y, weights=observed, minlength=n_years),
        "cells": np.bincount(y, minlength=n_years),
        "replicated": np.stack(
            [np.bincount(y, weights=row, minlength=n_years) for row in simulated]
        ),
    }


def coverage(table: pd.DataFrame) -> dict[str, float]:
    """Share of published cells inside their predictive interval, by measure."""
    return {str(m): float(part.covered.mean()) for m, part in table.groupby("measure", sort=False)}


def national_table(
    totals: dict[str, dict[str, np.ndarray]], years: tuple[int, ...], interval: float
) -> pd.DataFrame:
    """National totals per measure and year: observed, predicted median and interval."""
    lo, hi = (1 - interval) / 2, (1 + interval) / 2
    rows = []
    for measure, part in totals.items():
        for y, year in enumerate(years):
            if part["cells"][y] == 0:
                continue
            replicated = part["replicated"][:, y]
            rows.append(
                (measure, year, int(part["cells"][y]), float(part["observed"][y]),
                 float(np.median(replicated)), float(np.quantile(replicated, lo)),
                 float(np.quantile(replicated, hi)))
            )  # fmt: skip
    table = pd.DataFrame(
        rows, columns=["measure", "year", "units", "observed", "median", "lower", "upper"]
    )
    table["covered"] = (table.observed >= table.lower) & (table.observed <= table.upper)
    return table


def plot_national(table: pd.DataFrame, path: str, title: str, interval: float) -> None:
    """National totals, observed against the predicted median and interval (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measures = list(dict.fromkeys(table.measure))
    columns = 3
    rows = -(-len(measures) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    for ax, measure in zip(axes.ravel(), measures, strict=False):
        part = table[table.measure == measure]
        band = f"{interval:.0%} predictive"
        ax.fill_between(part.year, part.lower, part.upper, alpha=0.3, label=band)
        ax.plot(part.year, part["median"], color="tab:blue", label="predicted median")
        ax.plot(part.year, part.observed, "o", color="black", markersize=4, label="published")
        ax.set_title(f"{measure.replace('_', ' ')}: {part.covered.mean():.0%} of years covered")
        ax.set_xlabel("year ending 31 March")
        ax.ticklabel_format(axis="y", style="plain")
    for ax in axes.ravel()[len(measures) :]:
        ax.set_visible(False)
    axes[0, 0].legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
