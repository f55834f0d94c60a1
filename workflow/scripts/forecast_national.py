"""Rule script: forecast every authority of the national fit year by year (the baseline;
the published-table model represents few scenario changes), with model.forecast.national.

Equivalent command::

    uv run carecast forecast results/national/fit --observations results/national \
        --out results/national/forecast
"""

import logging
from pathlib import Path

from model.config.forecast import ForecastConfig
from model.config.published import PublishedPriorsConfig
from model.forecast.national import forecast_national
from model.logs import setup_logging

log = logging.getLogger("forecast_national")

if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script: directive
    setup_logging(smk.log[0])
    forecast = ForecastConfig.model_validate(smk.params.forecast)
    try:
        forecast_national(
            Path(smk.input.posterior),
            Path(smk.input.observations).parent,
            Path(smk.output.forecast).parent,
            smk.params.seed,
            forecast.horizon_months,
            None,
            forecast,
            PublishedPriorsConfig.model_validate(smk.params.published),
        )
    except Exception:
        log.exception("forecast_national failed")  # the traceback goes to the rule's log
        raise
