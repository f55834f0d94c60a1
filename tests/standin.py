"""A cheap stand-in for NUTS, for tests of I/O and plumbing that need a posterior-shaped
trace (the right variables, dimensions and sample statistics), not a good fit.

``stand_in_sample`` has the signature of ``model.fit.run.sample``; the ``stand_in_sampler``
fixture (conftest) puts it in place. Draws are the model's initial point (in the sampler's
unconstrained space) plus small independent normal jitter, mapped to every free variable
and deterministic the model reports, so forecasts from them are ordinary, finite and
reproducible. It compiles one forward function (PyTensor's C backend, cached on disk)
rather than the sampler's gradient, and samples nothing: a test using it must not assert
anything about the posterior's accuracy or its diagnostics.
"""

from __future__ import annotations

import time

import numpy as np
import pymc as pm
import xarray as xr

from model.config.fit import SamplerConfig

JITTER_SD = 0.05
"""Standard deviation of each draw's jitter around the initial point, unconstrained scale."""


def stand_in_sample(
    model: pm.Model, sampler: SamplerConfig, seed: int, clock: dict[str, float] | None = None
) -> xr.DataTree:
    """``sampler.chains`` x ``sampler.draws`` draws near ``model``'s initial point, as a data
    tree with the groups ``posterior`` and ``sample_stats`` (``diverging`` all False and
    ``energy``) that ``model.fit.run.sample`` returns; ``clock`` gets its stages' ends as
    there (compile, warm-up and sampling all at once)."""
    rng = np.random.default_rng(seed)
    start = model.initial_point(seed)
    outputs = model.unobserved_value_vars
    names = [v.name for v in outputs]
    forward = model.compile_fn(
        outputs, inputs=model.value_vars, on_unused_input="ignore", point_fn=False
    )
    wanted = [v.name for v in model.free_RVs + model.deterministics]
    n = sampler.chains * sampler.draws
    values: dict[str, list[np.ndarray]] = {name: [] for name in wanted}
    for _ in range(n):
        point = [
            np.asarray(start[v.name]) + rng.normal(0.0, JITTER_SD, np.shape(start[v.name]))
            for v in model.value_vars
        ]
        for name, value in zip(names, forward(*point), strict=True):
            if name in values:
                values[name].append(np.asarray(value))
    posterior = xr.Dataset(
        {name: _variable(model, name, np.stack(draws), sampler) for name, draws in values.items()}
    )
    shape = (sampler.chains, sampler.draws)
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), np.zeros(shape, dtype=bool)),
            "energy": (("chain", "draw"), rng.normal(0.0, 1.0, shape)),
        },
        coords={"chain": np.arange(sampler.chains), "draw": np.arange(sampler.draws)},
    )
    if clock is not None:
        clock["compiled"] = clock["tuned"] = clock["sampled"] = time.perf_counter()
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


def _variable(
    model: pm.Model, name: str, draws: np.ndarray, sampler: SamplerConfig
) -> xr.DataArray:
    """One variable's draws [chain, draw, ...] with the model's dims and coordinates."""
    draws = draws.reshape(sampler.chains, sampler.draws, *draws.shape[1:])
    dims = list(model.named_vars_to_dims.get(name, ()) or ())
    dims += [f"{name}_dim_{i}" for i in range(len(dims), draws.ndim - 2)]
    coords = {
        "chain": np.arange(sampler.chains),
        "draw": np.arange(sampler.draws),
        **{d: list(model.coords[d]) for d in dims if model.coords.get(d) is not None},
    }
    return xr.DataArray(draws, dims=("chain", "draw", *dims), coords=coords)
