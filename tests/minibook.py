"""The mini book every bookbuild test builds, made in a temporary folder.

Two chapters: ``a`` prints ``10 * minilib.core.SCALE``; ``b`` prints ``minilib.extra.triple()``,
which is ``3 * minilib.core.SCALE`` (``minilib.extra`` imports ``minilib.core``); ``minilib.unused``
is imported by nobody; ``notes`` is a reference page without code. Its ``[tool.bookbuild]`` table
uses names of its own (``MINI_PROFILE``, ``MINI_CACHE``), so nothing of the real book leaks in.

In-process helpers (:func:`run`: plan and execute) and command-line ones (:func:`bookbuild_cmd`,
:func:`env_for`, :func:`printed`) for end-to-end tests that render the book.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from bookbuild import config as config_mod
from bookbuild import results
from bookbuild.execute import execute
from bookbuild.plan import plan
from bookbuild.store import Store

FRONT = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    """)

PYPROJECT = textwrap.dedent("""\
    [tool.bookbuild]
    package = "minilib"
    library_root = "src"
    profile_env = "MINI_PROFILE"
    profiles = ["lite", "full"]
    key_env = ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED", "MINI_KEYED"]
    key_packages = ["numpy"]
    kernel_env = {OMP_NUM_THREADS = "1", MKL_NUM_THREADS = "1", PYTHONHASHSEED = "0", MINI_KERNEL_ONLY = "k"}

    [[tool.bookbuild.data]]
    profiles = ["full"]
    label = "mini-cache"
    root_env = "MINI_CACHE"
    default = "~/.cache/minilib-never-there"
    pattern = "data/raw/*"
    """)


def chapter(title: str, prose: str, code: str) -> str:
    return FRONT + f"# {title}\n\n{prose}\n\n```{{code-cell}} ipython3\n{code}\n```\n"


def write_minilib(root: Path) -> Path:
    """The mini books' library, ``root/src/minilib``: ``core`` (SCALE = 2) and ``extra`` (imports core)."""
    lib = root / "src" / "minilib"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text("")
    (lib / "core.py").write_text("SCALE = 2\n")
    (lib / "extra.py").write_text("from minilib import core\n\ndef triple():\n    return 3 * core.SCALE\n")
    (root / "pyproject.toml").write_text(PYPROJECT)
    return lib


def make_book(root: Path) -> Path:
    lib = write_minilib(root)
    (lib / "unused.py").write_text("X = 1\n")
    (root / "_config.yml").write_text(
        "title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: cache\n"
        "sphinx:\n  extra_extensions: [bookbuild.sphinx_ext]\n"
    )
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: index\nchapters:\n  - file: a\n  - file: b\n  - file: notes\n"
    )
    (root / "index.md").write_text("# Index\n\nSee the {doc}`notes`.\n")
    (root / "notes.md").write_text("# Notes\n\nReference material.\n")
    (root / "a.md").write_text(chapter("A", "Prose of A.", "import minilib.core as core\nprint(core.SCALE * 10)"))
    (root / "b.md").write_text(chapter("B", "Prose of B.", "from minilib import extra\nprint(extra.triple())"))
    return root


@pytest.fixture
def book(tmp_path, monkeypatch):
    root = make_book(tmp_path / "book")
    monkeypatch.setenv("PYTHONPATH", str(root / "src"))  # the kernels import minilib from here
    monkeypatch.delenv("MINI_PROFILE", raising=False)
    for name, value in (("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"), ("PYTHONHASHSEED", "0")):
        monkeypatch.setenv(name, value)
    return root


def run(
    root: Path,
    jobs: int = 2,
    only=None,
    store: Store | None = None,
    force: bool = False,
    previous: dict | None = None,
    profile: str = "lite",
):
    """Plan and execute; returns {chapter: status} and the outcomes."""
    store = store or Store(root / "_build" / "exec-store")
    config = config_mod.load(root)
    chapters = plan(config, profile, only)
    outcomes = execute(
        chapters,
        store,
        jobs,
        60,
        "test-device",
        profile,
        lambda m: None,
        force=force,
        previous=previous,
        library=config.library(),
    )
    for o in outcomes:  # shown by pytest when the test fails: why a chapter failed
        if o.status == "failed":
            print(f"{o.chapter.docname} failed: {o.error}")
    return {o.chapter.docname: o.status for o in outcomes}, outcomes


def components(outcomes) -> dict:
    """What a build's manifest keeps for re-execution reasons: ``{docname: {"components": ...}}``."""
    return {o.chapter.docname: {"components": o.chapter.key.components} for o in outcomes}


def output_text(outcome, store: Store) -> str:
    entry = store.get(outcome.chapter.name, outcome.chapter.key.key)
    return "".join(o.get("text", "") for c in entry.nb.cells if c.cell_type == "code" for o in c.outputs)


def env_for(root: Path) -> dict:
    """The kernels import minilib from the book's src folder."""
    return {**os.environ, "PYTHONPATH": str(root / "src"), "LECTUREKIT_PROFILE": "lite"}


def bookbuild_cmd(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bookbuild", "--root", str(root), "--package", "minilib", *args]


def printed(html: str) -> str:
    """The text of a page's first code-cell output."""
    m = re.search(r'class="cell_output[^"]*".*?<pre>(.*?)</pre>', html, flags=re.S)
    assert m, "no code-cell output on the page"
    return re.sub(r"<[^>]+>", "", m.group(1)).strip()


def glued_output(name: str, data: dict, prefix: str = results.GLUE_PREFIX, kind: str = "display_data"):
    """A notebook output as myst-nb's ``glue`` writes it (``{mime: value}`` under ``prefix``)."""
    payload = {f"{prefix}{mime}": value for mime, value in data.items()}
    out = nbformat.v4.new_output(kind, data=payload, metadata={"scrapbook": {"name": name, "mime_prefix": prefix}})
    if kind == "execute_result":
        out.execution_count = 1
    return out
