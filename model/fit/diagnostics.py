"""Convergence diagnostics of a fit, checked against configured thresholds.

Every fit gets R-hat, bulk and tail ESS (``model.fit.convergence``; worst over each
variable's elements), the number of divergent transitions and E-BFMI per chain. A fit that
misses a threshold is marked ``passed: false`` with the reasons; later stages carry that flag
into everything they write.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import xarray as xr

from model.config.fit import DiagnosticsConfig
from model.fit.convergence import convergence


def _worst(posterior: xr.Dataset) -> tuple[dict[str, float], ...]:
    """Worst R-hat (max), bulk and tail ESS (min) of each variable, NaN ignored."""
    rhat, ess_bulk, ess_tail = {}, {}, {}
    for name, values in posterior.data_vars.items():
        draws = np.moveaxis(np.asarray(values, dtype=float), (0, 1), (-2, -1))
        if not draws.size:
            continue
        for out, value, fn in zip(
            (rhat, ess_bulk, ess_tail),
            convergence(draws),
            (np.nanmax, np.nanmin, np.nanmin),
            strict=True,
        ):
            if not np.isnan(value).all():
                out[str(name)] = float(fn(value))
    return rhat, ess_bulk, ess_tail


def diagnose(trace: xr.DataTree, thresholds: DiagnosticsConfig, sampled: list[str]) -> dict:
    """Diagnostics of the variables in ``sampled`` (the sampler's own, not exact draws) as a
    JSON-ready mapping with ``passed`` and ``problems``."""
    posterior = trace["posterior"].to_dataset()[sampled]
    rhat, ess_bulk, ess_tail = _worst(posterior)
    stats = trace["sample_stats"].to_dataset()
    divergences = int(np.asarray(stats["diverging"]).sum())
    bfmi = [float(x) for x in np.atleast_1d(np.asarray(az.bfmi(trace)["energy"]))]
    problems = []
    worst_rhat = max(rhat.values(), default=1.0)
    if worst_rhat > thresholds.max_rhat:
        problems.append(f"R-hat {worst_rhat:.3f} > {thresholds.max_rhat} ({_arg(rhat, max)})")
    for label, ess, limit in (
        ("bulk", ess_bulk, thresholds.min_ess_bulk),
        ("tail", ess_tail, thresholds.min_ess_tail),
    ):
        low = min(ess.values(), default=float("inf"))
        if low < limit:
            problems.append(f"{label} ESS {low:.0f} < {limit:.0f} ({_arg(ess, min)})")
    if divergences > thresholds.max_divergences:
        problems.append(f"{divergences} divergent transitions > {thresholds.max_divergences}")
    if bfmi and min(bfmi) < thresholds.min_bfmi:
        problems.append(f"E-BFMI {min(bfmi):.2f} < {thresholds.min_bfmi}")
    return {
        "passed": not problems,
        "problems": problems,
        "max_rhat": worst_rhat,
        "min_ess_bulk": min(ess_bulk.values(), default=None),
        "min_ess_tail": min(ess_tail.values(), default=None),
        "divergences": divergences,
        "bfmi": bfmi,
        "draws": int(posterior.sizes["chain"] * posterior.sizes["draw"]),
        "by_variable": {
            name: {
                "rhat": rhat.get(name),
                "ess_bulk": ess_bulk.get(name),
                "ess_tail": ess_tail.get(name),
            }
            for name in sampled
        },
        "thresholds": thresholds.model_dump(),
    }


def _arg(values: dict[str, float], pick: object) -> str:
    """The variable holding the worst value."""
    return pick(values, key=values.get) if values else ""  # type: ignore[operator]
