"""What a chapter's outputs depend on, and the execution key that hashes all of it.

A chapter's key covers: its code cells (and kernel), every module of the library it imports --
directly or through other library modules, found from the static import graph --, the active
profile, and what ``[tool.bookbuild]`` (:mod:`bookbuild.config`) names: the versions of the
packages that compute its numbers (``key_packages``), the data files of the profile (``data``),
and the environment variables that change numerics (``key_env``). Prose, headings, captions and
cell tags are not part of it.

Library imports are found by reading source with :mod:`ast`: ``import lib``, ``from lib.x import
y``, relative imports, and attribute chains on an imported package (``lb.metrics.pca.project``
depends on ``lib.metrics.pca``). A package name used in a way that cannot be resolved statically
(passed to a function, ``getattr`` with a computed name) makes the chapter depend on the whole
library: conservative, never stale.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat

from bookbuild.config import Config
from bookbuild.util import package_versions
from importgraph import Library, file_digest
from importgraph import parse as _parse

__all__ = [
    "ChapterKey",
    "Library",
    "chapter_key",
    "code_sources",
    "data_digest",
    "data_files",
    "read_notebook",
]


def read_notebook(path: Path, memo=None, digest: Callable[[Path], str] = file_digest) -> nbformat.NotebookNode:
    """Read a chapter (MyST Markdown or ``.ipynb``) exactly as myst-nb does (so cache hashes agree).

    ``memo``: a :class:`bookbuild.planmemo.ChapterMemo`, which returns the notebook read last time
    if the file's content (its ``digest``, :class:`bookbuild.digests.Digests`) is the same.
    """

    def read():
        text = path.read_text(encoding="utf8")
        if path.suffix == ".ipynb":  # myst-nb's standard_nb_read
            return nbformat.reads(text, as_version=4)
        from myst_nb.core.read import read_myst_markdown_notebook  # the renderer: imported when needed

        return read_myst_markdown_notebook(text, path=path)

    return memo.notebook(digest(path), read) if memo is not None else read()


def code_sources(nb: nbformat.NotebookNode) -> list[str]:
    """The source of every code cell, in order."""
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def data_files(config: Config, profile: str) -> dict[str, Path]:
    """The data files a profile reads (``[[tool.bookbuild.data]]``), by a machine-independent label.

    Each is labelled ``<spec label>/<path under its folder>``, so the same files in another folder
    (another machine's cache) give the same key.
    """
    found = {}
    for spec in config.data_for(profile):
        root = spec.folder()
        for p in root.glob(spec.pattern):
            if p.is_file():
                found[f"{spec.label}/{p.relative_to(root)}"] = p
    return dict(sorted(found.items()))


def data_digest(config: Config, profile: str, digest: Callable[[Path], str] = file_digest) -> dict[str, str]:
    """``{label: sha256}`` of the profile's data files (``digest``: the build's :class:`~bookbuild.digests.Digests`)."""
    return {label: digest(p) for label, p in data_files(config, profile).items()}


@dataclass(frozen=True)
class ChapterKey:
    """A chapter's execution key and what went into it (kept with the executed notebook)."""

    key: str
    components: dict

    def diff(self, other: dict) -> list[str]:
        """Human-readable reasons why ``other`` (older components) differs from these."""
        reasons = []
        for part in ("code", "kernel", "profile", "env", "packages", "data"):
            if self.components.get(part) != other.get(part):
                reasons.append(f"{part} changed")
        mine, theirs = self.components.get("modules", {}), other.get("modules", {})
        for mod in sorted(set(mine) | set(theirs)):
            if mine.get(mod) != theirs.get(mod):
                reasons.append(
                    f"{mod} changed"
                    if mod in mine and mod in theirs
                    else f"now imports {mod}"
                    if mod in mine
                    else f"no longer imports {mod}"
                )
        return reasons


def chapter_key(
    nb: nbformat.NotebookNode,
    where: str,
    library: Library,
    profile: str,
    data: dict[str, str] | None = None,
    config: Config | None = None,
    memo=None,
    library_digest: str = "",
    digest: Callable[[Path], str] = file_digest,
) -> ChapterKey:
    """Hash everything the outputs of notebook ``nb`` depend on.

    ``memo`` (with ``library_digest``, see :mod:`bookbuild.planmemo`): reuse the modules found last
    time if the code cells and every library file are the same. ``digest``: a file's SHA-256 (the
    build's :class:`~bookbuild.digests.Digests`).
    """
    sources = code_sources(nb)

    def find_modules() -> set[str]:
        for i, src in enumerate(sources):  # locate syntax errors per cell first
            _parse(src, f"{where}, code cell {i + 1}")
        # One namespace for the whole notebook: an alias imported in one cell is used in others.
        return library.closure(library.direct_imports("\n\n".join(sources), where))

    modules = memo.modules(library_digest, sources, find_modules) if memo is not None else find_modules()
    components = {
        "code": hashlib.sha256(json.dumps(sources).encode()).hexdigest(),
        "kernel": nb.metadata.get("kernelspec", {}).get("name", ""),
        "modules": {m: digest(library.file(m)) for m in sorted(modules)},
        "profile": profile,
        "env": {k: os.environ.get(k, "") for k in (config.key_env if config else ())},
        "packages": package_versions(config.key_packages if config else ()),
        "data": data or {},
    }
    key = hashlib.sha256(json.dumps(components, sort_keys=True).encode()).hexdigest()[:20]
    return ChapterKey(key, components)
