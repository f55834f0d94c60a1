"""A small synthetic authority written as returns and ingested, for tests that need
observations (fits, back-tests, forecasts)."""

from __future__ import annotations

from pathlib import Path

from model.ingest903 import ingest_903
from model.ingestcin import ingest_cin
from model.synth.authorities import AuthoritySpec
from model.synth.synthesize import write_authority
from model.synth.truth_config import load_truth


def ingested_authority(
    tmp: Path, spec: AuthoritySpec, first: int, last: int, seed: int, private: Path | None = None
) -> Path:
    """Write ``spec``'s 903 and CIN returns for ``first``-``last`` (years ending 31 March,
    default truth, no faults) under ``tmp``, ingest both, and return the observations
    folder ``tmp/obs/{code}`` (child-level outputs under ``private``, default
    ``tmp/private``)."""
    folder = tmp / spec.code
    write_authority(folder, load_truth(None), spec, first, last, seed, False)
    out = tmp / "obs" / spec.code
    private = private or tmp / "private"
    ingest_903([folder / "ssda903"], spec.code, out, private)
    ingest_cin([folder / "cin"], spec.code, out, private)
    return out
