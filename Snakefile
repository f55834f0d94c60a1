# carecast workflow: `uv run snakemake --cores 4` runs every stage for every authority.
# Stages and layout: see DESIGN.md ("Pipeline") and config/config.yaml.
import sys

from model.config.errors import ConfigError
from model.config.load import read_config_yaml
from snakemake.logging import logger
from snakemake.utils import min_version

min_version("9.0")


# Snakemake's own reading of a broken config names neither file nor line: read it first.
try:
    read_config_yaml("config/config.yaml")
except ConfigError as error:
    logger.error(str(error))
    sys.exit(1)


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/synthesize.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/forecast.smk"
include: "workflow/rules/pooled.smk"
include: "workflow/rules/national.smk"
include: "workflow/rules/backtest.smk"


rule all:
    """Default target: every stage that exists, for every authority in the config."""
    default_target: True
    input:
        expand(plain(rules.summarise_demo.output.summary), la=DEMO_AUTHORITIES),
        expand(plain(rules.ingest_903.output.observations), la=AUTHORITIES),
        expand(plain(rules.ingest_cin.output.observations), la=CIN_AUTHORITIES),
        expand(plain(rules.fit.output.diagnostics), la=AUTHORITIES),
        expand(plain(rules.forecast.output.forecast), la=AUTHORITIES),
        NATIONAL_TARGETS,
