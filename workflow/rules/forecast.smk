# Forecast: each authority's posterior -> probabilistic forecasts of the baseline and of each
# scenario in `forecast.scenarios`, one job per authority x scenario (every job simulates
# the same baseline draws, so its scenario is compared with the baseline draw by draw).


rule forecast:
    """Forecast one authority under the baseline and one scenario (tables, draws, figures)."""
    input:
        posterior=rules.fit.output.posterior,
        diagnostics=rules.fit.output.diagnostics,
        scenarios=scenario_file,
    output:
        forecast=f"{RESULTS}/{{la}}/forecast/{{scenario}}/forecast.csv",
        parquet=f"{RESULTS}/{{la}}/forecast/{{scenario}}/forecast.parquet",
        draws=f"{RESULTS}/{{la}}/forecast/{{scenario}}/draws.nc",
        workbook=f"{RESULTS}/{{la}}/forecast/{{scenario}}/forecast.xlsx",
    log:
        f"{LOGS}/forecast/{{la}}_{{scenario}}.log",
    benchmark:
        f"{BENCHMARKS}/forecast/{{la}}_{{scenario}}.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: CONFIG.sampler.cores
    resources:
        mem_mb=mem_mb("forecast"),
        runtime=runtime("forecast"),
    params:
        seed=CONFIG.seed,
        structure=CONFIG.structure.model_dump(),
        priors=CONFIG.priors.model_dump(),
        forecast=CONFIG.forecast.model_dump(),
        costs=CONFIG.costs.model_dump(mode="json"),
        code_version=CODE_VERSION,
    script:
        "../scripts/forecast.py"
