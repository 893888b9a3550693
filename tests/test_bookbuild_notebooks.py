"""bookbuild.notebooks: the readers' copies of executed chapters and their Colab links."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat

from bookbuild import notebooks


def _executed(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell("1 + 1")]
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    path = tmp_path / "store.ipynb"
    nbformat.write(nb, path)
    return path


def test_install_cell_installs_only_when_the_package_is_missing():
    cell = notebooks.install_cell("json", "never-installed-package @ file:///nowhere")
    done = subprocess.run([sys.executable, "-c", cell.source], capture_output=True, text=True)
    assert done.returncode == 0  # json imports: nothing is installed, nothing fails
    cell = notebooks.install_cell("surely_not_a_module_xyz", "surely-not-a-package-xyz @ file:///nowhere")
    done = subprocess.run([sys.executable, "-c", cell.source], capture_output=True, text=True)
    assert done.returncode != 0 and "surely-not-a-package-xyz" in (done.stderr + done.stdout)


def test_reader_notebook_keeps_outputs_and_puts_the_install_cell_first(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_REPOSITORY", "course/book")
    monkeypatch.setenv("BOOK_COMMIT", "abc123")
    index = notebooks.write_all(
        tmp_path / "site",
        tmp_path,
        {"book/ch": _executed(tmp_path)},
        "lecturekit",
        "lecturekit @ {source}",
        "notebooks",
    )
    out = json.loads((tmp_path / "site" / "_notebooks" / "book" / "ch.ipynb").read_text())
    first = "".join(out["cells"][0]["source"])
    assert "lecturekit @ git+https://github.com/course/book@abc123" in first
    assert "find_spec('lecturekit')" in first
    assert "".join(out["cells"][2]["outputs"][0]["data"]["text/plain"]) == "2"
    assert index == {
        "repository": "course/book",
        "commit": "abc123",
        "branch": "notebooks",
        "install": "lecturekit @ git+https://github.com/course/book@abc123",
        "chapters": ["book/ch"],
    }


def test_without_a_repository_the_notebook_installs_from_the_checkout(tmp_path, monkeypatch):
    monkeypatch.delenv("BOOK_REPOSITORY", raising=False)
    assert notebooks.repository() is None
    assert notebooks.install_source(tmp_path) == tmp_path.resolve().as_uri()


def test_colab_url():
    assert (
        notebooks.colab_url("course/book", "notebooks", "book/priors")
        == "https://colab.research.google.com/github/course/book/blob/notebooks/book/priors.ipynb"
    )
