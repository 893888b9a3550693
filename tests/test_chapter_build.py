"""`make chapter CH=x` (``bookbuild chapter x``) goes through the dependency-keyed store, like `make book`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from minibook import bookbuild_cmd, env_for, make_book, printed

pytestmark = pytest.mark.skipif(
    not (Path(sys.executable).parent / "jupyter-book").exists(), reason="jupyter-book not installed"
)


def chapter(root: Path, name: str) -> tuple[int, str]:
    done = subprocess.run(bookbuild_cmd(root, "chapter", name), capture_output=True, text=True, env=env_for(root))
    return done.returncode, done.stdout + done.stderr


def test_library_edit_shows_up_in_a_single_chapter_build(tmp_path):
    root = make_book(tmp_path / "book")
    page = root / "_build" / "chapter-b" / "_build" / "html" / "b.html"
    rc, out = chapter(root, "b")
    assert rc == 0, out
    assert re.search(r"\bb\s+executed\s", out) and printed(page.read_text()) == "6"
    html = page.read_text()
    assert "a.html" not in html and "notes.html" in html  # the chapter alone, with the reference pages

    rc, out = chapter(root, "b")
    assert rc == 0 and re.search(r"\bb\s+cached\s", out) and not re.search(r"\bb\s+executed\s", out), out

    # b imports minilib.extra, which imports minilib.core: editing core re-executes b.
    (root / "src" / "minilib" / "core.py").write_text("SCALE = 7\n")
    rc, out = chapter(root, "b")
    assert rc == 0, out
    assert re.search(r"\bb\s+executed\s", out)
    assert printed(page.read_text()) == "21"

    # The whole-book build reuses what the chapter build executed.
    done = subprocess.run(
        bookbuild_cmd(root, "build", "--jobs", "1"), capture_output=True, text=True, env=env_for(root)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        re.search(r"\bb\s+cached\s", done.stdout) and printed((root / "_build" / "html" / "b.html").read_text()) == "21"
    )


def test_failing_chapter_renders_nothing_and_unknown_names_are_errors(tmp_path):
    root = make_book(tmp_path / "book")
    (root / "a.md").write_text(
        (root / "a.md").read_text().replace("print(core.SCALE * 10)", "raise ValueError('bad cell')")
    )
    rc, out = chapter(root, "a")
    assert rc == 1 and "bad cell" in out and "nothing was rendered" in out
    assert not (root / "_build" / "chapter-a" / "_build" / "html").exists()
    rc, out = chapter(root, "nope")
    assert rc == 2 and "unknown chapter" in out and "a, b" in out
