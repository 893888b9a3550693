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
