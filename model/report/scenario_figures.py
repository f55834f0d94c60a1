"""The scenario page: every scenario against the baseline on one figure.

The differences are computed draw by draw upstream (scenario minus baseline on the same
draws), so their bands show the uncertainty of the *effect*, which is much narrower than
the gap between two fans would suggest.

One row per headline series the table holds (children looked after, in need, on a plan, the
monthly cost of care). On the left, the difference over time: each scenario's median with
its 50% band, against a zero line. On the right, the difference at the horizon's last 31
March (its last month when it has none), each scenario as an interval: thin 90%, thick 50%,
a dot at the median, so a reader sees at a glance which scenario moves what, by how much,
and how sure that is. Colours match the fan charts' (baseline C0, then C1, C2...).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from model.report.fan_charts import (
    BASELINE,
    date_axis,
    dated,
    fixed_layout,
    period_unit,
    pyplot,
    save_figure,
    scenario_colour,
    scenario_order,
    set_title,
    value_formatter,
    watermark,
)

SERIES = {
    ("stock", "total"): "children looked after",
    ("stock", "cin"): "children in need",
    ("stock", "cpp"): "child protection plans",
    ("cost", "total"): "cost of care",
}
"""The (measure, state) rows of the page, those the table holds, in this order, and their
names on it."""


def comparison_date(period_ends: pd.Series) -> pd.Timestamp:
    """The horizon's last 31 March (its last period end when it has none)."""
    dates = pd.to_datetime(pd.Series(period_ends).drop_duplicates())
    marches = dates[dates.dt.month == 3]
    return (marches if len(marches) else dates).max()


def scenario_page(
    differences: pd.DataFrame, authority: str, path_stem: str | Path, flagged: bool
) -> None:
    """Every scenario minus the baseline for one authority (see the module), as PNG and SVG
    at ``path_stem``; ``differences`` in ``model.forecast.tables.COLUMNS``."""
    rows = differences[(differences.authority == authority) & (differences.scenario != BASELINE)]
    present = set(zip(rows.measure, rows.state, strict=True))
    series = [key for key in SERIES if key in present]
    if not series:
        raise ValueError(f"no scenario differences for {authority}")
    rows = dated(rows)
    scenarios = scenario_order(rows.scenario)
    colours = {s: scenario_colour([BASELINE, *scenarios], s) for s in scenarios}
    unit = period_unit(rows.period_end)
    when = comparison_date(rows.period_end)
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(
        len(series), 2, figsize=(13, 2.9 * len(series) + 1.6), squeeze=False,
        gridspec_kw={"width_ratios": [3, 2]},
    )  # fmt: skip
    for (measure, state), (over_time, at_date) in zip(series, axes, strict=True):
        part = rows[(rows.measure == measure) & (rows.state == state)]
        formatter = value_formatter(measure, _max_abs(part), signed=True)
        name = SERIES[measure, state]
        _over_time(over_time, part, scenarios, colours)
        over_time.set_title(f"{name}: median and 50% interval over time", fontsize="medium")
        over_time.set_ylabel(f"difference\n({_unit(measure, unit)})", fontsize="small")
        over_time.yaxis.set_major_formatter(formatter)
        date_axis(over_time, part._x)
        _at_date(at_date, part[part._date == when], scenarios, colours)
        at_date.xaxis.set_major_locator(MaxNLocator(nbins=5))
        at_date.xaxis.set_major_formatter(formatter)
        at_date.set_title(f"{name} at {when:%Y-%m-%d}", fontsize="medium")
        for ax in (over_time, at_date):
            if flagged:
                watermark(ax)
    axes[-1][1].set_xlabel("dot: median; thick line: 50% interval; thin line: 90% interval")
    handles = [plt.Line2D([], [], color=colours[s], lw=2.5, label=s) for s in scenarios]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(scenarios), 5), frameon=False,
               fontsize="small")  # fmt: skip
    text = (
        f"{authority} — each scenario minus the baseline, draw by draw (the bands are the "
        "uncertainty of the effect)"
    )
    title = set_title(fig, text, flagged)
    # Room for the scenario names between the columns and the legend below.
    legend_rows = -(-len(scenarios) // 5)
    fixed_layout(fig, left=1.0, bottom=0.8 + 0.22 * legend_rows, gap=1.9, row_gap=0.75)
    save_figure(fig, path_stem, title, layout=False)


def _unit(measure: str, unit: str) -> str:
    """The units of a difference: children, or pounds per period."""
    return f"£ per {unit}" if measure == "cost" else "children"


def _over_time(ax, part: pd.DataFrame, scenarios: list[str], colours: dict[str, str]) -> None:
    """Each scenario's median difference over time with its 50% band; the zero line."""
    ax.axhline(0, color="black", lw=0.9)
    for scenario in scenarios:
        line = part[part.scenario == scenario]
        colour = colours[scenario]
        ax.fill_between(line._x, line.q25, line.q75, color=colour, alpha=0.25, lw=0)
        ax.plot(line._x, line.q50, color=colour, lw=1.6)
    ax.grid(axis="y", lw=0.4, alpha=0.5)


def _at_date(ax, part: pd.DataFrame, scenarios: list[str], colours: dict[str, str]) -> None:
    """One horizontal interval per scenario (the first at the top) against a zero line."""
    ax.axvline(0, color="black", lw=0.9)
    for k, scenario in enumerate(scenarios):
        cell = part[part.scenario == scenario]
        if cell.empty:
            continue
        cell = cell.iloc[0]
        colour = colours[scenario]
        ax.hlines(k, cell.q05, cell.q95, color=colour, lw=1.2)
        ax.hlines(k, cell.q25, cell.q75, color=colour, lw=5, alpha=0.8)
        ax.plot(cell.q50, k, "o", color=colour, ms=5, mec="white", mew=0.8)
    ax.set_yticks(np.arange(len(scenarios)), scenarios, fontsize="small")
    ax.set_ylim(len(scenarios) - 0.5, -0.5)  # the first scenario at the top
    ax.grid(axis="x", lw=0.4, alpha=0.5)


def _max_abs(rows: pd.DataFrame) -> float:
    """The largest absolute band edge, to choose the tick format (£k or £m)."""
    edges = np.abs(rows[["q05", "q95"]].to_numpy(float))
    return float(np.nanmax(edges)) if edges.size else 0.0
