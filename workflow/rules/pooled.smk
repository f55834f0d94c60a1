# Pooled fit: every authority's observations fitted jointly with partially pooled rates.
# Not part of the default target: run `snakemake pooled`.


rule fit_pooled:
    """Fit all authorities jointly (small ones borrow strength from the others)."""
    input:
        obs_903=expand(plain(rules.ingest_903.output.observations), la=AUTHORITIES),
        obs_cin=expand(plain(rules.ingest_cin.output.observations), la=CIN_AUTHORITIES),
    output:
        posterior=f"{RESULTS}/pooled/fit/posterior.nc",
        diagnostics=f"{RESULTS}/pooled/fit/diagnostics.json",
        summary=f"{RESULTS}/pooled/fit/summary.csv",
    log:
        f"{LOGS}/fit/pooled.log",
    benchmark:
        f"{BENCHMARKS}/fit_pooled/pooled.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: CONFIG.sampler.cores
    resources:
        mem_mb=mem_mb("fit_pooled"),
        runtime=runtime("fit_pooled"),
    params:
        seed=CONFIG.seed,
        structure=CONFIG.structure.model_dump(),
        priors=CONFIG.priors.model_dump(),
        sampler=CONFIG.sampler.model_dump(),
        diagnostics=CONFIG.diagnostics.model_dump(),
        code_version=CODE_VERSION,
    script:
        "../scripts/fit.py"


rule pooled:
    """Named target: the pooled fit of every authority."""
    input:
        rules.fit_pooled.output.diagnostics,
