"""The synthetic generator writes valid returns in real formats and a truth that conserves
children and agrees with what the files say."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from model.codes import PLACE_GROUP, TEMPORARY_PLACES, valid_place_codes, valid_rec_codes
from model.ingestcin.schema import validate_cin_xml
from model.observations import conservation_residuals
from model.synth import synthesize
from model.synth.authorities import authority_specs
from model.synth.truth_config import load_truth
from model.synth.write_903 import TABLE_COLUMNS, collection_folder

FIRST, LAST = 2018, 2026  # spans E45-E48, SEX M/F (2024-25), K3 and Z11-Z14 (2025-26)
CONTINUATION_RNE = {"L", "P", "T", "B", "U"}


def _small_truth(tmp_path: Path, **overrides: object) -> Path:
    """A truth file for a small authority (about 100 children in care)."""
    data = {"authorities": {"population_0_17_min": 15000, "population_0_17_max": 15000}}
    data.update(overrides)
    path = tmp_path / "truth.yaml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small authority, no faults, years ending 2018 to 2026."""
    out = tmp_path_factory.mktemp("clean")
    truth = _small_truth(out)
    synthesize(out, authorities=1, first_year=FIRST, last_year=LAST, seed=11, truth_file=truth)
    return out / "SYN01"


def _read(folder: Path, year: int, table: str) -> pd.DataFrame:
    path = folder / "ssda903" / collection_folder(year) / f"{table}.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.replace("", None), format="%d/%m/%Y")


def _merged_episodes(folder: Path) -> pd.DataFrame:
    """All years' episodes, one row per (child, DECOM), the latest return winning."""
    frames = [_read(folder, y, "episodes").assign(YEAR=y) for y in range(FIRST, LAST + 1)]
    ep = pd.concat(frames).drop_duplicates(["CHILD", "DECOM"], keep="last")
    ep["start"], ep["end"] = _dates(ep.DECOM), _dates(ep.DEC)
    return ep.sort_values(["CHILD", "start"]).reset_index(drop=True)


def test_tables_have_exactly_the_dfe_columns(clean: Path) -> None:
    for year in range(FIRST, LAST + 1):
        for table, columns in TABLE_COLUMNS.items():
            assert list(_read(clean, year, table).columns) == columns, (year, table)


def test_codes_and_dates_are_valid_for_each_year(clean: Path) -> None:
    for year in range(FIRST, LAST + 1):
        ep = _read(clean, year, "episodes")
        places = set(ep.PLACE)
        assert places <= valid_place_codes(year), places - valid_place_codes(year)
        recs = set(ep.REC) - {""}
        assert recs <= valid_rec_codes(year), recs - valid_rec_codes(year)
        assert set(ep.RNE) <= {"S"} | CONTINUATION_RNE
        # DEC and REC both or neither (rule 148); DEC within the collection year (354).
        assert ((ep.DEC == "") == (ep.REC == "")).all()
        end = _dates(ep.DEC)
        assert (end.dropna() <= pd.Timestamp(f"{year}-03-31")).all()
        assert (end.dropna() >= pd.Timestamp(f"{year - 1}-04-01")).all()
        assert (_dates(ep.DECOM) <= pd.Timestamp(f"{year}-03-31")).all()
        header = _read(clean, year, "header")
        assert set(header.SEX) <= ({"M", "F"} if year >= 2025 else {"1", "2"})
        assert set(ep.CHILD) == set(header.CHILD)
    assert "K3" in set(_read(clean, 2026, "episodes").PLACE)


def test_episodes_chain_like_the_validator_requires(clean: Path) -> None:
    ep = _merged_episodes(clean)
    same_child = ep.CHILD.eq(ep.CHILD.shift(-1))
    nxt = ep.shift(-1)
    # Episodes last at least a day (355) and end after they start (356).
    closed = ep.end.notna()
    assert (ep.end[closed] > ep.start[closed]).all()
    # X1: the next episode of the child starts that day and continues the period (433).
    x1 = (ep.REC == "X1") & same_child
    assert (nxt.start[x1] == ep.end[x1]).all()
    assert nxt.RNE[x1].isin(CONTINUATION_RNE).all()
    assert not ((ep.REC == "X1") & ~same_child).any(), "X1 with no continuation (388)"
    # After an exit the next episode starts a new period, on a later day (431, 432).
    exit_ = ep.REC.str.startswith("E") & same_child
    assert (nxt.RNE[exit_] == "S").all()
    assert (nxt.start[exit_] > ep.end[exit_]).all()
    # No episode starts before the previous one ended (142, 501): open ones are last.
    assert not (ep.end.isna() & same_child).any()
    # A child's first episode starts a period (357), unless the period began before the
    # first return (its earlier episodes are in no file).
    first = ep.groupby("CHILD").first()
    assert (first.RNE[first.start >= pd.Timestamp(f"{FIRST - 1}-04-01")] == "S").all()
    # Periods neither start nor end in a temporary placement (380, 381).
    assert not ep.PLACE[ep.RNE == "S"].isin(TEMPORARY_PLACES).any()
    assert not ep.PLACE[ep.REC.str.startswith("E")].isin(TEMPORARY_PLACES).any()
    # Category of need is constant within a period (504).
    period = (ep.RNE == "S").groupby(ep.CHILD).cumsum()
    assert (ep.groupby([ep.CHILD, period]).CIN.nunique() == 1).all()


def test_open_episodes_reappear_closed_in_later_returns(clean: Path) -> None:
    first = _read(clean, 2020, "episodes")
    later = _read(clean, 2021, "episodes")
    still_open = first[first.DEC == ""]
    both = still_open.merge(later, on=["CHILD", "DECOM"], suffixes=("", "_later"))
    assert len(both) == len(still_open) > 0


def test_cin_census_files_validate_against_their_year_schema(clean: Path) -> None:
    for year in range(FIRST, LAST + 1):
        path = clean / "cin" / f"cin_census_{year}.xml"
        assert validate_cin_xml(path, year) == [], year


def test_cin_and_903_share_child_ids(clean: Path) -> None:
    """Looked-after children are children in need: every child in a year's 903 return is
    in that year's CIN census, under the same LA child id."""
    for year in (2019, 2023, 2026):
        text = (clean / "cin" / f"cin_census_{year}.xml").read_text()
        cin_ids = set(re.findall(r"<LAchildID>([^<]+)</LAchildID>", text))
        ids_903 = set(_read(clean, year, "episodes").CHILD)
        assert ids_903 and ids_903 <= cin_ids, year


@pytest.fixture(scope="module")
def truth(clean: Path) -> pd.DataFrame:
    return pd.read_csv(
        clean / "truth" / "observations.csv", dtype={"value": "int64"}, keep_default_na=False
    )


def test_truth_conserves_children(truth: pd.DataFrame) -> None:
    residuals = conservation_residuals(truth)
    assert residuals.shape[0] == (LAST - FIRST + 1) * 12
    assert (residuals.to_numpy() == 0).all()


def test_conservation_check_detects_a_lost_child(truth: pd.DataFrame) -> None:
    broken = truth.copy()
    row = broken.index[(broken.measure == "stock") & (broken.period == "2020-06-30")][0]
    broken.loc[row, "value"] += 1
    assert (conservation_residuals(broken).to_numpy() != 0).sum() == 2


def test_truth_stock_at_31_march_matches_the_903(clean: Path, truth: pd.DataFrame) -> None:
    """An independent count from the files: open episodes at 31 March by placement group,
    temporary placements taking the group of the placement they interrupt."""
    for year in (2019, 2022, 2026):
        ep = _read(clean, year, "episodes")
        ep = ep[~ep.LS.isin(["V3", "V4"])]
        ep = ep.assign(group=ep.PLACE.map(PLACE_GROUP))
        ep["group"] = ep.groupby("CHILD")["group"].ffill()
        open_ = ep[ep.DEC == ""]
        counted = open_.group.value_counts().sort_index()
        stock = truth[(truth.measure == "stock") & (truth.period == f"{year}-03-31")]
        care = stock[stock.state.isin(set(PLACE_GROUP.values()))]
        expected = care.groupby("state").value.sum().sort_index()
        pd.testing.assert_series_equal(counted, expected, check_names=False)


def test_truth_cin_stock_matches_the_census(clean: Path, truth: pd.DataFrame) -> None:
    """Children with an open CIN episode at 31 March = cin + cpp + looked-after stocks."""
    text = (clean / "cin" / "cin_census_2022.xml").read_text()
    children = text.split("<Child>")[1:]
    open_children = sum(
        1 for c in children if any("<CINclosureDate>" not in d for d in c.split("<CINdetails>")[1:])
    )
    stock = truth[(truth.measure == "stock") & (truth.period == "2022-03-31")]
    short_breaks = 0  # short-break children are open cases, counted in cin
    assert open_children == stock.value.sum() + short_breaks


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_and_different_seed_different_data(tmp_path: Path) -> None:
    truth = _small_truth(tmp_path, warmup_years=3)
    runs = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        synthesize(
            tmp_path / name,
            authorities=1,
            first_year=2022,
            last_year=2023,
            seed=seed,
            truth_file=truth,
            faults=True,
        )
        runs[name] = _digest(tmp_path / name)
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]


def test_first_written_year_is_already_steady(tmp_path: Path) -> None:
    """With no trend, the care population in the first written year is as large as later
    on (within four standard deviations of Poisson noise); without warm-up it is not."""
    flat = {"trend": {"log_growth_per_year": 0.0, "random_walk_sd_per_month": 0.0}}
    stocks = {}
    for warmup in (18, 0):
        folder = tmp_path / f"w{warmup}"
        truth = _small_truth(folder.parent, warmup_years=warmup, **flat)
        synthesize(folder, authorities=1, first_year=2016, last_year=2021, seed=3, truth_file=truth)
        obs = pd.read_csv(folder / "SYN01" / "truth" / "observations.csv", keep_default_na=False)
        care = obs[(obs.measure == "stock") & ~obs.state.isin(["cin", "cpp"])]
        march = care[care.period.str.endswith("03-31")].groupby("period").value.sum()
        stocks[warmup] = march.to_numpy()
    steady = stocks[18]
    later = steady[-3:].mean()
    assert abs(steady[0] - later) < 4 * np.sqrt(later)
    assert stocks[0][0] < later - 4 * np.sqrt(later)


def test_authorities_span_realistic_sizes() -> None:
    """Default sizes: roughly 100 to 1,000 children in care (DfE panel: most authorities),
    well spread, and adding authorities leaves the existing ones as they were."""
    truth = load_truth()
    specs = authority_specs(truth, 12)
    sizes = sorted(s.population_0_17 for s in specs)
    assert len({s.code for s in specs}) == 12
    # About 70 looked after per 10,000 children.
    assert 80 <= sizes[0] * 70 / 10_000 <= 150
    assert 700 <= sizes[-1] * 70 / 10_000 <= 1050
    three = sorted(s.population_0_17 for s in authority_specs(truth, 3))
    assert three[1] > 1.5 * three[0] and three[2] > 1.5 * three[1]
    assert authority_specs(truth, 3) == specs[:3]


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every fault kind at a high rate, over three years."""
    out = tmp_path_factory.mktemp("faulty")
    rates = {
        "stale_open": 0.05,
        "overlap": 0.05,
        "gap": 0.05,
        "near_duplicate": 0.02,
        "lowercase_codes": 0.02,
        "padded_codes": 0.02,
        "header_disagreement": 0.1,
        "byte_order_mark": 0.3,
        "windows_line_endings": 0.5,
        "cp1252": 0.3,
        "excel_serial_dates": 0.2,
        "two_digit_years": 0.8,
    }
    truth = _small_truth(out, faults=rates)
    synthesize(
        out, authorities=1, first_year=2020, last_year=2024, seed=2, truth_file=truth, faults=True
    )
    return out / "SYN01"


def _raw(folder: Path, year: int, table: str) -> bytes:
    return (folder / "ssda903" / collection_folder(year) / f"{table}.csv").read_bytes()


def test_every_fault_kind_is_injected_and_listed(faulty: Path) -> None:
    manifest = pd.read_csv(faulty / "truth" / "faults.csv", keep_default_na=False)
    # CIN census faults: tests/test_synth_faults_cin.py.
    manifest = manifest[manifest.table != "cin"]
    kinds = set(manifest.fault)
    expected = {
        "stale_open",
        "overlap",
        "gap",
        "near_duplicate",
        "lowercase_codes",
        "padded_codes",
        "header_disagreement",
        "byte_order_mark",
        "windows_line_endings",
        "cp1252",
        "excel_serial_dates",
        "two_digit_years",
    }
    assert kinds == expected
    # Only stale open episodes that hid an exit date are unrecoverable.
    unrecoverable = manifest[manifest.recoverable.astype(str) == "False"]
    assert set(unrecoverable.fault) <= {"stale_open"}
    assert not unrecoverable.detail.str.contains("REC X1").any()


def test_file_faults_show_in_the_bytes(faulty: Path) -> None:
    manifest = pd.read_csv(faulty / "truth" / "faults.csv", keep_default_na=False)
    for row in manifest.itertuples():
        if row.fault == "byte_order_mark":
            assert _raw(faulty, row.year, row.table).startswith(b"\xef\xbb\xbf")
        elif row.fault == "windows_line_endings":
            assert b"\r\n" in _raw(faulty, row.year, row.table)
        elif row.fault == "cp1252":
            raw = _raw(faulty, row.year, row.table)
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            assert "\u00a0" in raw.decode("cp1252")
        elif row.fault == "excel_serial_dates":
            text = _raw(faulty, row.year, row.table).decode("utf-8-sig", errors="replace")
            first_row = text.splitlines()[1].split(",")
            header = text.splitlines()[0].split(",")
            column = header.index(row.detail.split(", ")[0])
            assert first_row[column].isdigit(), first_row


def _read_faulty_episodes(folder: Path, year: int) -> pd.DataFrame:
    """A faulty episodes file read leniently: any encoding, codes stripped, Excel serial
    and two-digit-year dates turned back into timestamps."""
    raw = _raw(folder, year, "episodes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    table = table.apply(lambda column: column.str.strip())

    def parse(values: pd.Series) -> pd.Series:
        serial = values.str.isdigit() & (values != "")
        out = pd.to_datetime(values.where(~serial).replace("", None), dayfirst=True, format="mixed")
        days = pd.to_timedelta(pd.to_numeric(values.where(serial)), unit="D")
        return out.fillna(pd.Timestamp("1899-12-30") + days)

    table["start"], table["end"] = parse(table.DECOM), parse(table.DEC)
    return table


def test_row_faults_change_the_episode_they_name(faulty: Path) -> None:
    manifest = pd.read_csv(faulty / "truth" / "faults.csv", keep_default_na=False)
    rows = manifest[manifest.fault.isin(["stale_open", "overlap", "gap", "near_duplicate"])]
    assert len(rows) > 10
    for row in rows.itertuples():
        table = _read_faulty_episodes(faulty, row.year)
        written = table[(table.CHILD == row.child) & (table.start == pd.Timestamp(row.decom))]
        if row.fault == "near_duplicate":
            shifted = pd.Timestamp(row.detail.split("DECOM ")[1])
            copy = table[(table.CHILD == row.child) & (table.start == shifted)]
            assert len(copy) == 1 and copy.end.isna().all(), row
            continue
        assert len(written) == 1, row
        if row.fault == "stale_open":
            assert written.end.isna().all() and (written.REC == "").all()
        else:
            assert written.end.iloc[0] == pd.Timestamp(row.detail.split("written as ")[1])


def _march_care_stock(folder: Path, year: int) -> int:
    obs = pd.read_csv(folder / "SYN01" / "truth" / "observations.csv", keep_default_na=False)
    care = obs[(obs.measure == "stock") & ~obs.state.isin(["cin", "cpp"])]
    return int(care[care.period == f"{year}-03-31"].value.sum())


def test_feedback_slows_exits_when_care_is_over_capacity(tmp_path: Path) -> None:
    """Exits slowing as the care population passes a capacity (set below the usual 70
    per 10,000) keep more children in care: far more than Poisson noise can explain."""
    stocks = {}
    for name, coefficient in (("off", 0.0), ("on", -2.0)):
        feedback = {"capacity_per_10k": 50, "exit_log_rate_per_pressure": coefficient}
        truth = _small_truth(tmp_path / name, feedback=feedback)
        synthesize(tmp_path / name, authorities=1, first_year=2019, last_year=2020, seed=4,
                   truth_file=truth)  # fmt: skip
        stocks[name] = _march_care_stock(tmp_path / name, 2020)
    assert stocks["on"] > stocks["off"] + 4 * np.sqrt(stocks["off"])
    pressure = pd.read_csv(tmp_path / "on" / "SYN01" / "truth" / "monthly_multipliers.csv")
    assert (pressure.pressure > 0).all()
