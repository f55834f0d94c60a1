"""A national posterior and the published figures it was fitted to -> the arrays the yearly
simulation of children looked after needs, per draw, unit and year.

Years are indices of ``data.years`` (years ending 31 March); the *timeline* runs from the
year after the earliest starting stock to the last forecast year. For each kept draw
(``N``) and unit forecast (``A``, the units with a published stock):

- ``logit`` [N, A, J]: log-odds that a child at risk ceases within the year, the national
  drift continued past the fitted years (``model.fit.published_rates.exit_log_odds``);
- ``log_mean_started`` [N, A, J]: log mean children starting to be looked after, the
  authority's trend and the national walk continued with new year noise
  (``model.fit.published_rates.count_log_rates``) times the population;
- ``remainder`` [N, A, J]: children added to each year's stock beyond the flows
  (:func:`stock_remainders`).

The walks' continuations are random: each is drawn here from its own stream
(:func:`stream`), once per draw, so that every scenario of a draw shares them.

**Assumptions.** The population aged 0-17 is held at each unit's last published figure (no
population projections are bundled; it moves by about 1% a year). A unit whose stock is not
published in the last fitted year starts from the last year it is, and the fitted years in
between are simulated with the posterior's yearly rates of those years (the fitted exit
probability, and the fitted log rate of entries, noise included, which any published
entries of those years inform); a unit with no published stock at all is left out, with a
note.

**The remainder.** The published stocks do not reconcile with the published flows. From one
31 March to the next a unit's stock changes by its starters minus its children ceasing plus
a remainder (a child who starts twice in a year is counted once, returns are amended), which
averaged +4 children per authority a year in 2011-2021, about +600 nationally, every year:
without it the forecast stock falls behind by that much a year. Each simulated year's
remainder is one of the unit's own fitted years' remainders, picked at random per draw (none
when the unit has no year with all four figures published).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from model.config.seeds import derive_seed
from model.fit.published_data import PublishedData
from model.fit.published_rates import (
    count_log_rates,
    exit_log_odds,
    log_count_mean,
    reason_shares,
)
from model.forecast.inputs import ForecastInputError


def stream(seed: int, *parts: str) -> np.random.Generator:
    """The random stream of one part of the simulation (``derive_seed(seed, *parts)``)."""
    return np.random.default_rng(derive_seed(seed, *parts))


def check_layout(trace: xr.DataTree, data: PublishedData) -> list[str]:
    """Refuse a posterior that is not a national fit of published tables, or whose saved
    ``data_layout`` differs from ``data.layout()`` (:class:`ForecastInputError` naming what
    differs); notes on what else differs (the data fingerprint)."""
    attrs = trace.attrs
    if attrs.get("model") != "published":
        raise ForecastInputError(
            "this is not a national fit of published tables (its `model` attribute is "
            f"{attrs.get('model')!r}): an authority's fit is forecast month by month, from "
            "its own posterior alone"
        )
    saved = json.loads(str(attrs.get("data_layout", "{}")))
    current = json.loads(json.dumps(data.layout()))  # as saved: tuples become lists
    differing = sorted(k for k in saved.keys() | current.keys() if saved.get(k) != current.get(k))
    if differing:
        details = []
        if "units" in differing:
            fitted, given = set(saved.get("units", [])), set(current["units"])
            gone, new = sorted(fitted - given), sorted(given - fitted)
            details.append(
                f"{len(gone)} units fitted are not in the observations "
                f"({', '.join(gone[:5]) or 'none'}), {len(new)} units observed were not "
                f"fitted ({', '.join(new[:5]) or 'none'})"
            )
        if "series" in differing:
            details.append(
                f"series fitted: {', '.join(saved.get('series', {})) or 'none'}; in the "
                f"observations: {', '.join(current['series']) or 'none'}"
            )
        raise ForecastInputError(
            f"the observations do not match the posterior: {', '.join(differing)} differ"
            + (f" ({'; '.join(details)})" if details else "")
            + ". Forecast with the `ingest published` folder the fit used (or refit)."
        )
    notes = []
    if data.fingerprint and attrs.get("data_fingerprint") not in (None, data.fingerprint):
        notes.append(
            "the observations changed since the fit (their fingerprint differs, their layout "
            "does not): the starting stocks are read from the observations given"
        )
    return notes


def fitted_posterior(trace: xr.DataTree, data: PublishedData) -> tuple[xr.Dataset, list[str]]:
    """(the posterior draws, notes): ``trace``'s posterior once :func:`check_layout` accepts
    it and it has exit rates and entries to care (else :class:`ForecastInputError`)."""
    notes = check_layout(trace, data)
    posterior = trace["posterior"].to_dataset()
    missing = [v for v in ("exit_authority", "exit_overdispersion") if v not in posterior]
    if missing or "started" not in data.series or "started_log_rate" not in posterior:
        raise ForecastInputError(
            "the national posterior has no exit rates or no entries to care "
            f"({', '.join(missing) or 'started_log_rate'} missing): nothing to forecast"
        )
    return posterior, notes


def draw_pick(posterior: xr.Dataset, n_draws: int) -> np.ndarray:
    """[N] positions (chains one after the other) of ``n_draws`` draws spread evenly over
    the posterior (all of them when it has fewer), as an authority's forecast picks them."""
    total = posterior.sizes["chain"] * posterior.sizes["draw"]
    return np.unique(np.linspace(0, total - 1, min(n_draws, total)).round().astype(int))


def starting_years(data: PublishedData) -> tuple[np.ndarray, list[str]]:
    """[A] index (in ``data.years``) of each unit's last published stock (-1: none, or too
    early for the exit rates: left out), and notes on the units not starting in the last
    fitted year."""
    observed = data.looked_after_observed
    last = np.array([np.flatnonzero(row)[-1] if row.any() else -1 for row in observed])
    notes = []
    for a in np.flatnonzero(last < len(data.years) - 1):
        unit = data.units[a]
        if last[a] < 0:
            notes.append(f"{unit} left out: no published stock of children looked after")
        elif last[a] + 1 < max(data.exit_first, data.series["started"].first):
            notes.append(
                f"{unit} left out: its last published stock precedes the fitted exit rates or "
                "entries"
            )
            last[a] = -1
        else:
            notes.append(
                f"{unit} starts from its last published stock, 31 March "
                f"{data.years[last[a]]} (the years after are simulated)"
            )
    return last, notes


def stock_remainders(
    data: PublishedData, rng: np.random.Generator, n_draws: int, n_years: int
) -> np.ndarray:
    """[N, A, J] int: each unit's remainder (children) in each of ``n_years`` simulated
    years, per draw: one of the unit's published remainders ``L[y] - L[y-1] - started[y] +
    ceased[y]`` (over the years with all four figures published) picked at random, or 0
    when it has none."""
    started = data.series["started"]
    seen = (
        data.looked_after_observed[:, 1:]
        & data.looked_after_observed[:, :-1]
        & started.observed[:, 1:]
        & data.ceased_observed[:, 1:]
    )
    gap = (
        data.looked_after[:, 1:].astype(np.int64)
        - data.looked_after[:, :-1]
        - started.values[:, 1:]
        + data.ceased[:, 1:]
    )
    out = np.zeros((n_draws, len(data.units), n_years), dtype=np.int64)
    for a in np.flatnonzero(seen.any(axis=1)):
        out[:, a] = rng.choice(gap[a, seen[a]], size=(n_draws, n_years))
    return out


@dataclass
class NationalInputs:
    """The stock simulation's arrays over draws ``N``, units forecast ``A`` (``kept``) and
    the timeline's years ``J``."""

    pick: np.ndarray
    """[N] the kept draws' positions in the posterior (chains one after the other)."""
    kept: np.ndarray
    """[A] the units forecast (indices of ``data.units``: those with a published stock)."""
    start: np.ndarray
    """[A] index in ``data.years`` of the published stock each unit starts from."""
    opening: np.ndarray
    """[A] int: children looked after at 31 March of the ``start`` year."""
    timeline: np.ndarray
    """[J] indices of the years simulated (past ``len(data.years) - 1``: forecast years)."""
    last: int
    """Index of the last fitted year."""
    logit: np.ndarray
    """[N, A, J] log-odds that a child at risk ceases within the year."""
    concentration: np.ndarray
    """[N] the beta-binomial's concentration (``1 / exit_overdispersion^2``)."""
    log_mean_started: np.ndarray
    """[N, A, J] log mean children starting to be looked after in the year."""
    remainder: np.ndarray
    """[N, A, J] int: children added to the year's stock beyond starters minus ceased."""
    shares: np.ndarray | None = None
    """[N, A, R] shares of the children ceasing by exit reason in the last fitted year
    (``data.reasons``; only when a scenario changes one reason's exits)."""
    notes: list[str] = field(default_factory=list)
    """Units left out or starting before the last fitted year, one line each."""

    @property
    def forecast(self) -> np.ndarray:
        """[J] bool: the timeline's forecast years (after the last fitted year)."""
        return self.timeline > self.last


def national_inputs(
    posterior: xr.Dataset,
    data: PublishedData,
    horizon_years: int,
    n_draws: int,
    seed: int,
    with_shares: bool = False,
) -> NationalInputs:
    """The arrays of :class:`NationalInputs` for ``n_draws`` draws of ``posterior`` (as
    :func:`fitted_posterior` returns it) from each unit's last published stock to
    ``horizon_years`` years past the last fitted year; the walks continued from the
    streams ``stream(seed, "exit rates")``, ``(seed, "started")`` and the remainders from
    ``(seed, "stock remainder")``. ``with_shares``: the exit reasons' shares too."""
    last = len(data.years) - 1
    start, notes = starting_years(data)
    kept = np.flatnonzero(start >= 0)
    if not len(kept):
        raise ForecastInputError("no unit has a published stock of children looked after")
    pick = draw_pick(posterior, n_draws)
    timeline = np.arange(int(start[kept].min()) + 1, last + horizon_years + 1)  # year indices
    logit, concentration = exit_log_odds(
        posterior, data, pick, timeline, stream(seed, "exit rates")
    )
    log_started = count_log_rates(
        posterior, data, "started", pick, timeline, stream(seed, "started")
    )
    population = data.population[kept][:, np.minimum(timeline, last)]  # held after the last
    shares = (
        reason_shares(posterior, data, pick, np.array([last]))[:, kept, 0] if with_shares else None
    )
    remainder = stock_remainders(data, stream(seed, "stock remainder"), len(pick), len(timeline))
    return NationalInputs(
        pick=pick,
        kept=kept,
        start=start[kept],
        opening=data.looked_after[kept, start[kept]],
        timeline=timeline,
        last=last,
        logit=logit[:, kept],
        concentration=concentration,
        log_mean_started=log_count_mean(log_started[:, kept], population[None]),
        remainder=remainder[:, kept],
        shares=shares,
        notes=notes,
    )


def series_log_means(
    posterior: xr.Dataset,
    data: PublishedData,
    name: str,
    inputs: NationalInputs,
    rng: np.random.Generator,
) -> np.ndarray:
    """[N, A, H] log mean yearly count of series ``name`` in each forecast year of every
    unit forecast: its log rate continued (``count_log_rates``, drawing from ``rng``) times
    the unit's last published population."""
    years = inputs.timeline[inputs.forecast]
    log_rate = count_log_rates(posterior, data, name, inputs.pick, years, rng)[:, inputs.kept]
    return log_count_mean(log_rate, data.population[inputs.kept, -1][None, :, None])
