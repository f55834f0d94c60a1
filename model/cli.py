"""The ``carecast`` console command: every stage runs without Snakemake.

Subcommands are added stage by stage; each parses its arguments, calls one function in
``model`` and turns expected failures (bad input, bad configuration) into a one-paragraph
message on stderr and exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from model.synth import synthesize
from model.synth.truth_config import DEFAULT_TRUTH_FILE

log = logging.getLogger("carecast")


class UserError(Exception):
    """A problem with the user's input that deserves a message, not a traceback."""


def _validation_message(error: ValidationError, source: str) -> str:
    lines = [f"{source} is not valid:"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def _synthesize(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    try:
        codes = synthesize(
            args.out_dir,
            authorities=args.authorities,
            first_year=args.first_year,
            last_year=args.last_year,
            seed=args.seed,
            truth_file=args.truth,
            faults=args.faults,
            only=args.only,
        )
    except ValidationError as error:
        raise UserError(_validation_message(error, f"truth file {args.truth}")) from None
    except (ValueError, OSError) as error:
        raise UserError(str(error)) from None
    elapsed = time.perf_counter() - start
    log.info("wrote %s into %s in %.1f s", ", ".join(codes), args.out_dir, elapsed)


def _year(text: str) -> int:
    value = int(text)
    if not 2000 <= value <= 2100:
        raise argparse.ArgumentTypeError(f"expected a year ending 31 March, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="carecast",
        description="Calibrated stock-flow forecasts of children's social care.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = commands.add_parser(
        "synthesize",
        help="simulate authorities and write synthetic 903 returns, CIN censuses and truth",
        description="Simulate children through synthetic authorities from known parameters "
        "and write what each authority would submit (903 CSV returns, CIN census XML), with "
        "the true monthly stocks and flows.",
    )
    synth.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    synth.add_argument(
        "--authorities",
        type=_positive,
        default=3,
        metavar="N",
        help="number of authorities, sizes spread over the truth file's range (default 3)",
    )
    synth.add_argument(
        "--first-year",
        type=_year,
        default=2016,
        metavar="Y",
        help="first year written, as the year ending 31 March (default 2016)",
    )
    synth.add_argument(
        "--last-year",
        type=_year,
        default=2025,
        metavar="Y",
        help="last year written, as the year ending 31 March (default 2025)",
    )
    synth.add_argument(
        "--seed",
        type=_non_negative,
        default=0,
        metavar="S",
        help="random seed; the same seed gives byte-identical files (default 0)",
    )
    synth.add_argument(
        "--truth",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"truth parameters (YAML; default {DEFAULT_TRUTH_FILE.name}, shipped with carecast)",
    )
    synth.add_argument(
        "--faults",
        action="store_true",
        help="inject the data-quality problems real returns have, listed in truth/faults.csv",
    )
    synth.add_argument(
        "--only", nargs="+", metavar="CODE", help="write only these authorities (e.g. SYN02)"
    )
    synth.set_defaults(handler=_synthesize)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``carecast``; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    handler: Callable[[argparse.Namespace], None] = args.handler
    try:
        handler(args)
    except UserError as error:
        print(f"carecast {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
