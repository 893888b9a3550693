"""bookbuild's stand-in mode (kept apart, never rendered) and its glue check, on a small book."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from minibook import FRONT  # one front matter for every mini book

from bookbuild import config as config_mod
from bookbuild import glue as standin
from bookbuild.config import ConfigError

GLUE_CELL = "from myst_nb import glue\nglue('present', 3.0, display=False)"


@pytest.fixture
def book(tmp_path):
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


def bookbuild(root: Path, *args: str, standin_on: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "LECTUREKIT_PROFILE": "lite"}
    env.pop("MINI_STANDIN", None)
    if standin_on:
        env["MINI_STANDIN"] = "1"
    cmd = [sys.executable, "-m", "bookbuild", "--root", str(root), "--package", "minilib", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def test_the_switch_is_read_from_pyproject_once_with_the_settings(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.bookbuild]\npackage = "m"\n')
    assert config_mod.load(tmp_path).standin({"MY_STANDIN": "1"}) is None  # no standin_env
    (tmp_path / "pyproject.toml").write_text('[tool.bookbuild]\npackage = "m"\nstandin_env = "MY_STANDIN"\n')
    config = config_mod.load(tmp_path)
    assert config.standin_env == "MY_STANDIN"
    assert config.standin({"MY_STANDIN": "1"}) == "MY_STANDIN"
    assert config.standin({"MY_STANDIN": "0"}) is None and config.standin({}) is None
    assert config.paths({"MY_STANDIN": "yes"}).store == tmp_path / "_build" / "standin" / "exec-store"
    assert config.paths({}).store == tmp_path / "_build" / "exec-store"
    (tmp_path / "pyproject.toml").write_text('[tool.bookbuild]\npackage = "m"\nstandin_env = "not a name"\n')
    with pytest.raises(ConfigError, match="environment variable name"):
        config_mod.load(tmp_path)


def test_the_project_names_its_standin_switch():
    root = Path(__file__).resolve().parent.parent
    assert config_mod.load(root).standin_env == "LECTUREKIT_STANDIN"


def test_standin_run_executes_apart_and_is_never_rendered(book):
    done = bookbuild(book, "build", "--jobs", "1", standin_on=True)
    assert done.returncode == 2 and "never rendered" in done.stdout
    assert not (book / "_build" / "html").exists() and not (book / "_build" / "standin" / "exec-store").exists()
    done = bookbuild(book, "execute", "--jobs", "1", standin_on=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "meaningless" in done.stdout
    assert list((book / "_build" / "standin" / "exec-store").iterdir())
    assert not (book / "_build" / "exec-store").exists()  # the real store is untouched
    manifest = json.loads((book / "_build" / "standin" / "exec-manifest.json").read_text())
    assert manifest["standin"] == "MINI_STANDIN" and list(manifest["chapters"]) == ["a"]
    # A real run does not see the stand-in's outputs: it executes on its own.
    done = bookbuild(book, "execute", "--jobs", "1", standin_on=False)
    assert done.returncode == 0 and "a" in done.stdout and "executed" in done.stdout
    assert list((book / "_build" / "exec-store").iterdir())


def test_execute_fails_on_a_glue_key_no_cell_defines(book):
    write_chapter(book, "Value {glue:text}`present:.1f`, and {glue:}`missing` and {glue:text}`other::x`.")
    done = bookbuild(book, "execute", "--jobs", "1", standin_on=True)
    assert done.returncode == 1
    assert "glue key 'missing'" in done.stdout and "'present'" not in done.stdout


def test_glue_references_and_definitions():
    source = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "A {glue:text}`a:.2f`, {glue}`b`, {glue:md}`c:myst`, {glue:any}`d`, "
                "{glue:text}`page::e`.\n\n```{glue:figure} f\n:name: fig\n```\n"
            ),
            nbformat.v4.new_code_cell("glue('a', 1)"),
        ]
    )
    assert standin.referenced_keys(source) == {"a", "b", "c", "d", "f"}
    executed = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "",
                outputs=[
                    nbformat.v4.new_output(
                        "display_data",
                        data={"text/plain": "1"},
                        metadata={"scrapbook": {"name": name, "mime_prefix": ""}},
                    )
                    for name in ("a", "b", "c")
                ],
            )
        ]
    )
    assert standin.glued_keys(executed) == {"a", "b", "c"}
    assert standin.glue_problems(source, executed) == ["d", "f"]


def test_standin_kernels_skip_the_chapters_claims_but_run_every_cell(book):
    """A chapter's asserts check claims about real numbers; a stand-in's numbers are meaningless."""
    (book / "a.md").write_text(
        FRONT + "# A\n\nValue {glue:text}`present:.1f`.\n\n```{code-cell} ipython3\n"
        f"{GLUE_CELL}\nassert 1 + 1 == 3, 'a claim only real inputs make true'\n```\n"
    )
    done = bookbuild(book, "execute", "--jobs", "1", standin_on=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "assertions off" in done.stdout
    done = bookbuild(book, "execute", "--jobs", "1", standin_on=False)
    assert done.returncode == 1 and "a claim only real inputs make true" in done.stdout
    # A cell that fails for any other reason still fails the stand-in run.
    (book / "a.md").write_text(FRONT + "# A\n\n```{code-cell} ipython3\nraise ValueError('broken in full')\n```\n")
    done = bookbuild(book, "execute", "--jobs", "1", standin_on=True)
    assert done.returncode == 1 and "broken in full" in done.stdout
