"""Rule script: ingest DfE's published tables of every authority with model.ingestpub.

Equivalent command (with the bundled tables)::

    uv run carecast ingest published data/published --out results/national
"""

import logging
from pathlib import Path

from model.config.categories import CategoriesConfig
from model.ingestpub import ingest_published
from model.logs import setup_logging

log = logging.getLogger("ingest_published")

if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script: directive
    setup_logging(smk.log[0])
    try:
        result = ingest_published(
            Path(smk.input.tables),
            Path(smk.output.observations).parent,
            CategoriesConfig.model_validate(smk.params.categories),
        )
        log.info("rows: %s; output: %s", result.report["rows"], result.report["output"])
        log.info("files found: %s", result.report["files_by_status"])
        for line in result.not_read:
            log.warning("%s", line)
    except Exception:
        log.exception("ingest_published failed")  # the traceback goes to the rule's log
        raise
