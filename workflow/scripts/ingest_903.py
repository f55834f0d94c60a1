"""Rule script: ingest one authority's 903 returns with model.ingest903.

Equivalent command (for the demo authority SYN01)::

    uv run carecast ingest 903 data/demo/SYN01/ssda903 --authority SYN01 \\
        --out results/SYN01 --private data/private/SYN01/ssda903
"""

import logging
from pathlib import Path

from model.config.categories import CategoriesConfig
from model.ingest903 import ingest_903
from model.logs import setup_logging
from model.outputs import make_private

log = logging.getLogger("ingest_903")


def returns_folder(input_path: Path) -> Path:
    """The folder of 903 returns: the demo's DONE marker stands for its authority folder."""
    return input_path.parent / "ssda903" if input_path.name == "DONE" else input_path


if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script: directive
    setup_logging(smk.log[0])
    try:
        result = ingest_903(
            [returns_folder(Path(smk.input.returns))],
            smk.wildcards.la,
            Path(smk.output.observations).parent,
            Path(smk.output.private),
            CategoriesConfig.model_validate(smk.params.categories),
        )
        log.info(
            "rows: %s; years %d-%d", result.report["rows"], result.first_year, result.last_year
        )
        make_private(Path(smk.output.private))  # child-level: the owner's eyes only
    except Exception:
        log.exception("ingest_903 failed")  # the traceback goes to the rule's log
        raise
