"""Rule script: write one synthetic demo authority with the generator (model.synth).

Under Snakemake (rule synthesize) the output is ``{demo_dir}/{la}/DONE``; the generator
writes ``{demo_dir}/{la}/`` and the DONE marker last. With the default config, for SYN01,
it does what this does (2016 and 2025 are also the command's default years)::

    uv run carecast synthesize data/demo --authorities 3 --seed 20250331 --faults --only SYN01

except that it first removes whatever an earlier run left in ``data/demo/SYN01``.
"""

import logging
import shutil
from pathlib import Path

from model.logs import setup_logging
from model.synth import synthesize

log = logging.getLogger("synthesize")


def main(
    done_file: Path,
    code: str,
    *,
    authorities: int,
    first_year: int,
    last_year: int,
    seed: int,
    truth_file: Path | None,
    faults: bool,
) -> None:
    """Generate authority ``code`` (one of ``authorities``) so that ``done_file`` exists."""
    folder = done_file.parent
    if folder.name != code:
        raise ValueError(f"output {done_file} is not inside a folder named {code}")
    if folder.exists():
        # Start clean: files left from a run with other years must not mix with the new ones.
        log.info("removing the previous %s", folder)
        shutil.rmtree(folder)
    written = synthesize(
        folder.parent,
        authorities=authorities,
        first_year=first_year,
        last_year=last_year,
        seed=seed,
        truth_file=truth_file,
        faults=faults,
        only=[code],
    )
    log.info("generator wrote %s", written)
    if code not in written or not done_file.is_file():
        raise RuntimeError(f"the generator did not finish {code}: {done_file} is missing")


if __name__ == "__main__":
    smk = globals()["snakemake"]  # injected by Snakemake's script: directive
    setup_logging(smk.log[0])
    truth = smk.input.truth  # [] when the config leaves truth_file null
    try:
        main(
            Path(smk.output.done),
            smk.wildcards.la,
            authorities=smk.params.authorities,
            first_year=smk.params.first_year,
            last_year=smk.params.last_year,
            seed=smk.params.seed,
            truth_file=Path(truth[0]) if truth else None,
            faults=smk.params.faults,
        )
    except Exception:
        log.exception("synthesize failed")  # the traceback goes to the rule's log
        raise
