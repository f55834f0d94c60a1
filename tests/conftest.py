"""Shared pytest set-up: the test tiers, and the fitted fixtures tests share.

Tiers. ``@pytest.mark.slow`` (long statistical checks) and ``@pytest.mark.external`` (DfE
validators in their own environment) are declared in pyproject.toml. They are skipped
unless ``--slow`` / ``--external`` is given, so a plain ``pytest`` (what ``.ci/run`` runs)
stays quick and needs nothing outside this environment. ``@pytest.mark.integration`` marks
the tests that run Snakemake (lint, dry runs, and one small demo authority through every
stage). They stay in the default tier: CI must run the workflow end to end at least once,
and the one end-to-end run is kept small (one authority, two years, short fits, one
scenario). For a quick loop while editing, leave them out with ``-m "not integration"``.

Shared fits. A fit is most of a test's time, so the tests that need one share a
session-scoped fit rather than make their own: ``small_fit_run`` / ``small_fit`` (one
small synthetic authority, for the fit's, forecast's and scenarios' tests) and
``national_fit`` (the cut-down published tables, for the national fit's and forecast's
tests). Tests only read them; anything a test writes goes to its own ``tmp_path``.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

from model.config.fit import SamplerConfig

if TYPE_CHECKING:
    from model.fit.run import FitResult

OPT_IN_MARKERS = {"slow": "--slow", "external": "--external"}
SMALL_FIT_SAMPLER = SamplerConfig(chains=2, draws=150, tune=150)
"""The shared small fit's sampler: short (its diagnostics fail, and ``test_fit`` says so)."""
NATIONAL_FIT_SAMPLER = SamplerConfig(
    chains=2, draws=200, national_draws=200, tune=200, national_tune=200
)
"""The shared national fit's sampler (400 draws in all)."""
PUBLISHED_TABLES = Path(__file__).parent / "data" / "published"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        default=False,
        help="also run tests marked slow (parameter recovery, SBC: minutes)",
    )
    parser.addoption(
        "--external",
        action="store_true",
        default=False,
        help="also run tests marked external (need the DfE validators' own environment)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker, option in OPT_IN_MARKERS.items():
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(reason=f"marked {marker}: run with {option}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def small_observations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ingest outputs of a small synthetic authority (SYN01: three years to March 2024, with
    the CIN census), written and ingested once for every module that reads or fits them."""
    from synthetic import ingested_authority

    from model.synth.authorities import AuthoritySpec

    tmp = tmp_path_factory.mktemp("small")
    return ingested_authority(tmp, AuthoritySpec("SYN01", "001", "Fit", 20_000), 2022, 2024, 4)


@pytest.fixture(scope="session")
def small_fit_run(
    small_observations: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, FitResult]:
    """The folder and result of a short fit of ``small_observations`` (seed 7,
    ``SMALL_FIT_SAMPLER``): fitted once, shared by every test that needs a fitted posterior.
    Tests read it; a test that writes beside it uses its own ``tmp_path``."""
    from model.fit.run import fit_authority

    out = tmp_path_factory.mktemp("small_fit") / "fit"
    result = fit_authority(small_observations, out, "SYN01", seed=7, sampler=SMALL_FIT_SAMPLER)
    return out, result


@pytest.fixture(scope="session")
def small_fit(small_fit_run: tuple[Path, FitResult]) -> Path:
    """posterior.nc of the shared short fit (``small_fit_run``)."""
    return small_fit_run[0] / "posterior.nc"


@pytest.fixture(scope="session")
def published_observations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ingest of the cut-down published tables in tests/data/published (13 authorities,
    2 combined units, every series)."""
    from model.ingestpub import ingest_published

    out = tmp_path_factory.mktemp("published") / "national"
    ingest_published(PUBLISHED_TABLES, out)
    return out


@pytest.fixture(scope="session")
def national_fit(
    published_observations: Path, tmp_path_factory: pytest.TempPathFactory
) -> SimpleNamespace:
    """A short national fit of the exits, the reasons and two of the five count series
    (entries to care from 2010, children in need from 2013: compiling all five doubles the
    time), shared by the national fit's and the national forecast's tests. ``folder``: the
    observations it fitted (a cut of ``published_observations``); ``out``: its outputs
    (``folder / "fit"``); ``result``: what ``fit_published`` returned."""
    import shutil

    import pandas as pd

    from model.fit.run_published import fit_published

    folder = tmp_path_factory.mktemp("national_fit") / "cut"
    folder.mkdir()
    shutil.copy(published_observations / "authorities.csv", folder)
    obs = pd.read_csv(published_observations / "observations_published.csv", keep_default_na=False)
    dropped = {"dfe_referrals", "dfe_plans_started", "dfe_on_plan"}
    obs[~obs.measure.isin(dropped)].to_csv(
        folder / "observations_published.csv", index=False, lineterminator="\n"
    )
    out = folder / "fit"
    result = fit_published(folder, out, seed=7, sampler=NATIONAL_FIT_SAMPLER)
    return SimpleNamespace(folder=folder, out=out, result=result)


@pytest.fixture
def stand_in_sampler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fits in this test draw near the model's initial point instead of running NUTS
    (``standin.stand_in_sample``): for tests of I/O and plumbing (back-test scoring, file
    layouts) that need a posterior-shaped trace, never for tests about the fit itself."""
    from standin import stand_in_sample

    monkeypatch.setattr("model.fit.run.sample", stand_in_sample)
    monkeypatch.setattr("model.fit.run_published.sample", stand_in_sample)


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail, rather than block the suite, if an input makes a reader wait forever (a FIFO)
    or read without end (a device)."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError("the ingest blocked on an input or read without end")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
