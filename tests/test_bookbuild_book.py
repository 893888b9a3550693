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


def test_a_chapter_numbered_in_the_book_is_numbered_alone(tmp_path):
    root = make_book(tmp_path / "book")
    assert not book.is_numbered(root, "b")
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: index\nparts:\n  - caption: One\n    numbered: true\n    chapters:\n"
        "      - file: a\n      - file: b\n  - caption: Two\n    chapters:\n      - file: notes\n"
    )
    assert book.is_numbered(root, "b") and not book.is_numbered(root, "notes")
    assert book.chapter_toc(root, "b") == {
        "format": "jb-book",
        "root": "index",
        "parts": [{"numbered": True, "chapters": [{"file": "b"}]}, {"chapters": [{"file": "notes"}]}],
    }
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: index\ndefaults:\n  numbered: true\nchapters:\n  - file: a\n  - file: b\n"
    )
    assert book.is_numbered(root, "a")
    assert book.chapter_toc(root, "a")["parts"] == [{"numbered": True, "chapters": [{"file": "a"}]}]


def test_the_build_layout():
    paths = book.Paths(Path("/r"))
    assert paths.store == Path("/r/_build/exec-store") and paths.manifest == Path("/r/_build/exec-manifest.json")
    assert book.Paths(Path("/r"), standin=True).store == Path("/r/_build/standin/exec-store")
    assert paths.book_site().html == Path("/r/_build/html")
    site = paths.chapter_site("book/priors")
    assert site.html == Path("/r/_build/chapter-priors/_build/html") and site.toc.name == "_toc.yml"
    assert site.jupyter_cache == Path("/r/_build/chapter-priors/_build/.jupyter_cache")


# --- edges found by mutation testing (make mutation) --------------------------------------------


def test_a_notebook_page_is_executable_when_it_has_a_code_cell(tmp_path):
    import json

    nb = tmp_path / "n.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "markdown"}, {"cell_type": "code"}]}))
    assert book.is_executable(nb)
    nb.write_text(json.dumps({"cells": [{"cell_type": "markdown"}, "junk"]}))
    assert not book.is_executable(nb)
    nb.write_text(json.dumps({"metadata": {}}))  # no cells at all
    assert not book.is_executable(nb)
    nb.write_text("{not json")
    with pytest.raises(ValueError) as err:
        book.is_executable(nb)
    assert str(err.value).startswith(f"{nb} is not a readable Jupyter notebook (")
    assert str(err.value).endswith("); fix or replace the file")
    md = tmp_path / "p.md"
    md.write_text("---\nkernelspec:\n  name: python3\n---\n# T\n\n```{code-cell} ipython3\nx\n```\n")
    assert book.is_executable(md)
    md.write_text("---\ntitle: t\n---\nkernelspec: in the text\n\n```{code-cell} ipython3\nx\n```\n")
    assert not book.is_executable(md)  # kernelspec only after the front matter
    md.write_text("---\nkernelspec:\n  name: python3\n---\n# T, no code\n")
    assert not book.is_executable(md)
    md.write_text("# no front matter\n\n```{code-cell} ipython3\nx\n```\n")
    assert not book.is_executable(md)


def test_the_builds_files_each_have_their_place(tmp_path):
    p = book.Paths(tmp_path)
    assert (p.build, p.store, p.manifest) == (
        tmp_path / "_build",
        p.build / "exec-store",
        p.build / "exec-manifest.json",
    )
    assert (p.logs, p.digests) == (p.build / "logs", p.build / "file-digests.json")
    assert (p.plan_memo, p.render_stamp) == (p.build / "plan-memo", p.build / "render-stamp.json")
    assert book.Paths(tmp_path, standin=True).store == tmp_path / "_build" / "standin" / "exec-store"
    site = p.book_site()
    assert site.log == p.logs / "sphinx.log"
    chapter = p.chapter_site("book/priors")
    assert chapter.log == p.logs / "chapter-priors.sphinx.log"


def test_toc_entries_with_suffixes_nested_sections_and_missing_files(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("index.md", "sub/a.ipynb", "sub/b.md", "c.md"):
        (tmp_path / name).write_text("{}" if name.endswith(".ipynb") else "# x\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: index.md\nparts:\n  - caption: P\n    chapters:\n      - file: sub/a.ipynb\n"
        "        sections:\n          - file: sub/b\n  - caption: Q\n    chapters:\n      - file: c\n"
    )
    assert book.toc_docnames(tmp_path) == ["index", "sub/a", "sub/b", "c"]
    assert book.pages(tmp_path)[1] == ("sub/a", tmp_path / "sub" / "a.ipynb")
    (tmp_path / "c.md").unlink()
    with pytest.raises(FileNotFoundError) as err:
        book.pages(tmp_path)
    assert str(err.value) == (
        f"_toc.yml lists 'c' but none of {tmp_path / 'c'}.md, {tmp_path / 'c'}.ipynb exists; "
        "add the file or fix _toc.yml"
    )
    (tmp_path / "sub" / "a.ipynb").unlink()
    with pytest.raises(FileNotFoundError, match=r"lists 'sub/a\.ipynb' but none of .*sub/a\.md, .*sub/a\.ipynb exists"):
        book.source_path(tmp_path, "sub/a.ipynb")
