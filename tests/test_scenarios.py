"""Scenario files: the examples, error messages, flow resolution and time profiles."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from model.codes import CARE_STATES, EXIT_REASONS
from model.config.carecast import CarecastConfig
from model.config.fit import StructureConfig
from model.forecast.scenarios import (
    CHANGE_TYPES,
    AddChildren,
    MultiplyRate,
    Redirect,
    Scenario,
    ScenarioError,
    SetCapacity,
    effect,
    load_scenarios,
    ramp,
    resolve_flow,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "config" / "scenarios" / "examples.yaml"
DEFAULT = StructureConfig()
MERGED = StructureConfig(
    placement_groups={g: "foster" if g.startswith("foster") else g for g in CARE_STATES}
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_lines(
    tmp_path: Path, text: str, structure: StructureConfig = DEFAULT, cin_funnel: bool = True
) -> list[str]:
    """The lines of the ScenarioError for ``text``; each must name the file."""
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(path, structure, cin_funnel)
    lines = str(caught.value).splitlines()
    assert lines
    assert all(line.startswith(f"{path}: ") for line in lines)
    return [line.removeprefix(f"{path}: ") for line in lines]


def one_change(change: str, name: str = "reunification_drive") -> str:
    """A file whose second scenario has ``change`` (a flow mapping) as its first change."""
    return f"""\
        scenarios:
          - name: edge_of_care
            changes:
              - {{type: multiply_rate, flow: cpp -> care, factor: 0.8, start: 2026-04-01}}
          - name: {name}
            changes:
              - {change}
        """


# --- the examples -----------------------------------------------------------------------------


def test_examples_load_with_the_default_structure():
    scenarios = load_scenarios(EXAMPLES, DEFAULT, cin_funnel=True)
    names = [s.name for s in scenarios]
    assert names[:4] == ["edge_of_care", "reunification_drive", "foster_recruitment", "step_down"]
    assert all(s.description for s in scenarios)
    edge = scenarios[0].changes[0]
    assert isinstance(edge, MultiplyRate)
    assert edge.flow.source == ("cpp",) and edge.flow.destination == CARE_STATES
    assert (edge.factor, edge.start, edge.ramp_months) == (0.8, date(2026, 4, 1), 12)
    redirect = scenarios[2].changes[0]
    assert isinstance(redirect, Redirect)
    assert redirect.flow.is_entry and redirect.flow.streams == ("care",)
    assert (redirect.flow.destination, redirect.to) == (("residential",), "foster_other")


def test_examples_need_the_cin_funnel_for_edge_of_care(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenarios(EXAMPLES, DEFAULT, cin_funnel=False)
    (line,) = str(caught.value).splitlines()
    assert 'scenario 1 (edge_of_care), change 1 (multiply_rate): flow "cpp -> care"' in line
    assert "no CIN funnel" in line


# --- error messages ---------------------------------------------------------------------------


def test_unknown_destination_names_file_scenario_change_field_and_expected(tmp_path):
    (line,) = error_lines(
        tmp_path,
        one_change(
            "{type: multiply_rate, flow: care -> exit:home, factor: 1.25, start: 2026-04-01}"
        ),
    )
    assert line.startswith(
        'scenario 2 (reunification_drive), change 1 (multiply_rate): flow "care -> exit:home": '
        'unknown destination "exit:home"'
    )
    assert 'did you mean "exit:return_home"?' in line
    assert line.endswith(
        "expected a state (cin, cpp, foster_kin, foster_other, residential, supported, "
        "with_parents, adoption, other), care, exit, exit:<reason> (return_home, adoption, "
        "sgo_cao, independence, other) or closed"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "{type: multiply_rate, flow: care -> care, factor: -0.5, start: 2026-04-01}",
            "change 1 (multiply_rate): factor: got -0.5; allowed: greater than 0",
        ),
        (
            "{type: multiply_rate, flow: care -> care, factor: 2, start: 2026-04-01, colour: 1}",
            "change 1 (multiply_rate): colour: unknown key; (allowed: start, ramp_months, flow, "
            "factor)",
        ),
        (
            "{type: multiply_rate, flow: care -> care, factor: 2, start: 2026-04-01, "
            "strat: 2026-05-01}",
            "change 1 (multiply_rate): strat: unknown key; did you mean 'start'?",
        ),
        (
            "{type: multiply_rate, flow: care -> care, factor: 2}",
            "change 1 (multiply_rate): start: missing; expected the date the change starts",
        ),
        (
            "{type: multiply_rat, flow: care -> care, factor: 2, start: 2026-04-01}",
            "change 1 (multiply_rat): type: got 'multiply_rat' (text); allowed: multiply_rate, "
            "redirect, add_children",
        ),
        (
            "{flow: care -> care, factor: 2, start: 2026-04-01}",
            "change 1: type: got nothing; allowed: multiply_rate",
        ),
        (
            "{type: set_capacity, children: 450, start: 2026-13-01}",
            "change 1 (set_capacity): start: got '2026-13-01' (text); allowed: a valid date",
        ),
        (
            "{type: redirect, flow: outside -> residential, to: foster_other, share: 1.5, "
            "start: 2026-04-01}",
            "change 1 (redirect): share: got 1.5; allowed: less than or equal to 1",
        ),
        (
            "{type: add_children, flow: residential -> foster_other, per_month: 1, "
            "start: 2026-04-01, ramp_months: 2.5}",
            "change 1 (add_children): ramp_months: got 2.5; allowed: a valid integer",
        ),
        (
            "{type: set_inflation, annual: 1.5, start: 2026-04-01}",
            "change 1 (set_inflation): annual: got 1.5; allowed: less than 1",
        ),
        (
            "{type: multiply_unit_cost, group: residental, factor: 1.1, start: 2026-04-01}",
            'change 1 (multiply_unit_cost): group "residental": unknown placement group (did '
            'you mean "residential"?)',
        ),
        (
            "{type: multiply_rate, flow: 3, factor: 2, start: 2026-04-01}",
            'change 1 (multiply_rate): flow: got 3; expected text "<source> -> <destination>"',
        ),
        (
            "{type: multiply_rate, flow: care, factor: 2, start: 2026-04-01}",
            'change 1 (multiply_rate): flow "care": expected "<source> -> <destination>"',
        ),
    ],
)
def test_bad_change_messages(tmp_path, change, expected):
    lines = error_lines(tmp_path, one_change(change))
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"scenario 2 (reunification_drive), {expected}"), lines[0]


@pytest.mark.parametrize(
    ("flow", "problem"),
    [
        ("cin -> exit", "exits (exit:<reason>) leave care states"),
        ("care -> closed", "closed ends a cin or cpp case"),
        ("residential -> cin", "children in care do not move to cin or cpp directly"),
        ("residential -> residential", "the source and the destination are the same state"),
        ("outside -> exit:adoption", 'entries from outside cannot go to "exit:adoption"'),
        ("exit -> care", '"exit" is a destination'),
        ("care -> outside", "outside is a source only"),
        ("residental -> care", 'unknown source "residental" (did you mean "residential"?)'),
        ("care -> age", "age (moving up an age band, turning 18) is internal"),
        ("referral -> cin", 'referral is an entry stream: write "outside -> referral"'),
    ],
)
def test_flows_the_model_lacks(tmp_path, flow, problem):
    change = f"{{type: multiply_rate, flow: {flow}, factor: 2, start: 2026-04-01}}"
    (line,) = error_lines(tmp_path, one_change(change))
    assert line.startswith(
        f'scenario 2 (reunification_drive), change 1 (multiply_rate): flow "{flow}": {problem}'
    ), line


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            "{type: redirect, flow: care -> exit:return_home, to: care, share: 0.5, "
            "start: 2026-04-01}",
            'to "care": name one destination (a state, exit:<reason> or closed), not a group',
        ),
        (
            "{type: redirect, flow: care -> exit:return_home, to: foster_kin, share: 0.5, "
            "start: 2026-04-01}",
            'to "foster_kin": foster_kin is a source of the flow',
        ),
        (
            "{type: redirect, flow: outside -> care, to: foster_other, share: 0.5, "
            "start: 2026-04-01}",
            'to "foster_other": foster_other is already a destination of the flow outside -> care',
        ),
        (
            "{type: redirect, flow: outside -> residential, to: cin, share: 0.5, "
            "start: 2026-04-01}",
            'to "cin": entries of the care stream can be redirected to foster_kin',
        ),
        (
            "{type: redirect, flow: cpp -> residential, to: exit:other, share: 0.5, "
            "start: 2026-04-01}",
            'to "exit:other": exits (exit:<reason>) leave care states',
        ),
        (
            "{type: add_children, flow: care -> exit:return_home, per_month: 2, start: 2026-04-01}",
            'flow "care -> exit:return_home": add_children moves children from one state to '
            "one destination",
        ),
    ],
)
def test_bad_redirects_and_additions(tmp_path, change, problem):
    kind = "redirect" if "redirect" in change else "add_children"
    (line,) = error_lines(tmp_path, one_change(change))
    assert line.startswith(f"scenario 2 (reunification_drive), change 1 ({kind}): {problem}"), line


def test_scenario_level_problems(tmp_path):
    lines = error_lines(
        tmp_path,
        """\
        scenarios:
          - name: edge_of_care
            changes: [{type: set_capacity, children: 450, start: 2026-04-01}]
          - name: baseline
            changes: []
          - name: Step Down
            notes: x
            changes: [{type: set_capacity, children: 450, start: 2026-04-01}]
          - 7
          - name: edge_of_care
            changes: [{type: set_capacity, children: 400, start: 2026-04-01}]
        """,
    )
    assert lines == [
        'scenario 2 (baseline): name "baseline": reserved for the run without changes; '
        "choose another name",
        "scenario 2 (baseline): changes: got an empty list; expected at least one change",
        'scenario 3 (Step Down): name "Step Down": expected a lowercase identifier of up to '
        "40 characters: a-z, digits and _, starting with a letter (e.g. edge_of_care)",
        "scenario 3 (Step Down): notes: unknown key; (allowed: name, description, changes)",
        "scenario 4: got 7; expected a scenario: a mapping with name, description and changes",
        'scenarios 1, 5: name "edge_of_care" is used 2 times; each scenario needs its own name',
    ]


def test_yaml_syntax_error_gives_the_line(tmp_path):
    (line,) = error_lines(tmp_path, "scenarios:\n  - name: a\n    changes: [\n  - x\n")
    assert line.startswith("not valid YAML at line 4, column 3:")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty; expected a mapping with a `scenarios` list"),
        ("- a\n", "got a list at the top level; expected a mapping with a `scenarios` list"),
        ("scenario: []\n", "unknown top-level key scenario; the only key is `scenarios`"),
        ("scenarios: []\n", "scenarios: got a list; expected a list of at least one scenario"),
    ],
)
def test_files_without_scenarios(tmp_path, text, expected):
    (line,) = error_lines(tmp_path, text)
    assert line.startswith(expected)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ScenarioError, match=f"^{path}: cannot read the scenario file: No such"):
        load_scenarios(path, DEFAULT, cin_funnel=True)


def test_every_problem_is_reported_at_once(tmp_path):
    lines = error_lines(
        tmp_path,
        one_change("{type: multiply_rate, flow: care -> exit:home, factor: -1, start: 2026-04-01}"),
    )
    assert [line.split(": ")[1] for line in lines] == ['flow "care -> exit:home"', "factor"]


def test_scenario_fields_are_not_config_keys():
    # Type and bound errors are worded by model.config.errors.describe_error, which looks field
    # names up from the top of CarecastConfig: a scenario field of the same name as a config
    # key would borrow that key's wording.
    fields = {name for cls in (Scenario, *CHANGE_TYPES.values()) for name in cls.model_fields}
    assert not fields & set(CarecastConfig.model_fields)


# --- the CIN funnel and merged groups ----------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        "{type: multiply_rate, flow: cpp -> care, factor: 0.8, start: 2026-04-01}",
        "{type: multiply_rate, flow: outside -> referral, factor: 0.8, start: 2026-04-01}",
        "{type: multiply_rate, flow: outside -> cin, factor: 0.8, start: 2026-04-01}",
        "{type: add_children, flow: cin -> closed, per_month: 3, start: 2026-04-01}",
        "{type: multiply_rate, flow: residential -> cpp, factor: 0.8, start: 2026-04-01}",
    ],
)
def test_cin_flows_rejected_without_the_cin_funnel(tmp_path, change):
    text = f"""\
        scenarios:
          - name: upstream
            changes:
              - {change}
        """
    (line,) = error_lines(tmp_path, text, cin_funnel=False)
    assert line.startswith("scenario 1 (upstream), change 1 (")
    assert "needs the CIN funnel, and this fit has no CIN funnel" in line
    # the same file is fine for a fit with the funnel (unless the flow itself is wrong)
    if "residential -> cpp" not in change:
        assert load_scenarios(tmp_path / "s.yaml", DEFAULT, cin_funnel=True)


def test_merged_groups_resolved(tmp_path):
    path = write(
        tmp_path,
        """\
        scenarios:
          - name: fostering
            changes:
              - type: redirect
                flow: outside -> residential
                to: foster
                share: 0.3
                start: 2026-04-01
              - {type: multiply_unit_cost, group: foster, factor: 1.1, start: 2026-04-01}
              - {type: multiply_rate, flow: foster -> exit, factor: 1.1, start: 2026-04-01}
        """,
    )
    (scenario,) = load_scenarios(path, MERGED, cin_funnel=False)
    moves = scenario.changes[2].flow
    assert moves.source == ("foster",)
    assert moves.destination == tuple(f"exit:{r}" for r in EXIT_REASONS)
    # the merged structure has no foster_other: the message lists the model's groups
    (line,) = error_lines(
        tmp_path,
        one_change(
            "{type: multiply_rate, flow: care -> foster_other, factor: 2, start: 2026-04-01}"
        ),
        structure=MERGED,
    )
    assert 'unknown destination "foster_other" (did you mean "foster"?)' in line
    assert "expected a state (cin, cpp, foster, residential, supported, with_parents" in line


def test_a_placement_group_named_like_a_flow_word_is_refused(tmp_path):
    structure = StructureConfig(placement_groups={g: "care" for g in CARE_STATES})
    path = write(tmp_path, one_change("{type: set_capacity, children: 4, start: 2026-04-01}"))
    with pytest.raises(ScenarioError, match="names a group care, a word flows use"):
        load_scenarios(path, structure, cin_funnel=True)


# --- flows -----------------------------------------------------------------------------------


def test_entry_flows_and_groups_expand():
    care = resolve_flow("outside->care", DEFAULT, cin_funnel=True)
    assert (care.text, care.streams, care.destination) == (
        "outside -> care",
        ("care",),
        CARE_STATES,
    )
    referral = resolve_flow("outside -> referral", DEFAULT, cin_funnel=True)
    assert (referral.streams, referral.destination) == (("referral",), ("cin", "cpp"))
    cin = resolve_flow("outside -> cin", DEFAULT, cin_funnel=True)
    assert (cin.streams, cin.destination) == (("referral",), ("cin",))
    one = resolve_flow("outside -> residential", DEFAULT, cin_funnel=False)
    assert (one.streams, one.destination) == (("care",), ("residential",))
    exits = resolve_flow("care -> exit", DEFAULT, cin_funnel=False)
    assert len(exits.pairs) == len(CARE_STATES) * len(EXIT_REASONS)
    moves = resolve_flow("care -> care", DEFAULT, cin_funnel=False)
    assert len(moves.pairs) == len(CARE_STATES) * (len(CARE_STATES) - 1)
    assert all(s != d for s, d in moves.pairs)
    assert not moves.is_entry and moves.streams == ()


def test_a_change_built_in_python_uses_the_default_structure():
    change = AddChildren(
        type="add_children", flow="residential -> foster_other", per_month=-1, start="2026-04-01"
    )
    assert change.flow.pairs == (("residential", "foster_other"),)
    # a dumped change validates again (the flow from its text)
    assert AddChildren.model_validate(change.model_dump()) == change


# --- time profiles ---------------------------------------------------------------------------

MONTHS = [
    date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31),
    date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31),
]  # fmt: skip


def capacity(ramp_months: int, start: date = date(2026, 4, 15)) -> SetCapacity:
    return SetCapacity(type="set_capacity", children=500, start=start, ramp_months=ramp_months)


def test_ramp_hand_worked():
    # a start mid-April applies from April; four months: a quarter more each month
    assert ramp(capacity(4), MONTHS).tolist() == [0, 0, 0.25, 0.5, 0.75, 1, 1]
    assert ramp(capacity(0), MONTHS).tolist() == [0, 0, 1, 1, 1, 1, 1]
    assert ramp(capacity(1), MONTHS).tolist() == [0, 0, 1, 1, 1, 1, 1]
    assert ramp(capacity(3, date(2026, 2, 1)), MONTHS).tolist() == pytest.approx(
        [1 / 3, 2 / 3, 1, 1, 1, 1, 1]
    )
    # ISO text and datetime64 month ends give the same
    iso = [m.isoformat() for m in MONTHS]
    assert (
        ramp(capacity(4), iso).tolist()
        == ramp(capacity(4), np.array(iso, "datetime64[D]")).tolist()
    )


def test_effects_hand_worked():
    start = date(2026, 4, 1)
    rate = MultiplyRate(
        type="multiply_rate", flow="cpp -> care", factor=0.8, start=start, ramp_months=4
    )
    assert effect(rate, MONTHS) == pytest.approx([1, 1, 0.95, 0.9, 0.85, 0.8, 0.8])
    redirect = Redirect(
        type="redirect", flow="outside -> residential", to="foster_other", share=0.3, start=start,
        ramp_months=2,
    )  # fmt: skip
    assert effect(redirect, MONTHS) == pytest.approx([0, 0, 0.15, 0.3, 0.3, 0.3, 0.3])
    more = AddChildren(type="add_children", flow="outside -> care", per_month=-2, start=start)
    assert effect(more, MONTHS).tolist() == [0, 0, -2, -2, -2, -2, -2]
    assert effect(capacity(4), MONTHS, baseline=400).tolist() == [400, 400, 425, 450, 475, 500, 500]
    per_draw = effect(capacity(0), MONTHS, baseline=np.array([[400.0], [600.0]]))
    assert per_draw.shape == (2, len(MONTHS)) and per_draw[:, -1].tolist() == [500, 500]
    with pytest.raises(ValueError, match="set_capacity needs the baseline value"):
        effect(capacity(4), MONTHS)
