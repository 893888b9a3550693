"""bookbuild.sphinx_ext: the status page's list of changes, and doctrees without nested parses' documents."""

from __future__ import annotations


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


def test_compiled_theme_templates_are_reused_only_for_the_same_source_and_settings(monkeypatch):
    """A second Sphinx application in the process renders with the templates the first compiled,
    unless the template's source or the environment's settings (here a filter) differ."""
    from jinja2 import DictLoader
    from jinja2.sandbox import SandboxedEnvironment

    from bookbuild import sphinx_ext

    monkeypatch.setattr(sphinx_ext, "_TEMPLATES", sphinx_ext._CompiledTemplates())
    compiled = []

    def environment(source: str, **filters) -> SandboxedEnvironment:
        env = SandboxedEnvironment(loader=DictLoader({"page.html": source}))
        env.filters.update(filters)
        real = env.compile
        env.compile = lambda src, *a, **k: compiled.append(src) or real(src, *a, **k)
        sphinx_ext._TEMPLATES.install(env)
        return env

    assert environment("<p>{{ title }}</p>").get_template("page.html").render(title="A") == "<p>A</p>"
    assert environment("<p>{{ title }}</p>").get_template("page.html").render(title="B") == "<p>B</p>"
    assert compiled == ["<p>{{ title }}</p>"]  # the second application compiled nothing
    assert environment("<p>{{ title }}!</p>").get_template("page.html").render(title="C") == "<p>C!</p>"
    env = environment("<p>{{ title }}!</p>", shout=str.upper)
    assert env.get_template("page.html").render(title="d") == "<p>d!</p>"
    assert len(compiled) == 3  # a changed template, then another filter set: compiled afresh
    own = SandboxedEnvironment(loader=DictLoader({}))
    own.bytecode_cache = marker = object()
    sphinx_ext._TEMPLATES.install(own)
    assert own.bytecode_cache is marker  # a cache someone else set is left alone
