"""The execution profile (``lite``, ``full``, a stand-in run of ``full``) and where cached artefacts live.

``lite`` (the default) runs anywhere, offline, on CPU: bundled data and small encoders
that the library trains itself. ``full`` uses MNIST and pretrained encoders and may
download them. The profile is read from ``LECTUREKIT_PROFILE`` each time it is asked
for, so a test can change it with ``monkeypatch.setenv``.

A stand-in run (``LECTUREKIT_STANDIN=1``) executes the ``full`` profile's code on generated files
(:mod:`lecturekit.standin` writes them); the loaders check with :func:`check_standin` that a
stand-in file is never read as a real one, nor a real one in a stand-in run.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: The execution profiles, ``lite`` first (the default).
PROFILES: tuple[str, ...] = ("lite", "full")
DEFAULT_PROFILE = "lite"
#: The variable that makes a run a stand-in run (1, true or yes); its numbers are meaningless.
STANDIN_ENV = "LECTUREKIT_STANDIN"
#: The file that marks a folder of stand-in files (it records their settings).
STANDIN_MARKER = "STANDIN.json"
#: The values that switch an environment flag on (any case; surrounding spaces are ignored).
TRUE = ("1", "true", "yes")


def flag(name: str) -> bool:
    """Whether the environment variable ``name`` switches something on: ``1``, ``true`` or ``yes`` (any case).

    Unset, empty or any other value is off. Every ``LECTUREKIT_*`` switch is read through this.

    >>> flag("LECTUREKIT_NEVER_SET")
    False
    """
    return os.environ.get(name, "").strip().lower() in TRUE


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
    if is_standin():
        return False
    return not flag("LECTUREKIT_OFFLINE")


def is_standin() -> bool:
    """Whether this run is a stand-in run (``LECTUREKIT_STANDIN`` set to 1/true/yes).

    >>> is_standin()
    False
    """
    return flag(STANDIN_ENV)


def standin_marker(folder: str | Path) -> dict | None:
    """The stand-in settings recorded in ``folder``'s marker, or None when it holds no stand-in files."""
    path = Path(folder) / STANDIN_MARKER
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise ValueError(
            f"{path} is not valid JSON ({exc}); delete the folder and run `python -m lecturekit.standin` again"
        ) from None


def check_standin(folder: str | Path, what: str) -> dict | None:
    """Refuse stand-in files in a real run and real files in a stand-in run; return the marker.

    Args:
        folder: where ``what`` is read from (its marker is ``folder/STANDIN.json``).
        what: shown in the error message.

    Raises:
        RuntimeError: stand-in files but ``LECTUREKIT_STANDIN`` is not set.
        FileNotFoundError: ``LECTUREKIT_STANDIN`` is set but ``folder`` holds no stand-in files.
    """
    marker = standin_marker(folder)
    if marker is not None and not is_standin():
        raise RuntimeError(
            f"{what} under {folder} are stand-in files (synthetic, random weights; "
            f"see {Path(folder) / STANDIN_MARKER}), "
            f"and {STANDIN_ENV} is not set. Point LECTUREKIT_CACHE and TORCH_HOME at the real files "
            f"(`make data` fetches and verifies them), or set {STANDIN_ENV}=1 for a stand-in run."
        )
    if marker is None and is_standin():
        raise FileNotFoundError(
            f"{STANDIN_ENV} is set, but {folder} holds no stand-in {what} (no {STANDIN_MARKER}). Generate them with "
            '`python -m lecturekit.standin --cache "$LECTUREKIT_CACHE" --torch-home "$TORCH_HOME"` '
            "(or run `make full-standin`), or unset the variable to use real files."
        )
    return marker


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
