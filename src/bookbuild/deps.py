"""What a chapter's outputs depend on, and the execution key that hashes all of it.

A chapter's key covers: its code cells (and kernel), every module of the library it imports --
directly or through other library modules, found from the static import graph --, the active
profile, the versions of the packages that compute its numbers, the data and pretrained files of
the profile, and the execution settings that change numerics (thread counts). Prose, headings,
captions and cell tags are not part of it.

Library imports are found by reading source with :mod:`ast`: ``import lib``, ``from lib.x import
y``, relative imports, and attribute chains on an imported package (``lk.metrics.pca.project``
depends on ``lib.metrics.pca``). A package name used in a way that cannot be resolved statically
(passed to a function, ``getattr`` with a computed name) makes the chapter depend on the whole
library: conservative, never stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import nbformat

from importgraph import Library, file_digest
from importgraph import parse as _parse

# Packages whose versions change the numbers a chapter prints.
NUMERIC_PACKAGES = ("torch", "torchvision", "timm", "numpy", "scipy", "scikit-learn", "matplotlib", "pandas")
# Environment variables that change numerics or what is loaded.
KEY_ENV = ("LECTUREKIT_PROFILE", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED")


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read a MyST Markdown notebook exactly as myst-nb does (so cache hashes agree)."""
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(path.read_text(encoding="utf8"), path=path)


def code_sources(nb: nbformat.NotebookNode) -> list[str]:
    """The source of every code cell, in order."""
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


@lru_cache(maxsize=None)
def package_versions(names: tuple[str, ...] = NUMERIC_PACKAGES) -> dict[str, str]:
    """Installed versions (``"absent"`` when not installed), plus Python's."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def data_files(profile: str) -> dict[str, Path]:
    """The data and pretrained files a profile reads, by a machine-independent label.

    None for ``lite`` (its data ships inside scikit-learn, whose version is in the key). For
    ``full``: MNIST's raw files under the lecturekit cache and the torch hub checkpoints (the
    DINOv2 architecture comes from timm, whose version is in the key).
    """
    if profile != "full":
        return {}
    roots = {
        "lecturekit-cache": Path(os.environ.get("LECTUREKIT_CACHE") or Path.home() / ".cache" / "lecturekit"),
        "torch-home": Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch"),
    }
    patterns = [("lecturekit-cache", "data/MNIST/raw/*"), ("torch-home", "hub/checkpoints/*")]
    found = {}
    for root_name, pattern in patterns:
        root = roots[root_name]
        for p in root.glob(pattern):
            if p.is_file():
                found[f"{root_name}/{p.relative_to(root)}"] = p
    return dict(sorted(found.items()))


def data_digest(profile: str, memo_file: Path | None = None) -> dict[str, str]:
    """``{label: sha256}`` of the profile's data files, memoized on (path, size, mtime)."""
    memo: dict[str, str] = {}
    if memo_file and memo_file.exists():
        try:
            memo = json.loads(memo_file.read_text())
        except (ValueError, OSError):
            memo = {}
    out = {}
    for label, p in data_files(profile).items():
        st = p.stat()
        k = f"{p}|{st.st_size}|{st.st_mtime_ns}"
        if k not in memo:
            memo[k] = file_digest(p)
        out[label] = memo[k]
    if memo_file and out:
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        memo_file.write_text(json.dumps(memo, indent=0))
    return out


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
                reasons.append(f"{mod} changed" if mod in mine and mod in theirs else
                               f"now imports {mod}" if mod in mine else f"no longer imports {mod}")
        return reasons


def chapter_key(nb: nbformat.NotebookNode, where: str, library: Library, profile: str,
                data: dict[str, str] | None = None) -> ChapterKey:
    """Hash everything the outputs of notebook ``nb`` depend on."""
    sources = code_sources(nb)
    for i, src in enumerate(sources):  # locate syntax errors per cell first
        _parse(src, f"{where}, code cell {i + 1}")
    # One namespace for the whole notebook: an alias imported in one cell is used in others.
    modules = library.closure(library.direct_imports("\n\n".join(sources), where))
    components = {
        "code": hashlib.sha256(json.dumps(sources).encode()).hexdigest(),
        "kernel": nb.metadata.get("kernelspec", {}).get("name", ""),
        "modules": {m: file_digest(library.file(m)) for m in sorted(modules)},
        "profile": profile,
        "env": {k: os.environ.get(k, "") for k in KEY_ENV if k != "LECTUREKIT_PROFILE"},
        "packages": package_versions(),
        "data": data or {},
    }
    key = hashlib.sha256(json.dumps(components, sort_keys=True).encode()).hexdigest()[:20]
    return ChapterKey(key, components)


_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_name(docname: str) -> str:
    """A file-system-safe name for a chapter (``book/priors`` -> ``book__priors``)."""
    return _SAFE.sub("_", docname.replace("/", "__"))

