"""Rule script: forecast one authority under the baseline and every scenario (rule
``forecast``), or the baseline and one scenario alone (rule ``forecast_scenario``), with
model.forecast.

Equivalent command (for a demo authority, every scenario at once)::

    uv run carecast forecast results/SYN01/fit --scenarios config/scenarios/examples.yaml \
        --out results/SYN01/forecast
"""

import logging
from pathlib import Path

from model.config.costs import CostsConfig
from model.config.fit import PriorsConfig, StructureConfig
from model.config.forecast import ForecastConfig
from model.forecast.run import forecast_authority
from model.logs import setup_logging

log = logging.getLogger("forecast")

if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script: directive
    setup_logging(smk.log[0])
    forecast = ForecastConfig.model_validate(smk.params.forecast)
    try:
        result = forecast_authority(
            Path(smk.input.posterior),
            Path(smk.output.forecast).parent,
            smk.params.seed,
            scenarios_file=Path(smk.input.scenarios[0]) if smk.input.scenarios else None,
            structure=StructureConfig.model_validate(smk.params.structure),
            priors=PriorsConfig.model_validate(smk.params.priors),
            forecast=forecast,
            costs=CostsConfig.model_validate(smk.params.costs),
            only=smk.params.only,
            threads=smk.threads,
        )
        log.info(
            "fit %s; seconds %s",
            "passed" if result.fit_passed else "FAILED its diagnostics",
            result.seconds,
        )
    except Exception:
        log.exception("forecast failed")  # the traceback goes to the rule's log
        raise
