# The synthetic demo: one job per synthetic authority, then a count of what it wrote.
# conda: is used only with `--sdm conda`; everyday runs use the uv environment.


rule synthesize:
    """Write one synthetic authority's 903 and CIN returns (and its truth) with model.synth."""
    input:
        truth=truth_input,
    output:
        done=f"{DEMO_DIR}/{{la}}/DONE",
        # The folders too, not just the marker: with a storage provider (profiles/kubernetes)
        # only declared outputs are uploaded for the jobs that read them.
        ssda903=directory(f"{DEMO_DIR}/{{la}}/ssda903"),
        cin=directory(f"{DEMO_DIR}/{{la}}/cin"),
        truth=directory(f"{DEMO_DIR}/{{la}}/truth"),
    log:
        f"{LOGS}/synthesize/{{la}}.log",
    benchmark:
        f"{BENCHMARKS}/synthesize/{{la}}.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb("synthesize"),
        runtime=runtime("synthesize"),
    params:
        authorities=CONFIG.demo.authorities,
        first_year=CONFIG.demo.first_year,
        last_year=CONFIG.demo.last_year,
        seed=CONFIG.seed,
        faults=CONFIG.demo.faults,
        code_version=CODE_VERSION,
    script:
        "../scripts/synthesize.py"


rule summarise_demo:
    """Count files, 903 episode rows and CIN children per year for one demo authority."""
    input:
        done=rules.synthesize.output.done,
        ssda903=rules.synthesize.output.ssda903,
        cin=rules.synthesize.output.cin,
        truth=rules.synthesize.output.truth,
    output:
        summary=f"{RESULTS}/{{la}}/demo_summary.json",
    log:
        f"{LOGS}/summarise_demo/{{la}}.log",
    benchmark:
        f"{BENCHMARKS}/summarise_demo/{{la}}.tsv"
    conda:
        "../envs/carecast.yaml"
    threads: 1
    resources:
        mem_mb=mem_mb("summarise_demo"),
        runtime=runtime("summarise_demo"),
    params:
        code_version=CODE_VERSION,
    script:
        "../scripts/summarise_demo.py"
