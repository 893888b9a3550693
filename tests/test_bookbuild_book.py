"""bookbuild.book: the book's pages (from _toc.yml) and the build's files (under _build)."""

from __future__ import annotations

from pathlib import Path

import pytest
from minibook import make_book

from bookbuild import book


def test_safe_name_keeps_the_folder_and_replaces_the_rest():
    assert book.safe_name("book/priors") == "book__priors"
    assert book.safe_name("part 1/what?.md") == "part_1__what_.md"


def test_pages_and_executable_chapters_come_from_the_table_of_contents(tmp_path):
    root = make_book(tmp_path / "book")
    assert book.toc_docnames(root) == ["index", "a", "b", "notes"]
    assert [doc for doc, _ in book.discover(root)] == ["a", "b"]
    assert [doc for doc, _ in book.discover(root, ("a.md",))] == ["b"]
    (root / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: missing\n")
    with pytest.raises(FileNotFoundError, match="missing"):
        book.pages(root)


def test_the_chapter_toc_keeps_the_chapter_and_the_reference_pages(tmp_path):
    root = make_book(tmp_path / "book")
    (root / "status.md").write_text("# Status\n\n```{execution-status}\n```\n")
    (root / "_toc.yml").write_text((root / "_toc.yml").read_text() + "  - file: status\n")
    assert book.chapter_toc(root, "b") == {
        "format": "jb-book",
        "root": "index",
        "chapters": [{"file": "b"}, {"file": "notes"}],
    }


def test_the_build_layout():
    paths = book.Paths(Path("/r"))
    assert paths.store == Path("/r/_build/exec-store") and paths.manifest == Path("/r/_build/exec-manifest.json")
    assert book.Paths(Path("/r"), standin=True).store == Path("/r/_build/standin/exec-store")
    assert paths.book_site().html == Path("/r/_build/html")
    site = paths.chapter_site("book/priors")
    assert site.html == Path("/r/_build/chapter-priors/_build/html") and site.toc.name == "_toc.yml"
    assert site.jupyter_cache == Path("/r/_build/chapter-priors/_build/.jupyter_cache")
