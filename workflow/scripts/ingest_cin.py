"""Rule script: ingest one authority's CIN censuses with model.ingestcin, linked to the
authority's 903 records (the ingest_903 rule's private outputs).

Equivalent command (for the demo authority SYN01)::

    uv run carecast ingest cin data/demo/SYN01/cin --authority SYN01 --out results/SYN01 \\
        --private data/private/SYN01/cin --link-903 data/private/SYN01/ssda903
"""

import logging
from pathlib import Path

from model.config.categories import CategoriesConfig
from model.ingestcin import ingest_cin
from model.logs import setup_logging
from model.outputs import make_private

log = logging.getLogger("ingest_cin")

if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script: directive
    setup_logging(smk.log[0])
    census = Path(smk.input.census)
    # The demo's DONE marker stands for its authority folder.
    census = census.parent / "cin" if census.name == "DONE" else census
    try:
        result = ingest_cin(
            [census],
            smk.wildcards.la,
            Path(smk.output.observations).parent,
            Path(smk.output.private),
            CategoriesConfig.model_validate(smk.params.categories),
            link_903=Path(smk.input.private_903),
        )
        log.info(
            "rows: %s; link: %s; years %d-%d",
            result.report["rows"],
            result.report["link"],
            result.first_year,
            result.last_year,
        )
        make_private(Path(smk.output.private))  # child-level: the owner's eyes only
    except Exception:
        log.exception("ingest_cin failed")  # the traceback goes to the rule's log
        raise
