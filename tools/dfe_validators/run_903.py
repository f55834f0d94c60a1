"""Run DfE's SSDA903 validator (csc-validator-be-903) on a folder of 903 CSV tables.

Runs inside the validators' own venv (see setup.sh), not the project env:

    .venv-dfe-validators/bin/python tools/dfe_validators/run_903.py \
        --this-year DIR --prev-year DIR --collection-year 2021 --la-code E09000027 \
        [--ruleset lac2022_23] [--json OUT]

Each DIR holds CSV tables (header.csv, episodes.csv, uasc.csv; optionally reviews.csv,
oc2.csv, oc3.csv, ad1.csv, placed_for_adoption.csv, previous_permanence.csv, missing.csv,
sw_episodes.csv, dolo.csv). The validator identifies a table by its exact set of column
names, not by file name, so every *.csv in DIR whose columns match a 903 table is loaded;
others are reported and skipped.

--collection-year is the year ENDING 31 March (2021 = 1 April 2020 to 31 March 2021);
"2020/21", "2020-21" and "2020_21" are accepted and converted. (The validator itself only
reads the first four characters of its `collectionYear` metadata as the year ending March,
so passing it "2020/21" would silently validate against the wrong window.)

Prints a table: rule code, number of errors, rule message. Exit status is 0 when the
validator ran (whatever it found), 2 on bad input.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import logging
import re
import sys
import time
import warnings
from pathlib import Path

import rulesets


def parse_collection_year(text: str) -> int:
    """'2021', '2020/21', '2020-21', '2020_21' -> 2021 (year ending 31 March)."""
    text = text.strip()
    m = re.fullmatch(r"(\d{4})", text)
    if m:
        return int(m.group(1))
    m = re.fullmatch(r"(\d{4})[/_-](\d{2}|\d{4})", text)
    if m:
        start = int(m.group(1))
        end = m.group(2)
        end_year = int(end) if len(end) == 4 else (start // 100) * 100 + int(end)
        if end_year != start + 1:
            raise ValueError(f"{text!r} is not a one-year span")
        return end_year
    raise ValueError(f"cannot read collection year {text!r}")


def available_rulesets() -> list[str]:
    return rulesets.available_rulesets("lac_validator.rules", "lac")


def ruleset_for_year(year: int) -> tuple[str, bool]:
    """Rule set named for the collection year ending March `year`, or the nearest one.

    Returns (name, exact)."""
    return rulesets.ruleset_for_year(available_rulesets(), "lac", year)


def table_of(path: Path, column_names: dict[str, list[str]]) -> str | None:
    with open(path, newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), [])
    cols = {c.strip().upper() for c in header}
    for name, expected in column_names.items():
        if cols == set(expected):
            return name
    return None


def collect_files(directory: Path, column_names, label: str) -> tuple[list[str], dict]:
    if not directory.is_dir():
        raise SystemExit(f"error: {label} directory {directory} does not exist")
    files: list[str] = []
    tables: dict[str, str] = {}
    for path in sorted(directory.glob("*.csv")):
        name = table_of(path, column_names)
        if name is None:
            print(f"note: {path} matches no 903 table; skipped", file=sys.stderr)
            continue
        if name in tables:
            raise SystemExit(f"error: {path} and {tables[name]} are both {name} tables")
        tables[name] = str(path)
        files.append(str(path))
    if not files:
        raise SystemExit(f"error: no 903 CSV tables found in {directory}")
    return files, tables


def natural_key(code: str):
    m = re.match(r"(\d+)(.*)", code)
    return (0, int(m.group(1)), m.group(2)) if m else (1, 0, code)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--this-year", type=Path, help="folder of this year's CSVs (required)")
    ap.add_argument("--prev-year", type=Path, help="folder of the previous year's CSVs")
    ap.add_argument(
        "--collection-year",
        help="year ending 31 March, e.g. 2021 (or 2020/21) (required)",
    )
    ap.add_argument("--la-code", help="9-character LA code, e.g. E09000027 (required)")
    ap.add_argument("--ruleset", help="rule set, e.g. lac2022_23 (default: from the year)")
    ap.add_argument("--json", type=Path, help="write the summary as JSON here")
    ap.add_argument("--list-rulesets", action="store_true", help="list rule sets and exit")
    ap.add_argument(
        "--list-rules",
        action="store_true",
        help="print the rule set's rules (code, message) and exit; JSON with --json",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="keep validator logging")
    args = ap.parse_args(argv)

    if not args.verbose:
        # pandas 1.5 FutureWarnings from the rule code are noise here
        warnings.filterwarnings("ignore", category=FutureWarning)
    # lac_validator calls logging.basicConfig(level=INFO) on import and logs every rule.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    from lac_validator import lac_validator as lv
    from lac_validator.config import column_names
    from lac_validator.report import Report
    from lac_validator.utils import process_uploaded_files

    if not args.verbose:
        logging.getLogger().setLevel(logging.ERROR)

    if args.list_rulesets:
        print("\n".join(available_rulesets()))
        return 0

    if args.list_rules:
        if args.ruleset:
            ruleset = args.ruleset
        elif args.collection_year:
            ruleset = ruleset_for_year(parse_collection_year(args.collection_year))[0]
        else:
            ap.error("--list-rules needs --ruleset or --collection-year")
        registry = importlib.import_module(f"lac_validator.rules.{ruleset}").registry
        rules = sorted(
            (
                {"code": str(c), "message": r.message, "fields": list(r.affected_fields or [])}
                for c, r in registry.items()
            ),
            key=lambda r: natural_key(r["code"]),
        )
        if args.json:
            args.json.write_text(json.dumps({"ruleset": ruleset, "rules": rules}, indent=2))
        else:
            for r in rules:
                print(f"{r['code']}\t{r['message']}")
        return 0

    missing = [
        f"--{n.replace('_', '-')}"
        for n in ("this_year", "collection_year", "la_code")
        if getattr(args, n) is None
    ]
    if missing:
        ap.error("the following arguments are required: " + ", ".join(missing))

    try:
        year = parse_collection_year(args.collection_year)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not re.fullmatch(r"[EWSN]\d{8}", args.la_code):
        print(f"warning: LA code {args.la_code!r} is not of the form E0XXXXXXX", file=sys.stderr)

    if args.ruleset:
        ruleset, exact = args.ruleset, args.ruleset == f"lac{year - 1}_{year % 100:02d}"
        if ruleset not in available_rulesets():
            print(
                f"error: unknown rule set {ruleset}; have {available_rulesets()}", file=sys.stderr
            )
            return 2
    else:
        ruleset, exact = ruleset_for_year(year)
    if not exact:
        print(
            f"note: no rule set for {year - 1}-{year % 100:02d}; using {ruleset}",
            file=sys.stderr,
        )
    registry = importlib.import_module(f"lac_validator.rules.{ruleset}").registry

    this_files, this_tables = collect_files(args.this_year, column_names, "--this-year")
    uploads = {"This year": this_files}
    prev_tables: dict[str, str] = {}
    if args.prev_year:
        prev_files, prev_tables = collect_files(args.prev_year, column_names, "--prev-year")
        uploads["Prev year"] = prev_files

    metadata = {"collectionYear": str(year), "localAuthority": args.la_code}
    t0 = time.perf_counter()
    # The validator prints a traceback for each rule that crashes; keep stdout clean.
    captured = io.StringIO()
    real_stdout = sys.stdout
    sys.stdout = captured
    try:
        v = lv.LacValidator(
            metadata=metadata, files=process_uploaded_files(uploads), registry=registry
        )
        report = Report(v.ds_results, registry)
        summary = report.error_summary
    finally:
        sys.stdout = real_stdout
    elapsed = time.perf_counter() - t0

    summary = summary[summary["Error Count"] > 0]
    rows = sorted(
        (
            {
                "code": str(r["Code"]),
                "count": int(r["Error Count"]),
                "message": str(r["Error Description"]),
                "fields": str(r["Affected Fields"]),
            }
            for _, r in summary.iterrows()
        ),
        key=lambda r: natural_key(r["code"]),
    )
    total = sum(r["count"] for r in rows)
    table_rows = {
        name: len(df) for name, df in v.dfs.items() if hasattr(df, "__len__") and name != "metadata"
    }

    print(
        f"SSDA903 validator {ruleset} | collection year {year - 1}-{year % 100:02d} "
        f"(window {v.metadata['collection_start']} to {v.metadata['collection_end']}) | "
        f"LA {args.la_code}"
    )
    print("tables: " + ", ".join(f"{k} {n}" for k, n in table_rows.items()))
    print(f"{'code':<8} {'errors':>7}  message")
    for r in rows:
        msg = r["message"] if len(r["message"]) <= 110 else r["message"][:107] + "..."
        print(f"{r['code']:<8} {r['count']:>7}  {msg}")
    print(f"{len(rows)} rules fired, {total} errors ({elapsed:.1f}s)")
    if v.fails:
        print(f"rules that crashed (not counted): {', '.join(map(str, v.fails))}")

    if args.json:
        out = {
            "validator": "csc-validator-be-903",
            "ruleset": ruleset,
            "ruleset_exact": exact,
            "collection_year": year,
            "collection_start": v.metadata["collection_start"],
            "collection_end": v.metadata["collection_end"],
            "la_code": args.la_code,
            "this_year_tables": this_tables,
            "prev_year_tables": prev_tables,
            "table_rows": table_rows,
            "n_rules_fired": len(rows),
            "n_errors": total,
            "errors": rows,
            "failed_rules": [str(c) for c in v.fails],
            "skipped_rules": [str(c) for c in v.skips],
            "n_rules_in_ruleset": len(registry),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
