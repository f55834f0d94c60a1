"""Shared pytest set-up: opt-in switches for the expensive and the external tests.

``@pytest.mark.slow`` (long statistical checks) and ``@pytest.mark.external`` (DfE
validators in their own environment) are declared in pyproject.toml. They are skipped
unless ``--slow`` / ``--external`` is given, so a plain ``pytest`` stays quick and needs
nothing outside this environment.
"""

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
