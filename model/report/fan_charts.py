"""Fan charts of the forecast quantiles, with the observed history before them.

One figure per measure and state (``fan_chart``). Scenarios are drawn side by side, one panel
each on a shared y-axis (baseline first), rather than overlaid: overlaid fans hide each
other where they overlap, which is exactly where a reader wants to compare them, and the
shared axis keeps the panels comparable. The scenario page
(``model/report/scenario_figures.py``) shows the differences themselves;
``model/report/forecast_figures.py`` chooses which figures a forecast writes.

Each panel shades the 5-95%, 10-90% and 25-75% bands, draws the median, and the observed
history as black points joined by a line. A figure of a fit that failed its diagnostics
says so in red in its title and carries a faint watermark over every panel, so a cropped
panel still shows it. This module also holds the helpers the other figures share
(labels, units, formatters, saving).
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter

FAILED_FLAG = "DIAGNOSTICS FAILED — do not use"
BASELINE = "baseline"
QUANTILE_COLUMNS = ["q05", "q10", "q25", "q50", "q75", "q90", "q95"]
# (lower, upper, opacity): widest band palest, so the 50% band reads as the core.
EN_DASH, MINUS = "\u2013", "\u2212"  # typographic dash and minus for labels
BANDS = [("q05", "q95", 0.18), ("q10", "q90", 0.28), ("q25", "q75", 0.45)]

STATE_LABELS = {
    "foster_kin": "foster care with relatives or friends",
    "foster_other": "other foster care",
    "residential": "residential care",
    "supported": "supported accommodation",
    "with_parents": "placed with parents",
    "adoption": "placed for adoption",
    "other": "other placements",
    "cin": "children in need",
    "cpp": "child protection plans",
    "total": "all looked-after children",
}
MEASURE_LABELS = {
    "stock": "children at the {unit} end",
    "entries": "entries (children per {unit})",
    "exits": "exits (children per {unit})",
    "cost": "cost (£ per {unit})",
}
# Fixed settings so the SVG keeps its text as text (searchable, readable by screen readers,
# testable) and reruns write identical files.
SAVE_RC = {"svg.fonttype": "none", "svg.hashsalt": "carecast"}
EPOCH = pd.Timestamp("1970-01-01")


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display; safe in workers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def state_label(state: str) -> str:
    """Readable name of a state; merged or unknown groups get their own name, de-underscored."""
    return STATE_LABELS.get(state, state.replace("_", " "))


def safe_stem(*parts: object) -> str:
    """A file-name stem from parts joined by '_', anything but letters, digits, '.', '_', '-'
    replaced, so a scenario or merged-state name cannot reach outside the folder."""
    cleaned = [re.sub(r"[^A-Za-z0-9._-]+", "-", str(part)).strip("-.") or "x" for part in parts]
    return "_".join(cleaned)


def period_unit(dates: Iterable[object]) -> str:
    """'month' or 'year' from the spacing of the period ends ('period' if it cannot tell)."""
    unique = pd.to_datetime(pd.Series(list(dates))).drop_duplicates().sort_values()
    if len(unique) < 2:
        return "period"
    gap = unique.diff().dropna().dt.days.median()
    return "year" if gap > 200 else "month"


def axis_label(measure: str, unit: str, difference: bool = False) -> str:
    """The y-axis label with its units, e.g. 'entries (children per month)'."""
    label = MEASURE_LABELS.get(measure, measure).format(unit=unit)
    label = label[0].upper() + label[1:]
    return f"Difference from baseline: {label[0].lower()}{label[1:]}" if difference else label


def value_formatter(measure: str, max_abs: float, signed: bool = False) -> Formatter:
    """Tick labels: children with thousands separators, pounds as £, £k or £m by size."""
    from matplotlib.ticker import FuncFormatter

    def sign(x: float) -> str:
        if x < 0:
            return MINUS
        return "+" if signed and x > 0 else ""

    if measure == "cost":
        if max_abs >= 1e6:
            scale, suffix, digits = 1e6, "m", 1
        elif max_abs >= 1e4:
            scale, suffix, digits = 1e3, "k", 0
        else:
            scale, suffix, digits = 1.0, "", 0
        return FuncFormatter(lambda x, _: f"{sign(x)}£{abs(x) / scale:,.{digits}f}{suffix}")
    return FuncFormatter(lambda x, _: f"{sign(x)}{abs(x):,.0f}")


def scenario_order(scenarios: Iterable[str]) -> list[str]:
    """Scenario names in order of appearance, baseline first."""
    names = list(dict.fromkeys(scenarios))
    return [BASELINE] * (BASELINE in names) + [name for name in names if name != BASELINE]


def scenario_colour(scenarios: list[str], scenario: str) -> str:
    """The same colour for a scenario in every figure: baseline C0, the others C1, C2..."""
    others = [name for name in scenarios if name != BASELINE]
    return "C0" if scenario == BASELINE else f"C{(others.index(scenario) + 1) % 10}"


def figure_title(text: str, flagged: bool) -> str:
    """The title, led by the failed-diagnostics warning when the fit failed."""
    return f"{FAILED_FLAG}\n{text}" if flagged else text


def set_title(fig: Figure, text: str, flagged: bool) -> str:
    """Put the (flagged) title on the figure, wrapped to its width, and return it."""
    # About nine title characters fit in an inch at the default title size.
    text = "\n".join(textwrap.wrap(text, width=max(40, int(fig.get_figwidth() * 9))))
    title = figure_title(text, flagged)
    if flagged:
        fig.suptitle(title, color="red", fontweight="bold")
    else:
        fig.suptitle(title)
    return title


def watermark(ax: Axes) -> None:
    """A faint warning across the panel, so a cropped panel still shows the failed fit."""
    ax.text(
        0.5,
        0.5,
        "DIAGNOSTICS FAILED",
        transform=ax.transAxes,
        ha="center",
        va="center",
        rotation=20,
        fontsize=22,
        color="red",
        alpha=0.15,
        zorder=0,
    )


def day_numbers(dates: pd.Series) -> np.ndarray:
    """Dates as days since 1970-01-01 (float): the figures' x values. Plain numbers, with
    ticks placed by :func:`date_axis`, spare matplotlib's date conversion and its date
    locators, which cost more than the rest of a figure."""
    return ((pd.to_datetime(dates) - EPOCH) / pd.Timedelta(days=1)).to_numpy(float)


def dated(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with their ``period_end`` as a date (``_date``) and a day number (``_x``), in
    date order (a stable sort: scenarios keep the order they were given in)."""
    dates = pd.to_datetime(rows.period_end)
    return rows.assign(_date=dates, _x=day_numbers(dates)).sort_values("_x", kind="stable")


def date_axis(ax: Axes, days: Iterable[float]) -> None:
    """Fixed date ticks over the span of ``days`` (day numbers): years (every 1, 2, 5 or 10)
    when it spans two and a half years or more, otherwise months (every 1, 2, 3, 6 or 12),
    at most seven."""
    values = np.asarray(list(days), dtype=float)
    first = EPOCH + pd.Timedelta(days=float(np.nanmin(values)))
    last = EPOCH + pd.Timedelta(days=float(np.nanmax(values)))
    if (last - first).days >= 2.5 * 365:
        step = next(k for k in (1, 2, 5, 10, 20, 50) if (last.year - first.year) / k < 7)
        years = range(first.year + 1, last.year + 1)
        ticks = [pd.Timestamp(year=y, month=1, day=1) for y in years if y % step == 0]
        labels = [f"{t:%Y}" for t in ticks]
    else:
        months = pd.date_range(first.to_period("M").to_timestamp(), last, freq="MS")
        step = next(k for k in (1, 2, 3, 6, 12) if len(months) / k <= 7)
        ticks = [t for t in months if t >= first and (t.month - 1) % step == 0]
        labels = [f"{t:%b %Y}" for t in ticks]
    positions = [(t - EPOCH) / pd.Timedelta(days=1) for t in ticks]
    ax.set_xticks(positions, labels)


def save_figure(fig: Figure, path_stem: str | Path, title: str, layout: bool = True) -> list[Path]:
    """Write ``path_stem``.png and .svg (title in their metadata, no timestamps), then close;
    ``layout``: place the panels with :func:`fixed_layout` first (False: the caller has)."""
    import matplotlib

    plt = pyplot()
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")]
    if layout:
        fixed_layout(fig)
    try:
        with matplotlib.rc_context(SAVE_RC):
            fig.savefig(paths[0], dpi=110, metadata={"Title": title, "Software": None})
            fig.savefig(paths[1], metadata={"Title": title, "Date": None})
    finally:
        plt.close(fig)
    return paths


def fixed_layout(
    fig: Figure,
    left: float = 0.95,
    right: float = 0.25,
    bottom: float = 0.55,
    gap: float | None = None,
    row_gap: float = 0.8,
) -> None:
    """Place a figure's grid of panels with margins in inches (the title's lines counted):
    matplotlib's ``tight_layout`` measures every label by drawing the figure once more,
    which costs as much as saving it. ``gap``: between columns (default: narrow when the
    panels share their y-axis, whose inner labels are hidden)."""
    axes = [ax for ax in fig.axes if ax.get_subplotspec() is not None]
    grid = axes[0].get_subplotspec().get_gridspec()
    nrows, ncols = grid.get_geometry()
    width, height = fig.get_size_inches()
    if gap is None:
        shared = len(axes[0].get_shared_y_axes().get_siblings(axes[0])) > 1
        gap = 0.3 if shared else 0.75
    title = fig.get_suptitle()
    top = 0.45 + 0.26 * (title.count("\n") + 1) if title else 0.45
    panel_width = (width - left - right - gap * (ncols - 1)) / ncols
    panel_height = (height - top - bottom - row_gap * (nrows - 1)) / nrows
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=gap / panel_width,
        hspace=row_gap / panel_height,
    )


def panel_grid(count: int, width: float = 5.0, height: float = 3.8, sharey: bool = True):
    """A figure with one panel per item, at most three to a row; spare panels hidden."""
    plt = pyplot()
    ncols = min(count, 3)
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width * ncols, height * nrows + 0.9),
        squeeze=False,
        sharey=sharey,
    )
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def _draw_fan(ax: Axes, rows: pd.DataFrame, colour: str) -> None:
    """The shaded bands and the median of one scenario."""
    for lower, upper, alpha in BANDS:
        label = f"{int(lower[1:])}{EN_DASH}{int(upper[1:])}%"
        ax.fill_between(
            rows._x, rows[lower], rows[upper], color=colour, alpha=alpha, lw=0, label=label
        )
    ax.plot(rows._x, rows.q50, color=colour, lw=1.8, label="median")


def _draw_history(ax: Axes, history: pd.DataFrame) -> None:
    """Observed values: black points joined by a thin line."""
    if history.empty:
        return
    ax.plot(
        history._x, history.value, "-o", color="black", lw=0.9, ms=2.5, label="observed", zorder=4
    )


def _history_rows(
    history: pd.DataFrame | None, authority: str, measure: str, state: str
) -> pd.DataFrame:
    """The observed rows of one series, in date order (empty if none)."""
    if history is None or history.empty:
        return pd.DataFrame(columns=["period_end", "value", "_x"])
    rows = history[
        (history.authority == authority) & (history.measure == measure) & (history.state == state)
    ]
    return dated(rows)


def fan_chart(
    quantiles: pd.DataFrame,
    history: pd.DataFrame | None,
    authority: str,
    measure: str,
    state: str,
    path_stem: str | Path,
    flagged: bool,
) -> None:
    """One fan chart (PNG and SVG at ``path_stem``) of an authority's measure and state, one
    panel per scenario on a shared axis, with the observed history in each panel."""
    rows = quantiles[
        (quantiles.authority == authority)
        & (quantiles.measure == measure)
        & (quantiles.state == state)
    ]
    if rows.empty:
        raise ValueError(f"no forecast rows for {authority} {measure} {state}")
    rows = dated(rows)
    observed = _history_rows(history, authority, measure, state)
    scenarios = scenario_order(rows.scenario)
    unit = period_unit(rows.period_end)
    max_abs = float(
        np.nanmax(np.abs(np.r_[rows.q95.to_numpy(float), observed.value.to_numpy(float)]))
    )

    fig, axes = panel_grid(len(scenarios))
    start = rows._x.min()
    days = np.r_[rows._x.to_numpy(float), observed._x.to_numpy(float)]
    for ax, scenario in zip(axes, scenarios, strict=True):
        _draw_fan(ax, rows[rows.scenario == scenario], scenario_colour(scenarios, scenario))
        _draw_history(ax, observed)
        # Where the forecast takes over from the observations.
        ax.axvline(start, color="grey", lw=0.8, ls=":")
        ax.set_title(f"scenario: {scenario}")
        ax.set_ylim(bottom=0)  # counts and costs are never negative
        ax.yaxis.set_major_formatter(value_formatter(measure, max_abs))
        ax.grid(axis="y", lw=0.4, alpha=0.5)
        date_axis(ax, days)
        if flagged:
            watermark(ax)
    axes[0].set_ylabel(axis_label(measure, unit))
    # Lower left: the axis starts at zero, so the series rarely reaches down there.
    axes[0].legend(loc="lower left", fontsize="small", frameon=False)
    text = f"{authority} — {state_label(state)}: {axis_label(measure, unit).lower()}"
    title = set_title(fig, text, flagged)
    save_figure(fig, path_stem, title)
