"""Rule script: count what one demo authority's folder holds (see model.report.demo_summary).

Under Snakemake (rule summarise_demo) it reads ``snakemake.input.done`` (the generator's
DONE marker; the folder is its parent) and writes ``snakemake.output.summary``. By hand:

    uv run python workflow/scripts/summarise_demo.py data/demo/SYN01 results/SYN01/demo_summary.json
"""

import argparse
import json
import logging
from pathlib import Path

from model.logs import setup_logging
from model.report.demo_summary import summarise_folder

log = logging.getLogger("summarise_demo")


def main(folder: Path, summary_file: Path) -> None:
    """Summarise ``folder`` into the JSON file ``summary_file``."""
    log.info("summarising %s", folder)
    summary = summarise_folder(folder)
    summary_file.parent.mkdir(parents=True, exist_ok=True)
    summary_file.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    log.info(
        "wrote %s (%d files, %d years)",
        summary_file,
        summary["files"]["total"],
        len(summary["years"]),
    )
    for item in summary["unread_files"]:
        log.warning("could not read %s: %s", item["file"], item["reason"])


if __name__ == "__main__":
    smk = globals().get("snakemake")  # injected by Snakemake's script: directive
    if smk is not None:
        folder, summary_file = Path(smk.input.done).parent, Path(smk.output.summary)
        log_file = smk.log[0]
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("folder", type=Path, help="an authority folder (ssda903/, cin/)")
        parser.add_argument("summary_file", type=Path, help="JSON file to write")
        args = parser.parse_args()
        folder, summary_file, log_file = args.folder, args.summary_file, None
    setup_logging(log_file)
    try:
        main(folder, summary_file)
    except Exception:
        log.exception("summarise_demo failed")  # the traceback goes to the rule's log
        raise
