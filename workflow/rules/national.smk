# National: DfE's published tables of every authority -> yearly observations -> one pooled
# yearly fit. Runs only when `paths.published_dir` is set (then `rule all` includes it).


NATIONAL = f"{RESULTS}/national"
NATIONAL_TARGETS = (
    [f"{NATIONAL}/fit/diagnostics.json", f"{NATIONAL}/forecast/forecast.csv"]
    if CONFIG.paths.published_dir is not None
    else []
)


rule ingest_published:
    """Read DfE's published tables into every authority's yearly observations."""
    input:
        tables=published_tables,
    output:
        observations=f"{NATIONAL}/observations_published.csv",
        authorities=f"{NATIONAL}/authorities.csv",
        report=f"{NATIONAL}/data_quality_published.json",
    log:
        f"{LOGS}/national/ingest_published.log",
    benchmark:
        f"{BENCHMARKS}/ingest_published/national.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb("ingest_published"),
        runtime=runtime("ingest_published"),
    params:
        categories=CONFIG.categories.model_dump(),
        code_version=CODE_VERSION,
    script:
        "../scripts/ingest_published.py"


rule fit_national:
    """Fit the pooled yearly model of every authority's published figures."""
    input:
        observations=rules.ingest_published.output.observations,
        authorities=rules.ingest_published.output.authorities,
    output:
        posterior=f"{NATIONAL}/fit/posterior.nc",
        diagnostics=f"{NATIONAL}/fit/diagnostics.json",
        summary=f"{NATIONAL}/fit/summary.csv",
    log:
        f"{LOGS}/national/fit.log",
    benchmark:
        f"{BENCHMARKS}/fit_national/national.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: CONFIG.sampler.cores
    resources:
        mem_mb=mem_mb("fit_national"),
        runtime=runtime("fit_national"),
    params:
        seed=CONFIG.seed,
        published=CONFIG.published.model_dump(),
        sampler=CONFIG.sampler.model_dump(),
        diagnostics=CONFIG.diagnostics.model_dump(),
        code_version=CODE_VERSION,
    script:
        "../scripts/fit_national.py"


rule forecast_national:
    """Forecast every authority's children looked after year by year (the baseline)."""
    input:
        posterior=rules.fit_national.output.posterior,
        observations=rules.ingest_published.output.observations,
    output:
        forecast=f"{NATIONAL}/forecast/forecast.csv",
        draws=f"{NATIONAL}/forecast/draws.nc",
    log:
        f"{LOGS}/national/forecast.log",
    benchmark:
        f"{BENCHMARKS}/forecast_national/national.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb("forecast_national"),
        runtime=runtime("forecast_national"),
    params:
        seed=CONFIG.seed,
        published=CONFIG.published.model_dump(),
        forecast=CONFIG.forecast.model_dump(),
        code_version=CODE_VERSION,
    script:
        "../scripts/forecast_national.py"


rule national:
    """Named target: the national fit of every authority's published figures, and its
    forecast."""
    input:
        rules.fit_national.output.diagnostics,
        rules.forecast_national.output.forecast,
