"""The execution profile (``lite`` or ``full``) and where cached artefacts live.

``lite`` (the default) runs anywhere, offline, on CPU: bundled data and small encoders
that the library trains itself. ``full`` uses MNIST and pretrained encoders and may
download them. The profile is read from ``LECTUREKIT_PROFILE`` each time it is asked
for, so a test can change it with ``monkeypatch.setenv``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: The execution profiles, ``lite`` first (the default).
PROFILES: tuple[str, ...] = ("lite", "full")
DEFAULT_PROFILE = "lite"


def active(profile: str | None = None) -> str:
    """Return the profile to use: ``profile`` if given, else ``$LECTUREKIT_PROFILE``, else ``lite``.

    Raises:
        ValueError: the name is not one of :data:`PROFILES`.

    >>> active("lite")
    'lite'
    """
    name = profile if profile is not None else os.environ.get("LECTUREKIT_PROFILE", DEFAULT_PROFILE)
    name = name.strip().lower()
    if name not in PROFILES:
        source = "argument" if profile is not None else "LECTUREKIT_PROFILE"
        raise ValueError(
            f"unknown profile {name!r} (from {source}); valid profiles are {', '.join(PROFILES)}. "
            "Use LECTUREKIT_PROFILE=lite (offline, CPU) or LECTUREKIT_PROFILE=full (MNIST, pretrained encoders)."
        )
    return name


def downloads_allowed(profile: str | None = None) -> bool:
    """Whether this run may download data or weights.

    Only the ``full`` profile downloads; ``LECTUREKIT_OFFLINE=1`` forbids it even there, and so
    does a stand-in run (``LECTUREKIT_STANDIN=1``, see :mod:`lecturekit.standin`).

    >>> downloads_allowed("lite")
    False
    """
    if active(profile) != "full":
        return False
    if os.environ.get("LECTUREKIT_STANDIN", "0").strip().lower() in ("1", "true", "yes"):
        return False
    return os.environ.get("LECTUREKIT_OFFLINE", "0").strip().lower() not in ("1", "true", "yes")


def cache_dir() -> Path:
    """Folder for trained weights and downloaded data: ``$LECTUREKIT_CACHE`` or ``~/.cache/lecturekit``.

    The folder is created if missing.

    >>> cache_dir().is_dir()
    True
    """
    root = os.environ.get("LECTUREKIT_CACHE")
    path = Path(root).expanduser() if root else Path.home() / ".cache" / "lecturekit"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def atomic_file(dest: Path | str) -> Iterator[Path]:
    """A temporary file beside ``dest`` that takes its name only if the block completes.

    The one write-then-rename of the library (weights, downloads, stand-ins): the caller writes
    the temporary path (and may check it); on success it is renamed over ``dest`` (atomic on one
    file system), on any exception it is removed. A reader therefore never sees a half-written
    ``dest``, even when the writer is killed.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_file(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
