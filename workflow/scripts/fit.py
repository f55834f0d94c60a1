"""Rule script: fit one authority's observations (rule ``fit``) or every authority's jointly
(rule ``fit_pooled``) with model.fit.

Equivalent commands (for the demo authorities)::

    uv run carecast fit results/SYN01 --out results/SYN01/fit
    uv run carecast fit results/SYN01 results/SYN02 results/SYN03 --out results/pooled/fit
"""

import logging
from pathlib import Path

from model.config.fit import DiagnosticsConfig, PriorsConfig, SamplerConfig, StructureConfig
from model.fit.run import fit_authority
from model.fit.run_pooled import fit_pooled
from model.logs import setup_logging

log = logging.getLogger("fit")

if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script: directive
    setup_logging(smk.log[0])
    settings = (
        smk.params.seed,
        StructureConfig.model_validate(smk.params.structure),
        PriorsConfig.model_validate(smk.params.priors),
        # The rule's threads run the chains (the config's sampler.cores outside Snakemake).
        SamplerConfig.model_validate(smk.params.sampler | {"cores": smk.threads}),
        DiagnosticsConfig.model_validate(smk.params.diagnostics),
    )
    out = Path(smk.output.posterior).parent
    try:
        if smk.rule == "fit_pooled":
            folders = [Path(path).parent for path in smk.input.obs_903]
            result = fit_pooled(folders, out, *settings)
        else:
            folder = Path(smk.input.obs_903).parent
            result = fit_authority(folder, out, smk.wildcards.la, *settings)
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
