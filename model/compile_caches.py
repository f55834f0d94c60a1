"""Where compiled code is kept: PyTensor's compile directory and numba's cache, one pair per
machine under one root, so that jobs that share a machine share them safely and jobs on
different machines never write to the same files.

Why per machine and not per job or per cluster:

- **Sharing on one machine is safe.** PyTensor takes a file lock (``filelock``) on its
  compile directory while it compiles (``pytensor.compile.compilelock``); numba writes each
  cache file to a unique temporary name and renames it into place (``_open_for_write`` in
  ``numba.core.caching``), so a reader never sees half a file; on one machine every job
  compiles for the same CPU, so two jobs caching the same function write the same entry.
  Jobs that share a machine then compile each function once between them.
- **Sharing across machines is not.** Numba keys an entry by the CPU's name and features,
  and adds a new key by reading the index, picking the next free data file and writing both:
  two machines with different CPUs adding the same function at once can pick the same data
  file, leaving an index entry that names the other machine's code (numba#10128 reports
  crashes from such races on NFS); and PyTensor's file lock is only as good as the network
  file system's locks. A directory per host name rules both out, whatever the file system.
- **Per job would be safe but slow**: every job would compile from scratch (seconds for a
  fit's model, more for the forecast's simulator).

A user's own settings win: ``NUMBA_CACHE_DIR``, or ``base_compiledir``/``compiledir`` in
``PYTENSOR_FLAGS``, are left as they are. The root is ``CARECAST_CACHE_DIR``, else
``$XDG_CACHE_HOME/carecast``, else ``~/.cache/carecast``.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

ROOT_VARIABLE = "CARECAST_CACHE_DIR"
"""Environment variable naming the folder that holds every machine's compile caches."""


def cache_root(environ: Mapping[str, str]) -> Path:
    """The folder holding one sub-folder of compiled code per machine."""
    if environ.get(ROOT_VARIABLE):
        return Path(environ[ROOT_VARIABLE]).expanduser()
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]).expanduser() / "carecast"
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    return home / ".cache" / "carecast"


def compile_cache_environment(
    environ: Mapping[str, str], host: str | None = None
) -> dict[str, str]:
    """The variables to add to ``environ`` so that PyTensor and numba, once imported, keep
    their compiled code under ``cache_root(environ)/host`` (``host``: this machine's name
    by default). Variables the user has set are not returned (theirs stand); set them
    before PyTensor or numba is imported, as both read them once, at import."""
    folder = cache_root(environ) / _safe(host or socket.gethostname())
    changes = {}
    if not environ.get("NUMBA_CACHE_DIR"):
        changes["NUMBA_CACHE_DIR"] = str(folder / "numba")
    flags = environ.get("PYTENSOR_FLAGS", "")
    # Either flag set by the user stands (matching "compiledir" finds both).
    if "compiledir" not in flags:
        own = f"base_compiledir={folder / 'pytensor'}"
        changes["PYTENSOR_FLAGS"] = f"{flags},{own}" if flags.strip() else own
    return changes


def _safe(host: str) -> str:
    """A host name usable as one folder name (no separators; PYTENSOR_FLAGS splits on ",")."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in host).strip(".")
    return cleaned or "host"
