"""Reviewable results: glued values and figure fingerprints are stored, and two builds are compared."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from minibook import FRONT, book, run  # noqa: F401 -- book is a fixture

import bookbuild
from bookbuild import diff, results
from bookbuild.store import Store

TREE_SRC = Path(bookbuild.__file__).resolve().parents[1]
REPO = Path(__file__).resolve().parents[1]

PNG = '''\
import struct, zlib


def png(width, height=2):
    """A grey PNG of the given size, made by hand (no plotting library needed)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\\x00" + b"\\x80" * width for _ in range(height))
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


SIZE = 3
'''

A = """\
from myst_nb import glue
import minilib.core as core
glue("scaled", core.SCALE * 10, display=False)
glue("fixed", 1.5, display=False)
glue("label", "A", display=False)
"""

B = """\
from IPython.display import Image, display
from minilib import fig
display(Image(fig.png(fig.SIZE)))
"""


def cells(title: str, prose: str, code: str) -> str:
    return FRONT + f"# {title}\n\n{prose}\n\n```{{code-cell}} ipython3\n:tags: [remove-cell]\n{code}```\n"


@pytest.fixture
def results_book(book):  # noqa: F811
    """Chapter a glues three values (one from minilib.core); chapter b shows a figure drawn by minilib.fig."""
    (book / "src" / "minilib" / "fig.py").write_text(PNG)
    (book / "a.md").write_text(cells("A", "Prose of A: {glue:text}`scaled`.", A))
    (book / "b.md").write_text(cells("B", "Prose of B.", B))
    return book


def side(label, outcomes):
    assert all(o.status in ("executed", "cached") for o in outcomes), [o.error for o in outcomes]
    return diff.from_outcomes(label, outcomes)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_results_are_extracted_from_glue_outputs_and_images():
    nb = nbformat.v4.new_notebook()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", 7, 5) + b"rest").decode()
    glued = nbformat.v4.new_output(
        "display_data",
        data={"application/papermill.record/text/plain": "0.25"},
        metadata={"scrapbook": {"name": "ratio", "mime_prefix": "application/papermill.record/"}},
    )
    shown = nbformat.v4.new_output(
        "display_data",
        data={"text/plain": "np.float64(2.5)"},
        metadata={"scrapbook": {"name": "wrapped", "mime_prefix": ""}},
    )
    text = nbformat.v4.new_output(
        "display_data",
        data={"application/papermill.record/text/plain": "'lite'"},
        metadata={"scrapbook": {"name": "profile", "mime_prefix": "application/papermill.record/"}},
    )
    figure = nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})
    c1, c2, c3 = (nbformat.v4.new_code_cell(s) for s in ("glue()", "plot()", "plot2()"))
    c1.outputs = [glued, shown, text]
    c2.outputs = [figure]
    c2.metadata = {"mystnb": {"figure": {"name": "fig-spectrum", "caption": "c"}}}
    c3.outputs = [figure, figure]
    nb.cells = [c1, c2, c3]
    r = results.extract(nb)
    assert r["glue"] == {
        "profile": {"mime": "text/plain", "text": "'lite'", "value": None},
        "ratio": {"mime": "text/plain", "text": "0.25", "value": 0.25},
        "wrapped": {"mime": "text/plain", "text": "np.float64(2.5)", "value": 2.5},
    }
    assert list(r["figures"]) == ["fig-spectrum", "cell 3 [1]", "cell 3 [2]"]
    assert r["figures"]["fig-spectrum"]["width"] == 7 and r["figures"]["fig-spectrum"]["height"] == 5
    assert r["figures"]["fig-spectrum"]["sha256"] == __import__("hashlib").sha256(base64.b64decode(png)).hexdigest()
    assert [results.number(t) for t in ("3", "-1e-3", "True", "'x'", "[1]", "tensor(0.5000)", "nan")] == [
        3.0,
        -0.001,
        None,
        None,
        None,
        0.5,
        None,
    ]


def test_a_library_edit_that_changes_one_glued_number_reports_exactly_that_number(results_book):
    book = results_book
    _, before = run(book)
    entry = Store(book / "_build" / "exec-store").get("a", before[0].chapter.key.key)
    assert entry.meta["results"]["glue"]["scaled"] == {"mime": "text/plain", "text": "20", "value": 20.0}
    edit(book / "src" / "minilib" / "core.py", "SCALE = 2", "SCALE = 3")
    status, after = run(book)
    assert status == {"a": "executed", "b": "cached"}
    report = diff.compare(side("base", before), side("head", after), threshold=0.1)
    assert report["identical"] == ["b"]
    (a,) = report["chapters"]
    assert a["chapter"] == "a" and a["figures"] == []
    assert a["glue"] == [
        {"name": "scaled", "old": "20", "new": "30", "change": "changed", "relative": 0.5, "flagged": True}
    ]
    text = diff.terminal(report)
    assert "~ scaled: 20 -> 30 (+50.00%)  !" in text and "fixed" not in text and "byte-identical: b" in text
    md = diff.markdown(report)
    assert "| a | `scaled` | `20` | `30` | **+50.00%** |" in md and "fixed" not in md
    assert (
        "**"
        not in diff.markdown(diff.compare(side("base", before), side("head", after), threshold=0.6)).split(
            "| chapter |"
        )[1]
    )  # +50 % is within a 60 % tolerance


def test_a_prose_edit_gives_an_empty_report(results_book):
    book = results_book
    _, before = run(book)
    edit(book / "a.md", "Prose of A:", "Rewritten prose of A, same numbers:")
    status, after = run(book)
    assert status == {"a": "cached", "b": "cached"}
    report = diff.compare(side("base", before), side("head", after))
    assert report["chapters"] == [] and report["identical"] == ["a", "b"]
    assert "no differences" in diff.terminal(report)


def test_a_figure_change_is_reported(results_book):
    book = results_book
    _, before = run(book)
    edit(book / "src" / "minilib" / "fig.py", "SIZE = 3", "SIZE = 4")
    assert run(book)[0] == {"a": "cached", "b": "executed"}
    report = diff.compare(side("base", before), side("head", run(book)[1]))
    (b,) = report["chapters"]
    assert b["chapter"] == "b" and b["glue"] == []
    assert [(f["name"], f["change"]) for f in b["figures"]] == [("cell 1", "changed")]
    assert b["figures"][0]["old"].startswith("3x2 px") and b["figures"][0]["new"].startswith("4x2 px")
    assert "figure cell 1: changed (3x2 px" in diff.terminal(report)


def bookbuild_cli(*args, cwd: Path, env_extra: dict | None = None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TREE_SRC), os.environ["PYTHONPATH"]]), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "bookbuild", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_the_pull_request_command_builds_the_base_from_the_shared_store(results_book, tmp_path):
    """What pr.yml runs: the base checkout executes only what the head's store lacks, then the report."""
    book = results_book
    base = tmp_path / "base-checkout"
    shutil.copytree(book, base)
    edit(book / "src" / "minilib" / "core.py", "SCALE = 2", "SCALE = 3")
    assert run(book)[0] == {"a": "executed", "b": "executed"}
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    # The command pr.yml's `make results-diff BASE=... ` runs, taken from the Makefile, run on the mini book.
    recipe = subprocess.run(
        ["make", "-s", "-n", "results-diff", f"BASE={base}", f"GITHUB_STEP_SUMMARY={summary}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (line,) = [x for x in recipe.replace("\\\n", " ").splitlines() if "-m bookbuild" in x]
    command = shlex.split(line)
    assert command[1:4] == ["-m", "bookbuild", "diff"] and "--execute-base" in command
    done = bookbuild_cli(*command[3:], "--jobs", "1", cwd=book)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "executing 1 chapter(s) with 1 worker(s): a\n" in done.stderr  # b: same key, reused
    assert re.search(r"^  b +cached", done.stderr, re.M), done.stderr
    text = summary.read_text()
    assert text.startswith("earlier step\n### Published numbers")  # appended, as to $GITHUB_STEP_SUMMARY
    assert "| a | `scaled` | `20` | `30` | **+50.00%** |" in text and "Byte-identical: b." in text
    assert text.count("| a |") == 1
    # the base's kernels imported the base's library, not the head's (SCALE = 2 there)
    assert "SCALE = 2" in (base / "src" / "minilib" / "core.py").read_text()


def test_two_builds_compared_by_their_manifests_and_stores(results_book, tmp_path):
    """What full.yml runs: the last published build's manifest against this build's; the status page lists it."""
    book = results_book
    assert bookbuild_cli("execute", "--jobs", "2", cwd=book).returncode == 0
    published = tmp_path / "published"
    shutil.copytree(book / "_build", published)  # manifest + store of the published build
    manifest = json.loads((published / "exec-manifest.json").read_text())
    assert manifest["chapters"]["a"]["results"]["glue"]["scaled"]["value"] == 20.0
    edit(book / "src" / "minilib" / "core.py", "SCALE = 2", "SCALE = 3")
    shutil.rmtree(book / "_build")
    done = bookbuild_cli("execute", "--jobs", "2", cwd=book, env_extra={"BOOKBUILD_DIFF_BASE": str(published)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "~ scaled: 20 -> 30 (+50.00%)" in done.stdout
    changes = json.loads((book / "_build" / "exec-manifest.json").read_text())["changes"]
    assert [(c["chapter"], [g["name"] for g in c["glue"]]) for c in changes["chapters"]] == [("a", ["scaled"])]
    done = bookbuild_cli("diff", str(published), "--head", str(book / "_build"), cwd=book)
    assert done.returncode == 0 and "~ scaled: 20 -> 30 (+50.00%)" in done.stdout, done.stdout + done.stderr
    # an older manifest without results: they are read from the store entries its keys name
    for info in manifest["chapters"].values():
        del info["results"]
    (published / "exec-manifest.json").write_text(json.dumps(manifest))
    assert "~ scaled: 20 -> 30" in bookbuild_cli("diff", str(published), cwd=book).stdout
    done = bookbuild_cli("diff", str(tmp_path / "nothing-here"), cwd=book)
    assert done.returncode == 2 and "no build manifest at" in done.stdout


def test_the_status_page_lists_the_changed_numbers():
    from bookbuild.sphinx_ext import _changes

    report = {
        "chapters": [
            {
                "chapter": "book/priors",
                "status": "changed",
                "figures": [{"name": "fig-pca", "change": "changed"}],
                "glue": [
                    {"name": "ratio", "change": "changed", "old": "1.01", "new": "1.2", "relative": 0.188118811881},
                    {"name": "n_seeds", "change": "added", "old": None, "new": "5"},
                ],
            },
            {"chapter": "book/new", "status": "added", "glue": [], "figures": []},
        ],
        "identical": ["book/a"],
    }
    text = " | ".join(node.astext() for node in _changes(report))
    assert "2 glued value(s) and 1 figure(s) changed" in text
    assert "book/priors, ratio: 1.01 \u2192 1.2 (+18.81%)" in text and "book/priors, n_seeds: added (5)" in text
    assert "book/priors, figure fig-pca: changed" in text and "book/new: added" in text
    empty = _changes({"chapters": [], "identical": ["book/a", "book/b"]})
    assert "no glued value or figure changed (2 chapters with byte-identical outputs)" in empty[0].astext()
