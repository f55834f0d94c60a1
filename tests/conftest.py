"""Shared pytest set-up: opt-in switches for the expensive and the external tests.

``@pytest.mark.slow`` (long statistical checks) and ``@pytest.mark.external`` (DfE
validators in their own environment) are declared in pyproject.toml. They are skipped
unless ``--slow`` / ``--external`` is given, so a plain ``pytest`` stays quick and needs
nothing outside this environment.
"""

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

OPT_IN_MARKERS = {"slow": "--slow", "external": "--external"}


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
def small_fit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """posterior.nc of a short fit of a small synthetic authority (three years to March
    2024, with the CIN funnel), fitted once for every module that forecasts from it."""
    from synthetic import ingested_authority

    from model.config.fit import SamplerConfig
    from model.fit.run import fit_authority
    from model.synth.authorities import AuthoritySpec

    tmp = tmp_path_factory.mktemp("small_fit")
    obs = ingested_authority(tmp, AuthoritySpec("SYN01", "001", "Fc", 20_000), 2022, 2024, 4)
    sampler = SamplerConfig(chains=2, draws=150, tune=150)
    fit_authority(obs, tmp / "fit", "SYN01", seed=7, sampler=sampler)
    return tmp / "fit" / "posterior.nc"


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
