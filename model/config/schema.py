"""The JSON schema Snakemake validates the config against, generated from
:class:`model.config.carecast.CarecastConfig`.

``workflow/scripts/write_config_schema.py`` writes it to
``workflow/schemas/config.schema.json``; a test fails when the file and the models drift
apart.
"""

from __future__ import annotations

from typing import Any

from model.config.carecast import CarecastConfig


def json_schema() -> dict[str, Any]:
    """JSON schema of :class:`CarecastConfig` (what Snakemake's ``validate`` checks)."""
    schema = CarecastConfig.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
