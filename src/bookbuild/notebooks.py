"""Readers' copies of the executed chapters: downloadable notebooks and "Open in Colab" links.

After a successful HTML build, each executed chapter's notebook is copied from the execution
store into ``<site>/_notebooks/<docname>.ipynb`` with its outputs, behind one extra first cell
that installs the book's library when it is not importable (a fresh Colab runtime) and does
nothing where it is (the book's own build, a reader's checkout). The page links to that file, and,
when the build knows the GitHub repository it publishes from, to Colab, which opens notebooks from
a GitHub path: the publish workflow pushes ``_notebooks/`` to the ``notebooks`` branch.

Configuration (``_config.yml``, ``sphinx: config:``): ``bookbuild_install_package`` (the import
name to look for), ``bookbuild_install_requirement`` (a pip requirement template with
``{source}``), ``bookbuild_notebooks_branch``. The repository comes from ``$BOOK_REPOSITORY``
(``owner/name``; the workflows pass ``github.repository``), the commit from ``$BOOK_COMMIT`` or
``git rev-parse HEAD``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import nbformat

FOLDER = "_notebooks"


def repository() -> str | None:
    """``owner/name`` of the GitHub repository the site is published from, if the build knows it."""
    repo = os.environ.get("BOOK_REPOSITORY", "").strip()
    return repo or None


def commit(root: Path) -> str | None:
    """The commit the pages are built from (``$BOOK_COMMIT``, else the checkout's HEAD)."""
    if os.environ.get("BOOK_COMMIT"):
        return os.environ["BOOK_COMMIT"].strip()
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def install_source(root: Path) -> str:
    """Where the install cell installs the library from: the repository at this commit, or this checkout."""
    repo, sha = repository(), commit(root)
    if repo and sha:
        return f"git+https://github.com/{repo}@{sha}"
    return root.resolve().as_uri()


def install_cell(package: str, requirement: str) -> nbformat.NotebookNode:
    """The first cell of a reader's notebook: install ``requirement`` unless ``package`` imports."""
    source = (
        f"# Running this notebook outside the book (Colab, a fresh environment)? This cell installs\n"
        f"# the course library at the commit this page was built from. Where `{package}` is already\n"
        f"# importable (the book's own build, your checkout) it does nothing.\n"
        f"import importlib.util, subprocess, sys\n"
        f"if importlib.util.find_spec({package!r}) is None:\n"
        f'    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", {requirement!r}])'
    )
    return nbformat.v4.new_code_cell(source, metadata={"tags": ["remove-cell"]})


def reader_notebook(nb: nbformat.NotebookNode, package: str, requirement: str) -> nbformat.NotebookNode:
    """A copy of ``nb`` with the install cell first (outputs kept)."""
    out = nbformat.from_dict(json.loads(json.dumps(nb)))
    out.cells.insert(0, install_cell(package, requirement))
    return out


def colab_url(repo: str, branch: str, docname: str) -> str:
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{docname}.ipynb"


def write_all(
    outdir: Path, root: Path, notebooks: dict[str, Path], package: str, requirement_template: str, branch: str
) -> dict:
    """Write every chapter's reader notebook under ``outdir/_notebooks``; return the index written beside them."""
    source = install_source(root)
    requirement = requirement_template.format(source=source)
    folder = outdir / FOLDER
    for docname, path in notebooks.items():
        nb = nbformat.read(path, as_version=4)
        target = folder / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(reader_notebook(nb, package, requirement), target)
    index = {
        "repository": repository(),
        "commit": commit(root),
        "branch": branch,
        "install": requirement,
        "chapters": sorted(notebooks),
    }
    (folder / "index.json").write_text(json.dumps(index, indent=1))
    return index
