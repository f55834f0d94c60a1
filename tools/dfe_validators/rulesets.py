"""Rule-set lookup shared by run_903.py and run_cin.py (runs inside the validators' venv).

Both DfE validators keep one rule-set package per collection year, named like
``lac2022_23`` / ``cin2022_23`` under their ``rules`` namespace package.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path


def available_rulesets(package: str, prefix: str) -> list[str]:
    """Names of the rule sets in ``package`` (e.g. "lac_validator.rules", prefix "lac")."""
    pattern = re.compile(rf"^{prefix}(\d{{4}})_(\d{{2}})$")
    rules_pkg = importlib.import_module(package)
    # The rules packages are namespace packages (no __init__.py): walk __path__.
    return sorted(
        {
            p.name
            for root in rules_pkg.__path__
            for p in Path(root).iterdir()
            if p.is_dir() and pattern.match(p.name)
        }
    )


def ruleset_for_year(sets: list[str], prefix: str, year: int) -> tuple[str, bool]:
    """The rule set for the collection year ending March ``year`` or the nearest one;
    returns (name, exact)."""
    wanted = f"{prefix}{year - 1}_{year % 100:02d}"
    if wanted in sets:
        return wanted, True
    ends = {int(s[len(prefix) : len(prefix) + 4]) + 1: s for s in sets}
    nearest = min(ends, key=lambda e: (abs(e - year), e))
    return ends[nearest], False
