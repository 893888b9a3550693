"""Remember the slow, pure steps of planning between builds, keyed by content.

Planning reads every chapter as myst-nb does (a Markdown parse plus nbformat validation of every
cell) and walks the library's import graph with :mod:`ast`; on a build after a prose edit that was
about as long as Sphinx's own start. Both results are pure functions of file contents, so each
chapter keeps its last results in ``_build/plan-memo/<chapter>.json``:

- the notebook, keyed by the SHA-256 of the chapter's file and the myst-nb and nbformat versions;
- its library modules, keyed by the SHA-256 of its code cells and of every file of the library
  (names and contents).

File digests come from the build's one change detector (:mod:`bookbuild.digests`), so an unchanged
tree is not read at all.

A miss recomputes and replaces the entry; an unreadable file is a miss. Keys are computed from the
current contents every time, so a memo can make planning faster, never different.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import nbformat

from bookbuild.util import atomic_write, package_versions
from importgraph import file_digest

# What reads a notebook: a new version may read the same text differently.
READERS = ("myst-nb", "nbformat")


def _versions() -> str:
    return ";".join(f"{k}={v}" for k, v in package_versions(READERS).items())


def library_fingerprint(root: Path, package: str, digest: Callable[[Path], str] = file_digest) -> str:
    """SHA-256 over the names and contents (``digest``) of every ``.py`` file of the package."""
    h = hashlib.sha256(package.encode())
    top = root / package
    for f in sorted(top.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode() + b"\0" + digest(f).encode() + b"\0")
    return h.hexdigest()


class ChapterMemo:
    """The memo of one chapter; without a folder it remembers nothing (every lookup computes)."""

    def __init__(self, folder: Path | None, name: str) -> None:
        self.path = folder / f"{name}.json" if folder else None
        self.data: dict = {}
        self.changed = False
        if self.path and self.path.exists():
            try:
                self.data = json.loads(self.path.read_text())
            except (OSError, ValueError):
                self.data = {}

    def notebook(self, content: str, read: Callable[[], nbformat.NotebookNode]) -> nbformat.NotebookNode:
        """The notebook read last time if ``content`` (the file's digest) is the same, else ``read()``."""
        key = hashlib.sha256((_versions() + "\0" + content).encode()).hexdigest()
        if self.data.get("notebook_key") == key and isinstance(self.data.get("notebook"), dict):
            return nbformat.from_dict(self.data["notebook"])
        nb = read()
        self.data.update(notebook_key=key, notebook=nb)
        self.changed = True
        return nb

    def modules(self, library_digest: str, sources: list[str], compute: Callable[[], set[str]]) -> set[str]:
        key = hashlib.sha256((library_digest + "\0" + json.dumps(sources)).encode()).hexdigest()
        if self.data.get("modules_key") == key and isinstance(self.data.get("modules"), list):
            return set(self.data["modules"])
        modules = compute()
        self.data.update(modules_key=key, modules=sorted(modules))
        self.changed = True
        return modules

    def save(self) -> None:
        if not (self.path and self.changed):
            return
        atomic_write(self.path, json.dumps(self.data))
        self.changed = False
