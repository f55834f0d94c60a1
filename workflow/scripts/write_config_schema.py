"""Regenerate workflow/schemas/config.schema.json from the pydantic models in model.config
(``model.config.schema.json_schema``).

Run after changing the models in model/config/:

    uv run python workflow/scripts/write_config_schema.py

tests/test_config.py fails while the file and the models disagree.
"""

import json
from pathlib import Path

from model.config.schema import json_schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.json"


def render_schema() -> str:
    """The schema file's exact text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE}")
