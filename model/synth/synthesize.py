"""``carecast synthesize``: simulate authorities and write their returns and truth.

Layout of ``OUT_DIR/CODE/`` for each synthetic authority CODE:

- ``ssda903/YYYY-YY/{header,episodes,uasc}.csv``: one 903 return per collection year;
- ``cin/cin_census_YYYY.xml``: one CIN census per year ending 31 March YYYY;
- ``truth/observations.csv``: the true monthly stocks and flows (``model.observations``);
- ``truth/parameters.yaml``: the truth parameters and the authority's size;
- ``truth/monthly_multipliers.csv``: the realised entry-rate trend and care pressure;
- ``truth/faults.csv``: every injected fault, 903 and CIN (empty without ``--faults``);
- ``DONE``: written last, so a partly written folder is never taken for a whole one.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import yaml

from model.config.seeds import derive_seed
from model.synth.authorities import AuthoritySpec, authority_specs, simulate_authority
from model.synth.faults import MANIFEST_COLUMNS, FaultLog, inject_faults
from model.synth.faults_cin import inject_cin_faults
from model.synth.records import SimulatedAuthority
from model.synth.truth import true_observations
from model.synth.truth_config import Truth, load_truth
from model.synth.write_903 import collection_folder, return_tables, write_table
from model.synth.write_cin import write_cin_census

log = logging.getLogger(__name__)


def synthesize(
    out_dir: Path,
    *,
    authorities: int = 3,
    first_year: int = 2016,
    last_year: int = 2025,
    seed: int = 0,
    truth_file: Path | None = None,
    faults: bool = False,
    only: list[str] | None = None,
) -> list[str]:
    """Simulate ``authorities`` authorities and write returns for the years ending 31 March
    ``first_year`` to ``last_year``; return the codes written (all, or those in ``only``)."""
    if first_year > last_year:
        raise ValueError(f"first year {first_year} is after last year {last_year}")
    truth = load_truth(truth_file)
    specs = authority_specs(truth, authorities)
    if only:
        unknown = sorted(set(only) - {s.code for s in specs})
        if unknown:
            known = ", ".join(s.code for s in specs)
            raise ValueError(f"unknown authority {', '.join(unknown)}: this run makes {known}")
        specs = [s for s in specs if s.code in only]
    for spec in specs:
        write_authority(Path(out_dir) / spec.code, truth, spec, first_year, last_year, seed, faults)
    return [s.code for s in specs]


def write_authority(
    folder: Path,
    truth: Truth,
    spec: AuthoritySpec,
    first_year: int,
    last_year: int,
    seed: int,
    faults: bool,
) -> SimulatedAuthority:
    """Simulate one authority and write its folder (see the module docstring)."""
    (folder / "DONE").unlink(missing_ok=True)
    log.info("%s: simulating %d-%d", spec.code, first_year, last_year)
    auth = simulate_authority(truth, spec, first_year, last_year, seed)
    years = range(first_year, last_year + 1)
    returns = {year: return_tables(auth, year) for year in years}
    fault_log = FaultLog()
    if faults:
        rng = np.random.default_rng(derive_seed(seed, spec.code, "faults"))
        fault_log = inject_faults(auth, returns, truth.faults, rng)
    for year, tables in returns.items():
        for name, table in tables.items():
            path = folder / "ssda903" / collection_folder(year) / f"{name}.csv"
            write_table(table, path, fault_log.styles.get((year, name)))
    (folder / "cin").mkdir(parents=True, exist_ok=True)
    cin_paths = {year: folder / "cin" / f"cin_census_{year}.xml" for year in years}
    for year, path in cin_paths.items():
        write_cin_census(auth, year, path)
    if faults:
        # Own seed stream: the 903 faults' draws stay as they were.
        rng = np.random.default_rng(derive_seed(seed, spec.code, "faults_cin"))
        inject_cin_faults(auth, cin_paths, truth.faults, rng, fault_log)
    _write_truth(folder / "truth", auth, truth, spec, seed, fault_log)
    (folder / "DONE").write_text("complete\n", encoding="utf-8")
    log.info("%s: wrote %s", spec.code, folder)
    return auth


def _write_truth(
    folder: Path,
    auth: SimulatedAuthority,
    truth: Truth,
    spec: AuthoritySpec,
    seed: int,
    fault_log: FaultLog,
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    true_observations(auth).to_csv(folder / "observations.csv", index=False, lineterminator="\n")
    auth.monthly_multipliers.to_csv(
        folder / "monthly_multipliers.csv",
        index=False,
        lineterminator="\n",
        date_format="%Y-%m-%d",
    )
    manifest = fault_log.manifest()
    manifest.reindex(columns=MANIFEST_COLUMNS).to_csv(
        folder / "faults.csv", index=False, lineterminator="\n"
    )
    parameters = {
        "authority": {
            "code": spec.code,
            "lea": spec.lea,
            "name": spec.name,
            "population_0_17": spec.population_0_17,
        },
        "first_year": auth.first_year,
        "last_year": auth.last_year,
        "seed": seed,
        "truth": truth.model_dump(mode="json"),
    }
    with (folder / "parameters.yaml").open("w", encoding="utf-8") as handle:
        yaml.safe_dump(parameters, handle, sort_keys=False)
