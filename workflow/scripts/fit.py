"""Rule script: fit one authority's observations with model.fit.

Equivalent command (for the demo authority SYN01)::

    uv run carecast fit results/SYN01 --out results/SYN01/fit
"""

import logging
from pathlib import Path

from model.config_fit import DiagnosticsConfig, PriorsConfig, SamplerConfig, StructureConfig
from model.fit.run import fit_authority

log = logging.getLogger("fit")

if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script: directive
    logging.basicConfig(
        filename=smk.log[0], level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        result = fit_authority(
            Path(smk.input.obs_903).parent,
            Path(smk.output.posterior).parent,
            smk.wildcards.la,
            smk.params.seed,
            StructureConfig.model_validate(smk.params.structure),
            PriorsConfig.model_validate(smk.params.priors),
            SamplerConfig.model_validate(smk.params.sampler),
            DiagnosticsConfig.model_validate(smk.params.diagnostics),
        )
        diagnostics = result.diagnostics
        log.info(
            "diagnostics %s %s; seconds %s",
            "passed" if diagnostics["passed"] else "FAILED",
            diagnostics["problems"],
            result.seconds,
        )
    except Exception:
        log.exception("fit failed")  # the traceback goes to the rule's log
        raise
