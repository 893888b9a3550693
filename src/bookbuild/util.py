"""Small helpers every part of bookbuild shares: atomic writes, package versions, site-packages stamps."""

from __future__ import annotations

import os
import platform
import site
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part.

    A temporary file in the same folder is written, flushed to disk and renamed over ``path``. A
    file that already holds exactly ``data`` is left alone (the preview rewrites its state files on
    every save, and each flush to disk costs more than the comparison).
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf8")
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@cache
def package_versions(names: tuple[str, ...]) -> dict[str, str]:
    """``{"python": <version>, name: <installed version or "absent">}`` for each of ``names``."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def site_packages_stamp() -> tuple:
    """The modification times of this interpreter's site-packages folders (0 for a missing one).

    Installing, upgrading or removing a package adds or removes entries in one of them, which
    changes its time; a process that imported its packages earlier runs the old ones. (The first
    ``__pycache__`` written directly in a site-packages folder changes it too: a false alarm, once.)
    """
    folders = [*site.getsitepackages(), site.getusersitepackages()]
    return tuple(os.stat(p).st_mtime_ns if os.path.isdir(p) else 0 for p in folders)
