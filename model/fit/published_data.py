"""An ``ingest published`` folder -> the arrays of the pooled yearly model, over (unit, year).

A *unit* is one series the model fits: an authority, or a combined reporting unit standing
for its members (``model.ingestpub.changes``). The rule, applied to each combined unit:

- when every member that has figures covers all the fit's years, the members are fitted and
  the combined unit is left out (Cumbria, which splits only in 2024; Northamptonshire while
  the files end in 2021: its successors then have no figures and are left out too);
- otherwise the series breaks inside the fit's years, and the combined unit is fitted over
  the whole period in place of its members (Bournemouth, Poole and Dorset county up to
  2019, BCP and the new Dorset from 2020). The children in care of the old authorities at
  31 March 2019 are the ones at risk of leaving the new ones in 2020; only the combined unit
  has both, so only it gives an unbroken stock-flow series, and its random walks have the
  whole period to learn from (the successors alone would have two years).

What each unit's figures become (``period`` 31 March of year ``y``; figures from
``observations_published.csv``, totals over age bands and placement groups):

- ``looked_after[a, y]``: children looked after at 31 March (stock ``L``);
- ``at_risk[a, y] = L[a, y-1] + started[a, y]``: children who could cease in year ``y``
  (conditioning on the observed stock at the start of the year); ``ceased[a, y]`` is used
  only where ``at_risk`` is known (both figures published), positive and at least the number
  ceased (``exit_observed``);
- ``reason_counts[a, y, r]``: children ceasing by exit reason group, where DfE gives it
  (``reason_observed``; reasons are often suppressed one by one);
- ``series[name]``: yearly counts modelled as negative binomial per population
  (:data:`SERIES`), each with its own mask and span of years;
- ``population[a, y]``: children aged 0-17 (ONS mid-year). The tables give it from 2013
  only; a year without it takes the nearest year's figure (``population_filled``): the
  population moves by about 1% a year, far less than the rates' own year-to-year noise.

A figure DfE suppressed or did not publish has ``observed`` False and value 0: it is left
out of the likelihood, never read as 0. DfE's ``k`` (rounds to 0) is a published 0.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.codes import EXIT_REASONS
from model.fit.data import FitDataError

PUBLISHED_FILE = "observations_published.csv"
AUTHORITIES_FILE = "authorities.csv"
LOOKED_AFTER = ("dfe_looked_after", "looked_after")
STARTED = ("dfe_started", "looked_after")
CEASED = ("dfe_ceased", "looked_after")
POPULATION = ("population", "")
SERIES: dict[str, tuple[str, str]] = {
    "started": STARTED,
    "referrals": ("dfe_referrals", ""),
    "plans_started": ("dfe_plans_started", "cpp"),
    "in_need": ("dfe_in_need", "cin"),
    "on_plan": ("dfe_on_plan", "cpp"),
}
"""Yearly counts modelled per population: name -> (measure, state) in the observations."""
FIT_MEASURES = (LOOKED_AFTER, CEASED, *SERIES.values())
"""Figures that decide the fit's years and which units have data (population does not)."""
PER_POPULATION = 10_000.0
"""Rates are per this many children aged 0-17."""


@dataclass
class Series:
    """One yearly count per unit: values, mask and the years the model spans for it."""

    values: np.ndarray
    """[A, Y] int: the published count (0 where not observed)."""
    observed: np.ndarray
    """[A, Y] bool."""
    first: int
    """Index of the first year any unit has the figure (its walk starts there)."""
    last: int
    """Index of the last year any unit has the figure."""

    @property
    def span(self) -> slice:
        return slice(self.first, self.last + 1)


@dataclass
class PublishedData:
    """The arrays of the pooled yearly model (``A`` units, ``Y`` years, ``R`` reasons)."""

    units: tuple[str, ...]
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    """``authority`` or ``combined``, per unit."""
    members: dict[str, list[str]]
    """Combined unit fitted -> the authorities it stands for (left out as units)."""
    left_out: dict[str, str]
    """Code in ``authorities.csv`` not fitted as a unit -> why."""
    years: tuple[int, ...]
    population: np.ndarray
    """[A, Y] float: children aged 0-17 (nearest year's where not published)."""
    population_filled: np.ndarray
    """[A, Y] bool: population taken from another year."""
    looked_after: np.ndarray
    """[A, Y] int: children looked after at 31 March (0 where not observed)."""
    looked_after_observed: np.ndarray
    ceased: np.ndarray
    """[A, Y] int: children who ceased to be looked after during the year."""
    ceased_observed: np.ndarray
    at_risk: np.ndarray
    """[A, Y] int: ``L[y-1] + started[y]`` where both are observed (else 0)."""
    exit_observed: np.ndarray
    """[A, Y] bool: the ceased figure enters the exit likelihood."""
    reasons: tuple[str, ...]
    reason_counts: np.ndarray
    """[A, Y, R] int: ceased by exit reason group (0 where not observed)."""
    reason_observed: np.ndarray
    """[A, Y, R] bool: reason published, and the year's total too."""
    series: dict[str, Series]
    fingerprint: str = ""
    notes: list[str] = field(default_factory=list)
    """What the data needed (cells left out as inconsistent, populations filled)."""

    @property
    def exit_first(self) -> int:
        """Index of the first year with an exit likelihood (the exit drift starts there)."""
        years = np.flatnonzero(self.exit_observed.any(axis=0))
        return int(years[0]) if len(years) else 1

    @property
    def reason_cells(self) -> np.ndarray:
        """[A, Y] bool: years with children ceasing and some reason published."""
        return self.reason_observed.any(axis=-1) & (self.ceased > 0)

    @property
    def reason_first(self) -> int:
        """Index of the first year with reasons (the reason drift starts there)."""
        years = np.flatnonzero(self.reason_cells.any(axis=0))
        return int(years[0]) if len(years) else len(self.years) - 1

    def layout(self) -> dict[str, object]:
        """Labels the forecast needs to read the parameters back (JSON-ready)."""
        return {
            "units": list(self.units),
            "names": list(self.names),
            "kinds": list(self.kinds),
            "members": self.members,
            "years": list(self.years),
            "reasons": list(self.reasons),
            "exit_years": [self.years[self.exit_first], self.years[-1]],
            "reason_years": [self.years[self.reason_first], self.years[-1]],
            "series": {
                name: [self.years[s.first], self.years[s.last]] for name, s in self.series.items()
            },
            "per_population": PER_POPULATION,
        }


def is_published(folder: Path) -> bool:
    """Whether ``folder`` holds an ``ingest published`` output."""
    return (Path(folder) / PUBLISHED_FILE).is_file()


def read_published(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """(observations, authorities, data fingerprint) from an ``ingest published`` folder."""
    folder = Path(folder)
    paths = [folder / PUBLISHED_FILE, folder / AUTHORITIES_FILE]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FitDataError(
            f"{folder}: no {' or '.join(missing)}; run `carecast ingest published TABLES "
            f"--out {folder}` first"
        )
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    obs = pd.read_csv(paths[0], dtype={"value": "int64"}, keep_default_na=False)
    authorities = pd.read_csv(paths[1], keep_default_na=False, dtype=str)
    return obs, authorities, digest.hexdigest()


def published_data(
    obs: pd.DataFrame, authorities: pd.DataFrame, fingerprint: str = ""
) -> PublishedData:
    """The model's arrays from the ingest's two tables (see the module notes)."""
    totals = obs[(obs.age_band == "") & (obs.to_state == "")].copy()
    totals["year"] = totals.period.str[:4].astype(int)
    key = list(zip(totals.measure, totals.state, strict=True))
    totals["figure"] = pd.Series(key, index=totals.index)
    fit_rows = totals[totals.figure.isin(FIT_MEASURES)]
    if fit_rows.empty:
        raise FitDataError(
            "no figures of children looked after, starting, ceasing or in need in "
            f"{PUBLISHED_FILE}: nothing to fit"
        )
    if not fit_rows.value.any():
        # Every figure 0: the posterior would be the prior, and its diagnostics would pass.
        raise FitDataError(
            f"nothing to learn from: every figure of children looked after, starting, ceasing "
            f"or in need in {PUBLISHED_FILE} is 0 ({len(fit_rows)} figures); expected DfE's "
            "published counts"
        )
    years = tuple(range(int(fit_rows.year.min()), int(fit_rows.year.max()) + 1))
    units, members, left_out = _units(authorities, fit_rows, years)
    notes: list[str] = []
    population, filled = _population(totals, units, years, left_out, notes)
    kept = [u for u in units if u not in left_out]
    if not kept:
        raise FitDataError("no unit has both figures and a population: nothing to fit")
    info = authorities.set_index("authority")
    u_index = {u: i for i, u in enumerate(kept)}
    y_index = {y: i for i, y in enumerate(years)}
    rows = totals[totals.authority.isin(u_index) & totals.year.isin(y_index)]
    rows = rows.assign(a=rows.authority.map(u_index), y=rows.year.map(y_index))

    def grid(figure: tuple[str, str], reason: str = "") -> tuple[np.ndarray, np.ndarray]:
        part = rows[(rows.figure == figure) & (rows.reason == reason)]
        values = np.zeros((len(kept), len(years)), dtype="int64")
        seen = np.zeros(values.shape, dtype=bool)
        values[part.a, part.y] = part.value
        seen[part.a, part.y] = True
        return values, seen

    looked_after, la_seen = grid(LOOKED_AFTER)
    started, st_seen = grid(STARTED)
    ceased, ce_seen = grid(CEASED)
    at_risk = np.zeros_like(looked_after)
    risk_known = np.zeros_like(la_seen)
    at_risk[:, 1:] = looked_after[:, :-1] + started[:, 1:]
    risk_known[:, 1:] = la_seen[:, :-1] & st_seen[:, 1:]
    at_risk[~risk_known] = 0
    over = risk_known & ce_seen & (ceased > at_risk)
    if over.any():
        notes.append(
            f"{int(over.sum())} ceased figures above the children at risk (stock at the start "
            "plus starters) left out of the exit likelihood"
        )
    exit_observed = risk_known & ce_seen & (at_risk > 0) & ~over
    reason_counts = np.zeros((len(kept), len(years), len(EXIT_REASONS)), dtype="int64")
    reason_seen = np.zeros(reason_counts.shape, dtype=bool)
    for r, reason in enumerate(EXIT_REASONS):
        reason_counts[..., r], reason_seen[..., r] = grid(CEASED, reason)
    reason_seen &= ce_seen[..., None]
    excess = reason_seen.any(axis=-1) & ((reason_counts * reason_seen).sum(axis=-1) > ceased)
    if excess.any():
        notes.append(
            f"{int(excess.sum())} years whose reasons add up to more than the total ceased: "
            "their reasons are left out"
        )
        reason_seen[excess] = False
    reason_counts[~reason_seen] = 0
    series = {}
    for name, figure in SERIES.items():
        values, seen = grid(figure)
        present = np.flatnonzero(seen.any(axis=0))
        if len(present) == 0:
            continue
        series[name] = Series(values, seen, int(present[0]), int(present[-1]))
    if filled.any():
        notes.append(
            f"population taken from the nearest year for {int(filled.sum())} unit-years "
            f"(years {', '.join(str(years[y]) for y in np.flatnonzero(filled.any(axis=0)))})"
        )
    keep_rows = [units.index(u) for u in kept]
    return PublishedData(
        units=tuple(kept),
        names=tuple(str(info.la_name.get(u, u)) for u in kept),
        kinds=tuple(str(info.kind.get(u, "authority")) for u in kept),
        members={u: m for u, m in members.items() if u in u_index},
        left_out=left_out,
        years=years,
        population=population[keep_rows],
        population_filled=filled[keep_rows],
        looked_after=looked_after,
        looked_after_observed=la_seen,
        ceased=ceased,
        ceased_observed=ce_seen,
        at_risk=at_risk,
        exit_observed=exit_observed,
        reasons=EXIT_REASONS,
        reason_counts=reason_counts,
        reason_observed=reason_seen,
        series=series,
        fingerprint=fingerprint,
        notes=notes,
    )


def _units(
    authorities: pd.DataFrame, fit_rows: pd.DataFrame, years: tuple[int, ...]
) -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    """(units to fit in ``authorities.csv`` order, combined unit -> members, left out)."""
    spans = fit_rows.groupby("authority").year.agg(["min", "max"])
    has_figures = set(spans.index)
    kind = dict(zip(authorities.authority, authorities.kind, strict=True))
    part_of = dict(zip(authorities.authority, authorities.part_of, strict=True))
    left_out: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for unit in [a for a in authorities.authority if kind[a] == "combined"]:
        group = [a for a in authorities.authority if part_of[a] == unit]
        with_figures = [a for a in group if a in has_figures]
        whole = all(
            spans.loc[a, "min"] <= years[0] and spans.loc[a, "max"] >= years[-1]
            for a in with_figures
        )
        if with_figures and whole:
            left_out[unit] = "its members cover every year and are fitted instead"
        else:
            members[unit] = group
            for a in group:
                left_out[a] = f"part of {unit}, fitted as one unit over the whole period"
    for a in authorities.authority:
        if a not in left_out and a not in has_figures:
            left_out[a] = "no figures of the fitted measures"
    units = [a for a in authorities.authority if a not in left_out]
    return units, members, left_out


def _population(
    totals: pd.DataFrame,
    units: list[str],
    years: tuple[int, ...],
    left_out: dict[str, str],
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray]:
    """[A, Y] population (nearest published year where missing) and where it was filled;
    a unit with no population at all is added to ``left_out``."""
    rows = totals[(totals.figure == POPULATION) & totals.authority.isin(units)]
    table = rows.pivot_table(index="authority", columns="year", values="value", aggfunc="sum")
    population = np.zeros((len(units), len(years)))
    filled = np.zeros(population.shape, dtype=bool)
    for a, unit in enumerate(units):
        if unit not in table.index:
            left_out[unit] = "no population figure in any year"
            notes.append(f"{unit} left out: no population figure")
            continue
        known = table.loc[unit].dropna()
        known = known[known > 0]
        if known.empty:
            left_out[unit] = "no population figure in any year"
            continue
        published = np.array(known.index, dtype=int)
        for y, year in enumerate(years):
            nearest = published[np.argmin(np.abs(published - year) * 2 + (published > year))]
            population[a, y] = float(known[nearest])
            filled[a, y] = nearest != year
    return population, filled
