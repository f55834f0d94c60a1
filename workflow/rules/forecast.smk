# Forecast: each authority's posterior -> probabilistic forecasts of the baseline and every
# scenario in `forecast.scenarios`, in one job per authority: the baseline is simulated
# once and every scenario is compared with it draw by draw.
#
# `forecast_scenario` forecasts the baseline and one scenario alone, for a user who asks for
# it (`snakemake results/SYN01/forecast/scenarios/edge_of_care/forecast.csv`); no default
# target needs it. Its draws equal the authority job's draw for draw: a scenario's results
# do not depend on which other scenarios run beside it.


rule forecast:
    """Forecast one authority under the baseline and every scenario (tables, draws, figures,
    workbook)."""
    input:
        posterior=rules.fit.output.posterior,
        diagnostics=rules.fit.output.diagnostics,
        scenarios=scenario_file,
    output:
        forecast=f"{RESULTS}/{{la}}/forecast/forecast.csv",
        parquet=f"{RESULTS}/{{la}}/forecast/forecast.parquet",
        differences=f"{RESULTS}/{{la}}/forecast/differences.csv",
        probabilities=f"{RESULTS}/{{la}}/forecast/probabilities.csv",
        draws=f"{RESULTS}/{{la}}/forecast/draws.nc",
        workbook=f"{RESULTS}/{{la}}/forecast/forecast.xlsx",
        info=f"{RESULTS}/{{la}}/forecast/forecast_info.json",
        figures=directory(f"{RESULTS}/{{la}}/forecast/figures"),
    log:
        f"{LOGS}/forecast/{{la}}.log",
    benchmark:
        f"{BENCHMARKS}/forecast/{{la}}.tsv"
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
        only=None,
    script:
        "../scripts/forecast.py"


use rule forecast as forecast_scenario with:
    output:
        forecast=f"{RESULTS}/{{la}}/forecast/scenarios/{{scenario}}/forecast.csv",
        parquet=f"{RESULTS}/{{la}}/forecast/scenarios/{{scenario}}/forecast.parquet",
        differences=f"{RESULTS}/{{la}}/forecast/scenarios/{{scenario}}/differences.csv",
        probabilities=f"{RESULTS}/{{la}}/forecast/scenarios/{{scenario}}/probabilities.csv",
        draws=f"{RESULTS}/{{la}}/forecast/scenarios/{{scenario}}/draws.nc",
        workbook=f"{RESULTS}/{{la}}/forecast/scenarios/{{scenario}}/forecast.xlsx",
        info=f"{RESULTS}/{{la}}/forecast/scenarios/{{scenario}}/forecast_info.json",
        figures=directory(f"{RESULTS}/{{la}}/forecast/scenarios/{{scenario}}/figures"),
    log:
        f"{LOGS}/forecast/{{la}}_{{scenario}}.log",
    benchmark:
        f"{BENCHMARKS}/forecast_scenario/{{la}}_{{scenario}}.tsv"
    params:
        seed=CONFIG.seed,
        structure=CONFIG.structure.model_dump(),
        priors=CONFIG.priors.model_dump(),
        forecast=CONFIG.forecast.model_dump(),
        costs=CONFIG.costs.model_dump(mode="json"),
        code_version=CODE_VERSION,
        only=lambda wildcards: wildcards.scenario,
