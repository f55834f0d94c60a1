"""Writing a stage's outputs so that a failed run never leaves anything looking current.

:func:`staged_outputs` gives a stage a fresh staging folder inside its output folder. On
success every file and folder the stage wrote is moved into place (``os.replace``: each one
appears whole or not at all) and listed in a manifest; on failure the staging folder is
removed. Either way the outputs the *previous* run listed in its manifest are deleted first,
so after a failure the folder holds no output of an older run that could be taken for this
one's. Private outputs (child-level) are made readable by their owner only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

MANIFEST = ".carecast-outputs-{stage}.json"
"""The list of outputs the last successful run of a stage into a folder wrote (one per
stage: the 903 and CIN ingests share an output folder, and neither may delete the other's)."""
STAGING_PREFIX = ".carecast-staging-"
"""Name prefix of a stage's staging folder inside its output folder."""
PRIVATE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def _remove(path: Path) -> None:
    """Delete a file or folder if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def clear_previous(out_dir: Path, stage: str) -> list[str]:
    """Delete the outputs the last successful run of ``stage`` listed in ``out_dir``'s
    manifest, and the manifest; the names deleted."""
    manifest = Path(out_dir) / MANIFEST.format(stage=stage)
    try:
        names = json.loads(manifest.read_text(encoding="utf-8"))["outputs"]
    except (OSError, ValueError, KeyError, TypeError):
        names = []
    for name in names:
        # Only names inside the folder: a manifest edited to point elsewhere is ignored.
        if isinstance(name, str) and "/" not in name and name not in ("", ".", ".."):
            _remove(Path(out_dir) / name)
    manifest.unlink(missing_ok=True)
    return [n for n in names if isinstance(n, str)]


def make_private(path: Path) -> None:
    """Owner-only permissions on a file, or on a folder and everything in it."""
    path = Path(path)
    if path.is_dir():
        path.chmod(PRIVATE_DIR_MODE)
        for child in path.rglob("*"):
            child.chmod(PRIVATE_DIR_MODE if child.is_dir() else PRIVATE_MODE)
    elif path.exists():
        path.chmod(PRIVATE_MODE)


@contextlib.contextmanager
def staged_outputs(out_dir: Path, stage: str, private: bool = False) -> Iterator[Path]:
    """A staging folder for ``stage`` (a name such as ``ingest-903``) writing into
    ``out_dir`` (see the module).

    ``private``: the folder holds child-level outputs; it and its files get owner-only
    permissions."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clear_previous(out, stage)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    try:
        yield staging
        names = sorted(p.name for p in staging.iterdir())
        for name in names:
            target = out / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            os.replace(staging / name, target)
            if private:
                make_private(target)
        if private:
            out.chmod(PRIVATE_DIR_MODE)
        _write_manifest(out / MANIFEST.format(stage=stage), names)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_manifest(manifest: Path, names: Iterable[str]) -> None:
    """List ``names`` as the outputs of the run that just succeeded (written atomically)."""
    text = json.dumps({"outputs": list(names)}, indent=1)
    temporary = manifest.with_name(manifest.name + ".tmp")
    temporary.write_text(text + "\n", encoding="utf-8")
    os.replace(temporary, manifest)
