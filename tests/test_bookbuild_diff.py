"""Reviewable results: glued values and figure fingerprints are stored, and two builds are compared."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from minibook import FRONT, book, bookbuild_here, glued_output, run, seed  # noqa: F401 -- book is a fixture

import bookbuild
from bookbuild import diff
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


def test_a_library_edit_that_changes_one_glued_number_reports_exactly_that_number(results_book, minibook_store):
    book = results_book
    seed(book, minibook_store)  # the base build's outputs (executed once per session)
    status, before = run(book)
    assert status == {"a": "cached", "b": "cached"}
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


def test_a_prose_edit_gives_an_empty_report(results_book, minibook_store):
    book = results_book
    seed(book, minibook_store)
    status, before = run(book)
    assert status == {"a": "cached", "b": "cached"}
    edit(book / "a.md", "Prose of A:", "Rewritten prose of A, same numbers:")
    status, after = run(book)
    assert status == {"a": "cached", "b": "cached"}
    report = diff.compare(side("base", before), side("head", after))
    assert report["chapters"] == [] and report["identical"] == ["a", "b"]
    assert "no differences" in diff.terminal(report)


def test_a_figure_change_is_reported(results_book, minibook_store):
    book = results_book
    seed(book, minibook_store)
    status, before = run(book)
    assert status == {"a": "cached", "b": "cached"}
    edit(book / "src" / "minilib" / "fig.py", "SIZE = 3", "SIZE = 4")
    assert run(book)[0] == {"a": "cached", "b": "executed"}
    report = diff.compare(side("base", before), side("head", run(book)[1]))
    (b,) = report["chapters"]
    assert b["chapter"] == "b" and b["glue"] == []
    assert [(f["name"], f["change"]) for f in b["figures"]] == [("cell 1", "changed")]
    assert b["figures"][0]["old"].startswith("3x2 px") and b["figures"][0]["new"].startswith("4x2 px")
    assert "figure cell 1: changed (3x2 px" in diff.terminal(report)


def bookbuild_cli(*args, cwd: Path, env_extra: dict | None = None):
    """``python -m bookbuild ARGS`` in the checkout ``cwd``, as a child process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TREE_SRC), os.environ["PYTHONPATH"]]), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "bookbuild", *args], capture_output=True, text=True, cwd=cwd, env=env)


def bookbuild_in(book: Path, *args, env_extra: dict | None = None):
    """The same command for the checkout ``book``, run in this process (:func:`minibook.bookbuild_here`)."""
    return bookbuild_here(book, *args, env={**os.environ, **(env_extra or {})}, cwd=book)


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


def test_two_builds_compared_by_their_manifests_and_stores(results_book, tmp_path, minibook_store):
    """What full.yml runs: the last published build's manifest against this build's; the status page lists it.

    The commands run in this process; the pull-request test above runs its command as a child process."""
    book = results_book
    seed(book, minibook_store)  # the published build's outputs (executed once per session)
    done = bookbuild_in(book, "execute", "--jobs", "2")
    assert done.returncode == 0 and re.search(r"^  b +cached", done.stdout, re.M), done.stdout + done.stderr
    published = tmp_path / "published"
    shutil.copytree(book / "_build", published)  # manifest + store of the published build
    manifest = json.loads((published / "exec-manifest.json").read_text())
    assert manifest["chapters"]["a"]["results"]["glue"]["scaled"]["value"] == 20.0
    edit(book / "src" / "minilib" / "core.py", "SCALE = 2", "SCALE = 3")
    shutil.rmtree(book / "_build")
    done = bookbuild_in(book, "execute", "--jobs", "2", env_extra={"BOOKBUILD_DIFF_BASE": str(published)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "~ scaled: 20 -> 30 (+50.00%)" in done.stdout
    changes = json.loads((book / "_build" / "exec-manifest.json").read_text())["changes"]
    assert [(c["chapter"], [g["name"] for g in c["glue"]]) for c in changes["chapters"]] == [("a", ["scaled"])]
    done = bookbuild_in(book, "diff", str(published), "--head", str(book / "_build"))
    assert done.returncode == 0 and "~ scaled: 20 -> 30 (+50.00%)" in done.stdout, done.stdout + done.stderr
    # an older manifest without results: they are read from the store entries its keys name
    for info in manifest["chapters"].values():
        del info["results"]
    (published / "exec-manifest.json").write_text(json.dumps(manifest))
    assert "~ scaled: 20 -> 30" in bookbuild_in(book, "diff", str(published)).stdout
    done = bookbuild_in(book, "diff", str(tmp_path / "nothing-here"))
    assert done.returncode == 2 and "no build manifest at" in done.stdout


# --- what a reviewer must see: every kind of change, and only changes ---------------------------


def _results(glue=None, figures=None, outputs="o1"):
    return {"glue": glue or {}, "figures": figures or {}, "outputs": outputs}


def _num(value, text=None):
    return {"mime": "text/plain", "text": text or repr(value), "value": value}


BASE = diff.Side(
    "base",
    {
        "book/a": _results(
            {
                "down": _num(10.0),
                "up": _num(10.0),
                "edge": _num(10.0),
                "same": _num(1.0),
                "profile": {"mime": "text/plain", "text": "'lite'", "value": None},
                "zero": _num(0.0),
                "gone": _num(3.0),
                "fig": {"mime": "image/png", "sha256": "a" * 64, "bytes": 9, "width": 7, "height": 5, "text": "<F>"},
            },
            {
                "fig-1": {"mime": "image/png", "sha256": "b" * 64, "width": 4, "height": 3},
                "cell 9": {"sha256": "c" * 64},
            },
        ),
        "book/same": _results({"x": _num(1.0)}, outputs="same"),
        "book/quiet": _results({"x": _num(1.0)}, outputs="q1"),
        "book/old": _results({"x": _num(1.0)}),
        "book/unknown": None,
    },
)
HEAD = diff.Side(
    "head",
    {
        "book/a": _results(
            {
                "down": _num(8.0),  # -20 %: a decrease beyond the threshold
                "up": _num(10.5),  # +5 %: within it
                "edge": _num(11.0),  # +10 %: at the threshold, not beyond
                "same": _num(1.0),
                "profile": {"mime": "text/plain", "text": "'full'", "value": None},  # text glue
                "zero": _num(1.0),  # from 0: no relative change
                "new": _num(2.0),
                "fig": {"mime": "image/png", "sha256": "d" * 64, "bytes": 9, "width": 7, "height": 5, "text": "<F>"},
            },
            {
                "fig-1": {"mime": "image/png", "sha256": "e" * 64, "width": 4, "height": 3},
                "cell 10": {"sha256": "f" * 64},
            },
            outputs="o2",
        ),
        "book/same": _results({"x": _num(1.0)}, outputs="same"),
        "book/quiet": _results({"x": _num(1.0)}, outputs="q2"),
        "book/new": _results({"x": _num(1.0)}),
        "book/unknown": _results(),
    },
)


def test_compare_reports_every_kind_of_change_and_marks_those_beyond_the_threshold():
    report = diff.compare(BASE, HEAD, threshold=0.1)
    assert report["base"] == "base" and report["head"] == "head" and report["threshold"] == 0.1
    assert report["identical"] == ["book/same"]
    by_doc = {ch["chapter"]: ch for ch in report["chapters"]}
    assert [ch["chapter"] for ch in report["chapters"]] == [
        "book/a",
        "book/quiet",
        "book/new",
        "book/unknown",
        "book/old",
    ]
    assert by_doc["book/new"] == {"chapter": "book/new", "status": "added", "glue": [], "figures": []}
    assert by_doc["book/old"] == {"chapter": "book/old", "status": "removed", "glue": [], "figures": []}
    assert (
        by_doc["book/unknown"]["status"] == "unknown"
        and by_doc["book/unknown"]["why"] == "no results for the base build"
    )
    assert by_doc["book/quiet"] == {
        "chapter": "book/quiet",
        "status": "changed",
        "glue": [],
        "figures": [],
        "outputs_only": True,
    }
    a = by_doc["book/a"]
    assert a["status"] == "changed" and a["outputs_only"] is False
    glue = {g["name"]: g for g in a["glue"]}
    assert list(glue) == ["down", "edge", "fig", "gone", "new", "profile", "up", "zero"]  # "same" is not listed
    assert glue["down"] == {
        "name": "down",
        "old": "10.0",
        "new": "8.0",
        "change": "changed",
        "relative": -0.2,
        "flagged": True,
    }
    assert glue["up"]["relative"] == 0.05 and glue["up"]["flagged"] is False
    assert glue["edge"]["relative"] == 0.1 and glue["edge"]["flagged"] is False
    assert glue["profile"] == {
        "name": "profile",
        "old": "'lite'",
        "new": "'full'",
        "change": "changed",
        "relative": None,
        "flagged": True,
    }
    assert glue["zero"]["relative"] is None and glue["zero"]["flagged"] is True
    assert glue["new"] == {"name": "new", "old": None, "new": "2.0", "change": "added"}
    assert glue["gone"] == {"name": "gone", "old": "3.0", "new": None, "change": "removed"}
    assert glue["fig"]["old"] == "7x5 px, image/png aaaaaaaaaa" and glue["fig"]["new"] == "7x5 px, image/png dddddddddd"
    assert glue["fig"]["flagged"] is True
    assert a["figures"] == [
        {"name": "cell 9", "change": "removed", "old": "image cccccccccc", "new": None},
        {"name": "cell 10", "change": "added", "old": None, "new": "image ffffffffff"},
        {
            "name": "fig-1",
            "change": "changed",
            "old": "4x3 px, image/png bbbbbbbbbb",
            "new": "4x3 px, image/png eeeeeeeeee",
        },
    ]
    unflagged = diff.compare(BASE, HEAD)
    assert not any(g["flagged"] for ch in unflagged["chapters"] for g in ch["glue"] if "flagged" in g)
    assert diff.compare(HEAD, BASE)["chapters"][3]["why"] == "no results for the current build"


def test_the_terminal_report_shows_each_change():
    text = diff.terminal(diff.compare(BASE, HEAD, threshold=0.1))
    assert text == (
        "Results of head compared with base (marked '!': relative change above 10.00%):\n"
        "book/a: 8 glued value(s), 3 figure(s) differ\n"
        "  ~ down: 10.0 -> 8.0 (-20.00%)  !\n"
        "  ~ edge: 10.0 -> 11.0 (+10.00%)\n"
        "  ~ fig: 7x5 px, image/png aaaaaaaaaa -> 7x5 px, image/png dddddddddd (n/a)  !\n"
        "  - gone: 3.0\n"
        "  + new: 2.0\n"
        "  ~ profile: 'lite' -> 'full' (n/a)  !\n"
        "  ~ up: 10.0 -> 10.5 (+5.00%)\n"
        "  ~ zero: 0.0 -> 1.0 (n/a)  !\n"
        "  figure cell 9: removed\n"
        "  figure cell 10: added\n"
        "  figure fig-1: changed (4x3 px, image/png bbbbbbbbbb -> 4x3 px, image/png eeeeeeeeee)\n"
        "book/quiet: outputs differ, but no glued value or figure\n"
        "book/new: added\n"
        "book/unknown: unknown (no results for the base build)\n"
        "book/old: removed\n"
        "byte-identical: book/same\n"
    )
    plain = diff.terminal(diff.compare(BASE, HEAD))
    assert plain.startswith("Results of head compared with base:\n") and "!" not in plain
    nothing = diff.compare(diff.Side("x", {"book/s": _results()}), diff.Side("y", {"book/s": _results()}))
    assert diff.terminal(nothing) == (
        "Results of y compared with x:\n"
        "  no differences: no glued value or figure changed (1 chapter(s) byte-identical)\n"
    )


def test_the_markdown_report_shows_each_change():
    text = diff.markdown(diff.compare(BASE, HEAD, threshold=0.1))
    assert text == (
        "### Published numbers and figures this change moves\n\n"
        "Compared with `base`. **Bold**: relative change above 10.00% (or a changed non-numeric value) -- check "
        "the prose that interprets it.\n\n"
        "| chapter | value | before | after | change |\n"
        "|---|---|---|---|---|\n"
        "| book/a | `down` | `10.0` | `8.0` | **-20.00%** |\n"
        "| book/a | `edge` | `10.0` | `11.0` | +10.00% |\n"
        "| book/a | `fig` | `7x5 px, image/png aaaaaaaaaa` | `7x5 px, image/png dddddddddd` | **n/a** |\n"
        "| book/a | `gone` | `3.0` |  | removed |\n"
        "| book/a | `new` |  | `2.0` | added |\n"
        "| book/a | `profile` | `'lite'` | `'full'` | **n/a** |\n"
        "| book/a | `up` | `10.0` | `10.5` | +5.00% |\n"
        "| book/a | `zero` | `0.0` | `1.0` | **n/a** |\n\n"
        "Figures: book/a `cell 9` removed; book/a `cell 10` added; book/a `fig-1` changed.\n\n"
        "- book/quiet: outputs differ, but no glued value or figure\n"
        "- book/new: added\n"
        "- book/unknown: unknown (no results for the base build)\n"
        "- book/old: removed\n\n"
        "Byte-identical: book/same.\n"
    )
    plain = diff.markdown(diff.compare(BASE, HEAD))
    assert plain.splitlines()[2] == "Compared with `base`." and "**" not in plain
    nothing = diff.compare(diff.Side("x", {"book/s": _results()}), diff.Side("y", {"book/s": _results()}))
    assert diff.markdown(nothing).endswith("\nNo glued value or figure changed (1 chapter(s) byte-identical).\n")
    odd = diff.compare(
        diff.Side("x", {"b": _results({"t": {"text": "a|b`c\nd", "value": None}})}),
        diff.Side("y", {"b": _results({"t": {"text": "e", "value": None}}, outputs="o2")}),
    )
    assert "| b | `t` | `a\\|b'c d` | `e` | n/a |" in diff.markdown(odd)


def test_a_side_is_read_from_a_manifest_its_store_or_named_errors(tmp_path):
    from bookbuild.store import Store

    with pytest.raises(diff.NoBuild, match=r"no build manifest at .*nowhere.*--execute-base"):
        diff.from_manifest(tmp_path / "nowhere")
    build = tmp_path / "_build"
    build.mkdir()
    manifest = build / "exec-manifest.json"
    manifest.write_text("{not json")
    with pytest.raises(diff.NoBuild, match=r"is not a build manifest \(invalid JSON"):
        diff.from_manifest(tmp_path)
    manifest.write_text(json.dumps({"chapters": []}))
    with pytest.raises(diff.NoBuild, match=r"is not a build manifest \(no 'chapters' table\)"):
        diff.from_manifest(manifest)
    manifest.write_text(json.dumps([1]))
    with pytest.raises(diff.NoBuild, match="no 'chapters' table"):
        diff.from_manifest(build)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("glue('x', 1)")]
    nb.cells[0].outputs = [glued_output("x", {"text/plain": "1"})]
    Store(build / "exec-store").put("book__s", "k1", nb, {})
    other = Store(tmp_path / "shared")
    other.put("book__o", "k2", nb, {})
    manifest.write_text(
        json.dumps(
            {
                "chapters": {
                    "book/r": {"key": "kx", "results": _results({"y": _num(2.0)})},
                    "book/s": {"key": "k1"},
                    "book/o": {"key": "k2"},
                    "book/none": {"key": "missing"},
                    "book/nokey": {},
                }
            }
        )
    )
    side = diff.from_manifest(tmp_path, [other])
    assert side.label == str(manifest)
    assert side.chapters["book/r"] == _results({"y": _num(2.0)})
    assert side.chapters["book/s"]["glue"] == {"x": _num(1.0, "1")} == side.chapters["book/o"]["glue"]
    assert side.chapters["book/none"] is None and side.chapters["book/nokey"] is None
    assert diff.manifest_path(manifest) == diff.manifest_path(build) == diff.manifest_path(tmp_path) == manifest
    (build / "exec-store" / "book__s" / "k1.ipynb").write_text("{}")  # damaged: skipped, the next store is asked
    other.put("book__s", "k1", nb, {})
    assert diff.from_manifest(tmp_path, [other]).chapters["book/s"]["glue"] == {"x": _num(1.0, "1")}


def test_a_side_from_outcomes_leaves_out_failed_chapters():
    from types import SimpleNamespace as NS

    outcomes = [
        NS(chapter=NS(docname="book/a"), status="executed", meta={"results": _results()}),
        NS(chapter=NS(docname="book/b"), status="cached", meta={}),
        NS(chapter=NS(docname="book/c"), status="failed", meta={"results": _results()}),
    ]
    side = diff.from_outcomes("now", outcomes)
    assert side.label == "now" and side.chapters == {"book/a": _results(), "book/b": None}


# --- edges found by mutation testing (make mutation) --------------------------------------------


def test_a_glued_value_that_turns_from_an_image_into_text_shows_both_sides():
    image = {"mime": "image/png", "sha256": "a" * 64, "bytes": 3, "width": 2, "height": 1, "text": "<F>", "value": None}
    text = {"mime": "text/plain", "text": "'n/a'", "value": None}
    number = {"mime": "text/plain", "text": "3", "value": 3.0}
    report = diff.compare(
        diff.Side("x", {"b": _results({"g": image, "t": text})}),
        diff.Side("y", {"b": _results({"g": text, "t": number}, outputs="o2")}),
        threshold=0.5,
    )
    glue = {g["name"]: g for g in report["chapters"][0]["glue"]}
    assert (glue["g"]["old"], glue["g"]["new"]) == ("2x1 px, image/png aaaaaaaaaa", "'n/a'")
    assert (glue["t"]["old"], glue["t"]["new"], glue["t"]["relative"]) == ("'n/a'", "3", None)
    assert glue["t"]["flagged"] is True
    assert report["chapters"][0]["outputs_only"] is False  # glued values changed, no figure did


def test_unchanged_chapters_and_figures_do_not_stop_the_comparison():
    same, moved = {"f1": {"sha256": "1" * 64}}, {"f2": {"sha256": "2" * 64}}
    base = diff.Side(
        "x", {"a": _results(outputs="s"), "b": _results(outputs="s2"), "c": _results(figures={**same, **moved})}
    )
    head = diff.Side(
        "y",
        {
            "a": _results(outputs="s"),
            "b": _results(outputs="s2"),
            "c": _results(figures={**same, "f2": {"sha256": "3" * 64}}, outputs="c2"),
        },
    )
    report = diff.compare(base, head)
    assert report["identical"] == ["a", "b"]
    assert [f["name"] for f in report["chapters"][0]["figures"]] == ["f2"]
    assert diff.terminal(report).endswith("byte-identical: a, b\n")
    assert diff.markdown(report).endswith("Byte-identical: a, b.\n")


def test_no_manifest_says_how_to_build_or_execute_a_base(tmp_path):
    with pytest.raises(diff.NoBuild) as err:
        diff.manifest_path(tmp_path)
    assert str(err.value).endswith(
        "build it first (python -m bookbuild build), or pass --execute-base to execute that checkout against "
        "this build's store"
    )


def test_every_removed_chapter_is_reported():
    report = diff.compare(diff.Side("x", {"a": _results(), "b": _results(), "c": _results()}), diff.Side("y", {}))
    assert [(ch["chapter"], ch["status"]) for ch in report["chapters"]] == [
        ("a", "removed"),
        ("b", "removed"),
        ("c", "removed"),
    ]
