"""Field types the config's own sections share: strict models with the few leniencies a
YAML file and Snakemake's ``--config`` need.

Every model of the config forbids unknown keys and is strict about types: ``seed: yes`` is
an error, not seed 1. The one leniency is text that spells a whole number or true/false,
because Snakemake's ``--config`` passes nested values as text; ``model_dump`` gives the
canonical values, which is what the JSON schema describes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, FilePath

FIRST_SUPPORTED_YEAR = 2012
"""Earliest year (ending 31 March) accepted; older return formats are untested."""

LAST_SUPPORTED_YEAR = 2030
"""Latest year (ending 31 March) accepted, a guard against typos such as 2205."""


def _from_text(value: Any) -> Any:
    """Read ``"2016"`` as 2016 and ``"true"`` as True: ``--config demo={...}`` gives text."""
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        if text.lower() in {"true", "false"}:
            return text.lower() == "true"
    return value


# Strict models: a bool is not an int, a float is not an int; _from_text is the exception.
Int = Annotated[int, BeforeValidator(_from_text)]
Bool = Annotated[bool, BeforeValidator(_from_text)]
# Paths come from YAML as text; strict mode would demand pathlib objects, so relax it here only.
LoosePath = Annotated[Path, Field(strict=False)]
LooseFilePath = Annotated[FilePath, Field(strict=False)]
# An optional folder: empty text means none, as null does.
OptionalPath = Annotated[
    LoosePath | None, BeforeValidator(lambda value: None if value == "" else value)
]
Year = Annotated[
    int, Field(ge=FIRST_SUPPORTED_YEAR, le=LAST_SUPPORTED_YEAR), BeforeValidator(_from_text)
]
