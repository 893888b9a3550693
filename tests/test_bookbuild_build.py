"""bookbuild.build, the pipeline end to end on the mini book: ``build`` renders what changed, ``chapter``
renders one chapter alone, ``execute`` never renders a stand-in run and checks the glue keys instead.

The commands run in this process (:func:`minibook.bookbuild_here`, the command line's ``cli.main``
with real kernels and real Sphinx builds): a new interpreter per command, importing the renderer
each time, was most of these tests' CPU. ``python -m bookbuild`` itself runs as a child process in
tests/test_bookbuild_diff.py, tests/test_nbval_loop.py and tests/test_preview_resident.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from minibook import FRONT, book, bookbuild_here, chapter, make_book, printed, seed  # noqa: F401 -- book is a fixture

import bookbuild

pytestmark = pytest.mark.skipif(
    not (Path(sys.executable).parent / "jupyter-book").exists(), reason="jupyter-book not installed"
)


def test_rendered_page_follows_a_library_edit_without_touching_the_chapter(book, minibook_store):
    """Sphinx re-reads a page whose outputs changed even though its source did not."""
    seed(book, minibook_store)  # the first build renders stored outputs; the library edit below executes
    (book / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: cache\nsphinx:\n  extra_extensions: [bookbuild.sphinx_ext]\n"
    )
    # The bookbuild of the tree under test (not whichever is installed), and the book's library.
    tree_src = Path(bookbuild.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree_src), str(book / "src")])}

    def build():
        done = bookbuild_here(book, "build", "--jobs", "2", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(f"bookbuild (from {tree_src / 'bookbuild'}):"), done.stdout[:300]
        return done.stdout, (book / "_build" / "html" / "b.html").read_text()

    out, html = build()
    assert re.search(r"\bb\s+cached\s", out) and re.search(r"</span>6\s*</pre>", html)
    core = book / "src" / "minilib" / "core.py"
    core.write_text("SCALE = 7\n")
    out, html = build()
    assert re.search(r"b\s+executed", out) and re.search(r"</span>21\s*</pre>", html)  # source untouched
    out, _ = build()
    assert "site is up to date" in out  # nothing changed: Sphinx is not even started
    (book / "a.md").write_text((book / "a.md").read_text().replace("Prose of A.", "New prose of A."))
    out, _ = build()
    assert "rendered the site" in out and "New prose of A." in (book / "_build" / "html" / "a.html").read_text()
    assert "Executing notebook" not in (book / "_build" / "logs" / "sphinx.log").read_text()
    # A prose edit finds its jupyter-cache record by key; a record that is gone is put back from
    # the store, so myst-nb never executes a chapter itself.
    from jupyter_cache import get_cache

    cache = get_cache(book / "_build" / ".jupyter_cache")
    (gone,) = [r for r in cache.list_cache_records() if r.uri.endswith("a.md")]
    cache.remove_cache(gone.pk)
    (book / "a.md").write_text((book / "a.md").read_text().replace("New prose of A.", "Newer prose of A."))
    out, _ = build()
    assert "Newer prose of A." in (book / "_build" / "html" / "a.html").read_text()
    assert "Executing notebook" not in (book / "_build" / "logs" / "sphinx.log").read_text()
    assert sorted(r.uri.rsplit("/", 1)[-1] for r in cache.list_cache_records()) == ["a.md", "b.md"]


def chapter_cmd(root: Path, name: str) -> tuple[int, str]:
    done = bookbuild_here(root, "chapter", name)
    return done.returncode, done.stdout + done.stderr


def test_library_edit_shows_up_in_a_single_chapter_build(tmp_path):
    root = make_book(tmp_path / "book")
    page = root / "_build" / "chapter-b" / "_build" / "html" / "b.html"
    rc, out = chapter_cmd(root, "b")
    assert rc == 0, out
    assert re.search(r"\bb\s+executed\s", out) and printed(page.read_text()) == "6"
    html = page.read_text()
    assert "a.html" not in html and "notes.html" in html  # the chapter alone, with the reference pages

    rc, out = chapter_cmd(root, "b")
    assert rc == 0 and re.search(r"\bb\s+cached\s", out) and not re.search(r"\bb\s+executed\s", out), out

    # b imports minilib.extra, which imports minilib.core: editing core re-executes b.
    (root / "src" / "minilib" / "core.py").write_text("SCALE = 7\n")
    rc, out = chapter_cmd(root, "b")
    assert rc == 0, out
    assert re.search(r"\bb\s+executed\s", out)
    assert printed(page.read_text()) == "21"

    # The whole-book build reuses what the chapter build executed.
    done = bookbuild_here(root, "build", "--jobs", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        re.search(r"\bb\s+cached\s", done.stdout) and printed((root / "_build" / "html" / "b.html").read_text()) == "21"
    )


def test_a_numbered_chapter_renders_alone_with_its_section_references_and_only_its_notebook(book, minibook_store):
    root = book
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: index\nparts:\n  - caption: Chapters\n    numbered: true\n    chapters:\n"
        "      - file: a\n      - file: b\n  - caption: Reference\n    chapters:\n      - file: notes\n"
    )
    prose = "See {numref}`b-more` and {ref}`a-top`.\n\n(b-more)=\n## More\n\nMore prose of B."
    (root / "a.md").write_text((root / "a.md").read_text().replace("# A\n", "(a-top)=\n# A\n"))
    (root / "b.md").write_text(chapter("B", prose, "from minilib import extra\nprint(extra.triple())"))
    seed(root, minibook_store)  # the book's first execution (the code cells are the mini book's)
    done = bookbuild_here(root, "build", "--jobs", "1")
    assert done.returncode == 0, done.stdout + done.stderr  # the manifest now lists a and b
    # b's code changes after the book was built: the chapter renders its new execution, not the book's.
    (root / "b.md").write_text(
        (root / "b.md").read_text().replace("print(extra.triple())", "print(extra.triple() + 1)")
    )
    rc, out = chapter_cmd(root, "b")
    assert rc == 0, out  # strict: an unnumbered section reference would be a warning
    html = root / "_build" / "chapter-b" / "_build" / "html"
    assert "Section 1.1" in (html / "b.html").read_text() and printed((html / "b.html").read_text()) == "7"
    assert sorted(p.name for p in (html / "_notebooks").glob("*.ipynb")) == ["b.ipynb"]
    # A's label resolves in the book, not in b's site: text, no link, no warning. An unknown one fails.
    (root / "b.md").write_text((root / "b.md").read_text().replace("{ref}`a-top`", "{ref}`nowhere`"))
    rc, out = chapter_cmd(root, "b")
    assert rc != 0 and "nowhere" in out + (root / "_build" / "logs" / "chapter-b.sphinx.log").read_text()


def test_failing_chapter_renders_nothing_and_unknown_names_are_errors(tmp_path):
    root = make_book(tmp_path / "book")
    (root / "a.md").write_text(
        (root / "a.md").read_text().replace("print(core.SCALE * 10)", "raise ValueError('bad cell')")
    )
    rc, out = chapter_cmd(root, "a")
    assert rc == 1 and "bad cell" in out and "nothing was rendered" in out
    assert not (root / "_build" / "chapter-a" / "_build" / "html").exists()
    rc, out = chapter_cmd(root, "nope")
    assert rc == 2 and "unknown chapter" in out and "a, b" in out


GLUE_CELL = "from myst_nb import glue\nglue('present', 3.0, display=False)"


@pytest.fixture
def standin_book(tmp_path):
    """A one-chapter book whose pyproject names a stand-in switch, MINI_STANDIN."""
    root = tmp_path / "book"
    (root / "src" / "minilib").mkdir(parents=True)
    (root / "src" / "minilib" / "__init__.py").write_text("")
    (root / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: cache\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: a\n")
    (root / "index.md").write_text("# Index\n")
    (root / "pyproject.toml").write_text('[tool.bookbuild]\npackage = "minilib"\nstandin_env = "MINI_STANDIN"\n')
    write_chapter(root, "Value {glue:text}`present:.1f`.")
    return root


def write_chapter(root: Path, prose: str) -> None:
    (root / "a.md").write_text(FRONT + f"# A\n\n{prose}\n\n```{{code-cell}} ipython3\n{GLUE_CELL}\n```\n")


def bookbuild_run(root: Path, *args: str, standin_on: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "LECTUREKIT_PROFILE": "lite"}
    env.pop("MINI_STANDIN", None)
    if standin_on:
        env["MINI_STANDIN"] = "1"
    return bookbuild_here(root, *args, env=env)


def test_standin_run_executes_apart_and_is_never_rendered(standin_book):
    book = standin_book
    done = bookbuild_run(book, "build", "--jobs", "1", standin_on=True)
    assert done.returncode == 2 and "never rendered" in done.stdout
    assert not (book / "_build" / "html").exists() and not (book / "_build" / "standin" / "exec-store").exists()
    done = bookbuild_run(book, "execute", "--jobs", "1", standin_on=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "meaningless" in done.stdout
    assert list((book / "_build" / "standin" / "exec-store").iterdir())
    assert not (book / "_build" / "exec-store").exists()  # the real store is untouched
    manifest = json.loads((book / "_build" / "standin" / "exec-manifest.json").read_text())
    assert manifest["standin"] == "MINI_STANDIN" and list(manifest["chapters"]) == ["a"]
    # A real run does not see the stand-in's outputs: it executes on its own.
    done = bookbuild_run(book, "execute", "--jobs", "1", standin_on=False)
    assert done.returncode == 0 and "a" in done.stdout and "executed" in done.stdout
    assert list((book / "_build" / "exec-store").iterdir())


def test_execute_fails_on_a_glue_key_no_cell_defines(standin_book):
    book = standin_book
    write_chapter(book, "Value {glue:text}`present:.1f`, and {glue:}`missing` and {glue:text}`other::x`.")
    done = bookbuild_run(book, "execute", "--jobs", "1", standin_on=True)
    assert done.returncode == 1
    assert "glue key 'missing'" in done.stdout and "'present'" not in done.stdout


def test_standin_kernels_skip_the_chapters_claims_but_run_every_cell(standin_book):
    book = standin_book
    """A chapter's asserts check claims about real numbers; a stand-in's numbers are meaningless."""
    (book / "a.md").write_text(
        FRONT + "# A\n\nValue {glue:text}`present:.1f`.\n\n```{code-cell} ipython3\n"
        f"{GLUE_CELL}\nassert 1 + 1 == 3, 'a claim only real inputs make true'\n```\n"
    )
    done = bookbuild_run(book, "execute", "--jobs", "1", standin_on=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "assertions off" in done.stdout
    done = bookbuild_run(book, "execute", "--jobs", "1", standin_on=False)
    assert done.returncode == 1 and "a claim only real inputs make true" in done.stdout
    # A cell that fails for any other reason still fails the stand-in run.
    (book / "a.md").write_text(FRONT + "# A\n\n```{code-cell} ipython3\nraise ValueError('broken in full')\n```\n")
    done = bookbuild_run(book, "execute", "--jobs", "1", standin_on=True)
    assert done.returncode == 1 and "broken in full" in done.stdout


def ipynb(code: str) -> str:
    """A Jupyter notebook chapter (``.ipynb``) with a title, prose and one code cell."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# C\n\nProse of C."), nbformat.v4.new_code_cell(code)]
    return nbformat.writes(nb)


def test_an_ipynb_chapter_is_keyed_executed_once_and_rendered_from_the_store(tmp_path):
    root = make_book(tmp_path / "book")
    (root / "c.ipynb").write_text(ipynb("from minilib import core\nprint(core.SCALE * 100)"))
    # A Markdown chapter (a) beside it; b, a second one that would only add executions, is left out.
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: index\nchapters:\n  - file: a\n  - file: c\n  - file: notes\n"
    )

    def build() -> str:
        done = bookbuild_here(root, "build", "--jobs", "1")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Executing notebook" not in (root / "_build" / "logs" / "sphinx.log").read_text()  # ours, from the store
        return done.stdout

    out = build()
    assert re.search(r"\bc\s+executed\s", out), out
    page = root / "_build" / "html" / "c.html"
    assert printed(page.read_text()) == "200" and "Prose of C." in page.read_text()
    assert re.search(r"\bc\s+cached\s", build())
    (root / "src" / "minilib" / "core.py").write_text("SCALE = 3\n")  # c imports core: it re-executes
    out = build()
    assert re.search(r"\bc\s+executed\s", out) and "minilib.core changed" in out, out
    assert printed(page.read_text()) == "300"


def test_the_cell_timeout_comes_from_config_yml_and_the_command_line_overrides_it(tmp_path):
    root = make_book(tmp_path / "book")
    (root / "_config.yml").write_text(
        (root / "_config.yml").read_text().replace("execute:\n", "execute:\n  timeout: 2\n")
    )
    (root / "a.md").write_text(chapter("A", "Slow.", "import time\ntime.sleep(6)\nprint('slept')"))

    def execute(*args: str) -> subprocess.CompletedProcess:
        return bookbuild_here(root, "execute", "--only", "a", "--jobs", "1", *args)

    done = execute()
    assert done.returncode == 1 and "a failed to execute" in done.stdout and "timed out" in done.stdout.lower()
    done = execute("--timeout", "30")
    assert done.returncode == 0, done.stdout + done.stderr
