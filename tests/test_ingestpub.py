"""Ingest of DfE's published local-authority tables (``carecast ingest published``).

The default tests run on the cut copies in ``tests/data/published`` (real DfE files, a few
authorities, bytes as published; see the README there). Expected numbers were read off the
raw files: each check names the file and line it comes from. The last test runs on the
whole shared copy of the published tables, when it is there.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from model.cli import main
from model.codes import PLACE_GROUP
from model.ingestpub import PublishedInputError, PublishedResult, ingest_published
from model.ingestpub.catalogue import EES_PLACEMENTS, placement_targets
from model.ingestpub.changes import REORGANISATIONS
from model.ingestpub.combine import national_total
from model.ingestpub.values import EES_MARKERS, SFR_MARKERS, parse_counts
from model.observations import OBSERVATION_COLUMNS

DATA = Path(__file__).parent / "data" / "published"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "dfe_published"
KEY = ["authority", "period", "measure", "state", "age_band", "to_state", "reason"]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> PublishedResult:
    return ingest_published(DATA, tmp_path_factory.mktemp("published"))


def value(obs: pd.DataFrame, authority: str, year: int, measure: str, **keys: str) -> int | None:
    """The published value of one figure (keys default to ""), or None without a row."""
    want = {"state": "", "age_band": "", "reason": ""} | keys
    rows = obs[
        (obs.authority == authority) & (obs.period == f"{year}-03-31") & (obs.measure == measure)
    ]
    for column, text in want.items():
        rows = rows[rows[column] == text]
    assert len(rows) <= 1
    return int(rows.value.iloc[0]) if len(rows) else None


# ------------------------------------------------------------------------------- values


def test_markers_mean_what_dfe_says() -> None:
    raw = pd.Series(["12", " 7 ", "12.0", "0", "c", "x", "z", "k", "K", "low", "", ".."])
    value, status, k = parse_counts(raw, EES_MARKERS)
    assert value.tolist()[:4] == [12, 7, 12, 0]
    assert status.tolist()[4:] == [
        "suppressed", "not_available", "not_applicable", "value", "value", "suppressed",
        "not_available", "not_available",
    ]  # fmt: skip
    assert value[7] == 0 and value[8] == 0 and k[7] and not k[0]
    assert value[4:7].isna().all()
    # In the SFR underlying data x is suppression (one to five children).
    _, status, _ = parse_counts(pd.Series(["x", ".."]), SFR_MARKERS)
    assert status.tolist() == ["suppressed", "not_available"]
    _, status, _ = parse_counts(pd.Series(["abc", "-3", "1.5", "#VALUE!"]), EES_MARKERS)
    assert (status == "invalid").all()


def test_placement_categories_group_only_when_whole() -> None:
    """A category is used only when its whole group is in categories of that group alone:
    2021's categories give residential; the older "secure units, children's homes and
    semi-independent living" (K1, K2, H5) spans two groups and spoils residential."""
    names = [
        "foster placements",
        "secure homes and children's homes",
        "other residential settings",
        "residential schools",
    ]
    new = {k: EES_PLACEMENTS[k] for k in names}
    targets = placement_targets(new, PLACE_GROUP)
    assert targets["foster placements"].measure == ""
    assert targets["other residential settings"].state == "residential"
    mixed = "secure units, children's homes and semi-independent living accommodation"
    old = {k: v for k, v in new.items() if k != names[1]} | {mixed: EES_PLACEMENTS[mixed]}
    targets = placement_targets(old, PLACE_GROUP)
    assert targets[mixed].measure == "" and "several" in targets[mixed].note
    assert targets["other residential settings"].measure == ""
    assert "incomplete" in targets["residential schools"].note


# ------------------------------------------------------------------------------ outputs


def test_outputs_have_the_decided_layout(result: PublishedResult, tmp_path: Path) -> None:
    obs = result.observations
    assert list(obs.columns) == ["authority", *OBSERVATION_COLUMNS]
    assert obs.period.str.fullmatch(r"\d{4}-03-31").all()
    assert (obs.value >= 0).all() and obs.value.dtype == "int64"
    assert not obs.duplicated(KEY).any()
    assert (obs.to_state == "").all()
    assert set(obs.measure) == {
        "dfe_looked_after", "dfe_started", "dfe_ceased", "dfe_in_need", "dfe_on_plan",
        "dfe_referrals", "dfe_rereferrals", "dfe_plans_started", "dfe_s47", "dfe_icpc",
        "population",
    }  # fmt: skip
    states = {"looked_after", "cin", "cpp", "", "foster_kin", "foster_other", "residential",
              "supported", "with_parents", "adoption", "other"}  # fmt: skip
    assert set(obs.state) <= states
    assert set(obs.age_band) <= {"", "under_1", "1_to_4", "5_to_9", "10_to_15", "16_to_17"}
    assert set(obs.reason) <= {"", "return_home", "adoption", "sgo_cao", "independence", "other"}
    assert list(result.authorities.columns[:6]) == [
        "authority", "old_la_code", "la_name", "first_year", "last_year", "notes",
    ]  # fmt: skip
    out = tmp_path / "again"
    ingest_published(DATA, out)
    written = pd.read_csv(out / "observations_published.csv", dtype=str, keep_default_na=False)
    assert len(written) == len(obs)
    assert (out / "authorities.csv").exists()
    assert json.loads((out / "data_quality_published.json").read_text())["reconciles"]
    assert "Identity check" in (out / "data_quality_published.txt").read_text()


EXPECTED = [
    # authority, year, measure, keys, value, where it is in the raw files
    ("E09000002", 2021, "dfe_looked_after", {"state": "looked_after"}, 391,
     "cla_number_and_rate_per_10k_children_2021_2025.csv line 5"),
    ("E09000002", 2019, "dfe_looked_after", {"state": "looked_after"}, 414,
     "rate 2019_2023 (2023 release) over placement stability 2018_2022"),
    ("E09000002", 2018, "dfe_looked_after", {"state": "looked_after"}, 409,
     "la_cla_at_31_march_placement_stability_2018_2022.csv, Total children"),
    ("E09000002", 2021, "dfe_started", {"state": "looked_after"}, 185, "rate 2021_2025"),
    ("E09000002", 2021, "dfe_ceased", {"state": "looked_after"}, 198, "rate 2021_2025"),
    ("E09000002", 2021, "dfe_ceased", {"state": "looked_after", "reason": "adoption"}, 14,
     "ceased 2018_2022: Adopted"),
    ("E09000002", 2021, "dfe_ceased", {"state": "looked_after", "reason": "sgo_cao"}, 28,
     "ceased 2018_2022: residence/CAO 8 + special guardianship 20"),
    ("E09000002", 2021, "dfe_ceased", {"state": "looked_after", "age_band": "16_to_17"}, 108,
     "ceased 2018_2022: 16 years 7 + 17 years 14 + 18 and over 87"),
    ("E09000002", 2021, "population", {}, 64112, "ONS file, time_period 2020 (mid-2020)"),
    ("E09000002", 2021, "dfe_in_need", {"state": "cin"}, 2927, "b1 At31_episodes"),
    ("E09000002", 2021, "dfe_referrals", {}, 3938, "c1 referral_count"),
    ("E09000002", 2021, "dfe_rereferrals", {}, 483, "c1 rereferral_count"),
    ("E09000002", 2021, "dfe_s47", {}, 883, "c4 Section47"),
    ("E09000002", 2021, "dfe_icpc", {}, 423, "c4 ICPC"),
    ("E09000002", 2021, "dfe_on_plan", {"state": "cpp"}, 324, "d5 CPP_At31"),
    ("E09000002", 2021, "dfe_plans_started", {"state": "cpp"}, 367, "d3 CPP_start"),
    # SFR 2010: placement values in alphabetical code order (Q1 = 14, Q2 = 262 ...).
    ("E09000002", 2010, "dfe_looked_after", {"state": "foster_kin"}, 14, "SFR27_2010_March"),
    ("E09000002", 2010, "dfe_looked_after", {"state": "foster_other"}, 262, "SFR27_2010_March"),
    ("E09000002", 2010, "dfe_looked_after", {"state": "with_parents"}, 14, "SFR27_2010_March"),
    ("E09000002", 2010, "dfe_looked_after", {"state": "supported"}, 32, "H5 0 + P2 32 + P3 0"),
    ("E09000002", 2010, "dfe_looked_after", {"state": "looked_after"}, 378, "MarTotal_2010"),
    # SFR 2010 ceased by reason: columns named CeasedHome_2010 etc.
    ("E09000002", 2010, "dfe_ceased", {"state": "looked_after", "reason": "return_home"}, 134,
     "SFR27_2010_Ceased CeasedHome_2010"),
    ("E09000002", 2010, "dfe_ceased", {"state": "looked_after", "reason": "independence"}, 0,
     "SFR27_2010_Ceased: with support 0 + without 0 + adult care 0"),
    # SFR 2015 starters: the column says 2014, the file name 2015.
    ("E09000002", 2015, "dfe_started", {"state": "looked_after"}, 268, "SFR34_ADM2015"),
    # SFR21_CEA.csv has no year anywhere but its folder and siblings: 2011.
    ("E09000002", 2011, "dfe_ceased", {"state": "looked_after"}, 214, "SFR21_CEA CLA_cease"),
    ("E09000002", 2011, "dfe_ceased", {"state": "looked_after", "reason": "return_home"}, 126,
     "SFR21_CEA CLA_ceaPar"),
    ("E09000002", 2011, "dfe_ceased", {"state": "looked_after", "age_band": "under_1"}, 12,
     "SFR21_CEA CLA_cea1"),
    # Published under Gateshead's pre-2013 code E08000020.
    ("E08000037", 2011, "dfe_looked_after", {"state": "looked_after"}, 365, "SFR21_CLA"),
    # 2021 ceased: 158 in the 2023 release, 159 in the 2025 release: the newer wins.
    ("E08000037", 2021, "dfe_ceased", {"state": "looked_after"}, 159, "rate 2021_2025"),
    # Reorganisation of Bournemouth, Poole and Dorset on 1 April 2019.
    ("E06000028", 2019, "dfe_looked_after", {"state": "looked_after"}, 248, "rate 2019_2023"),
    ("E06000029", 2019, "dfe_looked_after", {"state": "looked_after"}, 192, "rate 2019_2023"),
    ("E10000009", 2019, "dfe_looked_after", {"state": "looked_after"}, 414, "rate 2019_2023"),
    ("E06000058", 2020, "dfe_looked_after", {"state": "looked_after"}, 506, "rate 2019_2023"),
    ("E06000059", 2020, "dfe_looked_after", {"state": "looked_after"}, 476, "rate 2019_2023"),
    ("CMB_BCP_DORSET", 2019, "dfe_looked_after", {"state": "looked_after"}, 248 + 192 + 414,
     "sum of the predecessors"),
    ("CMB_BCP_DORSET", 2020, "dfe_looked_after", {"state": "looked_after"}, 506 + 476,
     "sum of the successors"),
    ("CMB_NORTHAMPTONSHIRE", 2022, "population", {}, 79186 + 92050,
     "ONS mid-2021: North + West Northamptonshire"),
]  # fmt: skip


@pytest.mark.parametrize(("authority", "year", "measure", "keys", "expected", "where"), EXPECTED)
def test_figures_match_the_raw_files(
    result: PublishedResult,
    authority: str,
    year: int,
    measure: str,
    keys: dict[str, str],
    expected: int,
    where: str,
) -> None:
    assert value(result.observations, authority, year, measure, **keys) == expected, where


@pytest.mark.parametrize(
    ("authority", "year", "measure", "keys", "why"),
    [
        ("E09000002", 2021, "dfe_ceased", {"state": "looked_after", "reason": "return_home"},
         "one returned-home category is c"),
        ("E09000001", 2015, "dfe_started", {"state": "looked_after"}, "SFR x (suppressed)"),
        ("E06000028", 2020, "dfe_looked_after", {"state": "looked_after"}, "z: Bournemouth gone"),
        ("E06000058", 2019, "dfe_looked_after", {"state": "looked_after"}, "z: BCP not yet"),
        ("E06000061", 2021, "dfe_looked_after", {"state": "looked_after"}, "z: not yet"),
        ("E09000002", 2011, "dfe_ceased", {"state": "looked_after", "reason": "adoption"},
         "consent dispensed with is x"),
        ("E09000002", 2018, "dfe_looked_after", {"state": "foster_kin"},
         "no foster split after 2010"),
    ],
)  # fmt: skip
def test_withheld_figures_have_no_row(
    result: PublishedResult, authority: str, year: int, measure: str, keys: dict, why: str
) -> None:
    assert value(result.observations, authority, year, measure, **keys) is None, why


def test_breakdowns_add_up_to_their_total(result: PublishedResult) -> None:
    """Where every age band is published, they add up to the all-ages figure (2021)."""
    obs = result.observations
    one = obs[(obs.authority == "E09000002") & (obs.period == "2021-03-31")]
    for measure in ("dfe_looked_after", "dfe_started", "dfe_ceased"):
        rows = one[(one.measure == measure) & (one.state == "looked_after") & (one.reason == "")]
        assert rows[rows.age_band != ""].value.sum() == rows[rows.age_band == ""].value.iloc[0]


# ---------------------------------------------------------------------- authorities


def test_reorganised_authorities_never_double_count(result: PublishedResult) -> None:
    auth = result.authorities.set_index("authority")
    assert auth.loc["CMB_BCP_DORSET", "kind"] == "combined"
    for code in ("E06000028", "E06000029", "E10000009", "E06000058", "E06000059"):
        assert auth.loc[code, "kind"] == "authority"
        assert auth.loc[code, "part_of"] == "CMB_BCP_DORSET"
    assert auth.loc["E06000028", "last_year"] == 2019
    assert auth.loc["E06000058", "first_year"] == 2020
    assert auth.loc["E10000021", "last_year"] == 2021
    assert auth.loc["E06000060", "old_la_code"] == "825"
    assert "E10000002" in auth.loc["E06000060", "notes"]
    assert "E10000002" not in set(result.observations.authority)
    # Predecessors and successors never share a year, so the national sum counts each
    # area once; combined units stay out of it.
    obs = result.observations
    for change in REORGANISATIONS:
        members = obs[obs.authority.isin(change.predecessors + change.successors)]
        years = members.groupby("authority").period.agg(["min", "max"])
        for code in change.successors:
            if code in years.index:
                assert years.loc[code, "min"] >= f"{change.year}-03-31"
        for code in change.predecessors:
            if code in years.index:
                assert years.loc[code, "max"] < f"{change.year}-03-31"
    total = national_total(obs, result.authorities)
    stock = total[(total.measure == "dfe_looked_after") & (total.state == "looked_after")]
    stock = stock[stock.age_band == ""].set_index("period").value
    kept = obs[~obs.authority.str.startswith("CMB_")]
    kept = kept[(kept.measure == "dfe_looked_after") & (kept.state == "looked_after")]
    assert stock.to_dict() == kept[kept.age_band == ""].groupby("period").value.sum().to_dict()


def test_combined_units_add_up_their_members(result: PublishedResult) -> None:
    obs = result.observations
    change = REORGANISATIONS[0]
    unit = obs[obs.authority == change.unit].set_index(KEY[1:]).value
    members = obs[obs.authority.isin(change.predecessors + change.successors)]
    before = members[
        members.authority.isin(change.predecessors) & (members.period < f"{change.year}-03-31")
    ]
    both = before.groupby(KEY[1:]).agg(value=("value", "sum"), n=("authority", "nunique"))
    both = both[both.n == len(change.predecessors)].value
    assert len(both) > 20
    assert unit.reindex(both.index).tolist() == both.tolist()


# --------------------------------------------------------------------------- report


def test_report_accounts_for_every_row(result: PublishedResult) -> None:
    report = result.report
    assert report["reconciles"]
    for f in report["files"]:
        assert f["rows_read"] == f["rows_used"] + sum(f["rows_not_used"].values()), f["file"]
    cells = report["cells"]
    assert cells["read"] == sum(v for k, v in cells.items() if k != "read")
    files = {f["file"]: f for f in report["files"]}
    assert files["README.md"]["layout"] == "not a table"
    assert "read as 2015" in " ".join(files["cla/sfr/2015/SFR34_ADM2015.csv"]["notes"])
    assert "code order" in " ".join(files["cla/sfr/2010/SFR27_2010_March.csv"]["notes"])
    assert "2011" in " ".join(files["cla/sfr/2011/SFR21_CEA.csv"]["notes"])
    # Gateshead 2021: the 2023 release's 158 lost to the 2025 release's 159.
    pairs = {(p["superseded_file"], p["winning_file"]): p for p in report["overlaps"]["pairs"]}
    pair = pairs[
        (
            "cla/cla_number_and_rate_per_10k_children_2019_2023.csv",
            "cla/cla_number_and_rate_per_10k_children_2021_2025.csv",
        )
    ]
    assert pair["differ"] == 1 and pair["largest_difference"] == 1
    assert report["zeros"]["z_counted_as_0_in_a_group"] > 0
    assert any(m["category"] == "placement | foster placements" for m in report["not_mapped"])


# ------------------------------------------------------------------- file handling


def _rewrite(source: Path, target: Path, columns: list[str], bom: bool, newline: str) -> None:
    table = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    text = table[columns].to_csv(index=False, lineterminator=newline)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes((("\ufeff" if bom else "") + text).encode("utf-8"))


@pytest.mark.parametrize(
    "name",
    [
        "cin/b1_children_in_need_2013_to_2025.csv",
        "cla/cla_number_and_rate_per_10k_children_2019_2023.csv",
        "cla/sfr/2017/SFR50_CEA2017.csv",
    ],
)
def test_columns_are_found_by_name(tmp_path: Path, name: str) -> None:
    """The same table with its columns reversed, with or without a byte-order mark and in
    LF or CRLF, gives the same observations."""
    original = tmp_path / "original" / name
    original.parent.mkdir(parents=True)
    shutil.copy(DATA / name, original)
    columns = list(pd.read_csv(original, dtype=str, nrows=0, encoding="utf-8-sig").columns)
    _rewrite(original, tmp_path / "reordered" / name, columns[::-1], bom=True, newline="\r\n")
    _rewrite(original, tmp_path / "plain" / name, columns, bom=False, newline="\n")
    first = ingest_published(tmp_path / "original", tmp_path / "out1").observations
    assert len(first) > 10
    for other in ("reordered", "plain"):
        again = ingest_published(tmp_path / other, tmp_path / f"out_{other}").observations
        pd.testing.assert_frame_equal(first, again)


CEASED_HEADER = (
    "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
    "region_name,new_la_code,old_la_code,la_name,cla_group,characteristic,number,percentage"
)
HARTLEPOOL = (
    "2021,Reporting year,Local authority,E92000001,England,E12000001,North East,E06000001,805,"
    "Hartlepool"
)


def _ceased(tmp_path: Path, rows: list[str]) -> pd.DataFrame:
    """Observations of a small ceased-by-characteristic file for Hartlepool, 2021."""
    folder = tmp_path / "in"
    folder.mkdir()
    text = "\n".join([CEASED_HEADER, *[f"{HARTLEPOOL},{r}" for r in rows]]) + "\n"
    (folder / "ceased.csv").write_text(text, encoding="utf-8")
    return ingest_published(folder, tmp_path / "out").observations


def test_k_is_zero_and_z_beside_numbers_is_zero(tmp_path: Path) -> None:
    obs = _ceased(
        tmp_path,
        [
            "Age on ceasing,Total,40,100",
            "Age on ceasing,16 years,k,k",
            "Age on ceasing,17 years,5,1",
            "Age on ceasing,18 years and over,z,z",
            "Reason episode ceased,Adopted,k,0",
            "Reason episode ceased,Special guardianship orders,c,c",
            "Reason episode ceased,Residence order or child arrangement order granted,3,1",
        ],
    )
    ceased = {"state": "looked_after"}
    assert value(obs, "E06000001", 2021, "dfe_ceased", **ceased) == 40
    assert value(obs, "E06000001", 2021, "dfe_ceased", **ceased, reason="adoption") == 0
    assert value(obs, "E06000001", 2021, "dfe_ceased", **ceased, age_band="16_to_17") == 5
    assert value(obs, "E06000001", 2021, "dfe_ceased", **ceased, reason="sgo_cao") is None


def test_an_unknown_category_leaves_no_group_short(tmp_path: Path) -> None:
    obs = _ceased(
        tmp_path,
        [
            "Age on ceasing,Total,40,100",
            "Reason episode ceased,Total,40,100",
            "Reason episode ceased,Adopted,10,25",
            "Reason episode ceased,Care ceased for any other reason,20,50",
            "Reason episode ceased,A reason DfE adds next year,10,25",
        ],
    )
    assert value(obs, "E06000001", 2021, "dfe_ceased", state="looked_after") == 40
    assert set(obs.reason) == {""}


def test_one_area_under_two_codes_in_one_file_counts_once(tmp_path: Path) -> None:
    header = (
        "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
        "region_name,old_la_code,new_la_code,la_name,category,CPP_start"
    )
    lines = [
        header,
        "2021,Reporting year,Local authority,E92000001,England,E12000008,South East,825,"
        "E10000002,Buckinghamshire,Plans,z",
        "2021,Reporting year,Local authority,E92000001,England,E12000008,South East,825,"
        "E06000060,Buckinghamshire,Plans,7",
        "2020,Reporting year,Local authority,E92000001,England,E12000008,South East,825,"
        "E10000002,Buckinghamshire,Plans,5",
        "2020,Reporting year,Local authority,E92000001,England,E12000008,South East,825,"
        "E06000060,Buckinghamshire,Plans,6",
    ]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "d3.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = ingest_published(tmp_path / "in", tmp_path / "out")
    obs = result.observations
    assert value(obs, "E06000060", 2021, "dfe_plans_started", state="cpp") == 7
    assert value(obs, "E06000060", 2020, "dfe_plans_started", state="cpp") == 5
    assert set(obs.authority) == {"E06000060"}
    assert result.report["cells"]["duplicate_in_file"] == 2


def test_identity_check_flags_a_national_figure_that_does_not_add_up(tmp_path: Path) -> None:
    header = (
        "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
        "region_name,old_la_code,la_name,new_la_code,population_type,population_estimate,"
        "children_count,rate_per_10000"
    )
    label = "Children looked after on 31 March each year"

    def la(code: str, old: str, n: int) -> str:
        return f"2021,Reporting year,Local authority,E92000001,England,E12000001,North East,{old},Somewhere,{code},{label},1000,{n},1"  # noqa: E501

    for national, ok in ((1230, True), (1290, False)):
        folder = tmp_path / str(national)
        folder.mkdir()
        lines = [
            header,
            f"2021,Reporting year,National,E92000001,England,,,,,,{label},9999,{national},1",
            la("E06000001", "805", 600),
            la("E06000002", "806", 627),
            la("E06000003", "807", 0),
        ]
        (folder / "rate.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        report = ingest_published(folder, tmp_path / f"out{national}").report
        (entry,) = report["identity_check"]["years"]
        assert entry["sum_over_authorities"] == 1227
        assert entry["within_tolerance"] is ok


def test_a_bad_value_is_named_by_file_line_and_column(tmp_path: Path) -> None:
    name = "cin/b1_children_in_need_2013_to_2025.csv"
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    fields = lines[5].split(",")
    at31 = lines[0].split(",").index("At31_episodes")
    fields[at31] = "abc"
    lines[5] = ",".join(fields)
    bad = tmp_path / "in" / name
    bad.parent.mkdir(parents=True)
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(PublishedInputError) as error:
        ingest_published(tmp_path / "in", tmp_path / "out")
    message = str(error.value)
    assert name in message and "line 6" in message and "'At31_episodes'" in message
    assert "'abc'" in message


def test_a_bad_year_and_a_bad_gzip_are_named(tmp_path: Path) -> None:
    name = "cin/d3_cpp_starts_and_subsequent_plans_2013_to_2025.csv"
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    lines[3] = "20x1" + lines[3][4:]
    bad = tmp_path / "year" / "d3.csv"
    bad.parent.mkdir()
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(PublishedInputError, match=r"d3.csv: time_period '20x1' on line 4"):
        ingest_published(bad.parent, tmp_path / "out")
    broken = tmp_path / "gzip" / "ceased.csv.gz"
    broken.parent.mkdir()
    broken.write_bytes(gzip.compress(b"time_period,geographic_level\n")[:12])
    with pytest.raises(PublishedInputError, match=r"ceased\.csv\.gz: not a readable gzip"):
        ingest_published(broken.parent, tmp_path / "out")


def test_cli_reports_user_errors_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("nothing here\n")
    status = main(["ingest", "published", str(empty), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2
    assert "carecast ingest published:" in err and "no local-authority figures" in err
    assert "Traceback" not in err
    status = main(["-q", "ingest", "published", str(DATA), "--out", str(tmp_path / "ok")])
    assert status == 0 and (tmp_path / "ok" / "observations_published.csv").exists()


# ------------------------------------------------------------- the whole shared copy


NATIONAL_LOOKED_AFTER = {
    # year: (national figure in the file the authorities' figures come from, rounding unit)
    2010: (64400, 100),  # SFR27_2010_March.csv (rounded to 100 over 1,000)
    2011: (65520, 10),  # SFR21_CLA.csv
    2012: (67050, 10),  # SFR20_CLA2012.csv
    2013: (68110, 10),  # SFR36_CLA2013.csv
    2014: (68840, 10),  # SFR36_CLA2014.csv
    2015: (69540, 10),  # SFR34_CLA2015.csv
    2016: (70440, 10),  # SFR41_CLA2016.csv
    2017: (72670, 10),  # SFR50_CLA2017.csv
    2018: (75360, 10),  # la_cla_at_31_march_placement_stability_2018_2022.csv
    2019: (78140, 10),  # cla_number_and_rate_per_10k_children_2019_2023.csv
    2020: (80000, 10),  # cla_number_and_rate_per_10k_children_2019_2023.csv
    2021: (80780, 10),  # cla_number_and_rate_per_10k_children_2021_2025.csv
}


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not there")
def test_whole_shared_copy_adds_up_to_the_national_figures(tmp_path: Path) -> None:
    """Identity check: the sum over authorities of children looked after at 31 March is
    DfE's national figure in every year, within its rounding and the suppressed figures."""
    result = ingest_published(SHARED, tmp_path)
    obs, auth = result.observations, result.authorities
    real = auth[auth.kind == "authority"]
    assert real.first_year.notna().sum() >= 150
    assert obs.period.min() == "2010-03-31" and obs.period.max() == "2022-03-31"
    total = national_total(obs, auth)
    stock = (
        total[
            (total.measure == "dfe_looked_after")
            & (total.state == "looked_after")
            & (total.age_band == "")
        ]
        .set_index("period")
        .value
    )
    checks = {e["year"]: e for e in result.report["identity_check"]["years"]
              if e["measure"] == "dfe_looked_after"}  # fmt: skip
    for year, (national, unit) in NATIONAL_LOOKED_AFTER.items():
        suppressed = checks[year]["suppressed"]
        assert abs(stock[f"{year}-03-31"] - national) <= unit / 2 + 5 * suppressed, year
        assert checks[year]["national"] == national and checks[year]["within_tolerance"]
    # Adding the combined units would count Bournemouth, Poole and Dorset twice.
    everything = obs[(obs.measure == "dfe_looked_after") & (obs.state == "looked_after")]
    everything = everything[everything.age_band == ""].groupby("period").value.sum()
    assert (everything["2019-03-31"] - stock["2019-03-31"]) > 500
    assert result.report["reconciles"]
