"""Steps 4 and 5 of a build: hand the outputs to myst-nb through jupyter-cache, then run Sphinx.

:func:`render_stamp` says whether anything the site is made from changed since the last render
(if not, Sphinx is not even started); :func:`sync_jupyter_cache` puts each chapter's stored outputs
where myst-nb looks them up, so Sphinx only renders; :func:`sphinx` runs jupyter-book's Sphinx
build in this process, with its log in a file, and reports its warnings and any notebook myst-nb
executed itself (which would mean the store and jupyter-cache disagree).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from bookbuild.book import Paths, Site
from bookbuild.config import Config
from bookbuild.deps import code_sources
from bookbuild.execute import Outcome
from bookbuild.inprocess import jupyter_book_build
from bookbuild.record import ANSI
from bookbuild.store import Store
from bookbuild.util import atomic_write, package_versions
from importgraph import file_digest

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
# What Sphinx reads: pages, bibliographies, configuration, images, the library's docstrings.
SOURCE_SUFFIXES = (".md", ".ipynb", ".bib", ".yml", ".yaml", ".png", ".svg", ".jpg", ".css", ".js", ".html", ".py")
SKIP_DIRS = {"__pycache__", "node_modules"}


def _files(source: Path):
    if source.is_file():
        yield source
        return
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_build")) and d not in SKIP_DIRS)
        for name in sorted(files):
            if name.endswith(SOURCE_SUFFIXES):
                yield Path(folder) / name


def render_stamp(config: Config, outcomes: list[Outcome], digest: Callable[[Path], str] = file_digest) -> dict:
    """Everything the rendered site depends on: its sources, the chapters' keys, the renderer's versions.

    The sources are :meth:`Config.site_sources` (the pages' folders, the library, whose docstrings the
    API reference renders, the configuration); each file counts by its content (``digest``: the
    build's :class:`~bookbuild.digests.Digests`, which reads only what changed).
    """
    sources = {}
    for source in config.site_sources():
        for f in _files(source):
            sources[str(f.relative_to(config.root))] = digest(f)
    versions = {k: v for k, v in package_versions(RENDER_PACKAGES).items() if k != "python"}
    return {
        "sources": sources,
        "keys": {o.chapter.docname: o.chapter.key.key for o in outcomes},
        "renderer": versions,
        "bookbuild": renderer_code_digest(digest),
    }


# bookbuild's own code: its Sphinx extension and what it calls decide what every page looks like.
RENDERER_CODE = Path(__file__).resolve().parent


def renderer_code_digest(digest: Callable[[Path], str] = file_digest) -> str:
    """A digest of bookbuild's own modules (:data:`RENDERER_CODE`), names and contents."""
    h = hashlib.sha256()
    for f in sorted(RENDERER_CODE.glob("*.py")):
        h.update(f"{f.name}\0{digest(f)}\0".encode())
    return h.hexdigest()


def renderer_changed(previous: dict, stamp: dict) -> bool:
    """Whether the last render (``previous``, its stamp) used other renderer versions or bookbuild code.

    Sphinx re-reads a page when its source changed, not when the extension that turns it into HTML
    did: after such a change every page must be read again, or the pages keep the old rendering.
    """
    return bool(previous) and any(previous.get(k) != stamp.get(k) for k in ("renderer", "bookbuild"))


def load_stamp(paths: Paths) -> dict:
    try:
        return json.loads(paths.render_stamp.read_text())
    except (OSError, ValueError):
        return {}


def save_stamp(paths: Paths, stamp: dict) -> None:
    atomic_write(paths.render_stamp, json.dumps(stamp))


def _open_cache(cache_dir: Path):
    # Imported here, not at the top: a build with nothing to render never pays for jupyter-cache
    # (SQLAlchemy), which is a third of a no-op build's time.
    from jupyter_cache import get_cache

    try:
        cache = get_cache(cache_dir)
        cache.list_cache_records()
        return cache
    except Exception:  # noqa: BLE001 -- a broken derived cache is rebuilt, not trusted
        shutil.rmtree(cache_dir, ignore_errors=True)
        return get_cache(cache_dir)


def sync_jupyter_cache(cache_dir: Path, outcomes: list[Outcome], store: Store) -> None:
    """Put each chapter's stored outputs into myst-nb's jupyter-cache, keyed as myst-nb will look them up.

    jupyter-cache is derived data: if it cannot be opened it is rebuilt from the store.
    """
    from jupyter_cache.base import CacheBundleIn  # (see _open_cache)

    cache = _open_cache(cache_dir)
    # Each record carries the key of the outputs it holds. jupyter-cache matches a notebook on its
    # code cells, which are part of the key, so a chapter whose key has a record (a prose-only edit)
    # is served from it; one query, no notebook hashed or read.
    present = {(r.data or {}).get("bookbuild_key") for r in cache.list_cache_records()}
    for o in outcomes:
        if o.status not in ("cached", "executed"):
            continue
        ch = o.chapter
        if ch.key.key in present:
            continue
        entry = store.get(ch.name, ch.key.key, code_sources(ch.nb))
        merged = copy.deepcopy(ch.nb)
        stored_cells = [c for c in entry.nb.cells if c.cell_type == "code"]
        for cell, done in zip((c for c in merged.cells if c.cell_type == "code"), stored_cells, strict=False):
            cell.outputs = done.get("outputs", [])
            cell.execution_count = done.get("execution_count")
        cache.cache_notebook_bundle(
            CacheBundleIn(merged, str(ch.path), data={"bookbuild_key": ch.key.key}), overwrite=True
        )


def sphinx(root: Path, site: Site, strict: bool, all_pages: bool, say: Callable[[str], None]) -> int:
    """Run jupyter-book's Sphinx build of ``site``; its log goes to a file, warnings are summarised.

    ``strict``: nitpicky, warnings are errors (all reported first), every page re-read, and a
    notebook myst-nb executes itself fails the build.
    """
    cmd = ["build", str(root)]
    if site.toc is not None:
        cmd += ["--toc", str(site.toc)]
    cmd += ["--path-output", str(site.out), "--builder", "html"]
    if strict:
        cmd += ["-n", "-W", "--keep-going"]
    if strict or all_pages:
        cmd += ["--all"]
    start = time.perf_counter()
    # In this process, not a child: no second interpreter, no second import of what bookbuild
    # already imported (and the preview's rebuilds start with the renderer imported).
    rc = jupyter_book_build(cmd, site.log, cwd=root)
    return report(site, rc, strict, start, say)


def report(site: Site, rc: int, strict: bool, start: float, say: Callable[[str], None]) -> int:
    """Summarise a Sphinx run from its log (``site.log``): time, warnings, notebooks myst-nb executed; its status.

    (Also the report of :class:`bookbuild.resident.ResidentSphinx`, the preview's renderer.)
    """
    text = ANSI.sub("", site.log.read_text())
    warnings = [line for line in text.splitlines() if "WARNING" in line and "IPKernelApp" not in line]
    executed = [line for line in text.splitlines() if "Executing notebook" in line]
    say(f"  rendered the site in {time.perf_counter() - start:.1f} s ({len(warnings)} warnings; log: {site.log})")
    for line in warnings[:30]:
        say(f"    {line.strip()}")
    if executed:
        say("  myst-nb executed notebooks itself, so the execution store and jupyter-cache disagree:")
        for line in executed:
            say(f"    {line.strip()}")
        if strict:
            return 1
    if rc != 0:
        say(f"error: the Sphinx build failed (exit {rc}); see {site.log}")
        tail = [line for line in text.splitlines() if line.strip()][-15:]
        say("\n".join("    " + line for line in tail))
    return rc
