"""The ``carecast`` console command: every stage runs without Snakemake.

Subcommands are added stage by stage; each parses its arguments, calls one function in
``model`` and turns expected failures (bad input, bad configuration) into a one-paragraph
message on stderr and exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from model.compile_caches import compile_cache_environment
from model.config.errors import ConfigError
from model.config.load import load_config
from model.logs import setup_logging
from model.outputs import staged_outputs
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


def _ingest(args: argparse.Namespace) -> None:
    """``carecast ingest 903|cin``: one authority's returns -> observations and report.

    Both output folders are staged (``model.outputs``, one manifest per ingest, as the two
    share folders): the previous run's outputs are removed first and this run's appear only
    when it succeeds, so a failed run leaves nothing that looks current except its own
    data-quality report, when it got that far."""
    from model.ingest903 import IngestError, ingest_903
    from model.ingestcin import TABLES_903, ingest_cin

    private = args.private or Path("data/private") / args.authority
    failure: IngestError | None = None
    try:
        categories = load_config(args.config).categories if args.config else None
        # The CIN ingest links to the 903 ingest's private outputs, by default in the
        # private folder it writes to: it is given the real folder, not its staging one.
        link_903 = getattr(args, "link_903", None)
        if args.source == "cin" and link_903 is None:
            link_903 = private if all((private / n).is_file() for n in TABLES_903) else None
        with (
            staged_outputs(args.out, f"ingest-{args.source}") as out,
            staged_outputs(private, f"ingest-{args.source}", private=True) as private_out,
        ):
            try:
                if args.source == "903":
                    result = ingest_903(args.paths, args.authority, out, private_out, categories)
                else:
                    result = ingest_cin(
                        args.paths, args.authority, out, private_out, categories, link_903
                    )
            except IngestError as error:
                failure = error  # its report, if written, is kept; nothing else is
    except (IngestError, ConfigError, OSError) as error:
        raise UserError(str(error)) from None
    if failure is not None:
        raise UserError(str(failure)) from None
    rows = result.report["rows"]
    log.info(
        "%s: %d rows read: %d accepted, %d repaired, %d superseded, %d quarantined; "
        "observations %d-%d written to %s (report: data_quality_%s.txt)",
        args.authority,
        rows["read"],
        rows["accepted"],
        rows["repaired"],
        rows["superseded"],
        rows["quarantined"],
        result.first_year,
        result.last_year,
        args.out,
        args.source,
    )
    _log_files(args.authority, args.source, result.report)
    link = result.report.get("link", {})
    if link.get("link_rate") is not None:
        log.info("linked to the 903: %.1f%% of looked-after children", 100 * link["link_rate"])


def _log_files(authority: str, source: str, report: dict) -> None:
    """The console's account of every file and year an ingest found (its report's)."""
    if source == "903":
        status, years = report["file_status"], report["collection_years"]["found"]
        gated = ""
    else:
        status = report["files_by_status"]
        # (per authority number in the census: its years; the message lists them all)
        years = sorted({year for found in report["census_years"].values() for year in found})
        refused = report["census_years_refused"]
        gated = sum(g["quarantined"] for g in report["plausibility_gates"].values())
        gated = f"; {gated} rows quarantined by plausibility gates" + (
            f"; census years refused: {refused}" if refused else ""
        )
    log.info(
        "%s: files found %d: read %d, partly read %d, not read %d; %s years %s%s",
        authority, sum(status.values()), status["read"], status["partly read"],
        status["not read"], "collection" if source == "903" else "census",
        ", ".join(map(str, years)), gated,
    )  # fmt: skip
    if status["partly read"] or status["not read"]:
        log.warning(
            "%s: %d file(s) not read or only partly read: see data_quality_%s.txt",
            authority, status["partly read"] + status["not read"], source,
        )  # fmt: skip


def _ingest_published(args: argparse.Namespace) -> None:
    """``carecast ingest published``: DfE's published tables -> every authority's yearly
    observations, the authority list and the report."""
    from model.ingestpub import PublishedInputError, ingest_published

    start = time.perf_counter()
    try:
        categories = load_config(args.config).categories if args.config else None
        result = ingest_published(args.folder, args.out, categories)
    except (PublishedInputError, ConfigError, OSError) as error:
        raise UserError(str(error)) from None
    output, rows = result.report["output"], result.report["rows"]
    log.info(
        "%d rows read (%d used); %d observations of %d authorities (+%d combined units), "
        "years %s, written to %s in %.1f s (report: data_quality_published.txt)",
        rows["read"],
        rows["used"],
        output["rows"],
        output["authorities"],
        output["combined_units"],
        output["years"],
        args.out,
        time.perf_counter() - start,
    )
    files = result.report["files_by_status"]
    log.info(
        "files found %d: %s",
        result.report["files_seen"],
        ", ".join(f"{status} {count}" for status, count in files.items()),
    )
    for line in result.not_read:
        log.warning("%s", line)


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


def _fit(args: argparse.Namespace) -> None:
    """``carecast fit``: one authority's observations (or several, pooled) -> posterior and
    diagnostics."""
    from model.config.carecast import CarecastConfig
    from model.fit.data import FitDataError
    from model.fit.published_data import is_published
    from model.fit.run import PosteriorMismatch, fit_authority
    from model.fit.run_pooled import POOLED, fit_pooled

    folders = args.observations
    _check_observations(folders)
    if len(folders) == 1 and is_published(folders[0]):
        _fit_published(args)
        return
    pooled = len(folders) > 1
    if pooled and (args.authority or args.prior_from):
        raise UserError("--authority and --prior-from apply to one authority's fit, not pooled")
    authority = POOLED if pooled else args.authority or Path(folders[0]).resolve().name
    try:
        config = load_config(args.config) if args.config else CarecastConfig()
        settings = (config.seed, config.structure, config.priors, config.sampler,
                    config.diagnostics)  # fmt: skip
        with staged_outputs(args.out, "fit") as out:
            if pooled:
                result = fit_pooled(folders, out, *settings)
            else:
                result = fit_authority(
                    folders[0], out, authority, *settings, prior_from=args.prior_from
                )
    except (FitDataError, ConfigError, OSError, PosteriorMismatch) as error:
        raise UserError(str(error)) from None
    diagnostics = result.diagnostics
    verdict = "passed" if diagnostics["passed"] else "FAILED: " + "; ".join(diagnostics["problems"])
    log.info(
        "%s: fitted in %.0f s; diagnostics %s; posterior written to %s",
        authority, sum(result.seconds.values()), verdict, args.out,
    )  # fmt: skip


def _check_observations(folders: Sequence[Path]) -> None:
    """Stop with a message when a folder holds neither kind of observations."""
    for folder in folders:
        names = ("observations_903.csv", "observations_published.csv")
        if not any((Path(folder) / name).is_file() for name in names):
            where = "" if Path(folder).is_dir() else " (no such folder)"
            raise UserError(
                f"{folder}{where}: no observations_903.csv or observations_published.csv to "
                f"fit. Run `carecast ingest 903 RETURNS --authority CODE --out {folder}` "
                "(then optionally `carecast ingest cin`) for one authority's fit, or "
                f"`carecast ingest published TABLES --out {folder}` for the national fit of "
                "every authority"
            )


def _fit_published(args: argparse.Namespace) -> None:
    """``carecast fit`` of an ``ingest published`` folder: the national fit."""
    from model.config.carecast import CarecastConfig
    from model.fit.data import FitDataError
    from model.fit.run_published import fit_published

    if args.authority or getattr(args, "prior_from", None):
        raise UserError(
            "--authority and --prior-from apply to one authority's fit; "
            f"{args.observations[0]} holds published tables, fitted for every authority at once"
        )
    try:
        config = load_config(args.config) if args.config else CarecastConfig()
        with staged_outputs(args.out, "fit") as out:
            result = fit_published(
                args.observations[0], out, config.seed, config.published, config.sampler,
                config.diagnostics,
            )  # fmt: skip
    except (FitDataError, ConfigError, OSError) as error:
        raise UserError(str(error)) from None
    diagnostics = result.diagnostics
    verdict = "passed" if diagnostics["passed"] else "FAILED: " + "; ".join(diagnostics["problems"])
    log.info(
        "national fit of %d units: %.0f s; diagnostics %s; posterior written to %s",
        len(result.data.units), sum(result.seconds.values()), verdict, args.out,
    )  # fmt: skip


def _forecast(args: argparse.Namespace) -> None:
    """``carecast forecast``: a posterior -> forecasts of the baseline and the scenarios (an
    authority's fit month by month; a national fit of published tables year by year, from
    the ``ingest published`` folder it was fitted to)."""
    import xarray as xr

    from model.config.carecast import CarecastConfig
    from model.fit.data import FitDataError
    from model.fit.posterior import PosteriorMismatch
    from model.fit.published_data import is_published
    from model.forecast.inputs import ForecastInputError
    from model.forecast.scenarios import ScenarioError

    path = Path(args.posterior)
    posterior = path / "posterior.nc" if path.is_dir() else path
    if not posterior.is_file():
        raise UserError(f"{path}: no posterior.nc; run `carecast fit` first")
    if args.scenarios is not None and not args.scenarios.is_file():
        raise UserError(f"{args.scenarios}: no such scenario file")
    try:
        # Only the attributes, to tell a national fit from an authority's.
        with xr.open_dataset(posterior, engine="h5netcdf") as root:
            national = root.attrs.get("model") == "published"
    except (OSError, ValueError) as error:
        raise UserError(f"{posterior}: cannot read the posterior: {error}") from None
    if national and args.observations is None:
        raise UserError(
            "a national forecast needs the `ingest published` folder the fit used: "
            "--observations DIR"
        )
    if not national and args.observations is not None:
        raise UserError(
            f"--observations is for a national fit of published tables; {posterior} is an "
            "authority's fit, which carries its own starting point"
        )
    if national and not is_published(args.observations):
        raise UserError(
            f"{args.observations}: no observations_published.csv; give the `ingest published` "
            "folder the fit used"
        )
    errors = (ConfigError, ScenarioError, ForecastInputError, PosteriorMismatch, FitDataError,
              OSError)  # fmt: skip
    warning = ""
    try:
        config = load_config(args.config) if args.config else CarecastConfig()
        horizon = args.horizon or config.forecast.horizon_months
        if national:
            from model.forecast.national import forecast_national

            with staged_outputs(args.out, "forecast") as out:
                result = forecast_national(
                    posterior, args.observations, out, config.seed, horizon, args.scenarios,
                    config.forecast, config.published,
                )  # fmt: skip
            sim = result.simulation
            done = (
                f"{len(sim.draw_index)} draws x {len(sim.scenarios)} scenarios x "
                f"{len(sim.units)} units x {len(sim.years)} years"
            )
        else:
            from model.forecast.run import forecast_authority

            with staged_outputs(args.out, "forecast") as out:
                result = forecast_authority(
                    posterior, out, config.seed, horizon, args.scenarios,
                    config.structure, config.priors, config.forecast, config.costs,
                )  # fmt: skip
            done = (
                f"{len(result.inputs.draw_index)} draws x {len(result.scenarios)} scenarios x "
                f"{len(result.inputs.month_ends)} months"
            )
    except errors as error:
        raise UserError(str(error)) from None
    if not result.fit_passed:
        warning = " (the fit FAILED its diagnostics: see its outputs)"
    log.info(
        "forecast %s in %.1f s%s; written to %s",
        done, sum(result.seconds.values()), warning, args.out,
    )  # fmt: skip


def _backtest(args: argparse.Namespace) -> None:
    """``carecast backtest``: rolling-origin fits and forecasts scored against the data (an
    authority's observations, or an ``ingest published`` folder: every authority)."""
    from model.config.carecast import CarecastConfig
    from model.evaluate.backtest import HEADLINE, BacktestError, backtest_authority
    from model.evaluate.backtest_national import backtest_national
    from model.fit.data import FitDataError
    from model.fit.published_data import is_published
    from model.forecast.inputs import ForecastInputError

    _check_observations([args.observations])
    national = is_published(args.observations)
    authority = "national" if national else args.authority or Path(args.observations).resolve().name
    try:
        config = load_config(args.config) if args.config else CarecastConfig()
        with staged_outputs(args.out, "backtest") as out:
            if national:
                result = backtest_national(
                    args.observations, out, config.seed, args.origins, args.horizon_years,
                    config.published, config.sampler, config.diagnostics, draws=args.draws,
                )  # fmt: skip
            else:
                result = backtest_authority(
                    args.observations, out, authority, config.seed, args.origins,
                    args.horizon_years, config.structure, config.priors, config.sampler,
                    config.diagnostics, draws=args.draws,
                )  # fmt: skip
    except (BacktestError, FitDataError, ConfigError, ForecastInputError, OSError) as error:
        raise UserError(str(error)) from None
    summary = result.summary
    measure, state = HEADLINE
    headline = (summary.horizon == "all") & (summary.measure == measure) & (summary.state == state)
    overall = summary[headline].set_index("method")
    failed = [str(y) for y, ok in result.fits_passed.items() if not ok]
    log.info(
        "%s: back-test of origins %s; children looked after: CRPS skill against the naive "
        "random walk %s; carecast's error of the median %.2f x the last value's, 80%% "
        "coverage %.2f%s; written to %s",
        authority, ", ".join(map(str, result.fits_passed)),
        ", ".join(f"{m} {v:+.3f} (SE {overall.crps_skill_se[m]:.3f})"
                  for m, v in overall.crps_skill.dropna().items()),
        overall.loc["carecast", "abs_error_ratio"], overall.loc["carecast", "coverage_80"],
        f" (fits FAILED their diagnostics: {', '.join(failed)})" if failed else "", args.out,
    )  # fmt: skip


def _add_categories_config(parser: argparse.ArgumentParser) -> None:
    """The ingest commands' ``--config``: its `categories` table maps codes to groups."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="config file whose `categories` table maps codes to placement "
        "groups and exit reasons (default: DfE's groups)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="carecast",
        description="Calibrated stock-flow forecasts of children's social care.",
    )
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    loudness.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also the INFO messages of the libraries carecast uses (PyTensor, PyMC, ArviZ, "
        "...); the environment variable CARECAST_VERBOSE=1 does the same",
    )
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

    ingest = commands.add_parser("ingest", help="read returns into clean records and observations")
    sources = ingest.add_subparsers(dest="source", required=True, metavar="SOURCE")
    s903 = sources.add_parser(
        "903",
        help="SSDA903 returns (CSV tables, the stacked multi-year layout, or XML)",
        description="Read an authority's 903 returns (files or folders; tables are found by "
        "their columns), merge and repair them, and write the monthly observations and a "
        "data-quality report. Child-level outputs go to --private only.",
    )
    scin = sources.add_parser(
        "cin",
        help="CIN census files (XML of any year's schema, or the flat CSV layout)",
        description="Read an authority's CIN censuses (files or folders), validate them "
        "against their year's XSD, merge years and repair the chronology, link the children "
        "to the authority's 903 records, and write the monthly observations of referrals, "
        "assessments, child protection and entries to care by route, and a data-quality "
        "report. Child-level outputs go to --private only.",
    )
    for sub in (s903, scin):
        sub.add_argument("paths", type=Path, nargs="+", metavar="PATH")
        sub.add_argument("--authority", required=True, metavar="CODE", help="authority code")
        sub.add_argument(
            "--out",
            type=Path,
            required=True,
            metavar="DIR",
            help="folder for the shareable outputs (no child identifiers)",
        )
        sub.add_argument(
            "--private",
            type=Path,
            default=None,
            metavar="DIR",
            help="folder for child-level outputs (default data/private/CODE)",
        )
        _add_categories_config(sub)
        sub.set_defaults(handler=_ingest)
    scin.add_argument(
        "--link-903",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of the 903 ingest's child-level outputs to link to (default: --private, "
        "if the 903 ingest wrote there; without them no child counts as looked after)",
    )
    spub = sources.add_parser(
        "published",
        help="DfE's published local-authority tables (EES CSV files, SFR underlying data)",
        description="Read DfE's published tables for every local authority (explore-"
        "education-statistics CSV files and the SFR underlying data of 2010-2017; columns "
        "are found by name) and write yearly observations of children looked after, "
        "starting and ceasing, children in need, child protection and population, an "
        "authority list with the merges and splits applied, and a data-quality report.",
    )
    spub.add_argument("folder", type=Path, metavar="DIR", help="folder of published tables")
    spub.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder for the outputs"
    )
    _add_categories_config(spub)
    spub.set_defaults(handler=_ingest_published)
    fit = commands.add_parser(
        "fit",
        help="fit the stock-flow model to an authority's observations",
        description="Fit the stock-flow model to the observations the ingest commands wrote "
        "into OBS (the 903's, and the CIN census's when present), and write the posterior "
        "(posterior.nc), its diagnostics (diagnostics.json: a fit that misses a threshold "
        "is marked failed) and a parameter summary to --out. Several OBS folders (each "
        "named by its authority's code) are fitted jointly with partially pooled rates. An "
        "OBS folder written by `carecast ingest published` is fitted with the pooled yearly "
        "model of every authority's published figures (the national fit).",
    )
    fit.add_argument(
        "observations",
        type=Path,
        nargs="+",
        metavar="OBS",
        help="an authority's observation folder; several: fit them jointly (pooled model)",
    )
    fit.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    fit.add_argument(
        "--authority", default=None, metavar="CODE", help="authority code (default: OBS's name)"
    )
    fit.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="config file (structure, priors, sampler, diagnostics, seed)",
    )
    fit.add_argument(
        "--prior-from",
        type=Path,
        default=None,
        metavar="POSTERIOR",
        help="a pooled fit of other authorities (posterior.nc): the transition rates' prior "
        "becomes what it predicts for a new authority",
    )
    fit.set_defaults(handler=_fit)

    forecast = commands.add_parser(
        "forecast",
        help="forecast an authority's children (or every authority's, from a national fit) "
        "under the baseline and scenarios",
        description="Simulate every kept posterior draw forward from the last period fitted "
        "(month by month for an authority's fit; year by year, every authority at once, for "
        "a national fit of published tables, which needs --observations), under the baseline "
        "and each scenario of --scenarios, and write forecast quantiles "
        "(forecast.csv/.parquet), scenario differences and probabilities, the draws "
        "(draws.nc) and fan charts (and, for an authority, a workbook) to --out.",
    )
    forecast.add_argument(
        "posterior", type=Path, metavar="POSTERIOR", help="a fit's posterior.nc (or its folder)"
    )
    forecast.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    forecast.add_argument(
        "--horizon",
        type=_positive,
        default=None,
        metavar="MONTHS",
        help="months to forecast (default: the config's forecast.horizon_months)",
    )
    forecast.add_argument(
        "--scenarios",
        type=Path,
        default=None,
        metavar="FILE",
        help="scenario file (YAML); without it only the baseline is forecast",
    )
    forecast.add_argument(
        "--observations",
        type=Path,
        default=None,
        metavar="DIR",
        help="for a national fit of published tables: the `ingest published` folder it was "
        "fitted to (the starting stocks and populations)",
    )
    forecast.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="config file (structure and priors of the fit, forecast, costs, seed)",
    )
    forecast.set_defaults(handler=_forecast)

    backtest = commands.add_parser(
        "backtest",
        help="score rolling-origin forecasts against what happened",
        description="For each origin year, fit the observations in OBS up to 31 March of "
        "that year, forecast the next years and score the forecast of the children in each "
        "state at each later 31 March (CRPS, error of the median, coverage of the 50/80/90/95% "
        "intervals) against probabilistic baselines (a naive random walk with the series' own "
        "volatility, AutoETS, AutoARIMA) and point ones (last value, linear trend, fixed "
        "rates); with published tables, every figure the national forecast makes. Writes "
        "scores.csv, summary.csv (skill against the naive walk, with standard errors) and "
        "coverage.png/.svg to --out.",
    )
    backtest.add_argument("observations", type=Path, metavar="OBS", help="observation folder")
    backtest.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    backtest.add_argument(
        "--authority", default=None, metavar="CODE", help="authority code (default: OBS's name)"
    )
    backtest.add_argument(
        "--origins",
        type=_year,
        nargs="+",
        default=None,
        metavar="YEAR",
        help="years ending 31 March to forecast from (default: an authority's last few with "
        "3 years before them; published tables: every year from the fourth that leaves the "
        "whole horizon to score)",
    )
    backtest.add_argument(
        "--horizon-years", type=_positive, default=3, metavar="N", help="years ahead (default 3)"
    )
    backtest.add_argument(
        "--draws", type=_positive, default=1000, metavar="N", help="draws forecast per origin"
    )
    backtest.add_argument(
        "--config", type=Path, default=None, metavar="FILE", help="config file (as for fit)"
    )
    backtest.set_defaults(handler=_backtest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``carecast``; return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Before any command imports PyTensor or numba (both read these once, at import): the
    # same per-machine compile caches as the workflow's jobs (model/compile_caches.py).
    os.environ.update(compile_cache_environment(os.environ))
    setup_logging(verbose=args.verbose or None, quiet=args.quiet)
    handler: Callable[[argparse.Namespace], None] = args.handler
    try:
        handler(args)
    except UserError as error:
        command = " ".join(filter(None, [args.command, getattr(args, "source", None)]))
        print(f"carecast {command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
