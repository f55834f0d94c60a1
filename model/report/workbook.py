"""The analysts' Excel workbook: forecasts, scenario differences, probabilities, costs,
back-test scores and the fit's diagnostics, each sheet readable on its own.

Every sheet has the same top: row 1 a title, row 2 the fit's diagnostics verdict (in red,
"DIAGNOSTICS FAILED — do not use", when the fit failed, so a sheet copied out of the
workbook still carries the warning), rows 3-5 what the rows are, their units and what the
columns mean. Data sheets then have their header on row 7 (frozen, with an autofilter) and
one row per input row from row 8; a sheet with nothing to show says so on row 7 instead.
The fixed layout lets analysts point formulas and Power Query at the same cells every year.

The tables are aggregates (counts and pounds): a column named like a child identifier is
refused rather than written.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.report.fan_charts import FAILED_FLAG, QUANTILE_COLUMNS

TITLE_ROW = 0
VERDICT_ROW = 1
EXPLANATION_ROWS = (2, 3, 4)
HEADER_ROW = 6  # 0-based: row 7 in Excel
FIRST_DATA_ROW = HEADER_ROW + 1
EXCEL_MAX_ROWS = 1_048_576

QUANTILE_TABLE = ["authority", "scenario", "period_end", "measure", "state", "mean"]
QUANTILE_TABLE += QUANTILE_COLUMNS
COLUMNS = {
    "Forecast": QUANTILE_TABLE,
    "History": ["authority", "period_end", "measure", "state", "value"],
    "Scenario differences": QUANTILE_TABLE,
    "Probabilities": [
        "authority",
        "scenario",
        "period_end",
        "measure",
        "state",
        "statement",
        "probability",
    ],
    "Costs": QUANTILE_TABLE,
    "Back-test": [
        "authority",
        "method",
        "horizon",
        "measure",
        "state",
        "cells",
        "crps",
        "abs_error",
        "coverage_50",
        "coverage_80",
        "coverage_95",
    ],
    "Diagnostics": ["check", "value", "meaning"],
}
# Names that would mean child-level data had leaked into an aggregate table.
IDENTIFIER_COLUMNS = {
    "child",
    "child_id",
    "la_child_id",
    "lachildid",
    "upn",
    "former_upn",
    "dob",
    "date_of_birth",
    "postcode",
    "home_post",
    "pl_post",
}

# Excel number formats.
DATE = "yyyy-mm-dd"
CHILDREN = "#,##0"
CHILDREN_1DP = "#,##0.0"
SIGNED_CHILDREN = "+#,##0;-#,##0;0"
SIGNED_CHILDREN_1DP = "+#,##0.0;-#,##0.0;0.0"
POUNDS = "£#,##0"
SIGNED_POUNDS = "+£#,##0;-£#,##0;£0"
PERCENT_1DP = "0.0%"
PERCENT = "0%"

QUANTILE_HELP = (
    "mean = average over the forecast draws; q05 = 5% chance the outcome is below this value, "
    "q50 = the median, q95 = 95% chance it is below (q05 to q95 is a 90% interval, "
    "q25 to q75 a 50% interval)."
)

DIAGNOSTIC_MEANINGS = {
    "passed": "whether every check met its configured threshold",
    "max_rhat": "largest R-hat over the parameters: close to 1 when the chains agree",
    "min_ess_bulk": "smallest bulk effective sample size (precision of means and medians)",
    "min_ess_tail": "smallest tail effective sample size (precision of the 5% and 95% points)",
    "divergences": "sampler divergences: should be 0",
}
DIAGNOSTIC_FORMATS = {
    "max_rhat": "0.000",
    "min_ess_bulk": CHILDREN,
    "min_ess_tail": CHILDREN,
    "divergences": "0",
}


@dataclass
class Sheet:
    """One sheet: its table, the words above it and how to format its columns."""

    name: str
    title: str
    explanation: tuple[str, str, str]
    table: pd.DataFrame
    empty_message: str
    formats: dict[str, str] = field(default_factory=dict)
    # Number formats for the rows whose measure is "cost" (pounds instead of children).
    cost_formats: dict[str, str] = field(default_factory=dict)
    row_formats: Callable[[pd.Series], dict[str, str]] | None = None


def carecast_version() -> str:
    """The installed carecast version, or "unknown" when run from a bare checkout."""
    try:
        return importlib.metadata.version("carecast")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def diagnostics_verdict(diagnostics: Mapping[str, Any] | None) -> tuple[bool, str]:
    """(passed, one line saying so). Missing diagnostics count as failed: an unchecked fit
    must not pass for a good one."""
    if not diagnostics:
        return False, f"{FAILED_FLAG}: no fit diagnostics were given."
    figures = []
    if diagnostics.get("max_rhat") is not None:
        figures.append(f"max R-hat {diagnostics['max_rhat']:.3f}")
    for key, name in (("min_ess_bulk", "min bulk ESS"), ("min_ess_tail", "min tail ESS")):
        if diagnostics.get(key) is not None:
            figures.append(f"{name} {diagnostics[key]:,.0f}")
    if diagnostics.get("divergences") is not None:
        figures.append(f"{diagnostics['divergences']} divergences")
    summary = ", ".join(figures)
    if diagnostics.get("passed"):
        return (
            True,
            f"Fit diagnostics passed ({summary})." if summary else "Fit diagnostics passed.",
        )
    problems = "; ".join(diagnostics.get("problems") or []) or "see the Diagnostics sheet"
    return False, f"{FAILED_FLAG}: {problems}" + (f" ({summary})." if summary else ".")


def _checked(table: pd.DataFrame | None, sheet: str) -> pd.DataFrame:
    """The table with the sheet's columns first (extra columns after), never None; refuses
    child identifiers."""
    if table is None:
        return pd.DataFrame(columns=COLUMNS[sheet])
    leaked = [column for column in table.columns if str(column).lower() in IDENTIFIER_COLUMNS]
    if leaked:
        raise ValueError(f"{sheet}: refusing to write child-level columns {leaked}")
    known = [column for column in COLUMNS[sheet] if column in table.columns]
    extra = [column for column in table.columns if column not in known]
    return table[known + extra].reset_index(drop=True)


def _cost_rows(quantiles: pd.DataFrame, costs: pd.DataFrame | None) -> pd.DataFrame:
    """The Costs sheet's rows: ``costs`` when given, else the cost rows of the quantiles."""
    if costs is not None and not costs.empty:
        return costs
    return quantiles[quantiles.measure == "cost"] if "measure" in quantiles else quantiles


def _diagnostics_table(diagnostics: Mapping[str, Any] | None) -> pd.DataFrame:
    """One row per diagnostic (known ones first, explained) and one per problem."""
    if not diagnostics:
        return pd.DataFrame(columns=COLUMNS["Diagnostics"])
    rows = []
    for key, value in diagnostics.items():
        if key == "problems":
            continue
        if key == "passed":
            value = "yes" if value else "no"
        elif isinstance(value, list | tuple | dict):
            value = str(value)
        rows.append((key, value, DIAGNOSTIC_MEANINGS.get(key, "")))
    order = list(DIAGNOSTIC_MEANINGS)
    rows.sort(key=lambda row: order.index(row[0]) if row[0] in order else len(order))
    for problem in diagnostics.get("problems") or []:
        rows.append(("problem", str(problem), "a check that missed its threshold"))
    return pd.DataFrame(rows, columns=COLUMNS["Diagnostics"])


def _quantile_formats(children: str, children_1dp: str, pounds: str) -> tuple[dict, dict]:
    """Formats of a quantile table: counts (mean to 1 decimal) and, for cost rows, pounds."""
    counts = {"mean": children_1dp} | dict.fromkeys(QUANTILE_COLUMNS, children)
    money = dict.fromkeys(["mean", *QUANTILE_COLUMNS], pounds)
    return counts, money


def _sheets(
    quantiles: pd.DataFrame,
    differences: pd.DataFrame,
    probabilities: pd.DataFrame,
    costs: pd.DataFrame,
    scores: pd.DataFrame,
    diagnostics: Mapping[str, Any] | None,
    history: pd.DataFrame | None,
) -> list[Sheet]:
    """The data sheets, in workbook order."""
    counts, money = _quantile_formats(CHILDREN, CHILDREN_1DP, POUNDS)
    signed_counts, signed_money = _quantile_formats(
        SIGNED_CHILDREN, SIGNED_CHILDREN_1DP, SIGNED_POUNDS
    )
    forecast = quantiles[quantiles.measure != "cost"] if "measure" in quantiles else quantiles
    sheets = [
        Sheet(
            "Forecast",
            "Forecast: children by scenario, measure and state",
            (
                "One row per authority, scenario, period end, measure and state: the forecast "
                "number of children (costs are on the Costs sheet).",
                "stock = children at the period end; entries and exits = children entering or "
                "leaving in the period. state: a placement group, cin (children in need), cpp "
                "(child protection plans) or total (all looked-after children).",
                QUANTILE_HELP,
            ),
            _checked(forecast, "Forecast"),
            "No forecast rows were given.",
            counts,
        ),
    ]
    if history is not None:
        sheets.append(
            Sheet(
                "History",
                "History: observed figures before the forecast",
                (
                    "One row per authority, period end, measure and state: what was observed "
                    "(the data the model was fitted to).",
                    "stock = children at the period end; entries and exits = children in the "
                    "period; cost in pounds in the period.",
                    "These are observations, not forecasts: they have no uncertainty band.",
                ),
                _checked(history, "History"),
                "No observed history was given.",
                {"value": CHILDREN},
                {"value": POUNDS},
            )
        )
    sheets += [
        Sheet(
            "Scenario differences",
            "Scenario differences: each scenario minus the baseline",
            (
                "One row per authority, scenario, period end, measure and state: the scenario "
                "minus the baseline, worked out draw by draw (shared uncertainty cancels).",
                "Units: children for stock, entries and exits; pounds (£) for cost. A negative "
                "difference means fewer children (or less spending) than the baseline.",
                "mean = average difference; q05 = 5% chance the difference is below this value, "
                "q95 = 95% chance; if q05 and q95 have the same sign the direction is clear.",
            ),
            _checked(differences, "Scenario differences"),
            "No scenarios: only the baseline was forecast, so there are no differences to show.",
            signed_counts,
            signed_money,
        ),
        Sheet(
            "Probabilities",
            "Probabilities: how likely each statement about a scenario is",
            (
                "One row per statement about a scenario against the baseline, e.g. 'at least 20 "
                "fewer children than baseline', for an authority, period end, measure and state.",
                "probability = the share of the forecast draws in which the statement is true.",
                "Probabilities assume the model and the scenario's assumptions hold; they do not "
                "cover changes the model does not represent.",
            ),
            _checked(probabilities, "Probabilities"),
            "No probabilities: no scenarios were compared with the baseline.",
            {"probability": PERCENT_1DP},
        ),
        Sheet(
            "Costs",
            "Costs: forecast spending by scenario and state",
            (
                "One row per authority, scenario, period end and state: the forecast cost in "
                "pounds (£) in the period (a month or a year, as the period end shows).",
                QUANTILE_HELP.replace("outcome", "cost"),
                "Percentiles do not add up across states or periods (the 95th percentile of a "
                "total is less than the sum of the 95th percentiles); means do.",
            ),
            _checked(_cost_rows(quantiles, costs), "Costs"),
            "No costs: the forecast has no cost rows (no unit costs were configured).",
            money,
            money,
        ),
        Sheet(
            "Back-test",
            "Back-test: forecasts from earlier data against what happened",
            (
                "One row per authority, method, horizon, measure and state; cells = the number of "
                "period x state values scored. Methods: carecast and three simple benchmarks.",
                "crps = continuous ranked probability score, in the measure's units (lower is "
                "better; for a point forecast it equals the absolute error); abs_error = mean "
                "absolute error of the central forecast.",
                "coverage_50/80/95 = share of outcomes inside the 50/80/95% intervals (well "
                "calibrated: near 50/80/95%); blank for point forecasts (last_value, "
                "linear_trend, fixed_rates).",
            ),
            _checked(scores, "Back-test"),
            "No back-test was run for this forecast.",
            {
                "cells": CHILDREN,
                "crps": "#,##0.00",
                "abs_error": "#,##0.00",
                "coverage_50": PERCENT,
                "coverage_80": PERCENT,
                "coverage_95": PERCENT,
            },
            {"crps": POUNDS, "abs_error": POUNDS},
        ),
        Sheet(
            "Diagnostics",
            "Diagnostics: the checks on the fit behind these forecasts",
            (
                "One row per convergence check of the posterior sampler, then one per problem "
                "found.",
                "max_rhat should be close to 1; min_ess_bulk and min_ess_tail are the smallest "
                "effective sample sizes (larger is better); divergences should be 0.",
                "If the fit failed, do not use the forecasts: refit (more draws or tuning, or "
                "fix the problems listed) first.",
            ),
            _diagnostics_table(diagnostics),
            "No diagnostics were given: the fit's quality is unknown, so do not use these "
            "forecasts until it has been checked.",
            row_formats=lambda row: {"value": DIAGNOSTIC_FORMATS.get(row["check"], "General")},
        ),
    ]
    return sheets


class _Formats:
    """xlsxwriter formats made once per number format (Excel caps the number of styles)."""

    def __init__(self, workbook: Any) -> None:
        self.workbook = workbook
        self.cache: dict[str, Any] = {}
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.failed = workbook.add_format({"bold": True, "font_color": "#C00000"})
        self.passed = workbook.add_format({"font_color": "#006100"})
        self.note = workbook.add_format({"font_color": "#404040"})
        self.heading = workbook.add_format({"bold": True, "font_size": 12})
        self.header = workbook.add_format(
            {"bold": True, "bg_color": "#D9E1F2", "bottom": 1, "text_wrap": True}
        )
        self.empty = workbook.add_format({"italic": True, "bold": True})
        self.link = workbook.get_default_url_format()

    def number(self, code: str | None) -> Any:
        """The format for an Excel number format code (None: general)."""
        if code is None:
            return None
        if code not in self.cache:
            self.cache[code] = self.workbook.add_format({"num_format": code})
        return self.cache[code]


def _excel_dates(values: pd.Series) -> list[float | None]:
    """ISO date strings as Excel serial dates (so filters and sorting work on real dates);
    None where a value is not a date."""
    dates = pd.to_datetime(values, errors="coerce")
    serial = (dates - pd.Timestamp("1899-12-30")) / pd.Timedelta(days=1)
    return [None if pd.isna(value) else float(value) for value in serial]


def _write_cell(sheet: Any, row: int, col: int, value: Any, fmt: Any) -> None:
    """One value with the right xlsxwriter call (NaN/None as a formatted blank)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        sheet.write_blank(row, col, None, fmt)
    elif isinstance(value, bool | np.bool_):
        sheet.write_boolean(row, col, bool(value), fmt)
    elif isinstance(value, int | float | np.integer | np.floating):
        sheet.write_number(row, col, float(value), fmt)
    else:
        sheet.write_string(row, col, str(value), fmt)


def _column_widths(table: pd.DataFrame) -> list[float]:
    """Widths (characters) fitting the header and a sample of the values, within 9-50."""
    widths = []
    sample = table.head(500)
    for column in table.columns:
        values = sample[column]
        if column == "period_end":
            longest = 10
        elif pd.api.types.is_numeric_dtype(values) and len(values):
            longest = len(f"{np.nanmax(np.abs(values.to_numpy(float)), initial=0):,.1f}") + 2
        else:
            longest = max((len(str(value)) for value in values), default=0)
        widths.append(min(max(len(str(column)) + 2, longest + 1, 9), 50))
    return widths


def _write_top(ws: Any, formats: _Formats, title: str, verdict: tuple[bool, str]) -> None:
    """Title and the diagnostics verdict: the first two rows of every sheet."""
    ws.write_string(TITLE_ROW, 0, title, formats.title)
    ws.write_string(VERDICT_ROW, 0, verdict[1], formats.passed if verdict[0] else formats.failed)


def _write_sheet(ws: Any, formats: _Formats, spec: Sheet, verdict: tuple[bool, str]) -> None:
    """A data sheet: top rows, explanation, then the table (or why there is none)."""
    _write_top(ws, formats, spec.title, verdict)
    for row, line in zip(EXPLANATION_ROWS, spec.explanation, strict=True):
        ws.write_string(row, 0, line, formats.note)
    table = spec.table
    if table.empty:
        ws.write_string(HEADER_ROW, 0, spec.empty_message, formats.empty)
        ws.set_column(0, 0, 60)
        return
    if FIRST_DATA_ROW + len(table) > EXCEL_MAX_ROWS:
        raise ValueError(
            f"{spec.name}: {len(table):,} rows do not fit on one Excel sheet; "
            "write one workbook per authority"
        )
    columns = list(table.columns)
    for col, name in enumerate(columns):
        ws.write_string(HEADER_ROW, col, str(name), formats.header)
    _write_rows(ws, formats, spec, columns)
    for col, width in enumerate(_column_widths(table)):
        ws.set_column(col, col, width)
    # Freezing below the header keeps the title, verdict and column names in view.
    ws.freeze_panes(FIRST_DATA_ROW, 0)
    ws.autofilter(HEADER_ROW, 0, HEADER_ROW + len(table), len(columns) - 1)


def _write_rows(ws: Any, formats: _Formats, spec: Sheet, columns: list[str]) -> None:
    """The table's rows below the header, each cell in its column's (or row's) format."""
    table = spec.table

    def row_formats(codes: Mapping[str, str]) -> list[Any]:
        return [
            formats.number(DATE if name == "period_end" else codes.get(name)) for name in columns
        ]

    # Formats looked up once per kind of row, and each column's writer and values once, not
    # per cell: the tables run to hundreds of thousands of cells.
    plain = row_formats(spec.formats)
    money = row_formats(spec.cost_formats) if spec.cost_formats else plain
    writers = [_column_writer(ws, table[name], name == "period_end") for name in columns]
    is_cost = (table["measure"] == "cost").tolist() if "measure" in table else [False] * len(table)
    for i in range(len(table)):
        cell_formats = money if is_cost[i] else plain
        if spec.row_formats is not None:
            cell_formats = row_formats(spec.formats | spec.row_formats(table.iloc[i]))
        row = FIRST_DATA_ROW + i
        for col, (write, values) in enumerate(writers):
            write(row, col, values[i], cell_formats[col])


def _column_writer(
    ws: Any, values: pd.Series, dates: bool
) -> tuple[Callable[[int, int, Any, Any], Any], list]:
    """(the worksheet call for a column's cells, its values as Python objects): numbers with
    blanks for NaN, strings, or (mixed columns) :func:`_write_cell`'s choice per cell;
    ``dates``: ISO date strings written as Excel dates."""
    if dates:
        values = pd.Series(_excel_dates(values), dtype="float64")
    if pd.api.types.is_bool_dtype(values):
        return ws.write_boolean, values.tolist()
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.astype("float64")
        if not numbers.isna().any():
            return ws.write_number, numbers.tolist()
        cells = numbers.astype(object).where(numbers.notna(), None).tolist()

        def number_or_blank(row: int, col: int, value: Any, fmt: Any) -> None:
            if value is None:
                ws.write_blank(row, col, None, fmt)
            else:
                ws.write_number(row, col, value, fmt)

        return number_or_blank, cells
    cells = values.tolist()
    if all(type(value) is str for value in cells):
        return ws.write_string, cells
    return partial(_write_cell, ws), cells


def _write_about(
    ws: Any,
    formats: _Formats,
    sheets: Sequence[Sheet],
    quantiles: pd.DataFrame,
    verdict: tuple[bool, str],
) -> None:
    """The cover sheet: what this is, when and by which version, the verdict, contents, how
    to read quantiles, units."""
    _write_top(ws, formats, "carecast forecast workbook", verdict)
    lines = [
        "Probabilistic forecasts of children's social care (children in need, on child "
        "protection plans and looked after, by placement group), with costs, scenario "
        "comparisons and back-test scores, from carecast's Bayesian stock-flow model fitted "
        "to the authority's own returns.",
        f"Made {datetime.now().astimezone():%Y-%m-%d %H:%M %Z} with carecast version "
        f"{carecast_version()}.",
        "All figures are aggregate counts and pounds: no child-level data is in this workbook.",
    ]
    for row, line in zip(EXPLANATION_ROWS, lines, strict=True):
        ws.write_string(row, 0, line, formats.note)
    row = HEADER_ROW
    row = _write_scope(ws, formats, quantiles, row)
    ws.write_string(row, 0, "Contents", formats.heading)
    row += 1
    for col, name in enumerate(["sheet", "what it holds", "rows"]):
        ws.write_string(row, col, name, formats.header)
    for spec in sheets:
        row += 1
        ws.write_url(row, 0, f"internal:'{spec.name}'!A1", formats.link, spec.name)
        ws.write_string(row, 1, spec.title.split(": ", 1)[-1])
        ws.write_string(row, 2, f"{len(spec.table):,}" if len(spec.table) else "none")
    row += 2
    ws.write_string(row, 0, "How to read the quantiles", formats.heading)
    for line in _reading_guide():
        row += 1
        ws.write_string(row, 0, line)
    ws.set_column(0, 0, 24)
    ws.set_column(1, 1, 70)
    ws.set_column(2, 2, 10)


def _write_scope(ws: Any, formats: _Formats, quantiles: pd.DataFrame, row: int) -> int:
    """Authorities, scenarios and forecast dates covered; returns the next free row."""
    if quantiles.empty or "authority" not in quantiles:
        ws.write_string(row, 0, "No forecast rows were given.", formats.empty)
        return row + 2
    dates = pd.to_datetime(quantiles.period_end)
    scenarios = ", ".join(dict.fromkeys(quantiles.scenario))
    items = [
        ("Authorities", ", ".join(map(str, dict.fromkeys(quantiles.authority)))),
        ("Scenarios", scenarios),
        ("Forecast period ends", f"{dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}"),
    ]
    for label, value in items:
        ws.write_string(row, 0, label, formats.heading)
        ws.write_string(row, 1, value)
        row += 1
    return row + 1


def _reading_guide() -> list[str]:
    """How to read quantiles, and the units of each measure."""
    return [
        "q05 = 5% chance the outcome is below this value; q95 = 95% chance it is below.",
        "q50 is the median: as likely above as below. q25 to q75 is a 50% interval, "
        "q10 to q90 an 80% interval, q05 to q95 a 90% interval.",
        "Use the median as the central forecast and q05 to q95 as the plausible range; plan for "
        "the upper quantiles where running short would be costly.",
        "Quantiles do not add up across states or months; means do.",
        "Units: stock = children at the period end; entries and exits = children entering or "
        "leaving in the period (a month or a year); cost = pounds (£) spent in the period.",
        "States: placement groups (foster_kin, foster_other, residential, supported, "
        "with_parents, adoption, other, or merged groups), cin = children in need, cpp = child "
        "protection plans, total = all looked-after children.",
    ]


def write_workbook(
    path: str | Path,
    quantiles: pd.DataFrame,
    differences: pd.DataFrame | None,
    probabilities: pd.DataFrame | None,
    costs: pd.DataFrame | None,
    scores: pd.DataFrame | None,
    diagnostics: Mapping[str, Any] | None,
    history: pd.DataFrame | None = None,
) -> None:
    """Write the analysts' .xlsx: About, Forecast, (History when given), Scenario
    differences, Probabilities, Costs, Back-test and Diagnostics.

    ``costs`` is a table in the quantiles' columns holding cost rows; when None or empty the
    Costs sheet takes the cost rows of ``quantiles`` (the Forecast sheet never shows costs).
    Empty or None tables give a sheet saying there is nothing to show.
    """
    import xlsxwriter

    quantiles = quantiles if quantiles is not None else pd.DataFrame(columns=QUANTILE_TABLE)
    verdict = diagnostics_verdict(diagnostics)
    sheets = _sheets(quantiles, differences, probabilities, costs, scores, diagnostics, history)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path))
    try:
        workbook.set_properties({"title": "carecast forecast workbook", "comments": verdict[1]})
        formats = _Formats(workbook)
        about = workbook.add_worksheet("About")
        _write_about(about, formats, sheets, quantiles, verdict)
        for spec in sheets:
            ws = workbook.add_worksheet(spec.name)
            if not verdict[0]:
                ws.set_tab_color("#C00000")
            _write_sheet(ws, formats, spec, verdict)
        about.activate()
    finally:
        workbook.close()
