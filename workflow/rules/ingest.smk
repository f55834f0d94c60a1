# Ingest: each authority's returns -> clean records (private) and observations (shared).


rule ingest_903:
    """Read, merge and repair one authority's 903 returns; write observations and report."""
    input:
        returns=ssda903_folder,
    output:
        observations=f"{RESULTS}/{{la}}/observations_903.csv",
        report=f"{RESULTS}/{{la}}/data_quality_903.json",
        private=directory(f"{PRIVATE_DIR}/{{la}}/ssda903"),
    log:
        f"{LOGS}/ingest_903/{{la}}.log",
    conda:
        "../envs/carecast.yaml"
    params:
        categories=CONFIG.categories.model_dump(),
        code_version=CODE_VERSION,
    script:
        "../scripts/ingest_903.py"
