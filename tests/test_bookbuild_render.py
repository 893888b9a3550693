"""bookbuild.render: what makes the site re-render."""

from __future__ import annotations

from bookbuild import render


def test_a_docstring_edit_in_the_library_re_renders(tmp_path):
    """The API reference renders the library's docstrings, so its modules are render sources."""
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.md").write_text("# A\n")
    lib = tmp_path / "src" / "pkg"
    lib.mkdir(parents=True)
    module = lib / "m.py"
    module.write_text('def f():\n    """Old."""\n')
    paths = render.Paths(tmp_path)
    before = render.render_stamp(paths, [], lib)
    assert "src/pkg/m.py" in before["sources"] and "book/a.md" in before["sources"]
    module.write_text('def f():\n    """New docstring."""\n')
    assert render.render_stamp(paths, [], lib) != before
    assert "src/pkg/m.py" not in render.render_stamp(paths, [])["sources"]  # no library, no reference


def test_doctrees_do_not_carry_the_documents_of_nested_parses():
    """Nodes from a nested parse (autodoc) point at a throw-away document holding the whole build
    environment; pickled with the page, it made each reference page's doctree megabytes."""
    import pickle

    from docutils import nodes
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    from bookbuild import sphinx_ext

    page = new_document("page.md", get_default_settings(Parser))
    nested = new_document("<nested>", get_default_settings(Parser))
    nested.settings.env = {"whole": "x" * 100_000}  # what Sphinx strips only from the page itself
    para = nodes.paragraph("", "text")
    para._document = nested
    page += nodes.section("", para)
    assert len(pickle.dumps(page)) > 100_000
    sphinx_ext._detach_foreign_documents(None, page)
    assert len(pickle.dumps(page)) < 10_000
    assert para.document is page  # falls back to the parent's document
