"""The workflow beyond one machine, on Snakemake's own executors, proved without a cluster:
a small run through the generic cluster executor with a stand-in for ``sbatch``, and dry
runs of the SLURM and Kubernetes profiles (profiles/) that plan every job.

Snakemake runs as ``sys.executable -m snakemake`` so it uses this test environment.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from model.compile_caches import compile_cache_environment

ROOT = Path(__file__).resolve().parents[1]
DECLARED = yaml.safe_load((ROOT / "workflow" / "resources.yaml").read_text(encoding="utf-8"))
NATIONAL_SAMPLE = ROOT / "benchmarks" / "national_sample.yaml"
PER_AUTHORITY_RULES = ("synthesize", "summarise_demo", "ingest_903", "ingest_cin", "fit")


def snakemake(*args: str, env: dict[str, str] | None = None, timeout: int = 600):
    """Run Snakemake in the repository root; --nolock so parallel runs do not collide."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--nolock", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a run or dry run as {rule: count}."""
    table = output.split("Job stats:", 1)[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.MULTILINE)}


def planned_jobs(output: str) -> list[dict[str, str]]:
    """Each job block of a dry run: its rule, wildcards, threads and resources lines."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", output):
        rule = re.match(r"(?:local)?rule (\w+):\n", block)
        if rule:
            fields = dict(re.findall(r"^    (\w+): (.*)$", block, re.MULTILINE))
            jobs.append({"rule": rule[1], **fields})
    return jobs


def resource(job: dict[str, str], name: str) -> str:
    """One resource of a planned job, as printed (``mem_mb=1024`` -> ``"1024"``)."""
    return dict(item.split("=", 1) for item in job["resources"].split(", "))[name]


# A stand-in for sbatch: logs the submission, runs the job script in the background (its
# output and exit code into files) and prints a job id, as sbatch --parsable does.
FAKE_SBATCH = """\
#!/usr/bin/env bash
set -euo pipefail
jobs="$(dirname "$0")/jobs"
mkdir -p "$jobs"
id="job$(date +%s%N)$RANDOM"
echo "$id $*" >> "$jobs/submissions.log"
jobscript="${@: -1}"
( bash "$jobscript" > "$jobs/$id.out" 2>&1; echo $? > "$jobs/$id.rc" ) \\
    < /dev/null > /dev/null 2>&1 &
echo "$id"
"""

# A stand-in for the scheduler's status query: running until the job wrote its exit code.
FAKE_STATUS = """\
#!/usr/bin/env bash
rc="$(dirname "$0")/jobs/$1.rc"
if [ ! -f "$rc" ]; then echo running
elif [ "$(cat "$rc")" = 0 ]; then echo success
else echo failed
fi
"""


def _script(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


def test_generic_cluster_executor_runs_a_small_workflow_through_the_submit_script(tmp_path):
    """One small demo authority through synthesize, the 903 ingest and the demo summary,
    each job submitted through the stand-in sbatch with its rule's resources, run in the
    background, and polled with the stand-in status command (a minute or two)."""
    config = tmp_path / "small.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            paths:
              results_dir: {tmp_path / "results"}
              demo_dir: {tmp_path / "demo"}
              private_dir: {tmp_path / "private"}
            demo:
              authorities: 1
              first_year: 2024
              last_year: 2025
            """
        ),
        encoding="utf-8",
    )
    sbatch = _script(tmp_path / "fake_sbatch", FAKE_SBATCH)
    status = _script(tmp_path / "fake_status", FAKE_STATUS)
    results = tmp_path / "results" / "SYN01"
    env = dict(os.environ, CARECAST_CACHE_DIR=str(tmp_path / "caches"))
    run = snakemake(
        str(results / "observations_903.csv"),
        str(results / "demo_summary.json"),
        "--configfile", str(config),
        "--executor", "cluster-generic",
        "--cluster-generic-submit-cmd",
        f"{sbatch} --job-name={{rule}} --cpus-per-task={{threads}} "
        "--mem={resources.mem_mb} --time={resources.runtime}",
        "--cluster-generic-status-cmd", str(status),
        "--jobs", "4",
        "--seconds-between-status-checks", "1",
        "--latency-wait", "10",
        env=env,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert (results / "observations_903.csv").is_file()
    assert (results / "demo_summary.json").is_file()
    # Every job went through the stand-in, asking for its rule's threads, memory and time.
    submissions = (tmp_path / "jobs" / "submissions.log").read_text().splitlines()
    rules = sorted(re.search(r"--job-name=(\w+)", line)[1] for line in submissions)
    assert rules == ["ingest_903", "summarise_demo", "synthesize"], submissions
    for line in submissions:
        rule = re.search(r"--job-name=(\w+)", line)[1]
        assert f"--mem={DECLARED[rule]['mem_mb']} " in line, line
        assert f"--time={DECLARED[rule]['runtime']} " in line, line
        assert "--cpus-per-task=1 " in line, line
    codes = sorted((tmp_path / "jobs").glob("*.rc"))
    assert len(codes) == 3 and all(c.read_text().strip() == "0" for c in codes)
    assert output.count("with external jobid 'job") == 3
    # Each job wrote its benchmark file (wall time and peak memory).
    for rule in rules:
        assert (tmp_path / "results" / "benchmarks" / rule / "SYN01.tsv").is_file(), rule


def test_slurm_profile_plans_a_national_run_with_measured_resources():
    """150 synthetic authorities through the SLURM profile, dry run: every stage's jobs
    for every authority, each with its rule's declared memory, time and threads."""
    run = snakemake(
        "-n", "--forceall", "--profile", "profiles/slurm", "--configfile", str(NATIONAL_SAMPLE),
        # A dry run caps threads at --cores (1 by default); a real cluster run does not.
        "--cores", "100",
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    counts = job_counts(output)
    for rule in PER_AUTHORITY_RULES:
        assert counts[rule] == 150, (rule, counts)
    jobs = planned_jobs(output)
    # The forecast: however it is split (per scenario or per authority), every authority.
    forecast_authorities = {job["wildcards"].split("la=")[1].split(",")[0] for job in jobs
                            if job["rule"] == "forecast"}  # fmt: skip
    assert len(forecast_authorities) == 150 and counts["forecast"] % 150 == 0
    for job in jobs:
        if job["rule"] in DECLARED:
            assert resource(job, "mem_mb") == str(DECLARED[job["rule"]]["mem_mb"]), job
            assert resource(job, "runtime") == str(DECLARED[job["rule"]]["runtime"]), job
    fits = [job for job in jobs if job["rule"] == "fit"]
    assert {job["threads"] for job in fits} == {"4"}  # set-threads: one CPU per chain


def test_kubernetes_profile_plans_every_job_with_its_inputs_in_storage(tmp_path):
    """The Kubernetes profile's dry run against a local S3 stand-in (moto): every demo job
    planned, outputs and inputs in the bucket, the scenario file with the sources."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID="stand-in",
            AWS_SECRET_ACCESS_KEY="stand-in",
            AWS_DEFAULT_REGION="us-east-1",
        )
        run = snakemake(
            "-n", "--profile", "profiles/kubernetes",
            "--storage-s3-endpoint-url", f"http://{host}:{port}",
            env=env,
        )  # fmt: skip
    finally:
        server.stop()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    counts = job_counts(output)
    for rule in PER_AUTHORITY_RULES:
        assert counts[rule] == 3, (rule, counts)
    assert counts["forecast"] >= 3
    prefix = "s3://carecast-runs/carecast/"
    assert f"{prefix}results/SYN01/fit/diagnostics.json (in storage)" in output
    assert f"{prefix}data/demo/SYN01/ssda903 (in storage)" in output
    forecasts = [job for job in planned_jobs(output) if job["rule"] == "forecast"]
    assert all("config/scenarios/examples.yaml" in job["input"] for job in forecasts)
    assert not any(f"{prefix}config/" in job["input"] for job in forecasts)


def test_compile_caches_are_per_machine_and_leave_user_settings_alone(tmp_path):
    root = str(tmp_path / "caches")
    first = compile_cache_environment({"CARECAST_CACHE_DIR": root}, host="node01")
    second = compile_cache_environment({"CARECAST_CACHE_DIR": root}, host="node02")
    assert first["NUMBA_CACHE_DIR"] == str(tmp_path / "caches" / "node01" / "numba")
    assert (
        first["PYTENSOR_FLAGS"] == f"base_compiledir={tmp_path / 'caches' / 'node01' / 'pytensor'}"
    )
    assert first["NUMBA_CACHE_DIR"] != second["NUMBA_CACHE_DIR"]
    # Other PyTensor flags are kept; a user's own cache folders stand.
    kept = compile_cache_environment(
        {"CARECAST_CACHE_DIR": root, "PYTENSOR_FLAGS": "floatX=float64"}, host="n"
    )
    assert kept["PYTENSOR_FLAGS"].startswith("floatX=float64,base_compiledir=")
    own = {"NUMBA_CACHE_DIR": "/mine", "PYTENSOR_FLAGS": "compiledir=/mine", "HOME": "/h"}
    assert compile_cache_environment(own, host="n") == {}
    # A host name cannot escape the root nor break PYTENSOR_FLAGS's commas.
    odd = compile_cache_environment({"CARECAST_CACHE_DIR": root}, host="../a,b")
    assert odd["NUMBA_CACHE_DIR"] == str(tmp_path / "caches" / "_a_b" / "numba")


def test_compile_cache_root_defaults_to_the_user_cache_folder():
    env = compile_cache_environment({"HOME": "/home/u"}, host="n")
    assert env["NUMBA_CACHE_DIR"] == "/home/u/.cache/carecast/n/numba"
    env = compile_cache_environment({"HOME": "/home/u", "XDG_CACHE_HOME": "/c"}, host="n")
    assert env["NUMBA_CACHE_DIR"] == "/c/carecast/n/numba"


def test_every_rule_that_runs_a_script_declares_measured_resources():
    """Each rule with a script has figures in workflow/resources.yaml, and each figure there
    belongs to a rule."""
    text = "\n".join(p.read_text() for p in sorted((ROOT / "workflow" / "rules").glob("*.smk")))
    blocks = dict(re.findall(r"^rule (\w+):\n(.*?)(?=^\S|\Z)", text, re.MULTILINE | re.DOTALL))
    scripted = {rule for rule, body in blocks.items() if "    script:" in body}
    assert scripted == set(DECLARED)
    for rule in scripted:
        assert "    benchmark:" in blocks[rule] and "    threads:" in blocks[rule], rule
        assert f'mem_mb=mem_mb("{rule}")' in blocks[rule], rule
        assert f'runtime=runtime("{rule}")' in blocks[rule], rule
        assert DECLARED[rule]["mem_mb"] >= 256 and DECLARED[rule]["runtime"] >= 1, rule
