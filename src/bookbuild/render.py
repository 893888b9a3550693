"""Rendering: the execution manifest, the render stamp, failure reports and the Sphinx run.

The driver (:mod:`bookbuild.cli`) executes chapters, then calls into this module:
:func:`report_failures` stops a build that must not be rendered, :func:`write_manifest` records
what produced each chapter's outputs (the status page renders it), :func:`render_stamp` tells
whether anything the site depends on changed since the last render, and :func:`sphinx` runs
jupyter-book's Sphinx build with its log in a file.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bookbuild import standin
from bookbuild.execute import Outcome
from bookbuild.util import atomic_write, package_versions

ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Packages whose versions change the rendered HTML.
RENDER_PACKAGES = (
    "jupyter-book",
    "sphinx",
    "myst-nb",
    "myst-parser",
    "sphinx-book-theme",
    "sphinx-design",
    "sphinx-exercise",
    "sphinxcontrib-bibtex",
)
# What Sphinx reads: pages, bibliographies, configuration, images; and folders it never reads.
SOURCE_SUFFIXES = (".md", ".ipynb", ".bib", ".yml", ".yaml", ".png", ".svg", ".jpg", ".css", ".html")
SKIP_DIRS = {"node_modules", "__pycache__", "src", "tests", "benchmarks", "tools"}


class Paths:
    """Where a build keeps its state, under ``<root>/_build``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # A stand-in run keeps its store, manifest and logs apart from the real ones (bookbuild.standin).
        self.build = root / "_build" / "standin" if standin.active(root, os.environ) else root / "_build"
        self.store = self.build / "exec-store"
        self.jupyter_cache = self.build / ".jupyter_cache"
        self.manifest = self.build / "exec-manifest.json"
        self.logs = self.build / "logs"
        self.memo = self.build / "data-digests.json"
        self.render_stamp = self.build / "render-stamp.json"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def load_manifest(paths: Paths) -> dict:
    """The last build's manifest (``{}`` if there is none or it is unreadable)."""
    return _read_json(paths.manifest)


def previous_components(paths: Paths) -> dict:
    """``{docname: {"components": ...}}`` of the last build: what re-execution reasons compare with."""
    return load_manifest(paths).get("chapters", {})


def manifest(outcomes: list[Outcome], profile: str, device: str) -> dict:
    """What produced each chapter's outputs (the status page's data)."""
    chapters = {}
    for o in outcomes:
        chapters[o.chapter.docname] = {
            "key": o.chapter.key.key,
            "status": o.status,
            "seconds": round(o.seconds, 2),
            "executed_at": o.meta.get("executed_at"),
            "profile": o.meta.get("profile", profile),
            "device": o.meta.get("device", device),
            "packages": o.meta.get("packages", {}),
            "components": o.chapter.key.components,
            "reasons": o.reasons,
            "results": o.meta.get("results"),
        }
    return {"profile": profile, "device": device, "chapters": chapters}


def write_manifest(paths: Paths, data: dict) -> None:
    """Write the manifest; rewritten only when its content changes.

    The status page renders it, and Sphinx re-reads that page when it changes, so it holds no
    build timestamp: a build that changed nothing leaves it, and the page, as they are.
    """
    text = json.dumps(data, indent=1)
    if paths.manifest.exists() and paths.manifest.read_text() == text:
        return
    atomic_write(paths.manifest, text)


def render_stamp(paths: Paths, outcomes: list[Outcome], library: Path | None = None) -> dict:
    """Everything the rendered site depends on: page sources, configuration, outputs, renderer versions.

    ``library``: the documented package's folder; its modules count as sources, since the book's
    API reference renders their docstrings (autodoc), so a docstring edit re-renders.
    """
    sources = {}
    for f in sorted(library.rglob("*.py")) if library else ():
        st = f.stat()
        sources[str(f.relative_to(paths.root))] = [st.st_mtime_ns, st.st_size]
    for folder, dirs, files in os.walk(paths.root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_build")) and d not in SKIP_DIRS)
        for name in files:
            if name.endswith(SOURCE_SUFFIXES):
                f = Path(folder) / name
                st = f.stat()
                sources[str(f.relative_to(paths.root))] = [st.st_mtime_ns, st.st_size]
    versions = {k: v for k, v in package_versions(RENDER_PACKAGES).items() if k != "python"}
    return {"sources": sources, "keys": {o.chapter.docname: o.chapter.key.key for o in outcomes}, "renderer": versions}


def load_stamp(paths: Paths) -> dict:
    return _read_json(paths.render_stamp)


def save_stamp(paths: Paths, stamp: dict) -> None:
    atomic_write(paths.render_stamp, json.dumps(stamp))


def changed_since(previous: dict, outcomes: list[Outcome]) -> list[Outcome]:
    """Chapters whose outputs (keys) changed since the render that wrote the stamp ``previous``."""
    return [o for o in outcomes if previous.get("keys", {}).get(o.chapter.docname) != o.chapter.key.key]


def report_failures(paths: Paths, outcomes: list[Outcome], strict: bool, say: Callable[[str], None]) -> bool:
    """Print (and log to ``_build/logs``) every failed chapter; True if the build must stop."""
    failed = False
    paths.logs.mkdir(parents=True, exist_ok=True)
    for o in outcomes:
        if o.status == "failed":
            failed = True
            log = paths.logs / f"{o.chapter.name}.error.txt"
            text = ANSI.sub("", o.error)
            atomic_write(log, text)
            lines = text.strip().splitlines()
            say(f"\nerror: {o.chapter.docname} failed to execute ({o.chapter.path}):")
            say("\n".join("    " + line for line in lines[-25:]))
            say(f"    (full report: {log})")
        elif strict and o.meta.get("stderr"):
            failed = True
            say(f"\nerror: {o.chapter.docname} wrote to stderr (warnings fail a strict build):")
            say("\n".join("    " + s for s in o.meta["stderr"]))
    return failed


def sphinx(paths: Paths, strict: bool, all_pages: bool, say: Callable[[str], None]) -> int:
    """Run jupyter-book's Sphinx build; its log goes to a file, warnings are summarised."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    log = paths.logs / "sphinx.log"
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        str(paths.root),
        "--path-output",
        str(paths.root),
        "--builder",
        "html",
    ]
    if strict:
        cmd += ["-n", "-W", "--keep-going"]
    if strict or all_pages:
        cmd += ["--all"]
    start = time.perf_counter()
    # In this process, not a child: no second interpreter, no second import of what bookbuild
    # already imported (and the preview's rebuilds start with the renderer imported).
    from bookbuild.inprocess import jupyter_book_build

    rc = jupyter_book_build(cmd[1:], log, cwd=paths.root)
    text = ANSI.sub("", log.read_text())
    warnings = [line for line in text.splitlines() if "WARNING" in line and "IPKernelApp" not in line]
    executed = [line for line in text.splitlines() if "Executing notebook" in line]
    say(f"  rendered the site in {time.perf_counter() - start:.1f} s ({len(warnings)} warnings; log: {log})")
    for line in warnings[:30]:
        say(f"    {line.strip()}")
    if executed:
        say("  myst-nb executed notebooks itself, so the execution store and jupyter-cache disagree:")
        for line in executed:
            say(f"    {line.strip()}")
        if strict:
            return 1
    if rc != 0:
        say(f"error: the Sphinx build failed (exit {rc}); see {log}")
        tail = [line for line in text.splitlines() if line.strip()][-15:]
        say("\n".join("    " + line for line in tail))
    return rc
