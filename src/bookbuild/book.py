"""Where things are: the book's pages (from ``_toc.yml``) and the build's files (under ``_build``).

The one home of both layouts. Every other module asks here which pages the book has, which of
them execute, where a page's source file is, and where the store, the manifest, the logs, the
memos and the rendered site live.

A page is a MyST Markdown notebook (``.md`` with a ``kernelspec`` in its front matter and
``{code-cell}`` blocks) or a Jupyter notebook (``.ipynb`` with at least one code cell); a page
that is neither (a glossary, an API reference page) is rendered but never executed.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

#: The suffixes a ``_toc.yml`` entry without one may stand for, in the order they are looked for.
PAGE_SUFFIXES = (".md", ".ipynb")

#: A chapter rendered alone reads its own manifest (written by :mod:`bookbuild.build`), not the book's.
MANIFEST_ENV = "BOOKBUILD_MANIFEST"

#: A page holding this directive (the build-status page) describes the whole book.
STATUS_DIRECTIVE = "{execution-status}"

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_name(docname: str) -> str:
    """A file-system-safe name for a chapter (``book/priors`` -> ``book__priors``)."""
    return _SAFE.sub("_", docname.replace("/", "__"))


def _toc_files(root: Path) -> list[str]:
    """Every ``file:`` of ``_toc.yml`` as written (root first), in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names = [str(toc["root"])]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                names.append(str(node["file"]))
            for k, v in node.items():
                if k != "file":
                    walk(v)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    return names


def _strip(name: str) -> str:
    for suffix in PAGE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def toc_docnames(root: Path) -> list[str]:
    """Every page of ``_toc.yml`` (root first), in reading order, without suffix (``book/priors``)."""
    return [_strip(n) for n in _toc_files(root)]


def source_path(root: Path, entry: str) -> Path:
    """The source file of a ``_toc.yml`` entry: the file it names, else ``<entry>.md`` or ``<entry>.ipynb``."""
    if entry.endswith(PAGE_SUFFIXES):
        path = root / entry
        if path.exists():
            return path
    else:
        for suffix in PAGE_SUFFIXES:
            path = root / f"{entry}{suffix}"
            if path.exists():
                return path
    raise FileNotFoundError(
        f"_toc.yml lists {entry!r} but none of {', '.join(str(root / _strip(entry)) + s for s in PAGE_SUFFIXES)} "
        "exists; add the file or fix _toc.yml"
    )


def pages(root: Path) -> list[tuple[str, Path]]:
    """``(docname, source file)`` of every page of ``_toc.yml``, root first."""
    return [(_strip(entry), source_path(root, entry)) for entry in _toc_files(root)]


def is_executable(path: Path) -> bool:
    """Whether the page at ``path`` has code to execute (see the module docstring)."""
    text = path.read_text(encoding="utf8")
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except ValueError as err:
            raise ValueError(f"{path} is not a readable Jupyter notebook ({err}); fix or replace the file") from None
        return any(isinstance(c, dict) and c.get("cell_type") == "code" for c in cells)
    return text.startswith("---") and "kernelspec:" in text.split("---", 2)[1] and "```{code-cell}" in text


def discover(root: Path, excluded: tuple[str, ...] = ()) -> list[tuple[str, Path]]:
    """The executable chapters of the book (``docname``, source file), minus the ``excluded`` patterns.

    ``excluded``: glob patterns on the source file's path relative to ``root`` (``_config.yml``'s
    ``execute.exclude_patterns``, :attr:`bookbuild.config.Config.exclude_patterns`).
    """
    found = []
    for doc, path in pages(root):
        rel = path.relative_to(root).as_posix()
        if any(fnmatch.fnmatch(rel, pat) for pat in excluded) or not is_executable(path):
            continue
        found.append((doc, path))
    return found


def chapter_toc(root: Path, docname: str) -> dict:
    """A table of contents holding the landing page, ``docname`` and the book's reference pages.

    The reference pages (glossary, bibliography) are every page without code cells, except the
    build-status page, which describes the whole book.
    """
    (landing, _), *rest = pages(root)
    kept = [
        doc
        for doc, path in rest
        if doc == docname or not (is_executable(path) or STATUS_DIRECTIVE in path.read_text(encoding="utf8"))
    ]
    if not is_numbered(root, docname):
        return {"format": "jb-book", "root": landing, "chapters": [{"file": d} for d in kept]}
    # Numbered in the book: numbered alone too, so its {numref}s to sections and figures resolve.
    others = [{"file": d} for d in kept if d != docname]
    return {
        "format": "jb-book",
        "root": landing,
        "parts": [{"numbered": True, "chapters": [{"file": docname}]}] + ([{"chapters": others}] if others else []),
    }


def is_numbered(root: Path, docname: str) -> bool:
    """Whether ``_toc.yml`` numbers ``docname``'s sections (``numbered`` on it, its part, or ``defaults``)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())

    def walk(node: object, numbered: bool) -> bool | None:
        if isinstance(node, list):
            for item in node:
                found = walk(item, numbered)
                if found is not None:
                    return found
            return None
        if not isinstance(node, dict):
            return None
        numbered = bool(node.get("numbered", numbered))
        if "file" in node and _strip(str(node["file"])) == docname:
            return numbered
        for key in ("parts", "chapters", "sections"):
            found = walk(node.get(key), numbered)
            if found is not None:
                return found
        return None

    default = bool((toc.get("defaults") or {}).get("numbered", False))
    return bool(walk({k: v for k, v in toc.items() if k != "root"}, default))


@dataclass(frozen=True)
class Site:
    """What one Sphinx run writes: the whole book, or one chapter alone (its own table of contents).

    jupyter-book writes under ``<out>/_build`` (``html``, ``.doctrees``, ``.jupyter_cache``).
    """

    out: Path
    log: Path
    toc: Path | None = None

    @property
    def html(self) -> Path:
        return self.out / "_build" / "html"

    @property
    def jupyter_cache(self) -> Path:
        return self.out / "_build" / ".jupyter_cache"


class Paths:
    """Where a build keeps its state, under ``<root>/_build`` (``<root>/_build/standin`` for a stand-in run)."""

    def __init__(self, root: Path, standin: bool = False) -> None:
        self.root = root
        # A stand-in run keeps its store, manifest and logs apart from the real ones (Config.standin).
        self.build = root / "_build" / "standin" if standin else root / "_build"
        self.store = self.build / "exec-store"
        self.manifest = self.build / "exec-manifest.json"
        self.logs = self.build / "logs"
        self.digests = self.build / "file-digests.json"
        self.plan_memo = self.build / "plan-memo"
        self.render_stamp = self.build / "render-stamp.json"

    def book_site(self) -> Site:
        """The whole book: ``<root>/_build/html``."""
        return Site(self.root, self.logs / "sphinx.log")

    def chapter_site(self, docname: str) -> Site:
        """One chapter alone: ``<build>/chapter-<name>/_build/html``, its table of contents beside it."""
        name = Path(docname).name
        out = self.build / f"chapter-{name}"
        return Site(out, self.logs / f"chapter-{name}.sphinx.log", out / "_toc.yml")
