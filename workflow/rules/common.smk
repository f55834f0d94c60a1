# Shared set-up, included first: validate the config, then derive what every rule needs.
import hashlib
import os
import re
import sys
from pathlib import Path

import model
import yaml
from model.compile_caches import compile_cache_environment
from model.config.errors import ConfigError
from model.config.load import validate_config
from snakemake.io import get_flag_value, is_flagged
from snakemake.logging import logger
from snakemake.utils import validate


def _config_source():
    """Name the config files in error messages, in order of precedence."""
    cli_files = [str(f) for f in workflow.overwrite_configfiles or []]
    own_files = [str(f) for f in workflow.configfiles if str(f) not in cli_files]
    overrides = cli_files + (["--config"] if workflow.config_settings.config else [])
    source = " and ".join(dict.fromkeys(own_files)) or "the default config"
    return f"{source} overridden by {' and '.join(overrides)}" if overrides else source


def _fail(message):
    """Stop with ``message`` alone: a Python traceback would bury it."""
    logger.error(message)
    sys.exit(1)


def code_version():
    """Hash of every file in the model package, so that code changes rerun rules.

    Snakemake reruns a script: rule when the script changes, not when the package it imports
    does; this value goes into params, which Snakemake does watch (DESIGN.md, pitfalls).
    """
    package = Path(model.__file__).parent
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def check_raw_authorities(codes, raw_data_dir):
    """Stop unless every listed authority has a folder under raw_data_dir."""
    found = (
        sorted(p.name for p in raw_data_dir.iterdir()) if raw_data_dir.is_dir() else []
    )
    missing = [code for code in codes if code not in found]
    if missing:
        _fail(
            f"Invalid config in {_config_source()}: authorities {missing} have no folder "
            f"under {raw_data_dir} (found: {', '.join(found) or 'none'}); see "
            "data/raw/README.md for the layout."
        )


def returns_folder(source):
    """Input function: the authority's folder of returns of ``source`` ("ssda903" or
    "cin"): the demo's synthetic ones (an output of rule synthesize), or the real ones.
    """

    def folder(wildcards):
        if wildcards.la in DEMO_AUTHORITIES:
            return f"{DEMO_DIR}/{wildcards.la}/{source}"
        return f"{CONFIG.paths.raw_data_dir.as_posix()}/{wildcards.la}/{source}"

    return folder


def fit_inputs(wildcards):
    """The authority's observation files: the 903's, and the CIN census's when it has one."""
    files = {"obs_903": f"{RESULTS}/{wildcards.la}/observations_903.csv"}
    if has_cin(wildcards.la):
        files["obs_cin"] = f"{RESULTS}/{wildcards.la}/observations_cin.csv"
    return files


def published_tables(wildcards):
    """The folder of published tables; a clear stop when none is configured."""
    if CONFIG.paths.published_dir is None:
        _fail(
            "the national outputs need DfE's published tables: set `paths.published_dir` "
            "(e.g. data/published) in the config"
        )
    return CONFIG.paths.published_dir.as_posix()


def has_cin(la):
    """Whether the authority has CIN census files (demo authorities always do)."""
    return la in DEMO_AUTHORITIES or (CONFIG.paths.raw_data_dir / la / "cin").is_dir()


def scenario_file(wildcards):
    """The scenario file as a rule input (so editing it reruns), or nothing."""
    # local(): the file travels with the workflow's sources (a remote job gets them), not
    # with the data in a storage provider.
    return [local(CONFIG.forecast.scenarios)] if CONFIG.forecast.scenarios else []


def scenario_names():
    """``baseline`` and the names in the scenario file (a bad file stops here, named)."""
    from model.forecast.scenarios import ScenarioError, load_scenarios

    if not CONFIG.forecast.scenarios:
        return ["baseline"]
    try:
        found = load_scenarios(Path(CONFIG.forecast.scenarios), CONFIG.structure, True)
    except ScenarioError as error:
        _fail(str(error))
    return ["baseline", *(s.name for s in found)]


def plain(output):
    """A rule's output pattern as a plain path, for expand(). With a default storage
    provider (profiles/kubernetes) Snakemake tags every output with its storage object, which
    expand() refuses; the plain path gets its storage again where it is used as an input.
    """
    if not is_flagged(output, "storage_object"):
        return output
    query = get_flag_value(output, "storage_object").query  # the prefix, "/", the path
    prefix = workflow.storage_settings.default_storage_prefix
    return query.removeprefix(prefix).lstrip(os.sep)


def read_job_resources(path):
    """workflow/resources.yaml: each rule's measured memory (MB) and wall time (minutes)."""
    with open(path, encoding="utf-8") as file:
        return yaml.safe_load(file)


def mem_mb(rule):
    """The rule's memory request in MB, times the attempt (a job retried for lack of memory
    asks for more)."""
    base = int(JOB_RESOURCES[rule]["mem_mb"])
    return lambda wildcards, attempt: base * attempt


def runtime(rule):
    """The rule's wall-time request in minutes, times the attempt."""
    base = int(JOB_RESOURCES[rule]["runtime"])
    return lambda wildcards, attempt: base * attempt


def truth_input(wildcards):
    """The demo's truth file as a rule input (so editing it reruns), or nothing."""
    truth = CONFIG.demo.truth_file
    return [local(truth.as_posix())] if truth else []


# Our own check first: it names each bad key in one line. Its canonical values (defaults
# filled in, "2016" from --config read as 2016) replace the raw config, and the JSON schema
# generated from the same models checks them: the standard Snakemake contract.
try:
    CONFIG = validate_config(config, source=_config_source())
except ConfigError as error:
    _fail(str(error))
config.clear()
config.update(CONFIG.model_dump(mode="json"))
validate(config, schema="../schemas/config.schema.json")

# Rule scripts import model/ from this checkout in any software environment (the uv
# environment has it installed; a conda environment from workflow/envs/ does not).
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [workflow.basedir, os.environ.get("PYTHONPATH", "")])
    )
)

# PyTensor's and numba's compiled code: one cache per machine, shared by the jobs on it
# (model/compile_caches.py says why). Every job parses this file on the machine it runs on,
# so the folder is that machine's, and rule scripts inherit the variables.
os.environ.update(compile_cache_environment(os.environ))

RESULTS = CONFIG.paths.results_dir.as_posix()
DEMO_DIR = CONFIG.paths.demo_dir.as_posix()
PRIVATE_DIR = CONFIG.paths.private_dir.as_posix()
LOGS = f"{RESULTS}/logs"
# Each job's wall time and peak memory (Snakemake's `benchmark:`), read by
# benchmarks/resources.py to check the figures in workflow/resources.yaml.
BENCHMARKS = f"{RESULTS}/benchmarks"
JOB_RESOURCES = read_job_resources(f"{workflow.basedir}/workflow/resources.yaml")
CODE_VERSION = code_version()

DEMO_AUTHORITIES = CONFIG.demo_authority_codes()
RAW_AUTHORITIES = list(CONFIG.authorities)
if RAW_AUTHORITIES:
    check_raw_authorities(RAW_AUTHORITIES, CONFIG.paths.raw_data_dir)
AUTHORITIES = DEMO_AUTHORITIES + RAW_AUTHORITIES
CIN_AUTHORITIES = [la for la in AUTHORITIES if has_cin(la)]
SCENARIOS = scenario_names()


wildcard_constraints:
    la="|".join(re.escape(code) for code in AUTHORITIES),
    scenario="|".join(re.escape(name) for name in SCENARIOS),
