"""Scenarios (``model.forecast.scenarios``) -> the national yearly model's changes, over
scenarios ``C`` (0: the baseline) and forecast years ``H`` (ending 31 March).

The published model has no placement groups, CIN funnel or feedback terms, so only these
changes can be represented; every other one is refused with a
:class:`~model.forecast.scenarios.ScenarioError` naming the scenario and the change:

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
(in the first forecast year), or 10 a month if larger, since every unit gets it
(:func:`check_national_additions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from model.forecast.scenarios import (
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
)

MONTHS_PER_YEAR = 12
"""Months in a forecast year (``add_children`` gives children a month)."""
SUPPORTED = (
    'it supports multiply_rate on "outside -> care" (entries to care) and on "care -> exit" '
    'or "care -> exit:<reason>" (children ceasing), add_children on "outside -> care", and '
    "ignores cost changes"
)
"""What a refusal says the national model can do instead."""


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

    @property
    def by_reason(self) -> bool:
        """Whether a change concerns some exit reasons (its multiplier needs each unit's
        shares of the reasons)."""
        return any(concerned for per in self.exits for _, concerned in per)

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
