"""A saved per-authority posterior: the model hash that identifies what was fitted, and
:func:`load_posterior`, which refuses a posterior whose hash differs from the configured
model's (its parameters would be read wrongly).

Apart from ``model.fit.run`` so that reading a posterior (a forecast) imports neither PyMC
nor ArviZ: the file is a netCDF data tree, read with xarray.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import xarray as xr

from model.config.fit import PriorsConfig, StructureConfig

MODEL_VERSION = "4"
"""Bumped when the likelihood's parameterisation or the saved posterior's layout changes, so
old posteriors are refused (3: the network is a group of the posterior; 4: the drift's and
the entry walks' steps partially centred, ``drift_steps`` and ``entry_walk_steps``)."""


class PosteriorMismatch(ValueError):
    """A saved posterior was fitted with a different model than the one configured."""


def model_hash(structure: StructureConfig, priors: PriorsConfig, prior_source: str = "") -> str:
    """SHA-256 (first 16 hex digits) of what defines the model (``prior_source``: the pooled
    fit an informed prior came from, if any)."""
    return definition_hash(
        {"structure": structure.model_dump(), "priors": priors.model_dump(),
         "version": MODEL_VERSION} | ({"prior_source": prior_source} if prior_source else {})
    )  # fmt: skip


def definition_hash(definition: dict) -> str:
    """SHA-256 (first 16 hex digits) of a JSON-ready mapping that defines a model."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:16]


def load_posterior(
    path: Path, structure: StructureConfig | None = None, priors: PriorsConfig | None = None
) -> xr.DataTree:
    """A saved posterior (the data tree ``carecast fit`` writes, read lazily), refused with a
    clear message when the configured model differs."""
    trace = xr.open_datatree(path, engine="h5netcdf")
    source = str(trace.attrs.get("prior_source", ""))
    expected = model_hash(structure or StructureConfig(), priors or PriorsConfig(), source)
    check_model_hash(path, trace, expected, "structure, priors")
    return trace


def check_model_hash(path: Path, trace: xr.DataTree, expected: str, settings: str) -> None:
    """Raise :class:`PosteriorMismatch` when the posterior at ``path`` was fitted with another
    model than the configured one (``expected``: its hash; ``settings``: what defines it)."""
    found = trace.attrs.get("model_hash")
    if found != expected:
        raise PosteriorMismatch(
            f"{path} was fitted with a different model (hash {found}, the configuration now "
            f"gives {expected}): the {settings} or carecast's model version changed "
            "since. Refit it with `carecast fit`."
        )
