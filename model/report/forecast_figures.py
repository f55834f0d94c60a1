"""The handful of figures a per-authority forecast writes: one per question an analyst asks.

- ``looked_after``, ``children_in_need``, ``child_protection``: how many children, when, and
  how sure: the fan chart of each headline state (stock at the month end), one panel per
  scenario on a shared axis, the observed history before it (a state the fit has no data
  for, such as the CIN funnel without a census, has no figure);
- ``placements``: where the children in care will be: every placement group on one page,
  the baseline's fan with each scenario's median drawn over it;
- ``costs``: what care will cost: the fan chart of the monthly cost of all looked-after
  children, one panel per scenario;
- ``scenarios`` (only with scenarios): what each scenario changes: every scenario against
  the baseline on one page (``model.report.scenario_figures``).

Each figure is written as PNG and SVG (text kept as text, so it is searchable and testable)
as ``{authority}_{name}``. The complete numbers behind them are in the tables and the
workbook; the figures do not try to show every series.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from model.report.fan_charts import (
    BANDS,
    BASELINE,
    EN_DASH,
    axis_label,
    date_axis,
    dated,
    fan_chart,
    fixed_layout,
    panel_grid,
    period_unit,
    safe_stem,
    save_figure,
    scenario_colour,
    scenario_order,
    set_title,
    state_label,
    value_formatter,
    watermark,
)
from model.report.scenario_figures import scenario_page

HEADLINES = {
    "looked_after": ("stock", "total"),
    "children_in_need": ("stock", "cin"),
    "child_protection": ("stock", "cpp"),
}
"""Figure name -> the (measure, state) its fan chart shows."""
COSTS = ("cost", "total")
NOT_PLACEMENTS = {"total", "cin", "cpp"}
"""Stock states that are not placement groups: the care total and the CIN funnel."""
FIGURE_NAMES = (*HEADLINES, "placements", "costs", "scenarios")
"""Every figure a forecast can write, in the order written."""


def figure_names(quantiles: pd.DataFrame, differences: pd.DataFrame) -> list[str]:
    """The figures :func:`forecast_figures` writes for these tables (names in
    ``FIGURE_NAMES``): the headline states they hold, costs when they have cost rows, the
    scenario page when there are scenarios."""
    series = set(zip(quantiles.measure, quantiles.state, strict=True))
    names = [name for name, key in HEADLINES.items() if key in series]
    if any(m == "stock" and s not in NOT_PLACEMENTS for m, s in series):
        names.append("placements")
    if COSTS in series:
        names.append("costs")
    if len(differences) and (differences.scenario != BASELINE).any():
        names.append("scenarios")
    return names


def forecast_figures(
    quantiles: pd.DataFrame,
    differences: pd.DataFrame,
    history: pd.DataFrame | None,
    out_dir: str | Path,
    flagged: bool,
) -> list[Path]:
    """Write one authority's figures (see the module) to ``out_dir``; the files written.

    ``quantiles``: the forecast table (``model.forecast.tables.COLUMNS``) of one authority,
    every scenario; ``differences``: each scenario minus the baseline, alike; ``history``:
    the observed stocks (authority, period_end, measure, state, value); ``flagged``: the fit
    failed its diagnostics (every figure then says so)."""
    authorities = list(dict.fromkeys(quantiles.authority))
    if len(authorities) != 1:
        raise ValueError(f"forecast figures are per authority; got {authorities}")
    authority = authorities[0]
    out = Path(out_dir)
    stems = []
    for name in figure_names(quantiles, differences):
        stem = out / safe_stem(authority, name)
        if name in HEADLINES:
            measure, state = HEADLINES[name]
            fan_chart(quantiles, history, authority, measure, state, stem, flagged)
        elif name == "placements":
            placements_page(quantiles, history, authority, stem, flagged)
        elif name == "costs":
            fan_chart(quantiles, None, authority, *COSTS, stem, flagged)
        else:
            scenario_page(differences, authority, stem, flagged)
        stems.append(stem)
    return [stem.with_name(stem.name + ext) for stem in stems for ext in (".png", ".svg")]


def placements_page(
    quantiles: pd.DataFrame,
    history: pd.DataFrame | None,
    authority: str,
    path_stem: str | Path,
    flagged: bool,
) -> None:
    """Children at the month end in every placement group, a panel each (own axis: groups
    differ tenfold in size): the baseline's bands and median, each scenario's median in its
    colour, the observed history (PNG and SVG at ``path_stem``)."""
    rows = quantiles[
        (quantiles.authority == authority)
        & (quantiles.measure == "stock")
        & ~quantiles.state.isin(NOT_PLACEMENTS)
    ]
    if rows.empty:
        raise ValueError(f"no placement groups in the forecast of {authority}")
    rows = dated(rows)
    groups = list(dict.fromkeys(rows.state))
    scenarios = scenario_order(rows.scenario)
    unit = period_unit(rows.period_end)
    observed = _observed(history, authority)
    fig, axes = panel_grid(len(groups), width=4.6, height=3.2, sharey=False)
    start = rows._x.min()
    days = np.r_[rows._x.to_numpy(float), observed._x.to_numpy(float)]
    for ax, group in zip(axes, groups, strict=True):
        part = rows[rows.state == group]
        base = part[part.scenario == BASELINE]
        colour = scenario_colour(scenarios, BASELINE)
        for lower, upper, alpha in BANDS:
            label = f"baseline {int(lower[1:])}{EN_DASH}{int(upper[1:])}%"
            ax.fill_between(base._x, base[lower], base[upper], color=colour, alpha=alpha,
                            lw=0, label=label)  # fmt: skip
        for scenario in scenarios:
            line = part[part.scenario == scenario]
            width = 1.8 if scenario == BASELINE else 1.2
            ax.plot(line._x, line.q50, color=scenario_colour(scenarios, scenario), lw=width,
                    label=f"{scenario} median")  # fmt: skip
        seen = observed[observed.state == group]
        if not seen.empty:
            ax.plot(seen._x, seen.value, "-o", color="black", lw=0.9, ms=2, label="observed",
                    zorder=4)  # fmt: skip
        ax.axvline(start, color="grey", lw=0.8, ls=":")
        ax.set_title(state_label(group))
        ax.set_ylim(bottom=0)
        top = np.nanmax(np.r_[part.q95.to_numpy(float), seen.value.to_numpy(float), 1.0])
        ax.yaxis.set_major_formatter(value_formatter("stock", top))
        ax.grid(axis="y", lw=0.4, alpha=0.5)
        date_axis(ax, days)
        if flagged:
            watermark(ax)
    axes[0].set_ylabel(axis_label("stock", unit))
    # One legend for every panel, below them: inside a panel it would hide the data.
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize="small", frameon=False)
    text = (
        f"{authority} — children looked after by placement group: the baseline's fan and "
        "each scenario's median"
    )
    title = set_title(fig, text, flagged)
    legend_rows = -(-len(labels) // 5)
    fixed_layout(fig, bottom=0.55 + 0.22 * legend_rows)
    save_figure(fig, path_stem, title, layout=False)


def _observed(history: pd.DataFrame | None, authority: str) -> pd.DataFrame:
    """The authority's observed stocks with ``_date`` and ``_x`` columns, in date order."""
    if history is None or history.empty:
        return pd.DataFrame(columns=["state", "value", "_date", "_x"])
    rows = history[(history.authority == authority) & (history.measure == "stock")]
    return dated(rows)
