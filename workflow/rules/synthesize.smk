# The synthetic demo: one job per synthetic authority, then a count of what it wrote.
# conda: is used only with `--sdm conda`; everyday runs use the uv environment.


rule synthesize:
    """Write one synthetic authority's 903 and CIN returns (and its truth) with model.synth."""
    input:
        truth=truth_input,
    output:
        done=f"{DEMO_DIR}/{{la}}/DONE",
    log:
        f"{LOGS}/synthesize/{{la}}.log",
    conda:
        "../envs/carecast.yaml"
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
    output:
        summary=f"{RESULTS}/{{la}}/demo_summary.json",
    log:
        f"{LOGS}/summarise_demo/{{la}}.log",
    conda:
        "../envs/carecast.yaml"
    params:
        code_version=CODE_VERSION,
    script:
        "../scripts/summarise_demo.py"
