"""``carecast fit`` of an ``ingest published`` folder: every authority's published yearly
figures -> one saved, diagnosed posterior of the pooled yearly model.

Writes to ``out_dir`` what a per-authority fit writes (``model.fit.run``): ``posterior.nc``
(attributes: package version, model hash, data fingerprint, seed, sampler settings,
``diagnostics_passed`` and ``data_layout``, the labels the forecast reads the yearly rates
back with: units, their names and kinds, the members a combined unit stands for, years,
exit reasons, each figure's years), ``diagnostics.json`` (thresholds, ``passed``, seconds,
ESS per second, the predictive coverage by measure, what the data needed) and
``summary.csv``; and the prior and posterior predictive checks: ``ppc_prior.csv`` and
``ppc_posterior.csv`` (every published cell against its predictive interval),
``national_totals_prior.{csv,png}`` and ``national_totals_posterior.{csv,png}`` (national
totals, published against predicted).

The unit-level parameters are along a ``unit`` dimension whose labels are the authority
codes (``CMB_...`` for a combined unit). ``model.fit.published_rates.yearly_rates`` and
``trend_draws`` turn the saved draws into yearly rates.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import arviz as az
import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits

from model.config.fit import DiagnosticsConfig, SamplerConfig
from model.config.published import PublishedPriorsConfig
from model.config.seeds import derive_seed
from model.fit.diagnostics import diagnose
from model.fit.posterior import check_model_hash
from model.fit.published import build_published_model, parts
from model.fit.published_checks import (
    coverage,
    national_table,
    plot_national,
    predictive_check,
    prior_draws,
)
from model.fit.published_data import (
    PublishedData,
    published_data,
    read_published,
)
from model.fit.run import (
    definition_hash,
    fit_attrs,
    record_seconds,
    sample,
    summary,
    write_fit,
)
from model.logs import starting, steps

NATIONAL = "national"
"""The ``authority`` attribute and seed label of the national fit."""
PUBLISHED_MODEL_VERSION = "3"
"""Bumped when the pooled yearly model's parameterisation changes (2: the national term of
the yearly counts became a random walk; 3: the national walks' steps persist, with a
momentum), so that older posteriors are refused."""
INTERNAL = ("_log_rate_informed", "_log_rate_z", "_national_z")
"""Endings of the sampler's own parameters of the yearly log rates (``<series>_log_rate``
holds them all): diagnosed, not saved."""
BLAS_THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class PublishedFitResult:
    """What :func:`fit_published` produced."""

    data: PublishedData
    trace: xr.DataTree
    diagnostics: dict
    seconds: dict[str, float]


def published_hash(priors: PublishedPriorsConfig) -> str:
    """SHA-256 (first 16 hex digits) of what defines the pooled yearly model."""
    return definition_hash(
        {"model": "published", "priors": priors.model_dump(), "version": PUBLISHED_MODEL_VERSION}
    )


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Linear algebra on one thread while sampling: the chains already use the cores, and
    OpenBLAS threads competing with them made each gradient 50 times slower (measured)."""
    saved = {name: os.environ.get(name) for name in BLAS_THREADS}
    os.environ.update(dict.fromkeys(BLAS_THREADS, "1"))  # PyMC's chain processes
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def fit_published(
    obs_dir: Path,
    out_dir: Path,
    seed: int,
    priors: PublishedPriorsConfig | None = None,
    sampler: SamplerConfig | None = None,
    thresholds: DiagnosticsConfig | None = None,
) -> PublishedFitResult:
    """Fit the pooled yearly model to the published figures in ``obs_dir``; write the
    outputs to ``out_dir``."""
    priors = priors or PublishedPriorsConfig()
    sampler = sampler or SamplerConfig()
    sampler = sampler.model_copy(
        update={
            "draws": sampler.national_draws,
            "tune": sampler.national_tune,
            "target_accept": sampler.national_target_accept,
        }
    )
    thresholds = thresholds or DiagnosticsConfig()
    clock = {"start": time.perf_counter()}
    obs, authorities, fingerprint = read_published(obs_dir)
    data = published_data(obs, authorities, fingerprint)
    starting(f"national fit of {len(data.units)} units: building the models")
    models = {part: build_published_model(data, priors, (part,)) for part in parts(data)}
    clock["built"] = time.perf_counter()
    fit_seed = derive_seed(seed, NATIONAL, "fit")
    traces, checked = {}, {}
    for part, model in steps(models.items(), "national fit", "part", lambda item: item[0]):
        start = time.perf_counter()
        with one_blas_thread():
            traces[part] = sample(model, sampler, derive_seed(seed, NATIONAL, "fit", part))
        sampled = [v.name for v in model.free_RVs]
        checked[part] = diagnose(traces[part], thresholds, sampled)
        checked[part]["seconds"] = time.perf_counter() - start
    clock["sampled"] = time.perf_counter()
    starting("national fit: diagnostics, predictive checks and outputs")
    trace = merge_parts(traces)
    diagnostics = combine_diagnostics(checked)
    posterior = trace["posterior"].to_dataset()
    kept = [str(n) for n in posterior.data_vars if not str(n).endswith(INTERNAL)]
    trace["posterior"] = xr.DataTree(posterior[kept])
    trace.attrs.update(
        fit_attrs(
            published_hash(priors), fingerprint, fit_seed, sampler, diagnostics, data.layout(),
            authority=NATIONAL, model="published",
        )
    )  # fmt: skip
    seconds = record_seconds(diagnostics, clock)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    diagnostics |= _checks(data, priors, trace, fit_seed, thresholds.interval, out)
    diagnostics["units"] = len(data.units)
    diagnostics["left_out"] = data.left_out
    diagnostics["data_notes"] = data.notes
    write_fit(out, trace, diagnostics, summary(trace, kept, thresholds.interval))
    return PublishedFitResult(data, trace, diagnostics, seconds)


def _checks(
    data: PublishedData,
    priors: PublishedPriorsConfig,
    trace: xr.DataTree,
    seed: int,
    interval: float,
    out: Path,
) -> dict[str, dict[str, float]]:
    """Prior and posterior predictive checks: tables and figures in ``out``; the share of
    cells and of national totals each covers, by measure."""
    rng = np.random.default_rng(seed)
    draws = {"prior": prior_draws(data, priors, seed), "posterior": trace["posterior"].to_dataset()}
    found: dict[str, dict[str, float]] = {}
    for label, parameters in draws.items():
        table, totals = predictive_check(parameters, data, rng, interval)
        table.to_csv(out / f"ppc_{label}.csv", index=False, lineterminator="\n")
        national = national_table(totals, data.years, interval)
        national.to_csv(out / f"national_totals_{label}.csv", index=False, lineterminator="\n")
        plot_national(
            national, str(out / f"national_totals_{label}.png"),
            f"Totals over the {len(data.units)} units fitted (cells published that year): "
            f"published against the {label} predictive", interval,
        )  # fmt: skip
        prefix = "" if label == "posterior" else "prior_"
        found[f"{prefix}predictive_coverage"] = coverage(table)
        found[f"{prefix}national_coverage"] = {
            str(m): float(part.covered.mean())
            for m, part in national.groupby("measure", sort=False)
        }
    return found


def merge_parts(traces: dict[str, xr.DataTree]) -> xr.DataTree:
    """One data tree of the parts' separate fits: their posteriors side by side (the parts
    share no parameter, so chain c of each together is a draw of the joint posterior) and
    their sampler statistics along a ``part`` dimension."""
    posterior = xr.merge([t["posterior"].to_dataset() for t in traces.values()])
    stats = [t["sample_stats"].to_dataset() for t in traces.values()]
    common = sorted(set.intersection(*(set(map(str, s.data_vars)) for s in stats)))
    merged = xr.concat([s[common] for s in stats], dim="part", coords="minimal")
    merged = merged.assign_coords(part=list(traces))
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": merged})


def combine_diagnostics(parts: dict[str, dict]) -> dict:
    """One verdict from the parts' diagnostics (``model.fit.diagnostics.diagnose`` each):
    the worst figure of each kind, every problem named with its part."""
    first = next(iter(parts.values()))
    return {
        "passed": all(d["passed"] for d in parts.values()),
        "problems": [f"{part}: {p}" for part, d in parts.items() for p in d["problems"]],
        "max_rhat": max(d["max_rhat"] for d in parts.values()),
        "min_ess_bulk": min(d["min_ess_bulk"] for d in parts.values()),
        "min_ess_tail": min(d["min_ess_tail"] for d in parts.values()),
        "divergences": sum(d["divergences"] for d in parts.values()),
        "bfmi": [b for d in parts.values() for b in d["bfmi"]],
        "draws": first["draws"],
        "by_variable": {k: v for d in parts.values() for k, v in d["by_variable"].items()},
        "thresholds": first["thresholds"],
        "parts": {part: _part_summary(d) for part, d in parts.items()},
    }


def _part_summary(diagnostics: dict) -> dict:
    keys = ("passed", "max_rhat", "min_ess_bulk", "min_ess_tail", "divergences", "bfmi")
    return {key: diagnostics[key] for key in (*keys, "seconds")}


def load_published_posterior(
    path: Path, priors: PublishedPriorsConfig | None = None
) -> xr.DataTree:
    """A saved national posterior, refused with a clear message when the model differs."""
    trace = az.from_netcdf(path)
    expected = published_hash(priors or PublishedPriorsConfig())
    check_model_hash(path, trace, expected, "`published` priors")
    return trace
