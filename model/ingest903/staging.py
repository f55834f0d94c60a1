"""Staged outputs for the ingests, which share folders.

:func:`model.outputs.staged_outputs` deletes every output its folder's manifest lists
before a run. The 903 and CIN ingests write into one results folder (the README's commands,
``--out results/LA`` for both) and often one private folder, from which the CIN ingest
reads the 903 ingest's clean episodes to link children. :func:`staged_ingest` therefore
lets one ingest's run clear and replace only its own outputs (names holding ``_903.`` or
``_cin.``): the other's entries are taken out of the manifest before the run and put back
after it, whether it succeeds or fails.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from model.outputs import MANIFEST, staged_outputs


def _listed(folder: Path) -> list[str]:
    """The names the folder's manifest lists ([] without a readable one)."""
    try:
        names = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["outputs"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _list(folder: Path, names: list[str]) -> None:
    """Write the manifest listing ``names`` (atomically, as staged_outputs does)."""
    temporary = folder / f"{MANIFEST}.tmp"
    temporary.write_text(json.dumps({"outputs": names}, indent=1) + "\n", encoding="utf-8")
    os.replace(temporary, folder / MANIFEST)


@contextlib.contextmanager
def staged_ingest(folder: Path, source: str, private: bool = False) -> Iterator[Path]:
    """``staged_outputs(folder, private)`` for the ``source`` ("903" or "cin") ingest,
    leaving the outputs of any other stage in the folder as they are (module docstring)."""
    folder = Path(folder)
    marker = f"_{source}."
    others: list[str] = []
    if (folder / MANIFEST).exists():
        names = _listed(folder)
        others = [n for n in names if marker not in n]
        _list(folder, [n for n in names if marker in n])
    try:
        with staged_outputs(folder, private=private) as staging:
            yield staging
    finally:
        if others:
            _list(folder, list(dict.fromkeys([*_listed(folder), *others])))
