"""``carecast fit OBS OBS...``: several authorities' observations -> one pooled posterior.

Writes to ``out_dir`` what a single-authority fit writes (``model.fit.run``): the posterior
(every authority's parameters along an ``authority`` dimension, and the population-level
ones: ``eta_mean``, ``authority_sd``, ...; the group ``network``, the one every authority
shares), ``diagnostics.json`` (one verdict for the joint fit), ``summary.csv`` and the
predictive checks of every authority (``ppc_*.csv`` with an ``authority`` column). The
attributes record, besides the single fit's, the authorities (``authorities``, JSON), so
that :func:`model.fit.pooled.informed_prior` can refuse to give an authority a prior made
from its own data.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from model.config.fit import DiagnosticsConfig, PriorsConfig, SamplerConfig, StructureConfig
from model.config.seeds import derive_seed
from model.fit.checks import plot_check, predictive_check
from model.fit.data import fit_data, read_observations
from model.fit.diagnostics import diagnose
from model.fit.likelihood import conjugate_draws
from model.fit.pooled import PooledData, build_pooled_model, member_draws, pool
from model.fit.run import (
    CHECK_DRAWS,
    CHECK_VARIABLES,
    FitResult,
    _layout,
    fit_attrs,
    model_hash,
    record_seconds,
    sample,
    summary,
    write_fit,
)

POOLED = "pooled"
"""The ``authority`` attribute and seed label of a pooled fit."""


def fit_pooled(
    obs_dirs: list[Path],
    out_dir: Path,
    seed: int,
    structure: StructureConfig | None = None,
    priors: PriorsConfig | None = None,
    sampler: SamplerConfig | None = None,
    thresholds: DiagnosticsConfig | None = None,
) -> FitResult:
    """Fit the pooled model to the authorities whose observations are in ``obs_dirs`` (each
    folder named by its authority's code); write the outputs to ``out_dir``."""
    structure = structure or StructureConfig()
    priors = priors or PriorsConfig()
    sampler = sampler or SamplerConfig()
    thresholds = thresholds or DiagnosticsConfig()
    clock = {"start": time.perf_counter()}
    members = []
    for folder in obs_dirs:
        obs, use_cin, fingerprint = read_observations(Path(folder), structure.cin_funnel)
        members.append(fit_data(obs, structure, Path(folder).resolve().name, use_cin, fingerprint))
    data = pool(members)
    model = build_pooled_model(data, priors, structure)
    clock["built"] = time.perf_counter()
    fit_seed = derive_seed(seed, POOLED, "fit")
    trace = sample(model, sampler, fit_seed)
    clock["sampled"] = time.perf_counter()
    sampled = [v.name for v in model.free_RVs]
    posterior = trace["posterior"].to_dataset()
    rng = np.random.default_rng(fit_seed)
    exact = [conjugate_draws(m, priors, sampler.chains, sampler.draws, rng) for m in members]
    for name in exact[0]:
        values = np.stack([e[name] for e in exact], axis=2)  # [chain, draw, A, ...]
        dims = ("chain", "draw", "authority", *(f"{name}_dim_{i}" for i in range(values.ndim - 3)))
        posterior[name] = (dims, values)
    trace["posterior"] = xr.DataTree(posterior)
    trace["network"] = xr.DataTree(data.template.network.to_dataset())
    diagnostics = diagnose(trace, thresholds, sampled)
    fingerprint = hashlib.sha256("".join(m.fingerprint for m in members).encode()).hexdigest()
    layout = _layout(data.template) | {
        "windows": list(data.windows),
        "last_month": [data.months[-1]],
        "authorities": list(data.authorities),
    }
    trace.attrs.update(
        fit_attrs(
            model_hash(structure, priors), fingerprint, fit_seed, sampler, diagnostics, layout,
            authority=POOLED,
            authorities=json.dumps(list(data.authorities)),
            structure=json.dumps(structure.model_dump(), sort_keys=True),
        )
    )  # fmt: skip
    seconds = record_seconds(diagnostics, clock)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    diagnostics["predictive_coverage"] = _checks(model, data, trace, fit_seed, thresholds, out)
    table = summary(trace, sampled + list(exact[0]), thresholds.interval)
    write_fit(out, trace, diagnostics, table)
    return FitResult(data.template, trace, diagnostics, seconds)


def _checks(
    model: pm.Model,
    data: PooledData,
    trace: xr.DataTree,
    seed: int,
    thresholds: DiagnosticsConfig,
    out: Path,
) -> dict[str, float]:
    """Prior and posterior predictive checks of every authority (one table and figure per
    kind of draw); the share of cells covered, by kind."""
    rng = np.random.default_rng(seed)
    present = [n for n in CHECK_VARIABLES if n in {v.name for v in model.unobserved_value_vars}]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The effect of Potentials")
        prior = pm.sample_prior_predictive(
            CHECK_DRAWS, model=model, random_seed=seed, var_names=present
        )["prior"].to_dataset()
    coverage = {}
    for label, group in (("prior", prior), ("posterior", trace["posterior"].to_dataset())):
        tables = []
        for index, member in enumerate(data.members):
            draws = member_draws(group, data, index, tuple(present))
            n = len(draws["eta"])
            pick = rng.choice(n, size=min(CHECK_DRAWS, n), replace=False)
            table = predictive_check(
                member, {k: v[pick] for k, v in draws.items()}, rng, thresholds.interval
            )
            tables.append(table.assign(authority=member.authority))
        table = pd.concat(tables, ignore_index=True)
        table.to_csv(out / f"ppc_{label}.csv", index=False, lineterminator="\n")
        plot_check(table, str(out / f"ppc_{label}.png"), f"pooled fit: {label} predictive")
        for kind, part in table.groupby("kind"):
            coverage[f"{label}_{kind}"] = float(part.covered.mean())
    return coverage
