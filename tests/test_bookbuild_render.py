"""bookbuild.render: what makes the site re-render."""

from __future__ import annotations

from minibook import make_book

from bookbuild import config as config_mod
from bookbuild import render


def test_a_docstring_edit_in_the_library_re_renders(tmp_path):
    """The API reference renders the library's docstrings, so its modules are render sources."""
    root = make_book(tmp_path / "book")
    config = config_mod.load(root)
    module = root / "src" / "minilib" / "core.py"
    before = render.render_stamp(config, [])
    assert "src/minilib/core.py" in before["sources"] and "a.md" in before["sources"]
    module.write_text('"""New docstring."""\nSCALE = 2\n')
    assert render.render_stamp(config, []) != before


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
