"""A small book in a temporary folder, for tests that build and render it end to end.

Two chapters: ``a`` prints ``10 * minilib.core.SCALE``; ``b`` prints ``minilib.extra.triple()``,
which is ``3 * minilib.core.SCALE``; ``notes`` is a reference page without code.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from bookbuild_minibook import chapter, write_minilib  # one front matter and library for every mini book


def make_book(root: Path) -> Path:
    write_minilib(root)
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
