"""The year-by-year simulation of every unit of a national fit at once (years ending
31 March), under the baseline and the scenarios: :func:`simulate_national`.

**What is simulated.** For each kept posterior draw ``N``, from each unit's last published
stock of children looked after (``model.fit.published``'s model, continued; the rates from
``model.forecast.national.inputs``), in children per unit and year:

- children at risk ``n[y] = L[y-1] + started[y]``, ``started[y] ~ Poisson`` of the mean
  entries to care; ``ceased[y] ~ BetaBinomial(n, p, k)`` (drawn as ``q ~ Beta(p k,
  (1 - p) k)``, the year's own exit probability, then ``Binomial(n, q)``:
  ``model.fit.published_rates.beta_probability``); ``L[y] = max(n - ceased + remainder,
  0)``, ``remainder`` one of the unit's published remainders
  (``model.forecast.national.inputs.stock_remainders``). Children are conserved up to this
  remainder, which every scenario shares draw by draw;
- ``logit p = exit_authority + exit_drift``, the national drift continuing as a random walk
  from its last fitted year (steps ``~ Normal(0, exit_drift_sd)``, shared by the units; with
  a momentum, each step that times the last plus the shock:
  ``model.fit.published_rates.continue_walk``);
- every yearly count series the fit has (``model.fit.published_data.SERIES``: entries to
  care, referrals, plans started, children in need and on a plan at 31 March) is
  ``Poisson(population / 10,000 x exp(log rate))``, the log rate being the unit's trend
  (``model.fit.published_rates.trend_draws``: mean + level + walk) continued by random-walk
  steps of ``<series>_walk_sd`` from the series' last fitted year, plus the national walk
  every unit shares, continued likewise (with its momentum and shocks of
  ``<series>_national_sd``), and the year's own noise (``<series>_noise_sd``):
  ``model.fit.published_rates.count_log_rates``. Entries to care feed the stocks; the other
  series are forecast on their own (yearly counts, not stocks with flows).

Scenarios change entries to care and exits only (``model.forecast.national.changes``).

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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from model.fit.published_data import PublishedData
from model.fit.published_rates import beta_probability, exit_probability
from model.forecast.national.changes import (
    NationalChanges,
    check_national_additions,
    national_changes,
)
from model.forecast.national.inputs import (
    NationalInputs,
    fitted_posterior,
    national_inputs,
    series_log_means,
    stream,
)
from model.forecast.scenarios import BASELINE, Scenario

CARE_FLOWS = ("looked_after", "started", "ceased")
"""The simulated quantities scenarios change (the other series do not depend on them)."""


@dataclass
class NationalSimulation:
    """Simulated yearly figures of every unit: ``values[measure]`` int [N, C, A, Y] over
    draws ``N``, scenarios ``C`` (``baseline`` first), units ``A`` and forecast years ``Y``
    (ending 31 March); children (``model.forecast.national.run.MEASURES`` says which count
    each is). The series that scenarios do not change (all but :data:`CARE_FLOWS`) are
    read-only views of one copy, the same under every scenario."""

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
    ceased (``model.forecast.national.inputs.stock_remainders``; the same under every
    scenario)."""
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
    posterior, notes = fitted_posterior(trace, data)
    year_ends = [f"{data.years[-1] + h}-03-31" for h in range(1, horizon_years + 1)]
    has_reasons = "reason_authority" in posterior
    changes = national_changes(scenarios, year_ends, data.reasons if has_reasons else None, source)
    notes += changes.ignored
    inputs = national_inputs(posterior, data, horizon_years, n_draws, seed, changes.by_reason)
    notes += inputs.notes
    units = [data.units[a] for a in inputs.kept]
    first_forecast = np.flatnonzero(inputs.forecast)[0]
    check_national_additions(
        scenarios, inputs.log_mean_started[:, :, first_forecast], units, source
    )
    flows = simulate_stocks(
        inputs,
        changes,
        data.reasons,
        stream(seed, BASELINE),
        [stream(seed, "scenario", s.name) for s in scenarios],
    )
    values = dict(zip(CARE_FLOWS, flows, strict=True))
    for name in data.series:
        if name == "started" or f"{name}_log_rate" not in posterior:
            continue
        rng = stream(seed, "series", name)
        counts = rng.poisson(np.exp(series_log_means(posterior, data, name, inputs, rng)))
        # Scenarios do not change these series: one copy, viewed under every scenario.
        values[name] = np.broadcast_to(counts[:, None], flows[0].shape)
    return NationalSimulation(
        units=units,
        years=[data.years[-1] + h for h in range(1, horizon_years + 1)],
        scenarios=[BASELINE, *(s.name for s in scenarios)],
        values=values,
        names=[data.names[a] for a in inputs.kept],
        draw_index=inputs.pick,
        start_years={u: data.years[s] for u, s in zip(units, inputs.start, strict=True)},
        remainder=inputs.remainder[:, :, inputs.forecast],
        notes=notes,
    )


def simulate_stocks(
    inputs: NationalInputs,
    changes: NationalChanges,
    reasons: Sequence[str],
    rng: np.random.Generator,
    scenario_rngs: list[np.random.Generator],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(looked after, started, ceased): children, each int [N, C, A, H] over the forecast
    years, from the ``inputs`` (each unit simulated in the timeline's years after its
    starting stock) under the baseline and the scenarios of ``changes`` (``reasons``: the
    fit's exit reasons, which ``changes`` may name); ``rng``: the baseline's stream;
    ``scenario_rngs``: each scenario's."""
    n, n_units, _ = inputs.logit.shape
    n_c = len(scenario_rngs) + 1
    horizon = int(inputs.forecast.sum())
    stock = np.broadcast_to(inputs.opening.astype(np.int64), (n, n_c, n_units)).copy()
    out = [np.zeros((n, n_c, n_units, horizon), dtype=np.int64) for _ in range(3)]
    k = inputs.concentration[:, None]
    for t, year in enumerate(inputs.timeline):
        active = inputs.start < year  # [A]: simulated from the year after its published stock
        mean = np.exp(inputs.log_mean_started[:, :, t])
        started = rng.poisson(mean)
        # The year's own exit probability, then its children ceasing.
        q = beta_probability(rng, exit_probability(inputs.logit[:, :, t]), k)
        at_risk = stock[:, 0] + started
        ceased = rng.binomial(at_risk, q)
        h = year - inputs.last - 1  # forecast year, negative within the fitted years
        for c in range(n_c):
            if c == 0 or h < 0:
                s_c, n_c_risk, k_c = started, at_risk, ceased
            else:
                s_c = _scenario_starters(
                    scenario_rngs[c - 1], started, mean,
                    changes.started_factor[c, h], changes.started_extra[c, h],
                )  # fmt: skip
                n_c_risk = stock[:, c] + s_c
                multiplier = changes.exit_multiplier(c, h, inputs.shares, reasons)
                k_c = _scenario_exits(
                    scenario_rngs[c - 1], at_risk, ceased, q, n_c_risk, multiplier
                )
            after = np.maximum(n_c_risk - k_c + inputs.remainder[:, :, t], 0)
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
