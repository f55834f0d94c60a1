# Back-tests: rolling-origin fits and forecasts scored against what happened, per authority
# and (with published tables) for every authority. Expensive (a fit per origin): not part of
# the default target; run `snakemake --cores 2 backtest`.


rule backtest:
    """Back-test one authority: fits up to each origin, forecasts scored against the data."""
    input:
        unpack(fit_inputs),
    output:
        scores=f"{RESULTS}/{{la}}/backtest/scores.csv",
        summary=f"{RESULTS}/{{la}}/backtest/summary.csv",
    log:
        f"{LOGS}/backtest/{{la}}.log",
    benchmark:
        f"{BENCHMARKS}/backtest/{{la}}.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: CONFIG.sampler.cores
    resources:
        mem_mb=mem_mb("backtest"),
        runtime=runtime("backtest"),
    params:
        seed=CONFIG.seed,
        structure=CONFIG.structure.model_dump(),
        priors=CONFIG.priors.model_dump(),
        sampler=CONFIG.sampler.model_dump(),
        diagnostics=CONFIG.diagnostics.model_dump(),
        code_version=CODE_VERSION,
    script:
        "../scripts/backtest.py"


rule backtest_national:
    """Back-test the national model on every authority's published figures."""
    input:
        observations=rules.ingest_published.output.observations,
        authorities=rules.ingest_published.output.authorities,
    output:
        scores=f"{NATIONAL}/backtest/scores.csv",
        summary=f"{NATIONAL}/backtest/summary.csv",
    log:
        f"{LOGS}/national/backtest.log",
    benchmark:
        f"{BENCHMARKS}/backtest_national/national.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: CONFIG.sampler.cores
    resources:
        mem_mb=mem_mb("backtest_national"),
        runtime=runtime("backtest_national"),
    params:
        seed=CONFIG.seed,
        published=CONFIG.published.model_dump(),
        sampler=CONFIG.sampler.model_dump(),
        diagnostics=CONFIG.diagnostics.model_dump(),
        code_version=CODE_VERSION,
    script:
        "../scripts/backtest.py"


rule backtest_all:
    """Named target (`snakemake backtest_all`): every authority's back-test, and the
    national one when published tables are configured."""
    input:
        expand(plain(rules.backtest.output.summary), la=AUTHORITIES),
        [rules.backtest_national.output.summary] if CONFIG.paths.published_dir else [],
