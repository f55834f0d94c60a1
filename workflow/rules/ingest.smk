# Ingest: each authority's returns -> clean records (private) and observations (shared).


rule ingest_903:
    """Read, merge and repair one authority's 903 returns; write observations and report."""
    input:
        returns=returns_folder("ssda903"),
    output:
        observations=f"{RESULTS}/{{la}}/observations_903.csv",
        report=f"{RESULTS}/{{la}}/data_quality_903.json",
        private=directory(f"{PRIVATE_DIR}/{{la}}/ssda903"),
    log:
        f"{LOGS}/ingest_903/{{la}}.log",
    benchmark:
        f"{BENCHMARKS}/ingest_903/{{la}}.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb("ingest_903"),
        runtime=runtime("ingest_903"),
    params:
        categories=CONFIG.categories.model_dump(),
        code_version=CODE_VERSION,
    script:
        "../scripts/ingest_903.py"


rule ingest_cin:
    """Read, merge and repair one authority's CIN censuses; link them to its 903 records;
    write the upstream observations and the report."""
    input:
        census=returns_folder("cin"),
        private_903=rules.ingest_903.output.private,
    output:
        observations=f"{RESULTS}/{{la}}/observations_cin.csv",
        report=f"{RESULTS}/{{la}}/data_quality_cin.json",
        private=directory(f"{PRIVATE_DIR}/{{la}}/cin"),
    log:
        f"{LOGS}/ingest_cin/{{la}}.log",
    benchmark:
        f"{BENCHMARKS}/ingest_cin/{{la}}.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb("ingest_cin"),
        runtime=runtime("ingest_cin"),
    params:
        categories=CONFIG.categories.model_dump(),
        code_version=CODE_VERSION,
    script:
        "../scripts/ingest_cin.py"
