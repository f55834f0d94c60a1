"""Scenario figures: each scenario's difference from the baseline.

The differences are computed draw by draw upstream (scenario minus baseline on the same
draws), so their bands show the uncertainty of the *effect*, which is much narrower than
the gap between two fans would suggest.

- ``scenario_comparison``: one measure and state over time, one panel per scenario on a
  shared axis (median line, 90% and 50% bands, a zero line), like the fan charts.
- ``scenario_summary_chart``: one measure at one date, every state, every scenario as a
  horizontal interval (thin 90%, thick 50%, dot at the median) against a zero line, so a
  reader sees at a glance which placement groups a scenario moves and by how much.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from model.report.fan_charts import (
    BASELINE,
    axis_label,
    date_axis,
    panel_grid,
    period_unit,
    pyplot,
    safe_stem,
    save_figure,
    scenario_colour,
    scenario_order,
    set_title,
    state_label,
    value_formatter,
    watermark,
)


def _scenarios(differences: pd.DataFrame) -> pd.DataFrame:
    """The rows of real scenarios (a baseline-minus-baseline row is zero by definition)."""
    return differences[differences.scenario != BASELINE]


def _max_abs(rows: pd.DataFrame) -> float:
    """The largest absolute band edge, to choose the tick format (£k or £m)."""
    edges = np.abs(rows[["q05", "q95"]].to_numpy(float))
    return float(np.nanmax(edges)) if edges.size else 0.0


def scenario_comparison(
    differences: pd.DataFrame,
    authority: str,
    measure: str,
    state: str,
    path_stem: str | Path,
    flagged: bool,
) -> None:
    """Each scenario minus the baseline over time for one authority, measure and state (PNG
    and SVG at ``path_stem``): median line, 90% and 50% bands, a zero line."""
    rows = _scenarios(differences)
    rows = rows[(rows.authority == authority) & (rows.measure == measure) & (rows.state == state)]
    if rows.empty:
        raise ValueError(f"no scenario differences for {authority} {measure} {state}")
    rows = rows.assign(_date=pd.to_datetime(rows.period_end)).sort_values("_date")
    scenarios = scenario_order(rows.scenario)
    unit = period_unit(rows.period_end)
    formatter = value_formatter(measure, _max_abs(rows), signed=True)

    fig, axes = panel_grid(len(scenarios))
    for ax, scenario in zip(axes, scenarios, strict=True):
        part = rows[rows.scenario == scenario]
        colour = scenario_colour([BASELINE, *scenarios], scenario)
        ax.axhline(0, color="black", lw=0.9)
        ax.fill_between(part._date, part.q05, part.q95, color=colour, alpha=0.2, lw=0, label="90%")
        ax.fill_between(part._date, part.q25, part.q75, color=colour, alpha=0.45, lw=0, label="50%")
        ax.plot(part._date, part.q50, color=colour, lw=1.8, label="median")
        ax.set_title(f"{scenario} minus baseline")
        ax.yaxis.set_major_formatter(formatter)
        ax.grid(axis="y", lw=0.4, alpha=0.5)
        date_axis(ax)
        if flagged:
            watermark(ax)
    axes[0].set_ylabel(axis_label(measure, unit, difference=True))
    axes[0].legend(loc="best", fontsize="small", frameon=False)
    text = (
        f"{authority} — {state_label(state)}: {axis_label(measure, unit).lower()}, "
        "scenarios against the baseline"
    )
    save_figure(fig, path_stem, set_title(fig, text, flagged))


def scenario_summary_chart(
    differences: pd.DataFrame,
    period_end: str,
    authority: str,
    measure: str,
    path_stem: str | Path,
    flagged: bool,
) -> None:
    """At ``period_end``, each scenario's difference from the baseline in every state of one
    measure, as horizontal intervals (PNG and SVG at ``path_stem``)."""
    rows = _scenarios(differences)
    date = pd.Timestamp(period_end)
    rows = rows[
        (rows.authority == authority)
        & (rows.measure == measure)
        & (pd.to_datetime(rows.period_end) == date)
    ]
    if rows.empty:
        raise ValueError(f"no scenario differences for {authority} {measure} at {period_end}")
    scenarios = scenario_order(rows.scenario)
    # Totals first: they frame the groups below them.
    states = sorted(dict.fromkeys(rows.state), key=lambda s: s != "total")
    unit = period_unit(differences.loc[differences.authority == authority, "period_end"])
    plt = pyplot()
    height = max(3.5, 1.2 + 0.35 * len(states) * len(scenarios) + 0.9)
    fig, ax = plt.subplots(figsize=(8, height))
    _draw_intervals(ax, rows, states, scenarios)
    ax.axvline(0, color="black", lw=0.9)
    ax.set_yticks(np.arange(len(states)), [state_label(state) for state in states])
    ax.invert_yaxis()  # the first state at the top
    ax.xaxis.set_major_formatter(value_formatter(measure, _max_abs(rows), signed=True))
    ax.set_xlabel(
        f"{axis_label(measure, unit, difference=True)}\n"
        "dot: median; thick line: 50% interval; thin line: 90% interval"
    )
    ax.grid(axis="x", lw=0.4, alpha=0.5)
    ax.legend(loc="best", fontsize="small", frameon=False)
    if flagged:
        watermark(ax)
    text = (
        f"{authority} — {axis_label(measure, unit).lower()} at {date:%Y-%m-%d}: "
        "scenarios against the baseline"
    )
    save_figure(fig, path_stem, set_title(fig, text, flagged))


def _draw_intervals(ax, rows: pd.DataFrame, states: list[str], scenarios: list[str]) -> None:
    """One horizontal interval per state and scenario, the scenarios side by side within a
    state's row."""
    height = 0.8 / len(scenarios)
    for k, scenario in enumerate(scenarios):
        colour = scenario_colour([BASELINE, *scenarios], scenario)
        part = rows[rows.scenario == scenario].set_index("state")
        y = np.arange(len(states)) - 0.4 + height * (k + 0.5)
        present = [state in part.index for state in states]
        y = y[present]
        cells = part.loc[[state for state in states if state in part.index]]
        ax.hlines(y, cells.q05, cells.q95, color=colour, lw=1.2)
        ax.hlines(y, cells.q25, cells.q75, color=colour, lw=4.5, alpha=0.8)
        ax.plot(cells.q50, y, "o", color=colour, ms=5, mec="white", mew=0.8, label=scenario)


def scenario_figures(differences: pd.DataFrame, out_dir: str | Path, flagged: bool) -> list[Path]:
    """For every authority x measure x state, the comparison over time
    (``{authority}_{measure}_{state}_vs_baseline``), and for every authority x measure the
    summary at the last forecast date (``{authority}_{measure}_summary_{date}``); PNG and
    SVG each. Returns the files written (none when there are no scenarios)."""
    out = Path(out_dir)
    rows = _scenarios(differences)
    stems: list[Path] = []
    series = rows[["authority", "measure", "state"]].drop_duplicates()
    for authority, measure, state in series.itertuples(index=False):
        stem = out / safe_stem(authority, measure, state, "vs", "baseline")
        scenario_comparison(rows, authority, measure, state, stem, flagged)
        stems.append(stem)
    for (authority, measure), part in rows.groupby(["authority", "measure"], sort=False):
        last = pd.to_datetime(part.period_end).max()
        stem = out / safe_stem(authority, measure, "summary", f"{last:%Y-%m-%d}")
        scenario_summary_chart(rows, f"{last:%Y-%m-%d}", authority, measure, stem, flagged)
        stems.append(stem)
    return [stem.with_name(stem.name + ext) for stem in stems for ext in (".png", ".svg")]
