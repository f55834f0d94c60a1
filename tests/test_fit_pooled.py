"""The pooled fit: authorities aligned on common years, a joint posterior with partial
pooling, and a single authority's prior taken from a pooled fit of the others."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import ingested_authority

from model.cli import main
from model.config.fit import SamplerConfig, StructureConfig
from model.fit.data import FitData, FitDataError, fit_data, read_observations
from model.fit.network import Network
from model.fit.pooled import informed_prior, member_draws, pool
from model.fit.run import PosteriorMismatch, fit_authority, load_posterior
from model.fit.run_pooled import fit_pooled
from model.synth.authorities import AuthoritySpec

FAST = SamplerConfig(chains=2, draws=150, tune=150)
AUTHORITIES = {"SYNA": (12_000, 2022), "SYNB": (8_000, 2023), "SYNC": (10_000, 2023)}
"""Code -> (0-17 population, first year); every authority's last year is 2024."""


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Ingest outputs of three small synthetic authorities covering different years."""
    tmp = tmp_path_factory.mktemp("pooled")
    out = {}
    for i, (code, (population, first)) in enumerate(AUTHORITIES.items(), start=1):
        spec = AuthoritySpec(code, f"{i:03d}", code, population)
        out[code] = ingested_authority(tmp, spec, first, 2024, 3, tmp / "private" / code)
    return out


def _data(folder: Path, structure: StructureConfig | None = None) -> FitData:
    structure = structure or StructureConfig()
    obs, use_cin, fingerprint = read_observations(folder, structure.cin_funnel)
    return fit_data(obs, structure, folder.name, use_cin, fingerprint)


def test_pooling_aligns_years_and_keeps_every_count(folders: dict[str, Path]) -> None:
    a, b = _data(folders["SYNA"]), _data(folders["SYNB"])
    pooled = pool([a, b])
    assert pooled.windows == ("2022", "2023", "2024") and len(pooled.months) == 36
    # SYNB has no 2022: nothing at risk, no months observed, its years in place.
    assert pooled.at_risk[1, 0].sum() == 0 and not pooled.observed[1, :12].any()
    assert (pooled.leavers[1, 1:] == b.counts[..., 1:]).all()
    assert (pooled.leavers[0] == a.counts[..., 1:]).all()
    assert pooled.entries[1].sum() == b.entries.sum()
    assert (pooled.entries[1, 12:] == b.entries).all()
    with pytest.raises(FitDataError, match="named twice"):
        pool([a, a])
    care_only = _data(folders["SYNB"], StructureConfig(cin_funnel=False))
    with pytest.raises(FitDataError, match="CIN observations, or none"):
        pool([a, care_only])


def test_pooled_fit_gives_each_authority_and_a_prior_for_another(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    result = fit_pooled([folders["SYNA"], folders["SYNB"]], tmp_path / "pooled", 5, sampler=FAST)
    trace = load_posterior(tmp_path / "pooled" / "posterior.nc")
    assert json.loads(trace.attrs["authorities"]) == ["SYNA", "SYNB"]
    assert trace.attrs["diagnostics_passed"] == int(result.diagnostics["passed"])
    posterior = trace["posterior"].to_dataset()
    assert posterior["eta"].dims[2:] == ("authority", "pair", "band")
    assert posterior["composition_care"].shape[2] == 2
    # The network every authority shares is saved with the posterior.
    saved = Network.from_dataset(trace["network"].to_dataset())
    assert saved.same_as(result.data.network) and saved.pair_labels == list(
        posterior["pair"].values
    )
    # Partial pooling: each authority's cells scatter around the shared mean by about
    # authority_sd, so the authorities' cells differ but less than the prior allows.
    eta = np.asarray(posterior["eta"]).mean(axis=(0, 1))
    assert not np.allclose(eta[0], eta[1])
    checks = json.loads((tmp_path / "pooled" / "diagnostics.json").read_text())
    assert set(checks["predictive_coverage"]) >= {"posterior_transition", "posterior_entries"}
    # SYNB's own draws are on its own two years.
    pooled = pool([_data(folders["SYNA"]), _data(folders["SYNB"])])
    draws = member_draws(posterior, pooled, 1, ("eta", "drift", "entry_level", "entry_walk"))
    assert draws["drift"].shape[1:] == (2, len(pooled.template.states))
    assert draws["entry_walk"].shape[1] == 3 and (draws["entry_walk"][:, 0] == 0).all()

    # A new authority's prior: the pooled prediction, wider than the pooled mean's spread.
    prior = informed_prior(trace, "pooled")
    assert prior.mean.shape == posterior["eta_mean"].shape[2:]
    spread = np.asarray(posterior["eta_mean"]).reshape(-1, *prior.mean.shape).std(axis=0)
    assert (prior.sd >= spread * 0.95).all()
    informed = fit_authority(
        folders["SYNC"], tmp_path / "SYNC", "SYNC", 5, sampler=FAST,
        prior_from=tmp_path / "pooled" / "posterior.nc",
    )  # fmt: skip
    assert "alpha" not in informed.trace["posterior"]
    assert informed.trace.attrs["prior_source"].startswith(str(tmp_path / "pooled"))
    load_posterior(tmp_path / "SYNC" / "posterior.nc")  # its own hash still checks out
    # A pooled fit that saw SYNA cannot be SYNA's prior: its data would count twice.
    with pytest.raises(PosteriorMismatch, match="count SYNA's data twice"):
        fit_authority(
            folders["SYNA"], tmp_path / "SYNA", "SYNA", 5, sampler=FAST,
            prior_from=tmp_path / "pooled" / "posterior.nc",
        )  # fmt: skip


def test_fit_command_pools_several_folders_and_rejects_mixed_options(
    folders: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    code = main(
        ["-q", "fit", str(folders["SYNA"]), str(folders["SYNB"]), "--out", "x", "--authority",
         "SYNA"]
    )  # fmt: skip
    assert code == 2
    assert "apply to one authority's fit" in capsys.readouterr().err
