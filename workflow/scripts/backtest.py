"""Rule script: back-test one authority (rule ``backtest``) or every authority's published
figures (rule ``backtest_national``) with model.evaluate.backtest*.

Equivalent commands::

    uv run carecast backtest results/SYN01 --out results/SYN01/backtest
    uv run carecast backtest results/national --out results/national/backtest
"""

import logging
from pathlib import Path

from model.config.fit import DiagnosticsConfig, PriorsConfig, SamplerConfig, StructureConfig
from model.config.published import PublishedPriorsConfig
from model.evaluate.backtest import backtest_authority
from model.evaluate.backtest_national import backtest_national
from model.logs import setup_logging

log = logging.getLogger("backtest")

if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script: directive
    setup_logging(smk.log[0])
    sampler = SamplerConfig.model_validate(smk.params.sampler | {"cores": smk.threads})
    thresholds = DiagnosticsConfig.model_validate(smk.params.diagnostics)
    out = Path(smk.output.summary).parent
    try:
        if smk.rule == "backtest_national":
            folder = Path(smk.input.observations).parent
            priors = PublishedPriorsConfig.model_validate(smk.params.published)
            result = backtest_national(
                folder, out, smk.params.seed, priors=priors, sampler=sampler,
                thresholds=thresholds,
            )  # fmt: skip
        else:
            result = backtest_authority(
                Path(smk.input.obs_903).parent, out, smk.wildcards.la, smk.params.seed,
                structure=StructureConfig.model_validate(smk.params.structure),
                priors=PriorsConfig.model_validate(smk.params.priors),
                sampler=sampler, thresholds=thresholds,
            )  # fmt: skip
        log.info("fits passed: %s", result.fits_passed)
    except Exception:
        log.exception("backtest failed")  # the traceback goes to the rule's log
        raise
