"""bookbuild.notebooks: the readers' copies of executed chapters and their Colab links."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

from bookbuild import notebooks

ROOT = Path(__file__).resolve().parent.parent
MYST = re.compile(r"\{[a-zA-Z][\w:-]*\}`|^\s*(`{3,}|:{3,})\{|^\s*\([\w:.-]+\)=\s*$", re.M)


def _executed(tmp_path, markdown="# A chapter"):
    nb = nbformat.v4.new_notebook()
    glue = nbformat.v4.new_code_cell('glue("ratio", 0.123456)\nglue("name", "lite")')
    glue.outputs = [
        nbformat.v4.new_output(
            "display_data",
            {notebooks.GLUE_PREFIX + "text/plain": text},
            metadata={"scrapbook": {"name": key, "mime_prefix": notebooks.GLUE_PREFIX}},
        )
        for key, text in (("ratio", "0.123456"), ("name", "'lite'"))
    ]
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell("1 + 1"), glue]
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)]
    path = tmp_path / "store.ipynb"
    nbformat.write(nb, path)
    return path


def _refs():
    return notebooks.References(
        figures={"fig-a": "1.3"},
        exercises={"ex-a": "1.2"},
        section_numbers={"sec-a": "1.4"},
        sections={"sec-a": ("Smoothness", "")},
        citations={
            "lecun2016": notebooks.Citation("LeCun", "2016", "Yann LeCun. The cake. 2016."),
            "chen2021": notebooks.Citation("Chen and He", "2021", "X. Chen and K. He. SimSiam. 2021."),
        },
        terms={"encoder": ""},
    )


CHAPTER = """(ch)=
# A chapter

The ratio is {glue:text}`ratio:.2f` in the **{glue:text}`name`** profile ({numref}`fig-a`,
{numref}`section %s <sec-a>`, {ref}`sec-a`). An {term}`encoder <Encoder>` {cite:p}`lecun2016,chen2021`;
{cite:t}`lecun2016` said so. See {py:func}`~lecturekit.plotting.curves`.

:::{admonition} How this page was produced
:class: note
Profile {glue:text}`name`.
:::

```{exercise} A title
:label: ex-a

Why {glue:text}`ratio:.1%`?
```

````{solution} ex-a
:class: dropdown

Because. A code block:

```python
x = 1
```
````
"""


def test_chapter_markdown_becomes_plain_markdown_with_the_page_values(tmp_path):
    nb = nbformat.read(_executed(tmp_path, CHAPTER), as_version=4)
    out = notebooks.reader_notebook(nb, "lecturekit", "lecturekit @ git+https://github.com/o/r@abc", "book/ch", _refs())
    text = "\n".join(c.source for c in out.cells if c.cell_type == "markdown")
    assert not MYST.search(text), MYST.search(text)
    assert "The ratio is 0.12 in the **lite** profile (Fig. 1.3,\nsection 1.4, Smoothness)." in text
    assert "An encoder (LeCun, 2016; Chen and He, 2021);\nLeCun (2016) said so. See `curves()`." in text
    assert "> **How this page was produced**\n>\n> Profile lite." in text
    assert "### Exercise 1.2 (A title)\n\nWhy 12.3%?" in text
    assert "<details>\n<summary>Solution to Exercise 1.2</summary>\n\nBecause. A code block:\n\n```python" in text
    assert text.rstrip().endswith("- X. Chen and K. He. SimSiam. 2021.\n- Yann LeCun. The cake. 2016.")
    assert out.metadata["bookbuild"]["glue"] == [
        ["ratio", ".2f", "0.12"],
        ["name", "", "lite"],
        ["name", "", "lite"],
        ["ratio", ".1%", "12.3%"],
    ]


@pytest.mark.parametrize(
    "markdown, error",
    [
        ("{unknown}`x`", "unknown role {unknown}"),
        ("```{figure} a.png\n```", "unknown directive {figure}"),
        ("{glue:text}`missing`", "no glued value 'missing'"),
        ("{cite:p}`nobody2020`", "citation 'nobody2020' is not in the bibliography"),
        ("{numref}`fig-none`", "{numref} to 'fig-none'"),
    ],
)
def test_what_the_export_cannot_render_is_an_error_naming_it(tmp_path, markdown, error):
    nb = nbformat.read(_executed(tmp_path, markdown), as_version=4)
    with pytest.raises(notebooks.ExportError, match=re.escape(error)):
        notebooks.reader_notebook(nb, "lecturekit", None, "book/ch", _refs())


def test_install_cell_installs_only_when_the_package_is_missing():
    cell = notebooks.install_cell("json", "never-installed-package @ file:///nowhere")
    done = subprocess.run([sys.executable, "-c", cell.source], capture_output=True, text=True)
    assert done.returncode == 0  # json imports: nothing is installed, nothing fails
    cell = notebooks.install_cell("surely_not_a_module_xyz", "surely-not-a-package-xyz @ file:///nowhere")
    done = subprocess.run([sys.executable, "-c", cell.source], capture_output=True, text=True)
    assert done.returncode != 0 and "surely-not-a-package-xyz" in (done.stderr + done.stdout)


def test_without_a_repository_the_cell_says_how_to_install_from_a_checkout(tmp_path, monkeypatch):
    for name in ("BOOK_REPOSITORY", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    assert notebooks.repository(tmp_path) is None
    assert notebooks.install_source(tmp_path) is None
    cell = notebooks.install_cell("surely_not_a_module_xyz", None)
    assert "file://" not in cell.source and "pip install -e ." in cell.source
    done = subprocess.run([sys.executable, "-c", cell.source], capture_output=True, text=True)
    assert done.returncode != 0 and "checkout of the book's repository" in done.stderr


def test_the_repository_comes_from_the_environment_or_pyproject(tmp_path, monkeypatch):
    for name in ("BOOK_REPOSITORY", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "pyproject.toml").write_text('[tool.bookbuild]\npackage = "x"\nrepository = "course/book"\n')
    assert notebooks.repository(tmp_path) == "course/book"
    monkeypatch.setenv("GITHUB_REPOSITORY", "ci/repo")
    assert notebooks.repository(tmp_path) == "ci/repo"
    monkeypatch.setenv("BOOK_REPOSITORY", "not a repository")
    with pytest.raises(ValueError, match="BOOK_REPOSITORY.*owner/name"):
        notebooks.repository(tmp_path)


def test_reader_notebook_keeps_outputs_and_puts_the_install_cell_first(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_REPOSITORY", "course/book")
    monkeypatch.setenv("BOOK_COMMIT", "abc123")
    chapters = {"book/ch": _executed(tmp_path)}
    site = tmp_path / "site"
    index = notebooks.write_all(site, tmp_path, chapters, "lecturekit", "lecturekit @ {source}", "notebooks")
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


def test_colab_url():
    assert (
        notebooks.colab_url("course/book", "notebooks", "book/priors")
        == "https://colab.research.google.com/github/course/book/blob/notebooks/book/priors.ipynb"
    )


def test_the_colab_path_resolves_in_the_branch_the_publish_job_pushes(tmp_path, monkeypatch):
    """Run full.yml's own push step against a local bare repository; Colab's path must be a file there."""
    monkeypatch.setenv("BOOK_REPOSITORY", "course/book")
    monkeypatch.setenv("BOOK_COMMIT", "abc123")
    site = tmp_path / "site"
    notebooks.write_all(site, tmp_path, {"book/priors": _executed(tmp_path)}, "lecturekit", "{source}", "notebooks")
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "full.yml").read_text())
    job = workflow["jobs"]["notebooks"]
    download = next(s for s in job["steps"] if "download-artifact" in s.get("uses", ""))
    push = next(s for s in job["steps"] if "git push" in s.get("run", ""))
    remote = "https://x-access-token:${GH_TOKEN}@github.com/${REPO}.git"
    assert remote in push["run"]
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    work = tmp_path / "runner"
    (work).mkdir()
    # The artifact holds _build/html/_notebooks; download-artifact unpacks it into `path`.
    import shutil

    shutil.copytree(site / notebooks.FOLDER, work / download["with"]["path"])
    script = push["run"].replace(remote, str(bare))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GH_TOKEN": "x", "REPO": "course/book", "SHA": "abc123"}
    subprocess.run(["bash", "-c", script], cwd=work, env=env, check=True)
    url = notebooks.colab_url("course/book", "notebooks", "book/priors")
    repo, branch, path = notebooks.branch_path(url)
    assert (repo, branch) == ("course/book", "notebooks")
    shown = subprocess.run(
        ["git", "--git-dir", str(bare), "cat-file", "-p", f"{branch}:{path}"], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["cells"][0]["cell_type"] == "code"


def test_check_notebook_compares_the_run_with_what_the_text_shows():
    sys.path.insert(0, str(ROOT / "tools"))
    import check_notebook

    nb = {"metadata": {"bookbuild": {"glue": [["ratio", ".2f", "0.12"], ["name", "", "lite"]]}}}
    assert check_notebook.compare_glue(nb, {"ratio": "0.1234", "name": "'lite'"}) == []
    assert check_notebook.compare_glue(nb, {"ratio": "0.1299", "name": "'full'"}) == [
        "ratio: the page shows '0.12', this run gives '0.13'",
        "name: the page shows 'lite', this run gives 'full'",
    ]
    assert check_notebook.compare_glue(nb, {"name": "'lite'"}) == ["ratio: not glued in this run"]


def test_a_notebook_is_written_again_only_when_what_it_is_made_from_changed(tmp_path, monkeypatch):
    """``keys``: an unchanged chapter's notebook is not rewritten; its source, its outputs or the
    numbers and citations the pages can refer to each rewrite it (the preview relies on this)."""
    monkeypatch.setenv("BOOK_REPOSITORY", "course/book")
    monkeypatch.setenv("BOOK_COMMIT", "abc123")
    site, keys = tmp_path / "site", tmp_path / "doctrees" / "keys.json"
    chapters, sources = {}, {}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        chapters[f"book/{name}"] = _executed(tmp_path / name, f"# Chapter {name}")
        sources[f"book/{name}"] = tmp_path / name / f"{name}.md"
        jupytext.write(nbformat.read(chapters[f"book/{name}"], as_version=4), sources[f"book/{name}"], fmt="md:myst")
    written = []
    real = notebooks.reader_notebook
    monkeypatch.setattr(notebooks, "reader_notebook", lambda nb, *a: written.append(a[2]) or real(nb, *a))

    def write(refs=None):
        written.clear()
        notebooks.write_all(
            site, tmp_path, chapters, "lecturekit", "{source}", "notebooks", refs or _refs(), sources, keys
        )
        return sorted(written)

    assert write() == ["book/a", "book/b"]
    assert write() == []  # nothing changed
    sources["book/a"].write_text(sources["book/a"].read_text().replace("# Chapter a", "# Chapter a, edited"))
    assert write() == ["book/a"]  # a prose edit: that chapter's notebook only
    assert "Chapter a, edited" in (site / "_notebooks" / "book" / "a.ipynb").read_text()
    chapters["book/b"].write_text(chapters["book/b"].read_text().replace('"2"', '"3"'))
    assert write() == ["book/b"]  # new outputs
    refs = _refs()
    refs.figures["fig-new"] = "9.9"
    assert write(refs) == ["book/a", "book/b"]  # a number any page may refer to
    (site / "_notebooks" / "book" / "a.ipynb").unlink()
    assert write(refs) == ["book/a"]  # a notebook gone from the site is written again
    monkeypatch.setenv("BOOK_COMMIT", "def456")
    assert write(refs) == ["book/a", "book/b"]  # the install cell names another commit
    # Without ``keys`` every notebook is written, as before.
    written.clear()
    notebooks.write_all(site, tmp_path, chapters, "lecturekit", "{source}", "notebooks", refs, sources)
    assert sorted(written) == ["book/a", "book/b"]
