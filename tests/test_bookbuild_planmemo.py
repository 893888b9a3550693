"""The plan memo (bookbuild.planmemo) makes planning faster, never different."""

from __future__ import annotations

from minibook import make_book

from bookbuild import config as config_mod
from bookbuild.book import Paths
from bookbuild.deps import Library, read_notebook
from bookbuild.plan import plan
from bookbuild.planmemo import ChapterMemo


def without_ids(nb):
    """A notebook's content; cell ids are random on every read (nbformat 4.5), memo or not."""
    return {**nb, "cells": [{k: v for k, v in cell.items() if k != "id"} for cell in nb["cells"]]}


def chapters(root, paths):
    return plan(config_mod.load(root), "lite", library=Library(root / "src", "minilib"), paths=paths)


def keys(root, paths):
    return {c.docname: (c.key.key, without_ids(c.nb)) for c in chapters(root, paths)}


def test_memo_gives_the_same_plan_and_follows_every_change(tmp_path):
    root = make_book(tmp_path / "book")
    memo = Paths(root)
    fresh = keys(root, None)
    assert keys(root, memo) == fresh  # first run fills the memo
    assert (root / "_build" / "plan-memo" / "b.json").exists()
    assert keys(root, memo) == fresh  # second run reads it: same notebooks, same keys

    # Prose: same key, new notebook text.
    (root / "a.md").write_text((root / "a.md").read_text().replace("Prose of A.", "New prose."))
    after = keys(root, memo)
    assert after == keys(root, None) and after["a"][0] == fresh["a"][0] and after["a"][1] != fresh["a"][1]

    # A library file that starts importing another module: the modules, hence the key, follow.
    (root / "src" / "minilib" / "other.py").write_text("Y = 1\n")
    (root / "src" / "minilib" / "core.py").write_text("from minilib import other\nSCALE = 2\n")
    after = keys(root, memo)
    assert after == keys(root, None)
    (a,) = [c for c in chapters(root, memo) if c.docname == "a"]
    assert "minilib.other" in a.key.components["modules"]

    # A damaged memo is a miss, not an error.
    (root / "_build" / "plan-memo" / "a.json").write_text("{not json")
    assert keys(root, memo) == keys(root, None)


def test_memoized_notebook_equals_a_fresh_read(tmp_path):
    root = make_book(tmp_path / "book")
    first = ChapterMemo(tmp_path / "memo", "a")
    nb = read_notebook(root / "a.md", first)
    first.save()
    again = ChapterMemo(tmp_path / "memo", "a")
    assert read_notebook(root / "a.md", again) == nb and not again.changed
    assert without_ids(nb) == without_ids(read_notebook(root / "a.md"))
