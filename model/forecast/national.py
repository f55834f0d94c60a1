"""``carecast forecast`` of a national fit of published tables: every authority at once,
year by year (years ending 31 March), under the baseline and the scenarios.

**What is simulated.** For each kept posterior draw, from each unit's last published stock
of children looked after (``model.fit.published``'s model, continued):

- children at risk ``n[y] = L[y-1] + started[y]``; ``ceased[y] ~ BetaBinomial(n, p, k)``
  (drawn as ``q ~ Beta(p k, (1 - p) k)``, the year's own exit probability, then
  ``Binomial(n, q)``); ``L[y] = max(n - ceased + remainder, 0)``;
- ``remainder[y]``: the published stocks do not reconcile with the published flows. From
  one 31 March to the next a unit's stock changes by its starters minus its children
  ceasing plus a remainder (a child who starts twice in a year is counted once, returns are
  amended), which averaged +4 children per authority a year in 2011-2021, about +600
  nationally, every year: without it the forecast stock falls behind by that much a year.
  Each simulated year's remainder is one of the unit's own fitted years' remainders, picked
  at random per draw (none when the unit has no year with all four figures published);
  :func:`stock_remainders`. Children are conserved up to this remainder, which every
  scenario shares draw by draw;
- ``logit p = exit_authority + exit_drift``, the national drift continuing as a random walk
  from its last fitted year (steps ``~ Normal(0, exit_drift_sd)``, shared by the units; with
  a momentum, each step that times the last plus the shock: :func:`continue_walk`);
- every yearly count series the fit has (``model.fit.published_data.SERIES``: entries to
  care, referrals, plans started, children in need and on a plan at 31 March) is
  ``Poisson(population / 10,000 x exp(log rate))``, the log rate being the unit's trend
  (``model.fit.published.trend_draws``: mean + level + walk) continued by random-walk steps
  of ``<series>_walk_sd`` from the series' last fitted year, plus the national walk every
  unit shares, continued likewise (with its momentum and shocks of
  ``<series>_national_sd``), and the year's own noise (``<series>_noise_sd``).
  Entries to care feed the stocks; the other series are forecast on their own (yearly
  counts, not stocks with flows).

**Assumptions.** The population aged 0-17 is held at each unit's last published figure (no
population projections are bundled; it moves by about 1% a year). A unit whose stock is not
published in the last fitted year starts from the last year it is, and the fitted years
in between are simulated with the posterior's yearly rates of those years (the fitted
exit probability, and the fitted log rate of entries, noise included, which any published
entries of those years inform); a unit with no published stock at all is left out, with a
note.

**Scenarios** (``model.forecast.scenarios``). The published model has no placement groups,
CIN funnel or feedback terms, so only these changes can be represented; every other one is
refused with a :class:`~model.forecast.scenarios.ScenarioError` naming the scenario and the
change:

- ``multiply_rate`` on ``outside -> care``: multiplies the mean entries to care;
- ``multiply_rate`` on ``care -> exit`` (every care state, every reason): multiplies the
  odds of each year's exit probability ``q``; on ``care -> exit:<reason>``: multiplies them
  by ``1 + (factor - 1) x share``, ``share`` the draw's share of that reason among the
  unit's children ceasing in the last fitted year (an approximation: multiplying one
  reason's odds by ``factor`` multiplies all exits' odds by about this when exits are a
  minority of the children at risk);
- ``add_children`` on ``outside -> care``: ``12 x per_month`` extra starters a year in
  every unit (per authority, as in an authority's forecast; fractions are expected values,
  negative values remove starters, never below none);
- cost changes (``multiply_unit_cost``, ``set_inflation``) are ignored (no costs here).

A change's value in a year is its value in force at the year's end (``effect`` at the
31 March month end); changes act on forecast years only. Their bounds are those of every
scenario file (``model.forecast.scenarios``, Bounds): a factor at most 10; a start inside
the forecast years (1 April after the last fitted year to the last forecast 31 March);
``|per_month|`` at most ten times the mean starters a month of the smallest unit forecast
(in the first forecast year), or 10 a month if larger, since every unit gets it.

**Common random numbers.** Every scenario is built on the baseline's own random draws,
child by child in distribution: the baseline draws its starters, each year's exit
probability ``q`` and its children ceasing; a scenario thins (a factor below 1) or adds to
(above 1) the baseline's starters, keeps the baseline's ``q`` with its odds multiplied,
and adjusts the baseline's children ceasing to its own children at risk and ``q`` (extra
children at risk cease with probability ``q``; fewer are a random subset of the baseline's;
a lower ``q'`` keeps each baseline leaver with probability ``q'/q``, a higher one turns each
stayer into a leaver with probability ``(q' - q)/(1 - q)``). Each step is exact, so every
scenario has the model's distribution, and a scenario differs from the baseline, draw by
draw, only by what its changes make differ: a scenario without changes equals the baseline.
(Re-seeding one stream per draw would not do this: numpy's samplers use a number of random
numbers that depends on their parameters, so the streams part at the first changed value.)
Each random part has its own stream, ``derive_seed(seed, part)``, and each scenario its own
(``derive_seed(seed, "scenario", name)``): adding a scenario changes no other's draws.

**Outputs** (:func:`forecast_national`, to ``out_dir``): ``forecast.csv``/``.parquet``
(columns ``model.forecast.tables.COLUMNS`` and ``fit_passed``; one row per authority,
scenario, 31 March, measure and state; ``authority`` is the unit's code, and
``national`` the sum over the units forecast, draw by draw), ``differences.csv``/
``.parquet`` (scenario minus baseline, draw by draw, for the measures scenarios change),
``probabilities.csv`` (P(at least k fewer / more children looked after than the baseline)),
``draws.nc``, ``forecast_info.json`` and ``figures/`` (fan charts of the national totals of
every measure, with the published totals before them). Measures and states:

=====================  =================  =====  =========================================
simulated              measure            state  what
=====================  =================  =====  =========================================
``looked_after``       ``stock``          total  children looked after at 31 March
``started``            ``entries``        total  children starting to be looked after
``ceased``             ``exits``          total  children ceasing to be looked after
``referrals``          ``referrals``      total  referrals to children's social care
``plans_started``      ``plans_started``  cpp    child protection plans starting
``in_need``            ``in_need``        cin    children in need at 31 March (DfE's
                                                 count: every open CIN episode, plans and
                                                 looked-after children included)
``on_plan``            ``on_plan``        cpp    children on a protection plan at 31 March
=====================  =================  =====  =========================================

A fit that failed its diagnostics still forecasts, but every output says so
(``fit_passed``, the info file, the figures' titles).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from model.config.fit import StructureConfig
from model.config.forecast import ForecastConfig
from model.config.published import PublishedPriorsConfig
from model.config.seeds import derive_seed
from model.fit.published import flat_draws, reason_others, trend_draws
from model.fit.published_data import PER_POPULATION, SERIES, PublishedData
from model.forecast.inputs import ForecastInputError
from model.forecast.run import write_tables
from model.forecast.scenarios import (
    BASELINE,
    AddChildren,
    ChangeBase,
    MultiplyRate,
    MultiplyUnitCost,
    Scenario,
    ScenarioError,
    SetInflation,
    check_additions,
    check_window,
    effect,
    load_scenarios,
)
from model.forecast.tables import (
    COLUMNS,
    PROBABILITY_COLUMNS,
    TOTAL,
    differences,
    probability_table,
    quantile_table,
)

NATIONAL = "national"
"""``authority`` of the rows summed over every unit forecast (the fit's seed label too)."""
MONTHS_PER_YEAR = 12
MEASURES: dict[str, tuple[str, str]] = {
    "looked_after": ("stock", TOTAL),
    "started": ("entries", TOTAL),
    "ceased": ("exits", TOTAL),
    **{name: (name, state or TOTAL) for name, (_, state) in SERIES.items() if name != "started"},
}
"""Simulated quantity -> (measure, state) in the tables (see the module's table)."""
CARE_FLOWS = ("looked_after", "started", "ceased")
"""The simulated quantities scenarios change (the other series do not depend on them)."""
HISTORY_COVERAGE = 0.95
"""A year's published national total is drawn in the fan charts when at least this share
of the units forecast published the figure (DfE suppresses a few small authorities' cells;
a sum missing a large one would show a dip that is not there)."""
SUPPORTED = (
    'it supports multiply_rate on "outside -> care" (entries to care) and on "care -> exit" '
    'or "care -> exit:<reason>" (children ceasing), add_children on "outside -> care", and '
    "ignores cost changes"
)


# --- inputs ------------------------------------------------------------------------------------


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


def exit_log_odds(
    posterior: xr.Dataset,
    data: PublishedData,
    pick: np.ndarray,
    years: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """([N, A, J] log-odds of each unit's exit probability in each of ``years`` (indices of
    the fitted years, continuing past them), [N] beta-binomial concentration). Fitted
    years: ``exit_authority + exit_drift`` (as ``yearly_rates``); later ones continue the
    drift from its last year and step (:func:`continue_walk`)."""
    authority = flat_draws(posterior, "exit_authority", pick)  # [N, A]
    n = len(pick)
    first, last = data.exit_first, len(data.years) - 1
    drift = (
        flat_draws(posterior, "exit_drift", pick)
        if "exit_drift" in posterior
        else np.zeros((n, last - first + 1))
    )
    ahead = int(max(years.max() - last, 0))
    step = (
        flat_draws(posterior, "exit_drift_sd", pick)
        if "exit_drift_sd" in posterior
        else np.zeros(n)
    )
    momentum = _momentum(posterior, "exit_drift", pick)
    walk = continue_walk(drift, step, momentum, rng.standard_normal((n, ahead)))
    extended = np.concatenate([drift, walk], axis=1)  # [N, years from exit_first]
    logit = np.full((n, authority.shape[1], len(years)), np.nan)
    usable = years >= first
    logit[:, :, usable] = authority[:, :, None] + extended[:, None, years[usable] - first]
    concentration = 1.0 / flat_draws(posterior, "exit_overdispersion", pick) ** 2
    return logit, concentration


def _momentum(posterior: xr.Dataset, walk: str, pick: np.ndarray) -> np.ndarray:
    """[N] persistence of a national walk's steps (0 when the fit has none: a pure walk)."""
    name = f"{walk}_momentum"
    return flat_draws(posterior, name, pick) if name in posterior else np.zeros(len(pick))


def continue_walk(
    walk: np.ndarray, step_sd: np.ndarray, momentum: np.ndarray, shocks: np.ndarray
) -> np.ndarray:
    """[N, J] a national walk continued ``J`` years past its fitted ``walk`` [N, T]: each
    step ``momentum x`` the last plus ``step_sd x`` a standard-normal ``shocks`` [N, J]
    (``model.fit.published.national_walk``); the last fitted step is the walk's last
    change (0 for a walk of one year)."""
    step = walk[:, -1] - walk[:, -2] if walk.shape[1] > 1 else np.zeros(len(walk))
    level = walk[:, -1].copy()
    out = np.empty(shocks.shape)
    for j in range(shocks.shape[1]):
        step = momentum * step + step_sd * shocks[:, j]
        level = level + step
        out[:, j] = level
    return out


def count_log_rates(
    posterior: xr.Dataset,
    data: PublishedData,
    name: str,
    pick: np.ndarray,
    years: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """[N, A, J] log yearly count per 10,000 children of series ``name`` in each of
    ``years`` (indices of the fitted years, continuing past them): the fitted log rate
    within the series' years; after them the trend (``trend_draws``, continued by
    random-walk steps) and the national walk every unit shares (continued with its
    momentum: :func:`continue_walk`), from the last fitted year, plus new year noise.
    NaN before the series' first year."""
    series = data.series[name]
    rate = flat_draws(posterior, f"{name}_log_rate", pick)  # [N, A, T]
    n, n_units, _ = rate.shape
    out = np.full((n, n_units, len(years)), np.nan)
    fitted = (years >= series.first) & (years <= series.last)
    out[:, :, fitted] = rate[:, :, years[fitted] - series.first]
    later = years > series.last
    if not later.any():
        return out
    ahead = int(years.max() - series.last)

    def scale(parameter: str) -> np.ndarray:
        name_sd = f"{name}_{parameter}"
        return flat_draws(posterior, name_sd, pick) if name_sd in posterior else np.zeros(n)

    trend = trend_draws(posterior, name, rng, pick)[:, :, -1]  # [N, A]
    steps = scale("walk_sd")[:, None, None] * rng.standard_normal((n, n_units, ahead))
    noise = scale("noise_sd")[:, None, None] * rng.standard_normal((n, n_units, ahead))
    national = np.zeros((n, ahead))
    if f"{name}_national" in posterior:
        national = continue_walk(
            flat_draws(posterior, f"{name}_national", pick),
            scale("national_sd"),
            _momentum(posterior, f"{name}_national", pick),
            rng.standard_normal((n, ahead)),
        )
    continued = trend[:, :, None] + np.cumsum(steps, axis=2) + noise + national[:, None, :]
    out[:, :, later] = continued[:, :, years[later] - series.last - 1]
    return out


def last_reason_shares(posterior: xr.Dataset, data: PublishedData, pick: np.ndarray) -> np.ndarray:
    """[N, A, R] shares of the children ceasing by exit reason (``data.reasons``) in the last
    fitted year, as ``yearly_rates`` computes them (only that year: all years of every
    reason would be [N, A, Y, R], hundreds of MB at 4,000 draws)."""
    free = [data.reasons.index(r) for r in reason_others(data.reasons)]
    authority = flat_draws(posterior, "reason_authority", pick)  # [N, A, R-1]
    drift = flat_draws(posterior, "reason_drift", pick)[:, -1]  # [N, R-1]
    # The reference reason (returning home) keeps log-odds 0.
    logits = np.zeros((*authority.shape[:2], len(data.reasons)))
    logits[:, :, free] = authority + drift[:, None, :]
    logits -= logits.max(axis=-1, keepdims=True)
    share = np.exp(logits)
    return share / share.sum(axis=-1, keepdims=True)


# --- scenarios ---------------------------------------------------------------------------------


@dataclass
class NationalChanges:
    """Scenarios as the yearly model's changes, over scenarios ``C`` (0: baseline) and
    forecast years ``H``."""

    started_factor: np.ndarray
    """[C, H] multiplier of the mean entries to care."""
    started_extra: np.ndarray
    """[C, H] extra starters per unit in the year (children; negative: fewer)."""
    exits: list[list[tuple[np.ndarray, tuple[str, ...] | None]]]
    """Per scenario: (multiplier [H], the exit reasons concerned, None: every one) per
    change of the exit odds."""
    ignored: list[str] = field(default_factory=list)
    """Changes left out (cost changes), one line each."""

    def exit_multiplier(
        self, c: int, h: int, shares: np.ndarray | None, reasons: Sequence[str]
    ) -> float | np.ndarray:
        """The exit odds' multiplier of scenario ``c`` in forecast year ``h``: a float, or
        [N, A] when a change concerns some reasons (``shares`` [N, A, R])."""
        total: float | np.ndarray = 1.0
        for multiplier, concerned in self.exits[c]:
            if concerned is None:
                total = total * multiplier[h]
            else:
                assert shares is not None
                share = shares[:, :, [reasons.index(r) for r in concerned]].sum(axis=-1)
                total = total * (1.0 + (multiplier[h] - 1.0) * share)
        return total


def _tokens(change: ChangeBase) -> tuple[str, str]:
    """(source, destination) of a change's flow as written (normalised)."""
    text = change.flow.text  # type: ignore[attr-defined]
    source, destination = (part.strip() for part in text.split("->"))
    return source, destination


def _refusal(change: ChangeBase, reasons: Sequence[str] | None) -> str | None:
    """Why the national model cannot represent ``change`` (None: it can)."""
    kind = change.type  # type: ignore[attr-defined]
    if isinstance(change, MultiplyUnitCost | SetInflation):
        return None
    if not isinstance(change, MultiplyRate | AddChildren):
        return (
            f"the national model of published tables cannot represent {kind} (it has no "
            f"placement groups, CIN funnel, capacity or workforce feedback); {SUPPORTED}"
        )
    source, destination = _tokens(change)
    text = change.flow.text
    if (source, destination) == ("outside", "care"):
        return None
    to_exits = source == "care" and (destination == "exit" or destination.startswith("exit:"))
    if isinstance(change, MultiplyRate) and to_exits:
        if destination != "exit" and reasons is None:
            return (
                f'flow "{text}": the fit has no exit reasons, so a change of one reason '
                'cannot be represented; use "care -> exit"'
            )
        return None
    return (
        f'flow "{text}": the national model of published tables has no placement groups, '
        f"CIN funnel or moves between placements; {SUPPORTED}"
    )


def national_changes(
    scenarios: Sequence[Scenario],
    year_ends: Sequence[str],
    reasons: Sequence[str] | None,
    source: str = "scenarios",
) -> NationalChanges:
    """The changes of ``scenarios`` (validated) in the national model's terms over the
    forecast years ending at ``year_ends`` (ISO 31 March dates); ``reasons``: the fit's exit
    reasons (None: it has none, so a change of one reason cannot be represented). Raises
    :class:`ScenarioError` with one line per change it cannot represent or that starts
    outside the forecast years, naming ``source`` (the file), the scenario and the change."""
    if year_ends:
        first_year = date.fromisoformat(year_ends[0])
        check_window(
            scenarios, date(first_year.year - 1, 4, 1), date.fromisoformat(year_ends[-1]),
            source, f" (the forecast years ending 31 March {year_ends[0][:4]} to "
            f"{year_ends[-1][:4]})",
        )  # fmt: skip
    n_c, n_h = len(scenarios) + 1, len(year_ends)
    changes = NationalChanges(np.ones((n_c, n_h)), np.zeros((n_c, n_h)), [[] for _ in range(n_c)])
    problems = []
    for c, scenario in enumerate(scenarios, start=1):
        for k, change in enumerate(scenario.changes, start=1):
            label = f"scenario {c} ({scenario.name}), change {k} ({change.type})"
            problem = _refusal(change, reasons)
            if problem:
                problems.append(f"{source}: {label}: {problem}")
            elif isinstance(change, MultiplyUnitCost | SetInflation):
                changes.ignored.append(f"{label}: a cost change, ignored (no costs forecast)")
            elif _tokens(change)[0] == "outside":  # entries to care
                value = effect(change, year_ends)
                if isinstance(change, MultiplyRate):
                    changes.started_factor[c] *= value
                else:
                    changes.started_extra[c] += MONTHS_PER_YEAR * value
            else:  # exits
                destination = _tokens(change)[1]
                concerned = None if destination == "exit" else (destination.removeprefix("exit:"),)
                changes.exits[c].append((effect(change, year_ends), concerned))
    if problems:
        raise ScenarioError("\n".join(problems))
    return changes


# --- simulation --------------------------------------------------------------------------------


@dataclass
class NationalSimulation:
    """Simulated yearly figures of every unit: ``values[measure]`` int [N, C, A, Y] over
    draws ``N``, scenarios ``C`` (``baseline`` first), units ``A`` and forecast years ``Y``
    (ending 31 March); children (``MEASURES`` says which count each is). The series that
    scenarios do not change (all but ``CARE_FLOWS``) are read-only views of one copy, the
    same under every scenario."""

    units: list[str]
    years: list[int]
    scenarios: list[str]
    values: dict[str, np.ndarray]
    names: list[str] = field(default_factory=list)
    """Each unit's name."""
    draw_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    """[N] the kept draws' positions in the posterior (chains one after the other)."""
    start_years: dict[str, int] = field(default_factory=dict)
    """Unit -> the year of the published stock it starts from."""
    remainder: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), dtype=int))
    """[N, A, Y] children added to each forecast year's stock beyond starters minus
    ceased (:func:`stock_remainders`; the same under every scenario)."""
    notes: list[str] = field(default_factory=list)

    @property
    def period_ends(self) -> list[str]:
        """ISO 31 March of each forecast year."""
        return [f"{year}-03-31" for year in self.years]


def simulate_national(
    trace: xr.DataTree,
    data: PublishedData,
    horizon_years: int,
    n_draws: int,
    seed: int,
    scenarios: Sequence[Scenario] = (),
    source: str = "scenarios",
) -> NationalSimulation:
    """Simulate every unit ``horizon_years`` years past the last fitted year, for ``n_draws``
    posterior draws, under the baseline and ``scenarios`` (see the module). ``trace``: a
    national posterior (``load_published_posterior``); ``data``: the ``PublishedData`` of
    the observations it was fitted to (refused when its layout differs); ``source``: the
    scenarios' file, which a refused change's message names."""
    if horizon_years < 1:
        raise ValueError(f"horizon_years must be at least 1, got {horizon_years}")
    notes = check_layout(trace, data)
    posterior = trace["posterior"].to_dataset()
    missing = [v for v in ("exit_authority", "exit_overdispersion") if v not in posterior]
    if missing or "started" not in data.series or "started_log_rate" not in posterior:
        raise ForecastInputError(
            "the national posterior has no exit rates or no entries to care "
            f"({', '.join(missing) or 'started_log_rate'} missing): nothing to forecast"
        )
    last = len(data.years) - 1
    year_ends = [f"{data.years[-1] + h}-03-31" for h in range(1, horizon_years + 1)]
    has_reasons = "reason_authority" in posterior
    changes = national_changes(scenarios, year_ends, data.reasons if has_reasons else None, source)
    notes += changes.ignored
    start, start_notes = starting_years(data)
    notes += start_notes
    kept = np.flatnonzero(start >= 0)
    if not len(kept):
        raise ForecastInputError("no unit has a published stock of children looked after")
    pick = draw_pick(posterior, n_draws)
    timeline = np.arange(int(start[kept].min()) + 1, last + horizon_years + 1)  # year indices

    def stream(*parts: str) -> np.random.Generator:
        return np.random.default_rng(derive_seed(seed, *parts))

    logit, concentration = exit_log_odds(posterior, data, pick, timeline, stream("exit rates"))
    log_started = count_log_rates(posterior, data, "started", pick, timeline, stream("started"))
    shares = (
        last_reason_shares(posterior, data, pick)[:, kept]
        if any(concerned for per in changes.exits for _, concerned in per)
        else None
    )
    population = data.population[kept][:, np.minimum(timeline, last)]  # held after the last
    log_mean_started = log_started[:, kept] + np.log(population / PER_POPULATION)[None]
    check_national_additions(
        scenarios, log_mean_started[:, :, np.flatnonzero(timeline > last)[0]],
        [data.units[a] for a in kept], source,
    )  # fmt: skip
    remainder = stock_remainders(data, stream("stock remainder"), len(pick), len(timeline))
    flows = _simulate_stocks(
        data.looked_after[kept, start[kept]],
        start[kept],
        timeline,
        last,
        logit[:, kept],
        concentration,
        log_mean_started,
        remainder[:, kept],
        changes,
        shares,
        data.reasons,
        stream(BASELINE),
        [stream("scenario", s.name) for s in scenarios],
    )
    values = dict(zip(CARE_FLOWS, flows, strict=True))
    forecast_years = timeline[timeline > last]
    for name in data.series:
        if name == "started" or f"{name}_log_rate" not in posterior:
            continue
        rng = stream("series", name)
        log_rate = count_log_rates(posterior, data, name, pick, forecast_years, rng)[:, kept]
        counts = rng.poisson(
            np.exp(log_rate + np.log(data.population[kept, -1] / PER_POPULATION)[None, :, None])
        )
        # Scenarios do not change these series: one copy, viewed under every scenario.
        values[name] = np.broadcast_to(counts[:, None], flows[0].shape)
    units = [data.units[a] for a in kept]
    return NationalSimulation(
        units=units,
        years=[data.years[-1] + h for h in range(1, horizon_years + 1)],
        scenarios=[BASELINE, *(s.name for s in scenarios)],
        values=values,
        names=[data.names[a] for a in kept],
        draw_index=pick,
        start_years={data.units[a]: data.years[start[a]] for a in kept},
        remainder=remainder[:, kept][:, :, timeline > last],
        notes=notes,
    )


def check_national_additions(
    scenarios: Sequence[Scenario], log_mean_started: np.ndarray, units: Sequence[str], source: str
) -> None:
    """Refuse ``add_children`` beyond ``addition_limit`` of the smallest unit's mean starters
    a month (every unit gets the addition); ``log_mean_started`` [N, A]: each unit's log mean
    starters in the first forecast year, per draw."""
    if not len(units):
        return
    monthly = np.exp(log_mean_started).mean(axis=0) / MONTHS_PER_YEAR  # [A]
    monthly = np.where(np.isfinite(monthly), monthly, 0.0)  # unknown: the floor applies
    smallest = int(np.argmin(monthly))
    check_additions(
        scenarios, lambda flow: float(monthly[smallest]), source,
        f" in its smallest unit, {units[smallest]}, every unit getting the addition",
    )  # fmt: skip


def stock_remainders(
    data: PublishedData, rng: np.random.Generator, n_draws: int, n_years: int
) -> np.ndarray:
    """[N, A, J] int: each unit's remainder in each of ``n_years`` simulated years, per draw:
    one of the unit's published remainders ``L[y] - L[y-1] - started[y] + ceased[y]`` (over
    the years with all four figures published) picked at random, or 0 when it has none."""
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


def _simulate_stocks(
    opening: np.ndarray,
    start: np.ndarray,
    timeline: np.ndarray,
    last: int,
    logit: np.ndarray,
    concentration: np.ndarray,
    log_mean_started: np.ndarray,
    remainder: np.ndarray,
    changes: NationalChanges,
    shares: np.ndarray | None,
    reasons: Sequence[str],
    rng: np.random.Generator,
    scenario_rngs: list[np.random.Generator],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(looked after, started, ceased), each int [N, C, A, H] over the forecast years.

    ``opening`` [A] children at the unit's ``start`` year index; ``timeline`` [J] year
    indices simulated (a unit is simulated in those after its start); ``logit`` [N, A, J]
    exit log-odds; ``concentration`` [N]; ``log_mean_started`` [N, A, J] log mean entries;
    ``remainder`` [N, A, J] children added to each year's stock beyond the flows;
    ``rng``: the baseline's stream; ``scenario_rngs``: each scenario's."""
    n, n_units, _ = logit.shape
    n_c = len(scenario_rngs) + 1
    horizon = int((timeline > last).sum())
    stock = np.broadcast_to(opening.astype(np.int64), (n, n_c, n_units)).copy()
    out = [np.zeros((n, n_c, n_units, horizon), dtype=np.int64) for _ in range(3)]
    k = concentration[:, None]
    for t, year in enumerate(timeline):
        active = start < year  # [A]: simulated from the year after its published stock
        mean = np.exp(log_mean_started[:, :, t])
        started = rng.poisson(mean)
        p = np.clip(1.0 / (1.0 + np.exp(-logit[:, :, t])), 1e-12, 1 - 1e-12)
        q = rng.beta(p * k, (1 - p) * k)  # the year's own exit probability
        at_risk = stock[:, 0] + started
        ceased = rng.binomial(at_risk, q)
        h = year - last - 1  # forecast year, negative within the fitted years
        for c in range(n_c):
            if c == 0 or h < 0:
                s_c, n_c_risk, k_c = started, at_risk, ceased
            else:
                s_c = _scenario_starters(
                    scenario_rngs[c - 1], started, mean,
                    changes.started_factor[c, h], changes.started_extra[c, h],
                )  # fmt: skip
                n_c_risk = stock[:, c] + s_c
                multiplier = changes.exit_multiplier(c, h, shares, reasons)
                k_c = _scenario_exits(
                    scenario_rngs[c - 1], at_risk, ceased, q, n_c_risk, multiplier
                )
            after = np.maximum(n_c_risk - k_c + remainder[:, :, t], 0)
            stock[:, c] = np.where(active, after, stock[:, c])
            if h >= 0:
                out[0][:, c, :, h] = stock[:, c]
                out[1][:, c, :, h] = s_c
                out[2][:, c, :, h] = k_c
    return out[0], out[1], out[2]


def _scenario_starters(
    rng: np.random.Generator, base: np.ndarray, mean: np.ndarray, factor: float, extra: float
) -> np.ndarray:
    """[N, A] a scenario's starters from the baseline's ``base`` (Poisson of ``mean``):
    thinned (``factor`` < 1: each baseline starter kept with probability ``factor``) or
    added to (a Poisson of ``mean x (factor - 1)``), so Poisson of ``mean x factor`` and as
    close to the baseline as can be; then ``extra`` children (fractions: expected values)."""
    started = base
    if factor < 1:
        started = rng.binomial(base, factor)
    elif factor > 1:
        started = base + rng.poisson(mean * (factor - 1.0))
    if extra != 0:
        whole = math.floor(abs(extra))
        added = whole + (rng.random(base.shape) < abs(extra) - whole)
        started = np.maximum(started + int(math.copysign(1, extra)) * added, 0)
    return started


def _scenario_exits(
    rng: np.random.Generator,
    at_risk: np.ndarray,
    ceased: np.ndarray,
    q: np.ndarray,
    scenario_at_risk: np.ndarray,
    multiplier: float | np.ndarray,
) -> np.ndarray:
    """[N, A] a scenario's children ceasing, from the baseline's (``ceased`` of ``at_risk``
    with the year's probability ``q``): first for the scenario's children at risk (extra
    ones cease with probability ``q``; fewer are a random subset of the baseline's), then
    for its probability ``q'``, the odds of ``q`` times ``multiplier`` (a lower one keeps each
    leaver with probability ``q'/q``, a higher one turns each stayer into a leaver with
    probability ``(q' - q)/(1 - q)``). Each step is exact: Binomial(scenario_at_risk, q')."""
    result = ceased
    more = scenario_at_risk > at_risk
    if more.any():
        result = ceased + rng.binomial(np.where(more, scenario_at_risk - at_risk, 0), q)
    fewer = scenario_at_risk < at_risk
    if fewer.any():
        result = result.copy()
        result[fewer] = rng.hypergeometric(
            ceased[fewer], (at_risk - ceased)[fewer], scenario_at_risk[fewer]
        )
    m = np.broadcast_to(np.asarray(multiplier, dtype=float), q.shape)
    if (m == 1).all():
        return result
    scale = 1.0 - q + m * q  # q' = m q / scale
    down, up = m < 1, m > 1
    if down.any():
        kept = rng.binomial(result, np.where(down, m / scale, 1.0))  # q'/q
        result = np.where(down, kept, result)
    if up.any():
        turned = rng.binomial(
            np.where(up, scenario_at_risk - result, 0), np.where(up, q * (m - 1) / scale, 0.0)
        )  # (q' - q)/(1 - q)
        result = result + turned
    return result


# --- outputs -----------------------------------------------------------------------------------


@dataclass
class NationalForecastResult:
    """What :func:`forecast_national` produced (tables as written)."""

    forecast: pd.DataFrame
    differences: pd.DataFrame
    probabilities: pd.DataFrame
    simulation: NationalSimulation
    fit_passed: bool
    seconds: dict[str, float]
    history: pd.DataFrame


def forecast_national(
    posterior: Path,
    obs_dir: Path,
    out_dir: Path,
    seed: int,
    horizon_months: int,
    scenarios_file: Path | None,
    forecast: ForecastConfig,
    priors: PublishedPriorsConfig | None = None,
    write_figures: bool = True,
) -> NationalForecastResult:
    """Forecast every unit of a saved national posterior (``posterior.nc``) year by year,
    ``horizon_months`` rounded up to whole years, from the ``ingest published`` folder
    ``obs_dir`` the fit used, under the baseline and every scenario of ``scenarios_file``;
    write the outputs to ``out_dir`` (see the module)."""
    from model.fit.published_data import published_data, read_published
    from model.fit.run_published import load_published_posterior

    clock = time.perf_counter()
    trace = load_published_posterior(Path(posterior), priors)
    data = published_data(*read_published(Path(obs_dir)))
    fit_passed = bool(int(trace.attrs.get("diagnostics_passed", 0)))
    scenarios = (
        load_scenarios(Path(scenarios_file), StructureConfig(), cin_funnel=True)
        if scenarios_file
        else []
    )
    horizon_years = max(1, math.ceil(horizon_months / MONTHS_PER_YEAR))
    prepared = time.perf_counter()
    sim = simulate_national(
        trace, data, horizon_years, forecast.draws, derive_seed(seed, NATIONAL, "forecast"),
        scenarios, str(scenarios_file),
    )  # fmt: skip
    simulated = time.perf_counter()
    table, diff, probabilities = summary_tables(sim, forecast.thresholds)
    for frame in (table, diff, probabilities):
        frame["fit_passed"] = fit_passed
    history = national_history(data, sim.units)
    summarised = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_tables(out, table, diff, probabilities)
    write_draws(out / "draws.nc", sim, trace)
    if write_figures:
        _fan_charts(out / "figures", table, history, not fit_passed)
    seconds = {
        "prepare": prepared - clock,
        "simulate": simulated - prepared,
        "summarise": summarised - simulated,
        "write": time.perf_counter() - summarised,
    }
    info = {
        "model": "published",
        "posterior": str(posterior),
        "observations": str(obs_dir),
        "fit_passed": fit_passed,
        "draws": len(sim.draw_index),
        "horizon_months": horizon_months,
        "horizon_years": horizon_years,
        "first_period_end": sim.period_ends[0],
        "last_period_end": sim.period_ends[-1],
        "units": len(sim.units),
        "left_out": [a for a in data.units if a not in set(sim.units)],
        "start_years": {u: y for u, y in sim.start_years.items() if y != data.years[-1]},
        "population": "held at each unit's last published figure (children aged 0-17, "
        f"{data.years[-1]} or the nearest year published)",
        "scenarios": {s.name: s.description for s in scenarios},
        "notes": sim.notes,
        "seed": seed,
        "seconds": seconds,
    }
    (out / "forecast_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return NationalForecastResult(table, diff, probabilities, sim, fit_passed, seconds, history)


def _with_national(values: np.ndarray) -> np.ndarray:
    """[N, C, A, Y] -> [N, C, Y, A + 1]: units last (as ``quantile_table``'s states), then
    their sum, draw by draw."""
    per_unit = np.moveaxis(values, 2, 3)
    return np.concatenate([per_unit, per_unit.sum(axis=3, keepdims=True)], axis=3)


def _by_unit(table: pd.DataFrame, state: str) -> pd.DataFrame:
    """A table made with the units as states -> the units as authorities, ``state`` as state."""
    table["authority"] = table["state"].to_numpy()
    table["state"] = state
    return table


def summary_tables(
    sim: NationalSimulation, thresholds: Sequence[int]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(forecast quantiles, scenario differences, probabilities) of every unit and of the
    national totals, as an authority's forecast tables (``model.forecast.tables``)."""
    columns = [*sim.units, NATIONAL]
    periods, names = sim.period_ends, sim.scenarios
    tables, diffs = [], []
    probabilities = pd.DataFrame(columns=PROBABILITY_COLUMNS)
    for key, (measure, state) in MEASURES.items():
        if key not in sim.values:
            continue
        values = _with_national(sim.values[key])  # [N, C, Y, A + 1]
        tables.append(_by_unit(quantile_table(values, "", names, periods, measure, columns), state))
        if key in CARE_FLOWS and len(names) > 1:
            diff = quantile_table(differences(values), "", names[1:], periods, measure, columns)
            diffs.append(_by_unit(diff, state))
        if key == "looked_after":
            found = probability_table(values, "", names, periods, measure, columns, thresholds)
            probabilities = _by_unit(found, state)
    table = _ordered(pd.concat(tables, ignore_index=True), columns)
    diff = pd.concat(diffs, ignore_index=True) if diffs else pd.DataFrame(columns=COLUMNS)
    return table, _ordered(diff, columns), _ordered(probabilities, columns)


def _ordered(table: pd.DataFrame, authorities: list[str]) -> pd.DataFrame:
    """Rows by authority (units in the fit's order, the national totals last), measure (as
    :data:`MEASURES`), scenario (baseline first), then period (stable)."""
    if table.empty:
        return table.reset_index(drop=True)
    measures = [m for m, _ in MEASURES.values()]
    scenarios = list(dict.fromkeys(table.scenario))
    keys = pd.DataFrame(
        {
            "a": pd.Categorical(table.authority, authorities, ordered=True).codes,
            "m": pd.Categorical(table.measure, measures, ordered=True).codes,
            "s": pd.Categorical(table.scenario, scenarios, ordered=True).codes,
        }
    )
    order = keys.sort_values(["a", "m", "s"], kind="stable").index
    return table.iloc[order].reset_index(drop=True)


def national_history(data: PublishedData, units: Sequence[str]) -> pd.DataFrame:
    """The published national totals over ``units``, as ``authority`` (``national``),
    ``period_end``, ``measure``, ``state``, ``value``: each year where at least
    :data:`HISTORY_COVERAGE` of the units published the figure (the sum of those)."""
    rows = [data.units.index(u) for u in units]
    figures = {
        "looked_after": (data.looked_after, data.looked_after_observed),
        "ceased": (data.ceased, data.ceased_observed),
        **{name: (s.values, s.observed) for name, s in data.series.items()},
    }
    frames = []
    for key, (measure, state) in MEASURES.items():
        if key not in figures:
            continue
        values, observed = (array[rows] for array in figures[key])
        shown = observed.mean(axis=0) >= HISTORY_COVERAGE
        years = [f"{year}-03-31" for year, s in zip(data.years, shown, strict=True) if s]
        frames.append(
            pd.DataFrame(
                {
                    "authority": NATIONAL,
                    "period_end": years,
                    "measure": measure,
                    "state": state,
                    "value": (values * observed).sum(axis=0)[shown],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def write_draws(path: Path, sim: NationalSimulation, trace: xr.DataTree) -> None:
    """Every simulated draw as netCDF (compressed): ``looked_after``, ``started`` and
    ``ceased`` over (draw, scenario, unit, period_end), the other series over (draw, unit,
    period_end) (scenarios do not change them), with the fit's provenance."""
    variables = {}
    for key, values in sim.values.items():
        measure, state = MEASURES[key]
        if key in CARE_FLOWS:
            dims, array = ("draw", "scenario", "unit", "period_end"), values
        else:
            dims, array = ("draw", "unit", "period_end"), values[:, 0]
        variables[key] = xr.Variable(
            dims, array.astype("int32"), attrs={"measure": measure, "state": state}
        )
    dataset = xr.Dataset(
        variables,
        coords={
            "draw": sim.draw_index,
            "scenario": sim.scenarios,
            "unit": sim.units,
            "unit_name": ("unit", sim.names),
            "period_end": sim.period_ends,
        },
        attrs={
            key: trace.attrs[key]
            for key in ("carecast_version", "model_hash", "data_fingerprint", "model",
                        "diagnostics_passed")
            if key in trace.attrs
        },
    )  # fmt: skip
    # Level 1 with byte shuffling: two thirds smaller, in a fraction of level 4's time.
    encoding = {name: {"zlib": True, "complevel": 1, "shuffle": True} for name in variables}
    dataset.to_netcdf(path, engine="h5netcdf", encoding=encoding)


def _fan_charts(out: Path, table: pd.DataFrame, history: pd.DataFrame, flagged: bool) -> None:
    """A fan chart of the national total of every measure (``out/national_<measure>_<state>``
    PNG and SVG), the published totals before it."""
    from model.report.fan_charts import fan_chart, safe_stem

    national = table[table.authority == NATIONAL]
    for measure, state in dict.fromkeys(zip(national.measure, national.state, strict=True)):
        stem = out / safe_stem(NATIONAL, measure, state)
        fan_chart(national, history, NATIONAL, measure, state, stem, flagged)
