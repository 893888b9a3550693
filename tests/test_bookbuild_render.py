"""bookbuild.render: what makes the site re-render."""

from __future__ import annotations

from minibook import book, make_book, run, seed  # noqa: F401 -- book is a fixture

from bookbuild import config as config_mod
from bookbuild import render
from bookbuild.render import sync_jupyter_cache
from bookbuild.store import Store


def test_a_docstring_edit_in_the_library_re_renders(tmp_path):
    """The API reference renders the library's docstrings, so its modules are render sources."""
    root = make_book(tmp_path / "book")
    config = config_mod.load(root)
    module = root / "src" / "minilib" / "core.py"
    before = render.render_stamp(config, [])
    assert "src/minilib/core.py" in before["sources"] and "a.md" in before["sources"]
    module.write_text('"""New docstring."""\nSCALE = 2\n')
    assert render.render_stamp(config, []) != before


def test_broken_jupyter_cache_is_rebuilt_from_the_store(book, minibook_store):
    seed(book, minibook_store)
    status, outcomes = run(book)
    assert status == {"a": "cached", "b": "cached"}
    store = Store(book / "_build" / "exec-store")
    cache_dir = book / "_build" / ".jupyter_cache"
    sync_jupyter_cache(cache_dir, outcomes, store)
    (cache_dir / "global.db").write_bytes(b"not a database")  # e.g. a build killed mid-write
    sync_jupyter_cache(cache_dir, outcomes, store)
    from jupyter_cache import get_cache

    assert len(get_cache(cache_dir).list_cache_records()) == 2


def test_a_change_in_bookbuilds_own_code_reads_every_page_again(book, tmp_path, monkeypatch, minibook_store):
    """Sphinx re-reads a page when its source changed, not when the extension rendering it did."""
    from bookbuild.build import Request, build, context

    seed(book, minibook_store)  # the claim is about renders: the chapters' executions come from the store

    code = tmp_path / "bookbuild-code"
    code.mkdir()
    (code / "sphinx_ext.py").write_text("VERSION = 1\n")
    monkeypatch.setattr(render, "RENDERER_CODE", code)
    calls, said = [], []

    def renderer(root, site, strict, all_pages, say):
        calls.append(all_pages)
        return render.sphinx(root, site, strict, all_pages, say)

    def rebuild() -> str:
        said.clear()
        ctx = context(book)
        ctx.say = said.append
        assert build(ctx, Request(jobs=2, renderer=renderer)) == 0, "\n".join(said)
        return "\n".join(said)

    rebuild()
    assert "nothing changed since the last render" in rebuild() and len(calls) == 1
    (code / "sphinx_ext.py").write_text("VERSION = 2\n")
    out = rebuild()
    assert "every page is read again" in out and calls[-1] is True, out
    assert "nothing changed since the last render" in rebuild() and len(calls) == 2
    # A prose edit after it: an ordinary incremental render again.
    (book / "a.md").write_text((book / "a.md").read_text().replace("Prose of A.", "Edited prose of A."))
    out = rebuild()
    assert "every page is read again" not in out and calls[-1] is False, out


def test_external_toc_disables_its_own_applications_toctree_collector_and_no_other(tmp_path):
    """sphinx-external-toc's setup, as builds in this process run it (bookbuild.inprocess).

    Released, it walks every object in the process for an enabled TocTreeCollector: slow where the
    process holds much (a test's, the preview's), and it would disconnect listeners from the new
    application by the ids of an earlier application's collector.
    """
    from sphinx.application import Sphinx
    from sphinx.environment.collectors.toctree import TocTreeCollector
    from sphinx.util.docutils import docutils_namespace, patch_docutils
    from sphinx_external_toc.collectors import TocTreeCollectorWithStyles

    from bookbuild import inprocess

    inprocess.scope_external_toc_to_its_application()
    (tmp_path / "index.md").write_text("# Index\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    stray = TocTreeCollector()  # an earlier application's, still enabled, not yet garbage-collected
    stray.listener_ids = {"doctree-read": 0, "env-updated": 1}
    with patch_docutils(None), docutils_namespace():
        app = Sphinx(
            tmp_path,
            None,
            tmp_path / "_build" / "html",
            tmp_path / "_build" / ".doctrees",
            "dummy",
            confoverrides={"extensions": ["myst_parser", "sphinx_external_toc"], "external_toc_path": "_toc.yml"},
            status=None,
            warning=None,
        )
    assert stray.listener_ids == {"doctree-read": 0, "env-updated": 1}
    active = {
        type(listener.handler.__self__)
        for listeners in app.events.listeners.values()
        for listener in listeners
        if isinstance(getattr(listener.handler, "__self__", None), TocTreeCollector)
    }
    assert active == {TocTreeCollectorWithStyles}  # Sphinx's own collector disabled, the extension's on
