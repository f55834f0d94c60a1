# Fit: each authority's observations -> posterior, diagnostics and summary.


rule fit:
    """Fit the stock-flow model to one authority's observations (diagnostics travel with it)."""
    input:
        unpack(fit_inputs),
    output:
        posterior=f"{RESULTS}/{{la}}/fit/posterior.nc",
        diagnostics=f"{RESULTS}/{{la}}/fit/diagnostics.json",
        summary=f"{RESULTS}/{{la}}/fit/summary.csv",
    log:
        f"{LOGS}/fit/{{la}}.log",
    benchmark:
        f"{BENCHMARKS}/fit/{{la}}.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: CONFIG.sampler.cores
    resources:
        mem_mb=mem_mb("fit"),
        runtime=runtime("fit"),
    params:
        seed=CONFIG.seed,
        structure=CONFIG.structure.model_dump(),
        priors=CONFIG.priors.model_dump(),
        sampler=CONFIG.sampler.model_dump(),
        diagnostics=CONFIG.diagnostics.model_dump(),
        code_version=CODE_VERSION,
    script:
        "../scripts/fit.py"
