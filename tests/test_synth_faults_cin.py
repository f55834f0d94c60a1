"""CIN census faults (``model.synth.faults_cin``): every kind is injected, each manifest row
names a change that is really in the files, nothing else changes, and the files stay valid
against their XSD except for the two kinds meant to break it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from lxml import etree

from model.ingest.safe_xml import safe_parser
from model.ingestcin.schema import validate_cin_xml
from model.synth.authorities import AuthoritySpec
from model.synth.records import SimulatedAuthority
from model.synth.synthesize import write_authority
from model.synth.truth_config import load_truth

FIRST, LAST = 2019, 2024
SEED = 7
SPEC = AuthoritySpec("SYN01", "001", "CIN faults", 30_000)
# Raised well above the defaults so that every kind occurs in one small authority.
CIN_RATES = {
    "cin_id_changed": 0.05,
    "assessment_before_referral": 0.005,
    "duplicate_module": 0.003,
    "unknown_referral_source": 0.002,
    "closure_reason_missing": 0.005,
    "closure_before_referral": 0.005,
    "referral_after_census": 0.005,
    "missing_lachildid": 0.002,
    "open_episode_dropped": 0.01,
    "closure_removed_before_new_referral": 0.05,
}
RECOVERABLE = {
    "cin_id_changed",
    "assessment_before_referral",
    "duplicate_module",
    "unknown_referral_source",
}
# The XSD messages of the two kinds meant to make a file invalid (one message per fault).
INVALID_BY_DESIGN = {
    "unknown_referral_source": re.compile(r"Element 'ReferralSource': .*The value '99'"),
    "missing_lachildid": re.compile(
        r"Element '(UPN|UPNunknown)': This element is not expected\. Expected is \( LAchildID \)"
    ),
}
MODULE_START = {
    "Assessments": "AssessmentActualStartDate",
    "Section47": "S47ActualStartDate",
    "ChildProtectionPlans": "CPPstartDate",
}


@dataclass
class Run:
    folder: Path
    auth: SimulatedAuthority
    manifest: pd.DataFrame


def _write(folder: Path, faults: bool, rates: dict[str, float] | None = None) -> Run:
    truth_file = folder.parent / f"{folder.name}_truth.yaml"
    truth_file.write_text(yaml.safe_dump({"faults": rates or {}}), encoding="utf-8")
    auth = write_authority(folder, load_truth(truth_file), SPEC, FIRST, LAST, SEED, faults)
    manifest = pd.read_csv(folder / "truth" / "faults.csv", keep_default_na=False, dtype=str)
    return Run(folder, auth, manifest)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """The same authority and seed written four ways."""
    out = tmp_path_factory.mktemp("cin_faults")
    no_cin = dict.fromkeys(CIN_RATES, 0.0)
    return {
        "faulty": _write(out / "faulty", True, CIN_RATES),
        "again": _write(out / "again", True, CIN_RATES),
        "clean": _write(out / "clean", False, CIN_RATES),
        "no_cin": _write(out / "no_cin", True, no_cin),
    }


def _cin_path(folder: Path, year: int) -> Path:
    return folder / "cin" / f"cin_census_{year}.xml"


def _root(folder: Path, year: int) -> etree._Element:
    return etree.fromstring(_cin_path(folder, year).read_bytes(), safe_parser())


def _children(folder: Path, year: int) -> dict[str, etree._Element]:
    """Child elements by LAchildID (children without one are left out)."""
    root = _root(folder, year)
    return {
        c.findtext("ChildIdentifiers/LAchildID"): c
        for c in root.iter("Child")
        if c.find("ChildIdentifiers/LAchildID") is not None
    }


def _detail(child: etree._Element | None, referral: str) -> etree._Element | None:
    """The child's CINdetails with this CINreferralDate, or None."""
    if child is None:
        return None
    found = [d for d in child.iterfind("CINdetails") if d.findtext("CINreferralDate") == referral]
    assert len(found) <= 1
    return found[0] if found else None


def _cin_rows(run: Run) -> pd.DataFrame:
    return run.manifest[run.manifest.table == "cin"]


def test_every_kind_is_injected_once_per_child_away_from_903_faults(runs: dict[str, Run]) -> None:
    manifest = runs["faulty"].manifest
    cin = _cin_rows(runs["faulty"])
    assert set(cin.fault) == set(CIN_RATES)
    assert (cin.recoverable == cin.fault.isin(RECOVERABLE).astype(str)).all()
    assert (cin.child != "").all()
    assert (cin.groupby("child").fault.nunique() == 1).all(), "two CIN kinds on one child"
    # Kinds other than cin_id_changed and assessment_before_referral change one item only.
    single = cin[~cin.fault.isin(["cin_id_changed", "assessment_before_referral"])]
    assert not single.child.duplicated().any()
    children_903 = set(manifest[(manifest.table != "cin") & (manifest.child != "")].child)
    assert not children_903 & set(cin.child)
    by_kind = cin.groupby("fault").child.nunique()
    assert by_kind.min() >= 2, by_kind.to_dict()
    # Episode kinds name the episode by its true referral date.
    episode_kinds = cin[~cin.fault.isin(["cin_id_changed", "missing_lachildid"])]
    assert episode_kinds.decom.str.fullmatch(r"\d{4}-\d\d-\d\d").all()


def test_same_seed_gives_the_same_bytes(runs: dict[str, Run]) -> None:
    faulty, again = runs["faulty"].folder, runs["again"].folder
    files = sorted(p.relative_to(faulty) for p in faulty.rglob("*") if p.is_file())
    assert len(files) > 20
    for name in files:
        assert (faulty / name).read_bytes() == (again / name).read_bytes(), name


def test_cin_faults_leave_903_files_and_rows_alone(runs: dict[str, Run]) -> None:
    """The CIN faults draw from their own seed stream: the 903 side is as without them, and
    with every CIN rate at zero the CIN files are those of a run without faults."""
    faulty, no_cin, clean = runs["faulty"], runs["no_cin"], runs["clean"]
    for path in sorted((faulty.folder / "ssda903").rglob("*.csv")):
        other = no_cin.folder / path.relative_to(faulty.folder)
        assert path.read_bytes() == other.read_bytes(), path
    rows_903 = faulty.manifest[faulty.manifest.table != "cin"].reset_index(drop=True)
    assert len(rows_903) > 0
    pd.testing.assert_frame_equal(rows_903, no_cin.manifest)
    assert clean.manifest.empty
    for year in range(FIRST, LAST + 1):
        clean_bytes = _cin_path(clean.folder, year).read_bytes()
        assert _cin_path(no_cin.folder, year).read_bytes() == clean_bytes, year
        assert _cin_path(faulty.folder, year).read_bytes() != clean_bytes, year


def test_files_are_valid_but_for_the_kinds_meant_to_break_them(runs: dict[str, Run]) -> None:
    cin = _cin_rows(runs["faulty"])
    for year in range(FIRST, LAST + 1):
        errors = validate_cin_xml(_cin_path(runs["faulty"].folder, year), year)
        expected = cin[(cin.year == str(year)) & cin.fault.isin(INVALID_BY_DESIGN)]
        assert len(errors) == len(expected), (year, errors[:5])
        for kind, pattern in INVALID_BY_DESIGN.items():
            matching = [e for e in errors if pattern.search(e)]
            assert len(matching) == (expected.fault == kind).sum(), (year, kind, errors[:5])


def test_only_the_listed_children_change(runs: dict[str, Run]) -> None:
    cin = _cin_rows(runs["faulty"])
    for year in range(FIRST, LAST + 1):
        faulty = _children(runs["faulty"].folder, year)
        clean = _children(runs["clean"].folder, year)
        affected = set(cin[cin.year == str(year)].child)
        renamed = {_new_value(d) for d in cin[cin.fault == "cin_id_changed"].detail}
        assert set(faulty) <= set(clean) | renamed
        for child in set(clean) - affected:
            assert etree.tostring(faulty[child]) == etree.tostring(clean[child]), (year, child)
        header = [etree.tostring(_root(r.folder, year)[0]) for r in (runs["faulty"], runs["clean"])]
        assert header[0] == header[1]


def _new_value(detail: str) -> str:
    return detail.split(" written as ")[1]


def test_each_row_points_at_a_real_change(runs: dict[str, Run]) -> None:
    faulty, clean = runs["faulty"], runs["clean"]
    years = range(FIRST, LAST + 1)
    files = {y: _children(faulty.folder, y) for y in years}
    originals = {y: _children(clean.folder, y) for y in years}
    roots = {y: _root(faulty.folder, y) for y in years}
    kids = faulty.auth.children.drop_duplicates("child_id", keep="first")
    upn = dict(zip(kids.child_id, kids.upn, strict=True))
    in_care = set(faulty.auth.episodes.child_id)
    checked: set[str] = set()
    for row in _cin_rows(faulty).itertuples():
        year = int(row.year)
        child = files[year].get(row.child)
        before = _detail(originals[year].get(row.child), row.decom)
        det = _detail(child, row.decom)
        reference = roots[year].findtext("Header/CollectionDetails/ReferenceDate")
        if row.fault == "cin_id_changed":
            new_id = _new_value(row.detail)
            assert all(row.child not in files[y] for y in years)
            assert len(upn[row.child]) == 13 and row.child in in_care
            assert files[year][new_id].findtext("ChildIdentifiers/UPN") == upn[row.child]
            rows = _cin_rows(faulty)
            listed = set(rows[rows.child == row.child].year.astype(int))
            assert listed == {y for y in years if row.child in originals[y]}
        elif row.fault == "assessment_before_referral":
            starts = [a.findtext("AssessmentActualStartDate") for a in det.iterfind("Assessments")]
            assert _new_value(row.detail) in starts
            assert _new_value(row.detail) < row.decom
        elif row.fault == "duplicate_module":
            tag, start = row.detail.split(" starting ")[0], row.detail.split()[2]
            modules = [etree.tostring(m, with_tail=False) for m in det.iterfind(tag)]
            copies = [m for m in det.iterfind(tag) if m.findtext(MODULE_START[tag]) == start]
            assert len(copies) >= 2 and len(modules) == len(set(modules)) + 1
            assert copies[0].getnext() is copies[1]
        elif row.fault == "unknown_referral_source":
            assert det.findtext("ReferralSource") == "99" != before.findtext("ReferralSource")
        elif row.fault == "closure_reason_missing":
            assert det.find("CINclosureDate") is not None
            assert det.find("ReasonForClosure") is None
            assert before.find("ReasonForClosure") is not None
        elif row.fault == "closure_before_referral":
            closure = det.findtext("CINclosureDate")
            assert closure == _new_value(row.detail) < row.decom
            assert before.findtext("CINclosureDate") >= row.decom
        elif row.fault == "referral_after_census":
            assert det is None and before is not None
            typo = _detail(child, _new_value(row.detail))
            assert typo is not None and _new_value(row.detail) > reference
        elif row.fault == "missing_lachildid":
            assert row.child not in files[year] and row.child in originals[year]
            without = [c for c in roots[year].iter("Child") if c.find(".//LAchildID") is None]
            rows = _cin_rows(faulty)
            assert len(without) == ((rows.fault == row.fault) & (rows.year == row.year)).sum()
        elif row.fault == "open_episode_dropped":
            assert det is None and before is not None
            earlier = _detail(files[year - 1].get(row.child), row.decom)
            assert earlier is not None and earlier.find("CINclosureDate") is None
            assert all(
                _detail(files[y].get(row.child), row.decom) is None for y in range(year, LAST + 1)
            )
        elif row.fault == "closure_removed_before_new_referral":
            assert det.find("CINclosureDate") is None and det.find("ReasonForClosure") is None
            assert before.find("CINclosureDate") is not None
            later = row.detail.split("next CINreferralDate ")[1]
            assert _detail(child, later) is not None and later > row.decom
        else:
            raise AssertionError(f"unexpected CIN fault {row.fault}")
        checked.add(row.fault)
    assert checked == set(CIN_RATES)
