"""CIN census ingest: round trip against the generator's truth, samples, bad input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from model.cli import main
from model.ingest903 import IngestError, ingest_903
from model.ingest903.observe import care_segments, observe_903
from model.ingestcin import ingest_cin
from model.ingestcin.clean import CleanCin
from model.ingestcin.observe import observe_cin
from model.observations import (
    KEY_COLUMNS,
    OBSERVATION_COLUMNS,
    combine_observations,
    conservation_residuals,
)
from model.synth.authorities import AuthoritySpec
from model.synth.records import SimulatedAuthority
from model.synth.synthesize import write_authority
from model.synth.truth import true_observations
from model.synth.truth_config import load_truth

FIRST, LAST = 2018, 2024
SAMPLES = Path(__file__).parent / "data" / "samples" / "cin_census" / "synthetic"
CHILD_TABLES = ("children", "episodes", "assessments", "section47", "cpp", "cin_plans")


def synthesize_and_ingest(
    tmp_path: Path, faults: bool, seed: int
) -> tuple[SimulatedAuthority, Path, object, object]:
    """One synthetic authority written, then ingested: 903 first, CIN linked to it."""
    spec = AuthoritySpec("SYN01", "001", "Round trip", 30_000)
    folder = tmp_path / "SYN01"
    auth = write_authority(folder, load_truth(None), spec, FIRST, LAST, seed, faults)
    out, private = tmp_path / "out", tmp_path / "private"
    r903 = ingest_903([folder / "ssda903"], "SYN01", out, private)
    rcin = ingest_cin([folder / "cin"], "SYN01", out, private)
    return auth, folder, r903, rcin


def differences(truth: pd.DataFrame, observed: pd.DataFrame) -> pd.DataFrame:
    """Cells where the combined monthly observations differ from the truth. Re-referrals
    are compared from the second census year on (the ingest reports them from then)."""
    mine = observed[~observed.measure.str.startswith("dfe_")]
    both = truth.merge(mine, on=KEY_COLUMNS, how="outer", suffixes=("_true", ""))
    both = both.fillna({"value_true": 0, "value": 0})
    first_year = (both.measure == "rereferral") & (both.period <= f"{FIRST}-03-31")
    return both[(both.value_true != both.value) & ~first_year]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    tmp = tmp_path_factory.mktemp("cin_clean")
    return (tmp, *synthesize_and_ingest(tmp, faults=False, seed=3))


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    tmp = tmp_path_factory.mktemp("cin_faulty")
    return (tmp, *synthesize_and_ingest(tmp, faults=True, seed=5))


def test_round_trip_without_faults_is_exact(clean_run: tuple) -> None:
    _, auth, _, r903, rcin = clean_run
    combined = combine_observations(r903.observations, rcin.observations)
    diff = differences(true_observations(auth), combined)
    assert diff.empty, diff.head(20).to_string()
    assert (conservation_residuals(combined).to_numpy() == 0).all()
    report = rcin.report
    assert report["reconciles"]
    assert report["rows"]["repaired"] == report["rows"]["quarantined"] == 0
    assert report["link"]["link_rate"] == 1.0 and report["link"]["found_by_upn"] == 0
    # Re-referrals are reported from the second census year on, and only then.
    rereferral = rcin.observations[rcin.observations.measure == "rereferral"]
    assert rereferral.period.min() > f"{FIRST}-03-31" and rereferral.value.sum() > 0


def test_entries_to_care_by_route_add_up_to_the_903_entries(clean_run: tuple) -> None:
    _, auth, _, r903, rcin = clean_run
    obs = rcin.observations
    by_route = (
        obs[obs.measure == "care_entry"].groupby(["period", "age_band", "to_state"]).value.sum()
    )
    o9 = r903.observations
    entries = o9[(o9.measure == "transition") & (o9.state == "outside")]
    assert (
        by_route.to_dict()
        == entries.groupby(["period", "age_band", "to_state"]).value.sum().to_dict()
    )
    # Every route occurs, and the routes are the truth's (the state the day before entry).
    truth = true_observations(auth)
    care = set(r903.observations.query("measure == 'stock'").state)
    true_entries = truth[
        (truth.measure == "transition") & truth.to_state.isin(care) & ~truth.state.isin(care)
    ]
    routes = obs[obs.measure == "care_entry"].groupby("state").value.sum()
    assert routes.to_dict() == true_entries.groupby("state").value.sum().to_dict()
    assert set(routes.index) == {"outside", "cin", "cpp"}


def test_annual_figures_match_the_records(clean_run: tuple) -> None:
    _, auth, _, _, rcin = clean_run
    annual = rcin.observations[rcin.observations.measure.str.startswith("dfe_")]
    table = annual.set_index(["period", "measure"]).value
    cin, cpp = (
        auth.cin_details,
        auth.cpp.merge(auth.cin_details[["cin_id", "child_id"]], on="cin_id"),
    )
    for year in range(FIRST, LAST + 1):
        lo, hi = pd.Timestamp(f"{year - 1}-04-01"), pd.Timestamp(f"{year}-03-31")
        open_cin = (cin.referral_date <= hi) & ~(cin.closure_date <= hi)
        on_plan = (cpp.start_date <= hi) & ~(cpp.end_date <= hi)
        period = f"{year}-03-31"
        assert table[period, "dfe_referrals"] == cin.referral_date.between(lo, hi).sum()
        assert table[period, "dfe_in_need"] == cin.child_id[open_cin].nunique()
        assert table[period, "dfe_on_plan"] == cpp.child_id[on_plan].nunique()
        assert table[period, "dfe_plans_started"] == cpp.start_date.between(lo, hi).sum()


def _without(clean: CleanCin, children: set[str]) -> CleanCin:
    return dataclasses.replace(
        clean,
        **{n: getattr(clean, n)[~getattr(clean, n).LAchildID.isin(children)] for n in CHILD_TABLES},
    )


def test_round_trip_with_faults_is_exact_but_for_unrecoverable_ones(faulty_run: tuple) -> None:
    _, auth, folder, r903, rcin = faulty_run
    manifest = pd.read_csv(folder / "truth" / "faults.csv", keep_default_na=False)
    lost = set(manifest.child[manifest.recoverable.astype(str) == "False"])
    cin_kinds = set(manifest.fault[manifest.table == "cin"])
    assert {"cin_id_changed", "assessment_before_referral", "duplicate_module"} <= cin_kinds
    episodes = r903.clean.episodes[~r903.clean.episodes.CHILD.isin(lost)]
    observed_903 = observe_903(dataclasses.replace(r903.clean, episodes=episodes), FIRST, LAST)
    observed_cin = observe_cin(
        _without(rcin.clean, lost), FIRST, LAST, rcin.links[~rcin.links.CHILD.isin(lost)],
        care_segments(episodes), r903.clean.children,
    )  # fmt: skip
    combined = combine_observations(observed_903, observed_cin)
    diff = differences(true_observations(auth.without_children(lost)), combined)
    assert diff.empty, diff.head(20).to_string()
    assert rcin.report["reconciles"]


def test_each_fault_is_caught_by_its_rule(faulty_run: tuple) -> None:
    _, _, folder, _, rcin = faulty_run
    manifest = pd.read_csv(folder / "truth" / "faults.csv", keep_default_na=False)
    cin = manifest[manifest.table == "cin"]
    report = rcin.report
    rules, not_used = report["repair_rules"], report["not_used"]

    def episodes_with(fault: str) -> int:
        return len(cin[cin.fault == fault].drop_duplicates(["child", "decom"]))

    assert rules["start_before_referral"] == episodes_with("assessment_before_referral")
    assert rules["closure_reason_missing"] == episodes_with("closure_reason_missing")
    assert not_used["quarantined: CINclosureDate: before the referral date"] == episodes_with(
        "closure_before_referral"
    )
    assert not_used[
        "quarantined: CINreferralDate: after the census reference date"
    ] == episodes_with("referral_after_census")
    repeated = sum(n for k, n in not_used.items() if k.endswith("repeated in the file"))
    # A copy in an earlier census loses to the later census's copy instead.
    assert 0 < repeated <= (cin.fault == "duplicate_module").sum()
    # Children whose CIN id changed are found through their UPN.
    link = report["link"]
    assert link["found_by_upn"] >= 1
    assert link["found_by_upn"] <= cin.child[cin.fault == "cin_id_changed"].nunique()
    missing_ids = [i for i in report["file_issues"] if i["element"] == "LAchildID"]
    assert missing_ids and all("Child " in i["where"] for i in missing_ids)


def test_shared_outputs_hold_no_child_identifiers(faulty_run: tuple) -> None:
    tmp, auth, _, _, _ = faulty_run
    shared = "".join(p.read_text(encoding="utf-8") for p in (tmp / "out").iterdir() if p.is_file())
    kids = auth.children
    identifiers = set(kids.child_id) | set(kids.upn[kids.upn != ""])
    tokens = set(shared.replace(",", " ").replace('"', " ").split())
    assert not identifiers & tokens
    private = {p.name for p in (tmp / "private").iterdir()}
    assert {"episodes_cin.parquet", "links_cin.parquet", "row_outcomes_cin.parquet"} <= private


# --------------------------------------------------------------------------- samples


IMPLAUSIBLE_SAMPLES = {"csc_validator_cin_fake/CIN_Census_2021.xml", "liia_tools/BAR_cin_2022.xml"}
"""One child each, born in the 1960s with referrals in 1970: outside the plausibility gates
(issue 15), so nothing in them is usable."""


@pytest.mark.parametrize(
    "name", sorted(p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*.xml"))
)
def test_every_sample_ingests_with_a_reconciled_report(name: str, tmp_path: Path) -> None:
    if name in IMPLAUSIBLE_SAMPLES:
        with pytest.raises(IngestError, match="every one was quarantined:\n  date_before_1990"):
            ingest_cin([SAMPLES / name], "X", tmp_path / "out", tmp_path / "private")
        return
    result = ingest_cin([SAMPLES / name], "X", tmp_path / "out", tmp_path / "private")
    report = json.loads((tmp_path / "out" / "data_quality_cin.json").read_text())
    assert report["reconciles"] and report["rows"]["read"] > 0
    assert report == json.loads(json.dumps(result.report))
    text = (tmp_path / "out" / "data_quality_cin.txt").read_text()
    assert "reconciles" in text and "DOES NOT" not in text


def test_sample_date_problems_are_in_the_report(tmp_path: Path) -> None:
    ingest_cin([SAMPLES / "csc_validator_cin_fake"], "X", tmp_path / "out", tmp_path / "p")
    report = json.loads((tmp_path / "out" / "data_quality_cin.json").read_text())
    file_issues = " ".join(i["found"] for i in report["file_issues"])
    checks = " ".join(i["found"] for i in report["failed_checks"])
    assert "ReferenceDate 2022-07-21 is not 31 March" in file_issues
    assert "CINreferralDate: after the census reference date" in checks
    assert "a closure before the census year" in checks
    # The 1970 child of CIN_Census_2021.xml (the one authorised after closure) is now
    # outside the plausibility gates (issue 15): quarantined, so not repaired.
    assert {"start_before_referral", "plan_ended_at_closure"} <= set(report["repair_rules"])
    assert report["plausibility_gates"]["date_before_1990"]["quarantined"] >= 1


# --------------------------------------------------------------------------- bad input

HEADER = """<?xml version="1.0" encoding="utf-8"?>
<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>2023</Year>
<ReferenceDate>2023-03-31</ReferenceDate></CollectionDetails><Source><SourceLevel>L</SourceLevel>
<LEA>001</LEA><SoftwareCode>t</SoftwareCode><Release>1</Release><SerialNo>1</SerialNo>
<DateTime>2023-04-01T00:00:00</DateTime></Source></Header><Children>
"""


def child(lachildid: str | None = "A1", referral: str = "2022-06-01", closure: str = "",
          reason: str = "", source: str = "1A", extra: str = "") -> str:  # fmt: skip
    """One Child element with one CINdetails."""
    ident = f"<LAchildID>{lachildid}</LAchildID>" if lachildid is not None else ""
    close = f"<CINclosureDate>{closure}</CINclosureDate>" if closure else ""
    why = f"<ReasonForClosure>{reason}</ReasonForClosure>" if reason else ""
    return (
        f"<Child><ChildIdentifiers>{ident}<UPNunknown>UN1</UPNunknown>"
        "<PersonBirthDate>2015-01-01</PersonBirthDate><GenderCurrent>1</GenderCurrent>"
        "</ChildIdentifiers><ChildCharacteristics><Ethnicity>WBRI</Ethnicity>"
        "</ChildCharacteristics><CINdetails>"
        f"<CINreferralDate>{referral}</CINreferralDate><ReferralSource>{source}</ReferralSource>"
        f"<PrimaryNeedCode>N1</PrimaryNeedCode>{close}{why}{extra}"
        "<ReferralNFA>0</ReferralNFA></CINdetails></Child>\n"
    )


def census(tmp_path: Path, *children: str, name: str = "cin_census_2023.xml") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(children) + "</Children></Message>\n", encoding="utf-8")
    return path


def run_cli(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = main(["-q", "ingest", "cin", str(path), "--authority", "X",
                 "--out", str(tmp_path / "out"), "--private", str(tmp_path / "p")])  # fmt: skip
    return code, capsys.readouterr().err


def quality(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "data_quality_cin.json").read_text())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<Message><Children><Child>", "line"),
        (
            '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
            "<Message>&b;</Message>",
            "DOCTYPE",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            "<Message>&x;</Message>",
            "DOCTYPE",
        ),
        ('<?xml version="1.0"?><Return><Child/></Return>', "Message"),
    ],
    ids=["malformed", "bomb", "external_entity", "wrong_root"],
)
def test_unusable_files_give_a_message_not_a_traceback(
    text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "cin_census_2023.xml"
    path.write_text(text, encoding="utf-8")
    code, err = run_cli(path, tmp_path, capsys)
    assert code == 2
    assert str(path) in err and expected in err and "Traceback" not in err


def test_truncated_file_fails_the_run_naming_the_break(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # Was exit 0 with the error only in the report (issue 15): a census cut short now
    # fails the run, naming the file, the line and the children read before the break.
    path = census(tmp_path, child("A1"), child("A2"))
    path.write_text(path.read_text()[:-40], encoding="utf-8")
    code, err = run_cli(path, tmp_path, capsys)
    assert code == 2
    assert f"{path}: census cut short at line" in err and "1 Child elements read" in err
    assert not (tmp_path / "out" / "observations_cin.csv").exists()


def test_missing_id_dates_outside_the_year_and_unknown_codes_are_located(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = census(
        tmp_path,
        child("A1"),
        child(None),
        child("A3", referral="2023-06-01"),
        child("A4", source="ZZ"),
        child("A5", closure="2021-01-01", reason="RC7", referral="2020-01-01"),
    )
    code, _ = run_cli(path, tmp_path, capsys)
    assert code == 0
    report = quality(tmp_path)
    issues = {(i["where"], i["element"]) for i in report["file_issues"]}
    assert (f"{path}, Child 2", "LAchildID") in issues
    assert (f"{path}, Child 4", "ReferralSource") in issues
    checks = {i["found"].split(" (e.g.")[0]: i for i in report["failed_checks"]}
    late = checks["CINreferralDate: after the census reference date"]
    assert f"{path} child 3 CINdetails 1" in late["found"] and late["severity"] == "error"
    unknown = checks["a code not in the census code lists"]
    assert f"{path} child 4 CINdetails 1" in unknown["found"] and unknown["severity"] == "warning"
    early = checks["a closure before the census year"]
    assert f"{path} child 5 CINdetails 1" in early["found"]
    # 3: A3's late referral, and the child without LAchildID (its Child and CINdetails
    # rows: read and quarantined since issue 15, skipped uncounted before).
    assert report["rows"]["quarantined"] == 3 and report["reconciles"]
    assert report["plausibility_gates"]["no_lachildid"]["quarantined"] == 2
    shared = (tmp_path / "out" / "data_quality_cin.txt").read_text()
    assert "A1" not in shared and "A3" not in shared


# --------------------------------------------------------------------------- cleaning rules


def two_censuses(tmp_path: Path, first: list[str], second: list[str]) -> CleanCin:
    census(tmp_path, *first, name="cin_census_2023.xml")
    text = HEADER.replace("2023", "2024")
    (tmp_path / "cin_census_2024.xml").write_text(
        text + "".join(second) + "</Children></Message>\n", encoding="utf-8"
    )
    return ingest_cin([tmp_path], "X", tmp_path / "out", tmp_path / "p").clean


def test_an_episode_open_over_31_march_is_kept_once_with_the_latest_copy(tmp_path: Path) -> None:
    clean = two_censuses(
        tmp_path,
        [child("A1", referral="2022-06-01")],
        [child("A1", referral="2022-06-01", closure="2023-05-01", reason="RC7")],
    )
    assert len(clean.episodes) == 1
    assert clean.episodes.closure.iloc[0] == pd.Timestamp("2023-05-01")
    outcomes = clean.outcomes[clean.outcomes.table == "cin_details"]
    assert sorted(outcomes.outcome) == ["accepted", "superseded"]


def test_an_open_episode_missing_from_the_next_census_is_closed_1_april(tmp_path: Path) -> None:
    clean = two_censuses(tmp_path, [child("A1"), child("A2")], [child("A2")])
    a1 = clean.episodes.set_index("LAchildID").loc["A1"]
    assert a1.closure == pd.Timestamp("2023-04-01") and a1.reason == ""
    assert "open_episode_missing_next_year" in set(clean.outcomes.rule)


def test_overlapping_episodes_and_plans_are_truncated(tmp_path: Path) -> None:
    plans = (
        "<ChildProtectionPlans><CPPstartDate>2022-07-01</CPPstartDate>"
        "<InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>"
        "<LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>"
        "<NumberOfPreviousCPP>0</NumberOfPreviousCPP></ChildProtectionPlans>"
        "<ChildProtectionPlans><CPPstartDate>2022-09-01</CPPstartDate><CPPendDate>2022-12-01"
        "</CPPendDate><InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>"
        "<LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>"
        "<NumberOfPreviousCPP>1</NumberOfPreviousCPP></ChildProtectionPlans>"
    )
    two = child("A1", referral="2022-06-01", extra=plans).replace(
        "</CINdetails>",
        "</CINdetails><CINdetails><CINreferralDate>2023-01-10</CINreferralDate>"
        "<ReferralSource>1A</ReferralSource><PrimaryNeedCode>N1</PrimaryNeedCode>"
        "<ReferralNFA>0</ReferralNFA></CINdetails>",
    )
    clean = ingest_cin([census(tmp_path, two)], "X", tmp_path / "out", tmp_path / "p").clean
    episodes = clean.episodes.sort_values("referral")
    assert episodes.closure.iloc[0] == pd.Timestamp("2023-01-10")
    cpp = clean.cpp.sort_values("start")
    assert list(cpp.end) == [pd.Timestamp("2022-09-01"), pd.Timestamp("2022-12-01")]
    rules = set("+".join(clean.outcomes.rule).split("+"))
    assert {"open_episode_closed_at_next_referral", "plan_overlap_truncated"} <= rules


def test_link_falls_back_to_a_unique_upn(tmp_path: Path) -> None:
    from model.ingestcin.link import link_children

    cin = pd.DataFrame(
        {
            "LAchildID": ["A", "B", "C", "D", "E"],
            "UPN": ["", "K001234567890", "UN1", "M001234567890", "M001234567890"],
            "FormerUPN": ["", "", "", "", ""],
        }
    )
    children_903 = pd.DataFrame(
        {"CHILD": ["A", "b9", "c9", "d9"], "UPN": ["", "K001234567890", "UN1", "M001234567890"]}
    )
    links = link_children(cin, children_903).set_index("LAchildID")
    assert links.loc["A"].tolist() == ["A", "id"]
    assert links.loc["B"].tolist() == ["b9", "upn"]
    # A UN code is not a UPN; a UPN two CIN children share links neither.
    assert links.loc[["C", "D", "E"], "method"].tolist() == ["", "", ""]


def test_combining_inconsistent_observations_fails_clearly() -> None:
    row = {"period": "2023-01-31", "age_band": "5_to_9", "reason": ""}
    obs_903 = pd.DataFrame([{**row, "measure": "transition", "state": "outside",
                             "to_state": "residential", "value": 1}])  # fmt: skip
    obs_cin = pd.DataFrame([{**row, "measure": "transition", "state": "cpp",
                             "to_state": "residential", "value": 2}])  # fmt: skip
    with pytest.raises(ValueError, match="do not fit within the 903"):
        combine_observations(obs_903, obs_cin)
    obs_cin["value"] = 1
    combined = combine_observations(obs_903, obs_cin)
    assert combined[["state", "to_state", "value"]].values.tolist() == [["cpp", "residential", 1]]
    assert list(combined.columns) == OBSERVATION_COLUMNS


# --------------------------------------------------------------------------- flat layout


def to_flat(folder: Path, out: Path) -> None:
    """Rewrite XML censuses in the liia-tools flat layout: one row per dated event, the
    child's and the CINdetails' fields repeated on each, one file for all years."""
    from model.ingestcin.read import read_cin

    read = read_cin([folder])
    key = ["_source", "_child", "_detail"]
    child = read.children.rename(columns={"sex": "GenderCurrent"}).drop(columns="sex_element")
    detail = read.cin_details.merge(child, on=["LAchildID", "_source", "_child", "_year", "_la"])
    rows = [detail.assign(Type="CINreferralDate", Date=detail.CINreferralDate)]
    for name, start in (
        ("assessments", "AssessmentActualStartDate"),
        ("section47", "S47ActualStartDate"),
        ("cpp", "CPPstartDate"),
        ("cin_plans", "CINPlanStartDate"),
    ):
        module = read.table(name).drop(columns=["LAchildID", "_year", "_la"])
        module = module.rename(columns={"AssessmentFactors": "Factors"})
        # A S47's conference date goes in the layout's one DateOfInitialCPC column.
        merged = detail.drop(columns="DateOfInitialCPC" if name == "section47" else [])
        merged = merged.merge(module, on=key)
        rows.append(merged.assign(Type=start, Date=merged[start]))
    flat = pd.concat(rows, ignore_index=True).fillna("")
    flat["YEAR"], flat["LA"] = flat["_year"], flat["_la"]
    flat = flat.sort_values(["_year", "_child", "_detail"], kind="stable")
    flat.drop(columns=[*key, "_year", "_la"]).to_csv(out, index=False)


def test_flat_layout_gives_the_same_observations_as_the_xml(clean_run: tuple) -> None:
    tmp, _, folder, _, rcin = clean_run
    flat = tmp / "flat" / "cin_flat.csv"
    flat.parent.mkdir()
    to_flat(folder / "cin", flat)
    result = ingest_cin([flat], "SYN01", tmp / "flat_out", tmp / "private")
    assert result.report["reconciles"]
    mine = result.observations.set_index(KEY_COLUMNS).value
    xml = rcin.observations.set_index(KEY_COLUMNS).value
    assert mine.sort_index().equals(xml.sort_index())
