"""Rule script: the national fit of every authority's published figures (model.fit).

Equivalent command::

    uv run carecast fit results/national --out results/national/fit
"""

import logging
from pathlib import Path

from model.config.fit import DiagnosticsConfig, SamplerConfig
from model.config.published import PublishedPriorsConfig
from model.fit.run_published import fit_published
from model.logs import setup_logging

log = logging.getLogger("fit_national")

if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script: directive
    setup_logging(smk.log[0])
    try:
        result = fit_published(
            Path(smk.input.observations).parent,
            Path(smk.output.posterior).parent,
            smk.params.seed,
            PublishedPriorsConfig.model_validate(smk.params.published),
            SamplerConfig.model_validate(smk.params.sampler | {"cores": smk.threads}),
            DiagnosticsConfig.model_validate(smk.params.diagnostics),
        )
        diagnostics = result.diagnostics
        log.info(
            "%d units; diagnostics %s %s; seconds %s; coverage %s",
            len(result.data.units),
            "passed" if diagnostics["passed"] else "FAILED",
            diagnostics["problems"],
            result.seconds,
            diagnostics["predictive_coverage"],
        )
    except Exception:
        log.exception("fit_national failed")  # the traceback goes to the rule's log
        raise
