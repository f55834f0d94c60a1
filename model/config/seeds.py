"""Every random seed in the pipeline comes from :func:`derive_seed`: the configured ``seed``
plus names (authority, stage, scenario), hashed with BLAKE2b, so that a rerun is
bit-identical and adding an authority changes no other authority's draws."""

from __future__ import annotations

import hashlib
import json


def derive_seed(seed: int, *parts: str) -> int:
    """Seed for one piece of work, from the configured ``seed`` and names identifying it.

    ``parts`` name the work, e.g. ``("SYN01", "synthesize")`` or ``(la, "forecast",
    scenario)``. The result is a stable function of exactly these arguments (BLAKE2b over
    a JSON encoding, so ``("ab",)`` and ``("a", "b")`` differ), independent of Python's
    hash randomisation, platform and of any other authority. It lies in [0, 2**63) so it
    fits a signed 64-bit integer for any RNG.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    if not all(isinstance(part, str) for part in parts):
        raise TypeError(f"seed parts must be strings, got {parts!r}")
    payload = json.dumps([seed, *parts], ensure_ascii=True).encode("ascii")
    digest = hashlib.blake2b(payload, digest_size=8, person=b"carecast-seed").digest()
    return int.from_bytes(digest, "big") >> 1
