"""The workflow config: defaults, schema drift, error messages and seed derivation."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest

from model.config.carecast import CarecastConfig
from model.config.demo import demo_authority_codes
from model.config.errors import ConfigError
from model.config.load import load_config, validate_config
from model.config.schema import json_schema
from model.config.seeds import derive_seed

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"
SCHEMA_FILE = ROOT / "workflow" / "schemas" / "config.schema.json"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problem lines of the ConfigError raised for ``text``."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"Invalid config in {path}")
    return [line.strip().removeprefix("- ") for line in message.splitlines()[1:]]


# --- defaults ---------------------------------------------------------------------------------


def test_default_config_file_validates_and_equals_model_defaults():
    config = load_config(DEFAULT_CONFIG)
    # the file documents the defaults: it should not silently differ from them
    assert config == CarecastConfig()
    assert config.demo_authority_codes() == ["SYN01", "SYN02", "SYN03"]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def test_every_default_key_is_commented():
    """Every key has a comment above it; the rows of a table (the code mappings) share
    the comment above the table."""
    lines = DEFAULT_CONFIG.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            previous = lines[number - 1] if number else ""
            table_row = (
                previous.strip()
                and not previous.lstrip().startswith("#")
                and (_indent(previous) == _indent(line) > 2 or previous.rstrip().endswith(":"))
                and _indent(line) > 2
            )
            assert number and (previous.lstrip().startswith("#") or table_row), (
                f"config/config.yaml line {number + 1} has no comment above it: {line!r}"
            )


def test_empty_file_means_all_defaults(tmp_path):
    assert load_config(write(tmp_path, "")) == CarecastConfig()


def test_demo_runs_only_without_real_authorities():
    assert validate_config({"authorities": ["E09000001"]}).demo_authority_codes() == []
    assert demo_authority_codes(2) == ["SYN01", "SYN02"]


# --- schema -----------------------------------------------------------------------------------


def test_schema_file_matches_models():
    on_disk = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert on_disk == json_schema(), (
        "workflow/schemas/config.schema.json is out of date with model/config/; "
        "regenerate it with: uv run python workflow/scripts/write_config_schema.py"
    )
    expected_text = json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False)
    assert SCHEMA_FILE.read_text(encoding="utf-8") == expected_text + "\n", (
        "schema file formatting differs; regenerate it with: "
        "uv run python workflow/scripts/write_config_schema.py"
    )


def test_schema_accepts_defaults_and_rejects_what_the_models_reject():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid(CarecastConfig().model_dump(mode="json"))
    for bad in (
        {"seed": -1},
        {"sed": 1},
        {"demo": {"first_year": 2010}},
        {"demo": {"authorities": 201}},
        {"demo": {"faults": "yes"}},
        {"authorities": ["has space"]},
        {"authorities": ["A", "A"]},
    ):
        assert not validator.is_valid(bad), bad


# --- error messages ---------------------------------------------------------------------------


def test_unknown_key_suggests_the_close_one(tmp_path):
    [line] = problems(tmp_path, "demo:\n  autorities: 3\n")
    assert line.startswith("demo.autorities: unknown key; did you mean 'authorities'?")
    assert "enabled, authorities, first_year" in line  # says what is allowed there


def test_unknown_top_level_key(tmp_path):
    [line] = problems(tmp_path, "sed: 4\n")
    assert line.startswith("sed: unknown key; did you mean 'seed'?")


def test_unknown_key_without_close_match_lists_allowed_keys(tmp_path):
    [line] = problems(tmp_path, "paths:\n  zzz: x\n")
    assert "did you mean" not in line
    assert "allowed under 'paths': raw_data_dir, results_dir, demo_dir" in line


def test_wrong_type(tmp_path):
    [line] = problems(tmp_path, "demo:\n  authorities: three\n")
    assert line == "demo.authorities: got 'three' (text); allowed: a whole number from 1 to 200"


def test_bool_is_not_a_number(tmp_path):
    [line] = problems(tmp_path, "seed: yes\n")  # YAML reads yes as true
    assert line == "seed: got true; allowed: a whole number >= 0"


def test_year_out_of_range(tmp_path):
    [line] = problems(tmp_path, "demo:\n  first_year: 2010\n")
    assert line == "demo.first_year: got 2010; allowed: a whole number from 2012 to 2030"


def test_first_year_must_be_before_last_year(tmp_path):
    [line] = problems(tmp_path, "demo:\n  first_year: 2025\n  last_year: 2016\n")
    assert line == "demo.last_year: got 2016; allowed: a year after first_year (2025)"
    [line] = problems(tmp_path, "demo:\n  first_year: 2020\n  last_year: 2020\n")
    assert line.startswith("demo.last_year: got 2020;")


def test_negative_seed(tmp_path):
    [line] = problems(tmp_path, "seed: -1\n")
    assert line == "seed: got -1; allowed: a whole number >= 0"


def test_every_problem_is_reported_once_per_line(tmp_path):
    lines = problems(tmp_path, "seed: -1\ndemo:\n  first_year: 1999\n  colour: red\n")
    assert [line.split(":")[0] for line in lines] == ["seed", "demo.first_year", "demo.colour"]


def test_bad_authority_codes(tmp_path):
    lines = problems(tmp_path, "authorities: [E09000001, 'Barking and Dagenham']\n")
    assert lines == [
        "authorities[1]: got 'Barking and Dagenham' (text); "
        "allowed: a folder name of letters, digits, '_' or '-'"
    ]
    [line] = problems(tmp_path, "authorities: [E1, E1]\n")
    assert line.startswith("authorities: got a list; allowed: each code once (repeated: E1)")


def test_missing_truth_file(tmp_path):
    [line] = problems(tmp_path, "demo:\n  truth_file: no_such_file.yaml\n")
    assert line.startswith("demo.truth_file: got 'no_such_file.yaml', which is not an existing")


def test_nothing_to_run(tmp_path):
    [line] = problems(tmp_path, "demo:\n  enabled: false\n")
    assert "nothing to run" in line


def test_not_a_mapping_and_not_yaml(tmp_path):
    [line] = problems(tmp_path, "- seed\n")
    assert line == "(whole file): got a list; allowed: a mapping of keys such as 'seed: 1'"
    path = write(tmp_path, "demo: [\n")
    with pytest.raises(ConfigError, match=r"is not valid YAML at line \d+"):
        load_config(path)
    with pytest.raises(ConfigError, match="Cannot read config file"):
        load_config(tmp_path / "absent.yaml")


def test_message_is_plain_lines(tmp_path):
    path = write(tmp_path, "seed: -1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "pydantic" not in str(caught.value) and "errors.pydantic.dev" not in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_text_from_snakemake_config_flag_is_read_as_numbers_and_booleans():
    # `snakemake --config demo={...}` passes nested values as text
    config = validate_config(
        {"seed": "7", "demo": {"authorities": "2", "enabled": "false"}, "authorities": ["X"]}
    )
    assert (config.seed, config.demo.authorities, config.demo.enabled) == (7, 2, False)


# --- seeds ------------------------------------------------------------------------------------


def test_derive_seed_known_value():
    # Computed once from the algorithm (BLAKE2b-64 of the JSON [seed, *parts], top bit dropped);
    # a change here changes every random draw in every existing result.
    assert derive_seed(20250331, "SYN01", "synthesize") == 6971708991168496422


def test_derive_seed_differs_by_part_seed_and_order():
    base = derive_seed(1, "SYN01", "fit")
    assert derive_seed(1, "SYN02", "fit") != base
    assert derive_seed(1, "SYN01", "forecast") != base
    assert derive_seed(2, "SYN01", "fit") != base
    assert derive_seed(1, "fit", "SYN01") != base
    assert derive_seed(1, "ab") != derive_seed(1, "a", "b")  # no concatenation collisions
    assert 0 <= base < 2**63


def test_adding_an_authority_changes_no_other_seed():
    before = {la: derive_seed(5, la, "fit") for la in demo_authority_codes(3)}
    after = {la: derive_seed(5, la, "fit") for la in demo_authority_codes(4)}
    assert {la: after[la] for la in before} == before
    assert len(set(after.values())) == 4


def test_derive_seed_is_the_same_in_another_process():
    # Python's hash() changes per process (PYTHONHASHSEED); derive_seed must not.
    code = "from model.config.seeds import derive_seed; print(derive_seed(3, 'SYN01', 'fit'))"
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert int(out.stdout) == derive_seed(3, "SYN01", "fit")


@pytest.mark.parametrize("seed", [-1, True, 1.0])
def test_derive_seed_rejects_bad_seeds(seed):
    with pytest.raises(ValueError):
        derive_seed(seed, "x")


def test_derive_seed_rejects_non_text_parts():
    with pytest.raises(TypeError):
        derive_seed(1, 2)  # type: ignore[arg-type]
