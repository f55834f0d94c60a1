"""The privacy scan finds an identifier wherever an output could hold one, so that its
clean verdicts on the demo (``test_workflow``) and the hostile inputs mean something."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from privacy_scan import identifiers, leaks

from model.synth import synthesize


@pytest.fixture(scope="module")
def found(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    folder = tmp_path_factory.mktemp("privacy")
    synthesize(folder, authorities=1, first_year=2024, last_year=2025, seed=4)
    return identifiers(folder)


def test_every_kind_of_identifier_is_collected(found: dict[str, set[str]]) -> None:
    assert {k: len(v) > 10 for k, v in found.items()} == dict.fromkeys(found, True)
    assert not {"UN1", "UN4", ""} & found["UPN"]


@pytest.mark.parametrize("kind", ["child id", "UPN", "DOB", "postcode"])
def test_a_planted_identifier_is_found_in_every_format(
    found: dict[str, set[str]], kind: str, tmp_path: Path
) -> None:
    value = sorted(found[kind])[0]
    (tmp_path / "report.txt").write_text(f"problem with {value}.\n")
    pd.DataFrame({"where": [f"row 3 ({value})"], "n": [1]}).to_csv(tmp_path / "t.csv")
    (tmp_path / "q.json").write_text(json.dumps({"examples": [{"value": value}]}))
    pd.DataFrame({"x": [value]}).to_excel(tmp_path / "w.xlsx", engine="xlsxwriter")
    pd.DataFrame({"x": [value]}).to_parquet(tmp_path / "p.parquet")
    problems = leaks(found, [tmp_path], {"console": f"INFO read {value}"})
    where = {p.split(":")[0] for p in problems}
    expected = {str(tmp_path / n) for n in ("report.txt", "t.csv", "q.json", "w.xlsx")}
    assert where == expected | {str(tmp_path / "p.parquet"), "console"}


def test_numbers_and_dates_that_only_look_alike_are_not_leaks(
    found: dict[str, set[str]], tmp_path: Path
) -> None:
    child = sorted(found["child id"])[0]
    pd.DataFrame({"cost": [float(child) + 0.5], "period": ["2024-03-31"]}).to_csv(
        tmp_path / "forecast.csv"
    )
    (tmp_path / "log.txt").write_text(f"cost 1{child}.5 at 2024-04-01\n")
    assert leaks(found, [tmp_path]) == []


def test_a_column_named_like_an_identifier_is_a_leak(
    found: dict[str, set[str]], tmp_path: Path
) -> None:
    pd.DataFrame({"CHILD": [1, 2]}).to_csv(tmp_path / "rows.csv")
    assert leaks(found, [tmp_path]) == [f"{tmp_path / 'rows.csv'}: a column named CHILD"]
