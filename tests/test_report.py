"""Analyst outputs: the forecast's figures and the workbook, from synthetic tables.

openpyxl is not a dependency, so the workbook is read as what it is: a zip of XML parts.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest

from model.report.fan_charts import FAILED_FLAG, fan_chart, safe_stem
from model.report.forecast_figures import figure_names, forecast_figures
from model.report.workbook import COLUMNS, FIRST_DATA_ROW, HEADER_ROW, write_workbook

AUTHORITIES = ["E09000001", "E06000002"]
SCENARIOS = ["baseline", "more foster/kin"]  # a name with a space and a slash on purpose
STATES = ["total", "foster_kin"]
MEASURES = ["stock", "cost"]
QS = ["q05", "q10", "q25", "q50", "q75", "q90", "q95"]
Z = np.array([-1.645, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.645])
FORECAST_DATES = pd.date_range("2025-04-30", periods=6, freq="ME")
HISTORY_DATES = pd.date_range("2024-04-30", periods=12, freq="ME")
FAILED = {
    "passed": False,
    "problems": ["max R-hat 1.08 above 1.01", "12 divergences"],
    "max_rhat": 1.08,
    "min_ess_bulk": 95.0,
    "min_ess_tail": 60.0,
    "divergences": 12,
}
PASSED = {
    "passed": True,
    "problems": [],
    "max_rhat": 1.003,
    "min_ess_bulk": 812.0,
    "min_ess_tail": 640.0,
    "divergences": 0,
}


def _level(measure: str, state: str) -> float:
    """A plausible size: hundreds of children, about £5,000 a child a month."""
    children = 400.0 if state == "total" else 120.0
    return children * 5000.0 if measure == "cost" else children


def quantile_table(spread_grows: bool = True) -> pd.DataFrame:
    """Normal-shaped quantiles widening with the horizon, for every series and scenario."""
    rows = []
    for authority in AUTHORITIES:
        for scenario in SCENARIOS:
            for measure in MEASURES:
                for state in STATES:
                    centre = _level(measure, state) * (0.97 if scenario != "baseline" else 1.0)
                    for h, date in enumerate(FORECAST_DATES, start=1):
                        sd = centre * 0.02 * (h if spread_grows else 1)
                        values = centre + Z * sd
                        rows.append(
                            [
                                authority,
                                scenario,
                                f"{date:%Y-%m-%d}",
                                measure,
                                state,
                                centre,
                                *values,
                            ]
                        )
    columns = ["authority", "scenario", "period_end", "measure", "state", "mean", *QS]
    return pd.DataFrame(rows, columns=columns)


def history_table() -> pd.DataFrame:
    """Observed values for every series over the year before the forecast."""
    rows = [
        [authority, f"{date:%Y-%m-%d}", measure, state, _level(measure, state) * (1 + 0.01 * i)]
        for authority in AUTHORITIES
        for measure in MEASURES
        for state in STATES
        for i, date in enumerate(HISTORY_DATES)
    ]
    return pd.DataFrame(rows, columns=["authority", "period_end", "measure", "state", "value"])


def difference_table() -> pd.DataFrame:
    """Scenario minus baseline: the non-baseline rows, centred below zero."""
    table = quantile_table()
    table = table[table.scenario != "baseline"].copy()
    baseline = table["mean"] / 0.97
    for column in ["mean", *QS]:
        table[column] = table[column] - baseline
    return table.reset_index(drop=True)


def probability_table() -> pd.DataFrame:
    """One statement per authority and state at the last date."""
    return pd.DataFrame(
        [
            [
                a,
                SCENARIOS[1],
                "2025-09-30",
                "stock",
                s,
                "at least 20 fewer children than baseline",
                p,
            ]
            for a in AUTHORITIES
            for s, p in zip(STATES, [0.93, 0.41], strict=True)
        ],
        columns=[
            "authority",
            "scenario",
            "period_end",
            "measure",
            "state",
            "statement",
            "probability",
        ],
    )


def score_table() -> pd.DataFrame:
    """Back-test scores, coverage missing for the point-forecast methods."""
    rows = []
    for method in ["carecast", "last_value", "linear_trend", "fixed_rates"]:
        coverage = [0.52, 0.79, 0.94] if method == "carecast" else [np.nan] * 3
        rows.append([AUTHORITIES[0], method, 12, "stock", "total", 24, 8.1, 10.2, *coverage])
    return pd.DataFrame(rows, columns=COLUMNS["Back-test"])


# --- reading an xlsx with the standard library -------------------------------------------

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}


def _cell_position(ref: str) -> tuple[int, int]:
    """'B7' -> (6, 1), zero-based."""
    letters, digits = re.fullmatch(r"([A-Z]+)(\d+)", ref).groups()
    col = 0
    for letter in letters:
        col = col * 26 + ord(letter) - 64
    return int(digits) - 1, col - 1


class Xlsx:
    """Sheet names, cell values, number formats and raw sheet XML of an .xlsx file."""

    def __init__(self, path: Path) -> None:
        self.zip = zipfile.ZipFile(path)
        book = self._xml("xl/workbook.xml")
        rels = self._xml("xl/_rels/workbook.xml.rels")
        targets = {rel.get("Id"): rel.get("Target") for rel in rels.findall("rel:Relationship", NS)}
        self.parts = {}
        for sheet in book.findall("m:sheets/m:sheet", NS):
            target = targets[sheet.get(f"{{{NS['r']}}}id")]
            self.parts[sheet.get("name")] = "xl/" + target.removeprefix("/xl/")
        self.strings = [
            "".join(t.text or "" for t in si.iter(f"{{{NS['m']}}}t"))
            for si in self._xml("xl/sharedStrings.xml").findall("m:si", NS)
        ]
        styles = self._xml("xl/styles.xml")
        codes = {
            int(fmt.get("numFmtId")): fmt.get("formatCode")
            for fmt in styles.findall("m:numFmts/m:numFmt", NS)
        }
        self.xf_formats = [
            codes.get(int(xf.get("numFmtId", 0)), "General")
            for xf in styles.findall("m:cellXfs/m:xf", NS)
        ]

    def _xml(self, name: str) -> ElementTree.Element:
        return ElementTree.fromstring(self.zip.read(name))

    @property
    def sheet_names(self) -> list[str]:
        return list(self.parts)

    def raw(self, sheet: str) -> str:
        return self.zip.read(self.parts[sheet]).decode("utf-8")

    def cells(self, sheet: str) -> dict[tuple[int, int], tuple[object, str]]:
        """(row, col) -> (value, number format)."""
        out = {}
        for cell in self._xml(self.parts[sheet]).iter(f"{{{NS['m']}}}c"):
            value_node = cell.find("m:v", NS)
            kind = cell.get("t")
            if value_node is None:
                value = None
            elif kind == "s":
                value = self.strings[int(value_node.text)]
            elif kind in ("str", "inlineStr"):
                value = value_node.text
            elif kind == "b":
                value = value_node.text == "1"
            else:
                value = float(value_node.text)
            out[_cell_position(cell.get("r"))] = (value, self.xf_formats[int(cell.get("s", 0))])
        return out

    def row(self, sheet: str, row: int) -> list[object]:
        cells = self.cells(sheet)
        width = max((col for r, col in cells if r == row), default=-1) + 1
        return [cells.get((row, col), (None, ""))[0] for col in range(width)]

    def data_rows(self, sheet: str) -> int:
        return len({r for (r, _), (value, _) in self.cells(sheet).items() if r >= FIRST_DATA_ROW})


# --- figures --------------------------------------------------------------------------------


def _svg(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def with_funnel(table: pd.DataFrame) -> pd.DataFrame:
    """The table with children in need and on plans (copies of the total's stock rows)."""
    stock = table[(table.measure == "stock") & (table.state == "total")]
    return pd.concat([table, stock.assign(state="cin"), stock.assign(state="cpp")])


def one(table: pd.DataFrame) -> pd.DataFrame:
    return table[table.authority == AUTHORITIES[0]]


def written_names(paths: list[Path]) -> set[str]:
    return {path.name for path in paths}


def test_forecast_figures_are_the_handful_that_answer_the_questions(tmp_path: Path) -> None:
    quantiles, differences = (
        with_funnel(one(quantile_table())),
        with_funnel(one(difference_table())),
    )
    written = forecast_figures(quantiles, differences, history_table(), tmp_path, flagged=False)
    names = ["looked_after", "children_in_need", "child_protection", "placements", "costs",
             "scenarios"]  # fmt: skip
    assert figure_names(quantiles, differences) == names
    assert written_names(written) == {
        f"E09000001_{name}{ext}" for name in names for ext in (".png", ".svg")
    }
    assert set(written_names(written)) == {path.name for path in tmp_path.iterdir()}
    for path in written:
        assert path.stat().st_size > 10_000, path
    assert (tmp_path / "E09000001_looked_after.png").read_bytes()[:4] == b"\x89PNG"
    fan = _svg(tmp_path / "E09000001_looked_after.svg")
    assert "all looked-after children" in fan and "Children at the month end" in fan
    assert "scenario: baseline" in fan and "scenario: more foster/kin" in fan
    assert "observed" in fan and "DIAGNOSTICS FAILED" not in fan
    assert "children in need" in _svg(tmp_path / "E09000001_children_in_need.svg")
    placements = _svg(tmp_path / "E09000001_placements.svg")
    assert "foster care with relatives or friends" in placements
    assert "more foster/kin median" in placements and "children in need" not in placements
    page = _svg(tmp_path / "E09000001_scenarios.svg")
    for label in ("children looked after", "children in need", "child protection plans",
                  "cost of care", "more foster/kin", "2025-09-30"):  # fmt: skip
        assert label in page, label
    assert "£ per month" in _svg(tmp_path / "E09000001_costs.svg")


def test_without_the_funnel_or_scenarios_there_are_fewer_figures(tmp_path: Path) -> None:
    quantiles = one(quantile_table())
    baseline = quantiles[quantiles.scenario == "baseline"]
    written = forecast_figures(baseline, difference_table().iloc[0:0], None, tmp_path, False)
    assert written_names(written) == {
        f"E09000001_{name}{ext}" for name in ("looked_after", "placements", "costs")
        for ext in (".png", ".svg")
    }  # fmt: skip


def test_figures_are_per_authority(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="per authority"):
        forecast_figures(quantile_table(), difference_table(), None, tmp_path, False)


def test_cost_axis_is_in_pounds(tmp_path: Path) -> None:
    quantiles = quantile_table()
    fan_chart(quantiles, None, "E09000001", "cost", "total", tmp_path / "cost", flagged=False)
    svg = _svg(tmp_path / "cost.svg")
    assert "Cost (£ per month)" in svg
    assert re.search(r">£\d[\d.]*m<", svg), "£m tick labels expected for millions"


def test_flagged_fit_puts_the_warning_in_every_figure_title(tmp_path: Path) -> None:
    quantiles, differences = one(quantile_table()), one(difference_table())
    written = forecast_figures(quantiles, differences, None, tmp_path, flagged=True)
    assert len(written) == 8
    for path in written:
        if path.suffix == ".svg":
            text = _svg(path)
            assert FAILED_FLAG in text, path
            assert f"<dc:title>{FAILED_FLAG}" in text, path  # the title, not just a watermark


def test_scenarios_keep_their_order_and_colour_in_every_figure(tmp_path: Path) -> None:
    # Three scenarios given in an order that is not alphabetical: every figure lists them in
    # that order (a sort by date must not shuffle them), so each keeps its colour.
    table = one(quantile_table())
    extra = [table[table.scenario == "more foster/kin"].assign(scenario=name)
             for name in ("zeta", "alpha")]  # fmt: skip
    quantiles = pd.concat([table, *extra], ignore_index=True)
    differences = quantiles[quantiles.scenario != "baseline"]
    forecast_figures(quantiles, differences, None, tmp_path, flagged=False)
    fan = _svg(tmp_path / "E09000001_looked_after.svg")
    order = [fan.index(f"scenario: {name}") for name in ("baseline", "more foster/kin", "zeta",
                                                           "alpha")]  # fmt: skip
    assert order == sorted(order)
    page = _svg(tmp_path / "E09000001_scenarios.svg")
    assert page.index(">zeta<") < page.index(">alpha<")


def test_file_names_are_safe() -> None:
    assert safe_stem("E09000001", "stock", "../res/x y") == "E09000001_stock_res-x-y"


# --- workbook -------------------------------------------------------------------------------

SHEETS = [
    "About",
    "Forecast",
    "History",
    "Scenario differences",
    "Probabilities",
    "Costs",
    "Back-test",
    "Diagnostics",
]


@pytest.fixture(scope="module")
def failed_book(tmp_path_factory: pytest.TempPathFactory) -> Xlsx:
    path = tmp_path_factory.mktemp("book") / "forecast.xlsx"
    write_workbook(
        path,
        quantile_table(),
        difference_table(),
        probability_table(),
        None,
        score_table(),
        FAILED,
        history=history_table(),
    )
    return Xlsx(path)


def test_workbook_has_every_sheet_in_order(failed_book: Xlsx) -> None:
    assert failed_book.sheet_names == SHEETS


def test_failed_diagnostics_are_flagged_on_every_sheet(failed_book: Xlsx) -> None:
    for sheet in SHEETS:
        verdict = failed_book.row(sheet, 1)[0]
        assert verdict.startswith(FAILED_FLAG), sheet
        assert "12 divergences" in verdict, sheet


def test_data_sheets_have_title_explanation_header_and_all_rows(failed_book: Xlsx) -> None:
    quantiles = quantile_table()
    expected_rows = {
        "Forecast": (quantiles.measure != "cost").sum(),
        "History": len(history_table()),
        "Scenario differences": len(difference_table()),
        "Probabilities": len(probability_table()),
        "Costs": (quantiles.measure == "cost").sum(),
        "Back-test": len(score_table()),
        "Diagnostics": 5 + len(FAILED["problems"]),
    }
    for sheet, rows in expected_rows.items():
        assert failed_book.row(sheet, 0)[0].startswith(sheet.split()[0]), sheet
        explanation = [failed_book.row(sheet, r)[0] for r in (2, 3, 4)]
        assert all(isinstance(line, str) and len(line) > 30 for line in explanation), sheet
        header = failed_book.row(sheet, HEADER_ROW)
        assert header[0] in ("authority", "check"), sheet
        assert failed_book.data_rows(sheet) == rows, sheet
        raw = failed_book.raw(sheet)
        assert f'ySplit="{FIRST_DATA_ROW}"' in raw and 'state="frozen"' in raw, sheet
        last_col = chr(ord("A") + len(header) - 1)
        assert f'<autoFilter ref="A{HEADER_ROW + 1}:{last_col}{HEADER_ROW + 1 + rows}"' in raw


def test_forecast_sheet_has_no_costs_and_costs_are_pounds(failed_book: Xlsx) -> None:
    header = failed_book.row("Forecast", HEADER_ROW)
    assert header == ["authority", "scenario", "period_end", "measure", "state", "mean", *QS]
    measure_col = header.index("measure")
    forecast = failed_book.cells("Forecast")
    measures = {value for (r, c), (value, _) in forecast.items() if c == measure_col and r > 6}
    assert measures == {"stock"}
    costs = failed_book.cells("Costs")
    q50 = header.index("q50")
    value, number_format = costs[(FIRST_DATA_ROW, q50)]
    assert value == pytest.approx(2_000_000.0)
    assert number_format == "£#,##0"
    assert forecast[(FIRST_DATA_ROW, 2)] == (pytest.approx(45777.0), "yyyy-mm-dd")  # 2025-04-30
    assert forecast[(FIRST_DATA_ROW, header.index("mean"))][1] == "#,##0.0"


def test_probabilities_are_percentages_and_point_forecast_coverage_blank(
    failed_book: Xlsx,
) -> None:
    header = failed_book.row("Probabilities", HEADER_ROW)
    value, number_format = failed_book.cells("Probabilities")[
        (FIRST_DATA_ROW, header.index("probability"))
    ]
    assert value == pytest.approx(0.93) and number_format == "0.0%"
    scores = failed_book.cells("Back-test")
    header = failed_book.row("Back-test", HEADER_ROW)
    coverage = header.index("coverage_80")
    assert scores[(FIRST_DATA_ROW, coverage)] == (pytest.approx(0.79), "0%")
    assert scores[(FIRST_DATA_ROW + 1, coverage)][0] is None  # last_value: no interval


def test_difference_cost_rows_are_signed_pounds(failed_book: Xlsx) -> None:
    header = failed_book.row("Scenario differences", HEADER_ROW)
    cells = failed_book.cells("Scenario differences")
    formats = {
        cells[(r, header.index("measure"))][0]: cells[(r, header.index("q50"))][1]
        for r in range(FIRST_DATA_ROW, FIRST_DATA_ROW + len(difference_table()))
    }
    assert formats == {"stock": "+#,##0;-#,##0;0", "cost": "+£#,##0;-£#,##0;£0"}


def test_about_sheet_explains_the_workbook(failed_book: Xlsx) -> None:
    text = " ".join(
        str(value) for value, _ in failed_book.cells("About").values() if value is not None
    )
    assert "carecast version" in text
    assert "q05 = 5% chance the outcome is below this value" in text
    for sheet in SHEETS[1:]:
        assert sheet in text
    assert "£" in text and "children" in text
    assert re.search(r"Made \d{4}-\d\d-\d\d", text)


def test_empty_inputs_give_sheets_that_say_so(tmp_path: Path) -> None:
    quantiles = quantile_table()
    path = tmp_path / "baseline_only.xlsx"
    no_cost = quantiles[(quantiles.scenario == "baseline") & (quantiles.measure != "cost")]
    empty = difference_table().iloc[0:0]
    write_workbook(path, no_cost, empty, probability_table().iloc[0:0], None, None, PASSED)
    book = Xlsx(path)
    assert book.sheet_names == [sheet for sheet in SHEETS if sheet != "History"]
    assert "no scenarios" in book.row("Scenario differences", HEADER_ROW)[0].lower()
    assert "no probabilities" in book.row("Probabilities", HEADER_ROW)[0].lower()
    assert "no costs" in book.row("Costs", HEADER_ROW)[0].lower()
    assert "no back-test" in book.row("Back-test", HEADER_ROW)[0].lower()
    assert book.data_rows("Scenario differences") == 0
    assert book.data_rows("Forecast") == len(no_cost)
    for sheet in book.sheet_names:
        verdict = book.row(sheet, 1)[0]
        assert verdict.startswith("Fit diagnostics passed"), sheet
        assert "FAILED" not in verdict


def test_missing_diagnostics_count_as_failed(tmp_path: Path) -> None:
    path = tmp_path / "unchecked.xlsx"
    write_workbook(path, quantile_table(), None, None, None, None, None)
    book = Xlsx(path)
    assert all(book.row(sheet, 1)[0].startswith(FAILED_FLAG) for sheet in book.sheet_names)
    assert "no diagnostics" in book.row("Diagnostics", HEADER_ROW)[0].lower()


def test_child_identifier_columns_are_refused(tmp_path: Path) -> None:
    leaked = probability_table().assign(CHILD="123")
    with pytest.raises(ValueError, match="child-level"):
        write_workbook(tmp_path / "x.xlsx", quantile_table(), None, leaked, None, None, PASSED)
