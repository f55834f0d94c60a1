"""Run DfE's 903 and CIN validators over a directory written by `carecast synthesize`.

Runs in the project's own environment (standard library only); each validator runs in the
separate venv made by tools/dfe_validators/setup.sh, via subprocess:

    cd /work/main && uv run python tools/dfe_validators/check_synthetic.py DATA_DIR \
        [--setup] [--jobs 2] [--json OUT] [--la-code E09000027]

Expected layout, one folder per authority:

    DATA_DIR/CODE/ssda903/YYYY-YY/{header,episodes,uasc}.csv  (+ optional 903 tables)
    DATA_DIR/CODE/cin/cin_census_YYYY.xml

where YYYY-YY is the collection year (2019-20 = year ending 31 March 2020) and the CIN
file's YYYY is the year ending 31 March. Each 903 year is validated with the previous
year's folder as "previous year" (when present) and the rule set of that collection year,
or the nearest that exists (the oldest is lac2022_23). Each CIN file is validated with
its year's rule set, or the nearest.

Exit status: 0 when no "must not fire" 903 rule fired; 1 when one did; 2 when a validator
run failed, a must-not-fire rule crashed, or nothing was found to validate.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
SETUP_SH = HERE / "setup.sh"
RUN_903 = HERE / "run_903.py"
RUN_CIN = HERE / "run_cin.py"

# 903 rules that a correct generator must never trigger: episode structure and code lists.
# (503 has no letter I in the validator: 503A-H and 503J exist.)
MUST_NOT_FIRE: tuple[str, ...] = (
    "142",  # new episode started but the previous one has not ended
    "143",  # RNE not a valid code
    "144",  # LS not a valid code
    "145",  # CIN (category of need) not a valid code
    "146",  # PLACE not a valid code
    "147",  # DEC not a valid date
    "148",  # DEC and REC must both be coded or both blank
    "149",  # REC not a valid code
    "355",  # episode lasted less than 24 hours
    "356",  # DEC before DECOM
    "357",  # first episode ever must have RNE = S
    "388",  # REC = X1 but no continuation episode
    "433",  # continuation episode does not start on the day the last one ended
    "501",  # new episode started before the previous one ended
    "502",  # last year's open episode's DECOM does not match this year's first episode
    "503A",  # RNE of first episode differs from last year's open episode
    "503B",  # LS differs
    "503C",  # CIN differs
    "503D",  # PLACE differs
    "503E",  # PLACE_PROVIDER differs
    "503F",  # URN differs
    "503G",  # placement distance differs
    "503H",  # placement LA differs
    "503J",  # placement location (IN/OUT) differs
    "562",  # episode began before the year but no matching episode in last year's file
)

DEFAULT_LA_CODE = "E09000027"  # used when the authority folder is not a 9-character code
LA_CODE_RE = re.compile(r"^[EWSN]\d{8}$")
YEAR_DIR_RE = re.compile(r"^(\d{4})-(\d{2})$")
CIN_FILE_RE = re.compile(r"^cin_census_(\d{4})\.xml$", re.I)


def default_venv() -> Path:
    return Path(os.environ.get("DFE_VALIDATORS_VENV", REPO_ROOT / ".venv-dfe-validators"))


def year_ending(dirname: str) -> int | None:
    """'2019-20' -> 2020; None if the name is not a collection-year folder."""
    m = YEAR_DIR_RE.match(dirname)
    if not m:
        return None
    start, end2 = int(m.group(1)), int(m.group(2))
    if (start + 1) % 100 != end2:
        return None
    return start + 1


def label(year: int) -> str:
    return f"{year - 1}-{year % 100:02d}"


@dataclass
class Job:
    kind: str  # "903" or "cin"
    authority: str
    year: int  # year ending 31 March
    cmd: list[str]
    json_path: Path
    prev_year: int | None = None
    result: dict | None = None
    error: str | None = None
    stdout: str = ""
    notes: list[str] = field(default_factory=list)


def run_job(job: Job) -> Job:
    proc = subprocess.run(job.cmd, capture_output=True, text=True)
    job.stdout = proc.stdout
    if proc.returncode != 0 or not job.json_path.exists():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        job.error = f"exit {proc.returncode}: {tail}"
        return job
    job.result = json.loads(job.json_path.read_text())
    job.notes = [ln for ln in proc.stderr.splitlines() if ln.startswith(("note:", "warning:"))]
    return job


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def ensure_venv(venv: Path, setup: bool) -> Path:
    py = venv_python(venv)
    if setup:
        env = dict(os.environ, DFE_VALIDATORS_VENV=str(venv))
        subprocess.run(["bash", str(SETUP_SH)], check=True, env=env, stdout=sys.stderr)
    if not py.exists():
        raise SystemExit(
            f"error: {py} not found; run `bash {SETUP_SH.relative_to(REPO_ROOT)}` "
            "first (or pass --setup)"
        )
    return py


def rule_names(py: Path, ruleset: str, tmp: Path) -> dict[str, str]:
    out = tmp / f"rules_{ruleset}.json"
    subprocess.run(
        [str(py), str(RUN_903), "--list-rules", "--ruleset", ruleset, "--json", str(out)],
        check=True,
        capture_output=True,
    )
    return {r["code"]: r["message"] for r in json.loads(out.read_text())["rules"]}


def plan(data_dir: Path, py: Path, tmp: Path, la_override: str | None) -> list[Job]:
    jobs: list[Job] = []
    authorities = sorted(
        p
        for p in data_dir.iterdir()
        if p.is_dir() and ((p / "ssda903").is_dir() or (p / "cin").is_dir())
    )
    for auth in authorities:
        code = auth.name
        la_code = la_override or (code if LA_CODE_RE.match(code) else DEFAULT_LA_CODE)
        years: dict[int, Path] = {}
        s903 = auth / "ssda903"
        if s903.is_dir():
            for d in sorted(s903.iterdir()):
                y = year_ending(d.name) if d.is_dir() else None
                if y is None:
                    print(f"note: ignoring {d} (not a YYYY-YY folder)", file=sys.stderr)
                    continue
                years[y] = d
        for y, d in sorted(years.items()):
            out = tmp / f"{code}_903_{y}.json"
            cmd = [
                str(py),
                str(RUN_903),
                "--this-year",
                str(d),
                "--collection-year",
                str(y),
                "--la-code",
                la_code,
                "--json",
                str(out),
            ]
            prev = years.get(y - 1)
            if prev is not None:
                cmd += ["--prev-year", str(prev)]
            jobs.append(Job("903", code, y, cmd, out, prev_year=y - 1 if prev else None))
        cin = auth / "cin"
        if cin.is_dir():
            for f in sorted(cin.iterdir()):
                m = CIN_FILE_RE.match(f.name)
                if not m:
                    if f.suffix.lower() == ".xml":
                        print(f"note: ignoring {f} (not cin_census_YYYY.xml)", file=sys.stderr)
                    continue
                y = int(m.group(1))
                out = tmp / f"{code}_cin_{y}.json"
                cmd = [str(py), str(RUN_CIN), str(f), "--json", str(out)]
                ruleset = cin_ruleset(py, y, tmp)
                cmd += ["--ruleset", ruleset]
                jobs.append(Job("cin", code, y, cmd, out))
    return jobs


_cin_sets: list[str] | None = None


def cin_ruleset(py: Path, year: int, tmp: Path) -> str:
    """cin{Y-1}_{YY} when it exists, else the nearest rule set."""
    global _cin_sets
    if _cin_sets is None:
        proc = subprocess.run(
            [str(py), str(RUN_CIN), "--list-rulesets"], check=True, capture_output=True, text=True
        )
        _cin_sets = [ln.split("\t")[0] for ln in proc.stdout.splitlines() if ln.startswith("cin")]
    ends = {int(s[3:7]) + 1: s for s in _cin_sets}
    if year in ends:
        return ends[year]
    return ends[min(ends, key=lambda e: (abs(e - year), e))]


def fmt_counts(errors: list[dict], per_line: int = 8) -> list[str]:
    items = [f"{e['code']}x{e['count']}" for e in errors]
    return ["    " + "  ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument(
        "--venv",
        type=Path,
        default=None,
        help="validators' venv (default: $DFE_VALIDATORS_VENV or <repo>/.venv-dfe-validators)",
    )
    ap.add_argument("--setup", action="store_true", help="run setup.sh first (idempotent)")
    ap.add_argument("--jobs", "-j", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--json", type=Path, help="write all results as JSON here")
    ap.add_argument(
        "--la-code",
        help=f"LA code for every authority (default: the folder "
        f"name if it is a 9-character code, else {DEFAULT_LA_CODE})",
    )
    ap.add_argument(
        "--must-not-fire", help="comma-separated 903 rule codes to use instead of the built-in list"
    )
    ap.add_argument("--no-cin", action="store_true", help="skip CIN files")
    args = ap.parse_args(argv)

    if not args.data_dir.is_dir():
        print(f"error: {args.data_dir} is not a directory", file=sys.stderr)
        return 2
    must_not_fire = (
        tuple(c.strip().upper() for c in args.must_not_fire.split(",") if c.strip())
        if args.must_not_fire
        else MUST_NOT_FIRE
    )
    venv = (args.venv or default_venv()).resolve()
    py = ensure_venv(venv, args.setup)

    with tempfile.TemporaryDirectory(prefix="dfe-validators-") as tmpname:
        tmp = Path(tmpname)
        jobs = plan(args.data_dir, py, tmp, args.la_code)
        if args.no_cin:
            jobs = [j for j in jobs if j.kind != "cin"]
        if not jobs:
            print(
                f"error: nothing to validate under {args.data_dir} (expected "
                "CODE/ssda903/YYYY-YY/ or CODE/cin/cin_census_YYYY.xml)",
                file=sys.stderr,
            )
            return 2

        names = rule_names(py, "lac2022_23", tmp)
        unknown = [c for c in must_not_fire if c not in names]
        print("Must-not-fire 903 rules:")
        for c in must_not_fire:
            print(f"  {c:<5} {names.get(c, '(not in lac2022_23)')}")
        if unknown:
            print(f"warning: not in the 903 rule set: {', '.join(unknown)}", file=sys.stderr)

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            done = list(pool.map(run_job, jobs))

    status = 0
    offenders: list[str] = []
    summary: list[dict] = []
    for auth in sorted({j.authority for j in done}):
        print(f"\n=== authority {auth}")
        for j in sorted((j for j in done if j.authority == auth), key=lambda j: (j.kind, j.year)):
            entry = {
                "authority": auth,
                "kind": j.kind,
                "year_ending": j.year,
                "collection_year": label(j.year),
            }
            if j.error:
                print(f"  {j.kind} {label(j.year)}: VALIDATOR FAILED: {j.error}")
                entry["error"] = j.error
                summary.append(entry)
                status = max(status, 2)
                continue
            r = j.result
            entry.update(r)
            summary.append(entry)
            if j.kind == "903":
                prev = f"prev {label(j.prev_year)}" if j.prev_year else "no previous year"
                print(
                    f"  903 {label(j.year)} [{r['ruleset']}, {prev}, LA {r['la_code']}]: "
                    f"{r['n_rules_fired']} rules, {r['n_errors']} errors"
                )
                for line in fmt_counts(r["errors"]):
                    print(line)
                bad = [e for e in r["errors"] if e["code"] in must_not_fire]
                crashed = [c for c in r["failed_rules"] if c in must_not_fire]
                for e in bad:
                    msg = f"{auth} 903 {label(j.year)}: {e['code']} x{e['count']}: {e['message']}"
                    offenders.append(msg)
                    print(f"    MUST-NOT-FIRE {e['code']} x{e['count']}: {e['message']}")
                if bad:
                    status = max(status, 1)
                if crashed:
                    print(f"    must-not-fire rules crashed (unchecked): {', '.join(crashed)}")
                    status = 2
                if r["failed_rules"]:
                    print(f"    rules that crashed: {', '.join(r['failed_rules'])}")
            else:
                exact = "" if r["ruleset_exact"] else " (nearest)"
                print(
                    f"  CIN {label(j.year)} [{r['ruleset']}{exact}, window {r['window']}]: "
                    f"{r['n_rules_fired']} rules, {r['n_flagged']} flagged records"
                )
                for line in fmt_counts(r["errors"]):
                    print(line)
                if r["census_year"] != j.year:
                    print(
                        f"    note: header ReferenceDate/Year give census year "
                        f"{r['census_year']}, file name says {j.year}"
                    )
                if r["failed_rules"]:
                    print(f"    rules that crashed: {', '.join(r['failed_rules'])}")
            for n in j.notes:
                print(f"    {n}")

    print()
    if offenders:
        print(f"FAIL: {len(offenders)} must-not-fire 903 rule hits:")
        for o in offenders:
            print(f"  {o}")
    elif status == 0:
        print("OK: no must-not-fire 903 rule fired.")
    if status == 2:
        print("ERROR: at least one validator run failed or a must-not-fire rule crashed.")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "must_not_fire": list(must_not_fire),
                    "offenders": offenders,
                    "status": status,
                    "runs": summary,
                },
                indent=2,
            )
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
