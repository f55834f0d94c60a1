"""``carecast fit``: observations -> a saved, diagnosed posterior for one authority.

Writes to ``out_dir``: ``posterior.nc`` (the ArviZ data tree: posterior, sample stats,
observed data, and the group ``network``: the model's structure, ``model.fit.network``;
attributes record the package version, the model hash, the data fingerprint, the seed, the
sampler settings and what a forecast starts from), ``diagnostics.json`` (``passed`` and the
figures; a failed fit is flagged, never hidden), ``summary.csv`` (each parameter's mean,
sd and central credible interval) and the prior and posterior predictive checks
(``ppc_{prior,posterior}.{csv,png}``: observed against simulated yearly flows and entries).

The model hash covers everything that defines the model (structure, priors, and the
version of the code in ``model/fit``); :func:`load_posterior` refuses a posterior whose hash
differs from the current configuration's, because its parameters would be read wrongly.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from model.config.fit import DiagnosticsConfig, PriorsConfig, SamplerConfig, StructureConfig
from model.config.seeds import derive_seed
from model.fit.checks import plot_check, predictive_check
from model.fit.data import FitData, capacity, caseload_scale, fit_data, read_observations
from model.fit.diagnostics import diagnose
from model.fit.likelihood import InformedPrior, build_model, conjugate_draws
from model.fit.pooled import informed_prior
from model.fit.posterior import MODEL_VERSION as MODEL_VERSION  # re-exported, as are:
from model.fit.posterior import PosteriorMismatch, load_posterior, model_hash
from model.fit.posterior import definition_hash as definition_hash
from model.logs import SamplingProgress, sampling_progress, stage, starting


@dataclass
class FitResult:
    """What :func:`fit_authority` produced."""

    data: FitData
    trace: xr.DataTree
    diagnostics: dict
    seconds: dict[str, float]


def sample(
    model: pm.Model, sampler: SamplerConfig, seed: int, clock: dict[str, float] | None = None
) -> xr.DataTree:
    """Posterior draws with the configured NUTS implementation, its progress shown
    (``model.logs``: the sampler's bar on a terminal, a line every few seconds in a log).
    ``clock``: when given, the perf counters ``compiled``, ``tuned`` and ``sampled`` are added
    to it (nutpie: the warm-up's end estimated from its share of the leapfrog steps; PyMC:
    compile and warm-up unsplit)."""
    clock = {} if clock is None else clock
    with sampling_progress(sampler.chains, sampler.tune + sampler.draws) as progress:
        return _sample(model, sampler, seed, progress, clock)


def _sample(
    model: pm.Model,
    sampler: SamplerConfig,
    seed: int,
    progress: SamplingProgress,
    clock: dict[str, float],
) -> xr.DataTree:
    """:func:`sample` with ``progress``'s arguments to the sampler."""
    if sampler.backend == "nutpie":
        import nutpie

        with stage("compiling the model"):
            compiled = nutpie.compile_pymc_model(model)
        clock["compiled"] = time.perf_counter()
        steps = WarmupSteps()
        arguments = progress.nutpie_arguments()
        if not arguments["progress_bar"]:  # nutpie's bar takes no callback of ours
            arguments["progress_callback"] = steps.also(arguments.get("progress_callback"))
        trace = nutpie.sample(
            compiled,
            draws=sampler.draws,
            tune=sampler.tune,
            chains=sampler.chains,
            cores=sampler.cores,
            seed=seed,
            target_accept=sampler.target_accept,
            save_warmup=False,  # a third of the file and of the time to write it
            **arguments,
        )
        clock["sampled"] = time.perf_counter()
        share = steps.share(trace, sampler)
        clock["tuned"] = clock["compiled"] + share * (clock["sampled"] - clock["compiled"])
        return trace
    start = time.perf_counter()
    trace = pm.sample(
        sampler.draws,
        tune=sampler.tune,
        chains=sampler.chains,
        cores=sampler.cores,
        random_seed=seed,
        target_accept=sampler.target_accept,
        nuts_sampler="pymc",
        model=model,
        compute_convergence_checks=False,
        **progress.pymc_arguments(),
    )
    clock["compiled"] = clock["tuned"] = start
    clock["sampled"] = time.perf_counter()
    return trace


class WarmupSteps:
    """nutpie's progress callback: each chain's leapfrog steps when its warm-up ended."""

    def __init__(self) -> None:
        self.at_end: dict[int, int] = {}

    def __call__(self, chains: list) -> None:
        """Called by nutpie with each chain's progress (a background thread)."""
        for i, chain in enumerate(chains):
            if chain.started and not chain.tuning and i not in self.at_end:
                self.at_end[i] = int(chain.total_num_steps)

    def also(self, other: Callable[[list], None] | None) -> Callable[[list], None]:
        """This callback, then ``other`` (the progress lines'), when there is one."""
        if other is None:
            return self

        def both(chains: list) -> None:
            self(chains)
            other(chains)

        return both

    def share(self, trace: xr.DataTree, sampler: SamplerConfig) -> float:
        """The warm-up's share of the leapfrog steps (of the iterations when a chain's end
        of warm-up was not seen)."""
        kept = np.asarray(trace["sample_stats"]["n_steps"]).sum()
        if len(self.at_end) < sampler.chains or kept <= 0:
            return sampler.tune / (sampler.tune + sampler.draws)
        warmup = sum(self.at_end.values())
        return float(warmup / (warmup + kept))


def seconds_since_process_start() -> float:
    """Seconds since this process started (Linux: from /proc; elsewhere 0)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = float(stat.rsplit(")", 1)[1].split()[19])  # field 22: start, in clock ticks
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return 0.0


def fit_authority(
    obs_dir: Path,
    out_dir: Path,
    authority: str,
    seed: int,
    structure: StructureConfig | None = None,
    priors: PriorsConfig | None = None,
    sampler: SamplerConfig | None = None,
    thresholds: DiagnosticsConfig | None = None,
    prior_from: Path | None = None,
) -> FitResult:
    """Fit the stock-flow model to the observations in ``obs_dir``; write the outputs.
    ``prior_from``: a pooled fit's posterior of other authorities, whose prediction for a
    new authority becomes the prior of the transition rates."""
    structure = structure or StructureConfig()
    start = time.perf_counter()
    if not PROCESS_CLOCK:  # the process's first fit: the time before it was imports
        PROCESS_CLOCK["imports"] = seconds_since_process_start()
    obs, use_cin, fingerprint = read_observations(obs_dir, structure.cin_funnel)
    return fit_observations(
        obs, use_cin, fingerprint, out_dir, authority, seed, structure, priors, sampler,
        thresholds, prior_from, start,
    )  # fmt: skip


def fit_observations(
    obs: pd.DataFrame,
    use_cin: bool,
    fingerprint: str,
    out_dir: Path,
    authority: str,
    seed: int,
    structure: StructureConfig | None = None,
    priors: PriorsConfig | None = None,
    sampler: SamplerConfig | None = None,
    thresholds: DiagnosticsConfig | None = None,
    prior_from: Path | None = None,
    start: float | None = None,
) -> FitResult:
    """:func:`fit_authority` of observations already read (``model.observations`` layout,
    with the CIN census's when ``use_cin``); ``start``: when the fit's clock started."""
    structure = structure or StructureConfig()
    priors = priors or PriorsConfig()
    sampler = sampler or SamplerConfig()
    thresholds = thresholds or DiagnosticsConfig()
    clock = {"start": start or time.perf_counter()}
    data = fit_data(obs, structure, authority, use_cin, fingerprint)
    informed = _informed_prior(prior_from, authority, structure, priors) if prior_from else None
    clock["data"] = time.perf_counter()
    model = build_model(data, priors, structure, informed=informed)
    clock["built"] = time.perf_counter()
    fit_seed = derive_seed(seed, authority, "fit")
    trace = sample(model, sampler, fit_seed, clock)
    starting(f"{authority}: diagnostics, predictive checks and outputs")
    sampled = [v.name for v in model.free_RVs]
    exact = conjugate_draws(
        data, priors, sampler.chains, sampler.draws, np.random.default_rng(fit_seed)
    )
    posterior = trace["posterior"].to_dataset()
    for name, values in exact.items():
        dims = ("chain", "draw", *(f"{name}_dim_{i}" for i in range(values.ndim - 2)))
        posterior[name] = (dims, values)
    trace["posterior"] = xr.DataTree(posterior)
    trace["network"] = xr.DataTree(data.network.to_dataset())
    diagnostics = diagnose(trace, thresholds, sampled)
    trace.attrs.update(
        fit_attrs(
            model_hash(structure, priors, informed.source if informed else ""),
            fingerprint, fit_seed, sampler, diagnostics,
            _layout(data) | forecast_start(data, structure),
            authority=authority,
            structure=json.dumps(structure.model_dump(), sort_keys=True),
            prior_source=informed.source if informed else "",
        )
    )  # fmt: skip
    clock["diagnosed"] = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    diagnostics["predictive_coverage"] = _checks(
        model, data, trace, fit_seed, thresholds.interval, out
    )
    clock["checked"] = time.perf_counter()
    seconds = record_seconds(diagnostics, clock)
    write_fit(out, trace, diagnostics, summary(trace, sampled + list(exact), thresholds.interval))
    return FitResult(data, trace, diagnostics, seconds)


def fit_attrs(
    definition_hash: str,
    fingerprint: str,
    seed: int,
    sampler: SamplerConfig,
    diagnostics: dict,
    layout: dict,
    **extra: str,
) -> dict[str, object]:
    """The attributes every saved posterior carries (text and integers, for netCDF); ``extra``
    adds the fit's own (e.g. ``authority``)."""
    return {
        "carecast_version": _version(),
        "model_hash": definition_hash,
        "data_fingerprint": fingerprint,
        **extra,
        "seed": seed,
        "sampler": json.dumps(sampler.model_dump(), sort_keys=True),
        "diagnostics_passed": int(diagnostics["passed"]),
        "data_layout": json.dumps(layout),
    }


PROCESS_CLOCK: dict[str, float] = {}
"""``imports``: seconds from the process's start to its first fit (imports, configuration),
until a fit records them (then ``recorded``: later fits of the process have none)."""


def record_seconds(diagnostics: dict, clock: dict[str, float]) -> dict[str, float]:
    """Add the fit's seconds and its worst bulk ESS per second (compile included) to
    ``diagnostics``. ``clock``: perf counters ``start``, ``built`` and ``sampled``, and
    where measured ``data`` (observations read and summed), ``compiled``, ``tuned``
    (warm-up's end), ``diagnosed`` and ``checked`` (predictive checks). The split:
    ``imports`` (process start to the fit's, first fit of a process only), ``data``,
    ``compile`` (the PyMC model built and compiled), ``warmup``, ``sampling``,
    ``diagnostics`` (exact draws, convergence), ``checks``, ``writing`` (added by
    :func:`write_fit`), ``total`` (the fit's own, without imports); ``build`` and
    ``sample_incl_compile`` as before."""
    seconds = {
        "build": clock["built"] - clock["start"],
        "sample_incl_compile": clock["sampled"] - clock["built"],
    }
    split = {
        "data": ("start", "data"),
        "compile": ("data", "compiled"),
        "warmup": ("compiled", "tuned"),
        "sampling": ("tuned", "sampled"),
        "diagnostics": ("sampled", "diagnosed"),
        "checks": ("diagnosed", "checked"),
    }
    if "imports" in PROCESS_CLOCK:
        seconds["imports"] = PROCESS_CLOCK.pop("imports")
        PROCESS_CLOCK["recorded"] = 0.0  # later fits of the process have no imports
    for name, (begin, end) in split.items():
        if begin in clock and end in clock:
            seconds[name] = clock[end] - clock[begin]
    seconds["total"] = max(clock.values()) - clock["start"]
    diagnostics["seconds"] = seconds
    diagnostics["ess_bulk_per_second"] = (diagnostics["min_ess_bulk"] or 0) / max(
        clock["sampled"] - clock["start"], 1e-9
    )
    diagnostics["clock_start"] = clock["start"]
    return seconds


def write_fit(
    out: Path, trace: xr.DataTree, diagnostics: dict, summary_table: pd.DataFrame
) -> None:
    """Write a fit's ``posterior.nc``, ``summary.csv`` and ``diagnostics.json`` to ``out``
    (the last with the seconds spent writing, when it has ``seconds``)."""
    begin = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    saved = trace.copy()
    # Draws as float32 (7 significant digits, plenty for draws): half the file.
    posterior = saved["posterior"].to_dataset()
    saved["posterior"] = xr.DataTree(
        posterior.map(lambda v: v.astype("float32") if v.dtype == "float64" else v)
    )
    saved.to_netcdf(out / "posterior.nc", engine="h5netcdf")
    summary_table.to_csv(out / "summary.csv", index=False, lineterminator="\n")
    # diagnostics.json last, with the seconds spent writing (and the fit's total) in it.
    started = diagnostics.pop("clock_start", None)
    if "seconds" in diagnostics:
        diagnostics["seconds"]["writing"] = time.perf_counter() - begin
        if started is not None:
            diagnostics["seconds"]["total"] = time.perf_counter() - started
    (out / "diagnostics.json").write_text(json.dumps(diagnostics, indent=2) + "\n")


CHECK_DRAWS = 200
"""Parameter draws used by each predictive check."""
CHECK_VARIABLES = ("eta", "drift", "entry_level", "entry_walk", "entry_dispersion")


def _checks(
    model: pm.Model, data: FitData, trace: xr.DataTree, seed: int, interval: float, out: Path
) -> dict[str, float]:
    """Prior and posterior predictive checks: tables and figures in ``out``; the share of
    cells each covers, by kind."""
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():
        # The potentials are the likelihood: prior draws must ignore them, as PyMC warns.
        warnings.filterwarnings("ignore", message="The effect of Potentials")
        prior = pm.sample_prior_predictive(
            CHECK_DRAWS, model=model, random_seed=seed, var_names=list(_present(model))
        )["prior"].to_dataset()
    posterior = trace["posterior"].to_dataset()
    coverage = {}
    for label, group in (("prior", prior), ("posterior", posterior)):
        draws = {
            name: np.asarray(group[name]).reshape(-1, *group[name].shape[2:])
            for name in _present(model)
        }
        pick = rng.choice(
            len(draws["eta"]), size=min(CHECK_DRAWS, len(draws["eta"])), replace=False
        )
        table = predictive_check(data, {k: v[pick] for k, v in draws.items()}, rng, interval)
        table.to_csv(out / f"ppc_{label}.csv", index=False, lineterminator="\n")
        plot_check(table, str(out / f"ppc_{label}.png"), f"{data.authority}: {label} predictive")
        for kind, part in table.groupby("kind"):
            coverage[f"{label}_{kind}"] = float(part.covered.mean())
    return coverage


def _present(model: pm.Model) -> tuple[str, ...]:
    names = {v.name for v in model.free_RVs + model.deterministics}
    return tuple(n for n in CHECK_VARIABLES if n in names)


def _layout(data: FitData) -> dict[str, list[str]]:
    """The years and last month fitted (the labels of the structure are the posterior's
    ``network`` group)."""
    return {"windows": list(data.windows), "last_month": [data.months[-1]]}


def forecast_start(data: FitData, structure: StructureConfig) -> dict[str, object]:
    """What a forecast starts from and is relative to (aggregate counts, no child):
    ``last_stock`` [S, B] children at the last month end,
    ``stock_history`` [T + 1, S] children at each month end from ``history_start``,
    ``capacity`` (children) and the caseload feedback's ``caseload_mean`` (children known
    per social worker) and ``workforce`` (social workers in the last year; NaN: none)."""
    caseload_mean, workforce = caseload_scale(data, structure)
    opening = pd.Timestamp(data.months[0]) - pd.offsets.MonthEnd(1)
    return {
        "last_stock": data.stock[-1].tolist(),
        "stock_history": data.stock.sum(axis=2).tolist(),
        "history_start": [opening.date().isoformat()],
        "capacity": capacity(data.stock, data.network.care, structure, data.authority),
        "caseload_mean": caseload_mean,
        "workforce": workforce,
    }


def _informed_prior(
    path: Path, authority: str, structure: StructureConfig, priors: PriorsConfig
) -> InformedPrior:
    """The prior a pooled fit gives a new authority; refused when the pooled fit has another
    model or used this authority's own data (its data would count twice)."""
    pooled = load_posterior(path, structure, priors)
    members = json.loads(str(pooled.attrs.get("authorities", "[]")))
    if authority in members:
        raise PosteriorMismatch(
            f"{path} is a pooled fit that includes {authority}: a prior from it would count "
            f"{authority}'s data twice. Fit the pooled model without {authority}."
        )
    return informed_prior(pooled, str(path))


def _version() -> str:
    try:
        return metadata.version("carecast")
    except metadata.PackageNotFoundError:
        return "unknown"


def summary(trace: xr.DataTree, names: list[str], interval: float) -> pd.DataFrame:
    """Mean, sd and central ``interval`` credible bounds of every element of ``names``."""
    posterior = trace["posterior"].to_dataset()
    lo, hi = (1 - interval) / 2, (1 + interval) / 2
    frames = []
    for name in names:
        values = np.asarray(posterior[name])
        flat = values.reshape(values.shape[0] * values.shape[1], -1)  # [draws, elements]
        lower, upper = np.quantile(flat, [lo, hi], axis=0)
        columns = {
            "parameter": name,
            "element": np.arange(flat.shape[1]),
            "mean": flat.mean(axis=0),
            "sd": flat.std(axis=0),
            "lower": lower,
            "upper": upper,
        }
        frames.append(pd.DataFrame(columns))
    return pd.concat(frames, ignore_index=True)
