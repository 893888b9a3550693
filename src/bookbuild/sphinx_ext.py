"""Sphinx side of bookbuild: re-read pages whose execution outputs changed, and the status page.

Sphinx re-reads a page when its source file changes; outputs that changed because a library
module, the data or the environment changed leave the source untouched. The driver writes each
chapter's execution key to a manifest; this extension marks a page outdated when its key differs
from the one it was last read with. The ``execution-status`` directive renders the manifest: per
chapter, its run time, when and where it was executed, and whether this build executed it; and,
when the build was compared with an earlier one (``build --diff-base``), the glued values and
figures that changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

from bookbuild import notebooks
from bookbuild.book import MANIFEST_ENV, Paths, pages, safe_name

# Where the build keeps the manifest and the store, relative to the book root (a rendered build is
# never a stand-in run, so the real layout).
_LAYOUT = Paths(Path())


def _manifest(app) -> tuple[dict, str]:
    path = Path(os.environ.get(MANIFEST_ENV) or Path(app.srcdir) / app.config.bookbuild_manifest)
    if not path.exists():
        return {}, ""
    raw = path.read_bytes()
    try:
        return json.loads(raw), hashlib.sha256(raw).hexdigest()
    except ValueError:
        return {}, ""


def _outdated(app, env, added, changed, removed):
    manifest, digest = _manifest(app)
    keys = {doc: info.get("key") for doc, info in manifest.get("chapters", {}).items()}
    seen = getattr(env, "bookbuild_keys", {})
    stale = [doc for doc, key in keys.items() if doc in env.found_docs and seen.get(doc) != key]
    if digest != getattr(env, "bookbuild_manifest_digest", None):
        stale += [doc for doc in getattr(env, "bookbuild_status_docs", set()) if doc in env.found_docs]
    env.bookbuild_keys = keys
    env.bookbuild_manifest_digest = digest
    return sorted(set(stale))


def _table(headers: list[str], rows: list[list[nodes.Node | str]]) -> nodes.table:
    table = nodes.table(classes=["bookbuild-status"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    group += [nodes.colspec(colwidth=1) for _ in headers]

    def row(cells):
        r = nodes.row()
        for c in cells:
            entry = nodes.entry()
            entry += nodes.paragraph("", "", c if isinstance(c, nodes.Node) else nodes.Text(str(c)))
            r += entry
        return r

    head = nodes.thead()
    head += row(headers)
    body = nodes.tbody()
    for cells in rows:
        body += row(cells)
    group += [head, body]
    return table


class ExecutionStatus(SphinxDirective):
    """Render the execution manifest as a table (``{execution-status}``)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        env = self.env
        if not hasattr(env, "bookbuild_status_docs"):
            env.bookbuild_status_docs = set()
        env.bookbuild_status_docs.add(env.docname)
        manifest, _ = _manifest(env.app)
        if not manifest.get("chapters"):
            para = nodes.paragraph(
                text="This build was made without the bookbuild driver (`make book`), so it has no execution records."
            )
            return [para]
        out: list[nodes.Node] = []
        if manifest.get("standin"):
            out.append(
                nodes.warning(
                    "",
                    nodes.paragraph(
                        text=(
                            f"Stand-in run ({manifest['standin']} was set): these outputs come from generated stand-in "
                            "files, and every number on these pages is meaningless. This site must not be published."
                        )
                    ),
                )
            )
        rows = []
        for doc, info in manifest["chapters"].items():
            link = addnodes.pending_xref(
                "",
                nodes.inline(text=doc),
                refdomain="std",
                reftype="doc",
                reftarget="/" + doc,
                refexplicit=False,
                refwarn=True,
            )
            rows.append(
                [
                    link,
                    "executed" if info["status"] == "executed" else "reused from cache",
                    f"{info.get('seconds', 0):.1f} s",
                    info.get("executed_at", "?"),
                    info.get("profile", "?"),
                    info.get("device", "?"),
                ]
            )
        out += [
            nodes.paragraph(
                text=f"Rendered in the {manifest.get('profile', '?')} profile on "
                f"{manifest.get('device', '?')}; "
                f"{sum(i['status'] == 'executed' for i in manifest['chapters'].values())} of "
                f"{len(manifest['chapters'])} chapters executed by this build, the rest reused "
                "outputs whose inputs had not changed."
            ),
            _table(["Chapter", "This build", "Run time", "Executed", "Profile", "Device"], rows),
        ]
        versions = {}
        for info in manifest["chapters"].values():
            for pkg, ver in (info.get("packages") or {}).items():
                versions.setdefault(pkg, set()).add(ver)
        if versions:
            text = ", ".join(f"{pkg} {' / '.join(sorted(v))}" for pkg, v in sorted(versions.items()))
            out.append(nodes.paragraph(text=f"Package versions of the executions: {text}."))
        if manifest.get("changes"):
            out += _changes(manifest["changes"])
        return out


def _changes(report: dict) -> list[nodes.Node]:
    """The glued values and figures that differ from the build the manifest was compared with."""
    values = [(ch["chapter"], g) for ch in report.get("chapters", []) for g in ch.get("glue", [])]
    figures = [(ch["chapter"], f) for ch in report.get("chapters", []) for f in ch.get("figures", [])]
    other = [ch for ch in report.get("chapters", []) if ch.get("status") != "changed"]
    intro = nodes.paragraph(text="Compared with the previous published build: ")
    if not (values or figures or other):
        intro += nodes.Text(
            f"no glued value or figure changed ({len(report.get('identical', []))} chapters "
            "with byte-identical outputs)."
        )
        return [intro]
    intro += nodes.Text(f"{len(values)} glued value(s) and {len(figures)} figure(s) changed.")
    items = nodes.bullet_list(classes=["bookbuild-changes"])
    for doc, g in values:
        if g["change"] == "changed":
            rel = g.get("relative")
            text = f"{doc}, {g['name']}: {g['old']} \u2192 {g['new']}" + (f" ({rel:+.2%})" if rel is not None else "")
        else:
            text = f"{doc}, {g['name']}: {g['change']} ({g['new'] if g['change'] == 'added' else g['old']})"
        items += nodes.list_item("", nodes.paragraph(text=text))
    for doc, f in figures:
        items += nodes.list_item("", nodes.paragraph(text=f"{doc}, figure {f['name']}: {f['change']}"))
    for ch in other:
        items += nodes.list_item("", nodes.paragraph(text=f"{ch['chapter']}: {ch['status']}"))
    return [intro, items]


def _store_notebook(app, docname: str, info: dict) -> Path | None:
    path = Path(app.srcdir) / app.config.bookbuild_store / safe_name(docname) / f"{info.get('key')}.ipynb"
    return path if path.exists() else None


PDF_FOLDER = "_pdf"


def _run_links(app, doctree, docname: str) -> None:
    """Under the title of every executed chapter: its notebook, Colab (when the repository is known), its PDF.

    Every other page of the book links to the whole book's PDF (written by ``make pdf``).
    """
    if app.builder.format != "html":
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    manifest, _ = _manifest(app)
    info = manifest.get("chapters", {}).get(docname)
    up = "../" * docname.count("/")
    book_pdf = (
        f'<a class="bookbuild-pdf-book reference external" href="{up}{PDF_FOLDER}/book.pdf">the whole book (PDF)</a>'
    )
    if info and _store_notebook(app, docname, info):
        name = docname.rsplit("/", 1)[-1]
        parts = [
            f'<a class="bookbuild-download reference external" href="{up}{notebooks.FOLDER}/{docname}.ipynb" '
            f'download="{name}.ipynb">Download notebook (.ipynb)</a>'
        ]
        repo = notebooks.repository(Path(app.srcdir))
        if repo:
            url = notebooks.colab_url(repo, app.config.bookbuild_notebooks_branch, docname)
            parts.append(f'<a class="bookbuild-colab reference external" href="{url}">Open in Colab</a>')
        parts.append(
            f'<a class="bookbuild-pdf reference external" href="{up}{PDF_FOLDER}/{docname}.pdf">'
            "This chapter as a PDF</a>"
        )
        parts.append(book_pdf)
        html = '<p class="bookbuild-run"><strong>Run or print this chapter:</strong> ' + " · ".join(parts) + "</p>"
    elif docname in app.env.found_docs and not docname.startswith(("_", "genindex", "search")):
        html = f'<p class="bookbuild-run">Read offline: {book_pdf}</p>'
    else:
        return
    title = next(iter(section.findall(nodes.title)), None)
    section.insert(section.index(title) + 1 if title is not None else 0, nodes.raw("", html, format="html"))


def _citations(app) -> dict:
    """Every bibliography entry as the page cites it: "(Author, year)" and its full reference."""
    out = {}
    for name in getattr(app.config, "bibtex_bibfiles", []) or []:
        out.update(_bib_citations(Path(app.srcdir) / name))
    return out


_BIB_CITATIONS: dict[str, tuple[str, dict]] = {}  # file -> (digest of its content, its citations)


def _bib_citations(path: Path) -> dict:
    """:func:`_citations` of one bibliography file, formatted once per content (the preview renders often)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    known = _BIB_CITATIONS.get(str(path))
    if known is None or known[0] != digest:
        known = _BIB_CITATIONS[str(path)] = (digest, _format_citations(path))
    return known[1]


def _format_citations(path: Path) -> dict:
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin
    from pybtex.richtext import Text

    from bookbuild.notebooks import Citation

    out = {}
    style = find_plugin("pybtex.style.formatting", "plain")()
    bib = parse_file(str(path))
    formatted = {e.key: e.text.render_as("text") for e in style.format_entries(bib.entries.values())}
    for key, entry in bib.entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        last = [Text.from_latex(" ".join(p.last_names)).render_as("text") for p in people]
        if len(last) > 2:
            authors = f"{last[0]} et al."
        else:
            authors = " and ".join(last) or key
        entry_text = " ".join(formatted.get(key, key).split())
        out[key] = Citation(authors, entry.fields.get("year", "n.d."), entry_text)
    return out


def _section_numbers(env, doc: str, _cache: dict) -> dict[str, str]:
    """``{id: "4.2"}`` for every id of every numbered section of ``doc`` (a label is one of its ids).

    ``_cache``: one build's (the preview keeps one environment across builds, whose numbers change).
    """
    key = doc
    if key not in _cache:
        numbers = env.toc_secnumbers.get(doc, {})
        found = {}
        if numbers:
            for ids in _section_ids(env, doc):
                number = numbers.get("#" + ids[0])
                if number:
                    found.update({i: ".".join(map(str, number)) for i in ids})
        _cache[key] = found
    return _cache[key]


_SECTION_IDS: dict[str, tuple[bytes, list[list[str]]]] = {}


def _section_ids(env, doc: str) -> list[list[str]]:
    """The ids of each section of ``doc``, read from its doctree once per version of the page.

    The environment keeps each page's pickled doctree as one bytes object until the page is read
    again; while it holds the same object the ids are the same (the preview renders many times in
    one process; a build in a new process reads every page's once, as before).
    """
    raw = env._pickled_doctree_cache.get(doc)
    known = _SECTION_IDS.get(doc)
    if raw is not None and known is not None and known[0] is raw:
        return known[1]
    ids = [list(s["ids"]) for s in env.get_doctree(doc).findall(nodes.section) if s.get("ids")]
    if doc in env._pickled_doctree_cache:
        _SECTION_IDS[doc] = (env._pickled_doctree_cache[doc], ids)
    return ids


def _references(app):
    """What the pages resolved roles to (numbers, titles, citations, glossary), for the readers' notebooks."""
    from bookbuild.notebooks import References

    env = app.env
    std = env.get_domain("std")
    base = (app.config.html_baseurl or "").rstrip("/")

    def url(doc: str, anchor: str) -> str:
        return f"{base}/{doc}.html#{anchor}" if base else ""

    refs = References(numfig_format=dict(app.config.numfig_format or {}) or {"figure": "Fig. %s"})
    sections: dict = {}
    for label, (doc, labelid, title) in std.labels.items():
        numbers = env.toc_fignumbers.get(doc, {})
        if labelid in numbers.get("figure", {}):
            refs.figures[label] = ".".join(map(str, numbers["figure"][labelid]))
        if title:
            refs.sections[label] = (title, url(doc, labelid))
        secnumber = _section_numbers(env, doc, sections).get(labelid)
        if secnumber:
            refs.section_numbers[label] = secnumber
    for kinds in env.toc_fignumbers.values():
        for node_id, number in kinds.get("exercise", {}).items():
            refs.exercises[node_id] = ".".join(map(str, number))
    for term, (doc, labelid) in std._terms.items():
        refs.terms[term] = url(doc, labelid)
    refs.citations = _citations(app)
    for label, title in _labels_elsewhere(app).items():  # a chapter rendered alone: the book's other pages
        refs.sections.setdefault(label, (title, ""))
    return refs


def _write_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    manifest, _ = _manifest(app)
    # Only this site's pages: a chapter rendered alone has the whole book's manifest but one chapter.
    chapters = {doc: info for doc, info in manifest.get("chapters", {}).items() if doc in app.env.found_docs}
    found = {doc: p for doc, info in chapters.items() if (p := _store_notebook(app, doc, info))}
    if found:
        write = functools.partial(
            notebooks.write_all,
            Path(app.outdir),
            Path(app.srcdir),
            found,
            app.config.bookbuild_install_package,
            app.config.bookbuild_install_requirement,
            app.config.bookbuild_notebooks_branch,
            _references(app),
            {doc: Path(app.env.doc2path(doc)) for doc in found},
            keys=Path(app.doctreedir) / "bookbuild-notebooks.json",
        )
        # The preview's resident Sphinx writes them once the page is shown (bookbuild.resident);
        # everything they are made from is read above, from this build's environment.
        later = getattr(app, "bookbuild_after_build", None)
        if later is not None:
            later.append(write)
        else:
            write()


def _detach_foreign_documents(app, doctree) -> None:
    """Drop references from this page's nodes to the throw-away documents of nested parses.

    Nodes made by a nested parse (autodoc, napoleon) keep ``_document`` pointing at a temporary
    document whose settings still hold the build environment; Sphinx strips the environment only
    from the page's own document before pickling it, so each such page's doctree carried a copy of
    the whole environment (1.5-1.9 MB per reference page instead of kilobytes), and every
    incremental build unpickled all of them again to number figures. ``node.document`` falls back
    to the parent's document, so nothing is lost.
    """
    for node in doctree.findall():
        if getattr(node, "_document", None) is not None and node._document is not doctree:
            node._document = None


def _unique_solution_ids(app, doctree, docname: str) -> None:
    """Give each exercise's and solution's body its own id.

    sphinx-exercise gives all of them ``exercise-content`` / ``solution-content``, and ids must be
    unique in a page; nothing links to these.
    """
    seen = 0
    for section in doctree.findall(nodes.section):
        shared = [i for i in section["ids"] if i in ("solution-content", "exercise-content")]
        if shared:
            seen += 1
            parent_ids = [i for i in section.parent.get("ids", []) if i] if section.parent is not None else []
            new = f"{parent_ids[0]}-content" if parent_ids else f"{shared[0]}-{seen}"
            section["ids"] = [new if i in shared else i for i in section["ids"]]


def _lighter_pages(app, pagename, templatename, context, doctree) -> None:
    """Leave out what a page does not use: MathJax, Thebe, sphinx-design.

    MathJax goes where the page has no formula, Thebe everywhere, sphinx-design's style sheet and
    script where the page has no design element (card, grid, tab).

    jupyter-book sets Sphinx's asset policy to "always", so every page loaded all of MathJax
    (1.2 MB) even without a formula; Thebe (live code, off in _config.yml) still declared its
    configuration twice (a console error on every page) and loaded its script; sphinx-design's
    62 kB served only the landing page's cards.
    """
    scripts = context.get("script_files")
    if scripts is None:
        return
    # The page's own formulas: MathDomain.has_equations also counts every page in its toctree, which
    # made the landing page load MathJax.
    has_math = bool(app.env.get_domain("math").data.get("has_equations", {}).get(pagename))
    has_design = bool(re.search(r'class="(?:[^"]*\s)?sd-', str(context.get("body", ""))))

    def keep(js) -> bool:
        name = str(getattr(js, "filename", js) or "")
        body = str(getattr(js, "attributes", {}).get("body", ""))
        if "thebe" in name.lower() or "thebe" in body.lower():
            return False
        if not has_math and ("mathjax" in name.lower() or "MathJax" in body):
            return False
        return has_design or not name.endswith("design-tabs.js")

    scripts[:] = [js for js in scripts if keep(js)]
    styles = context.get("css_files")
    if styles is not None:
        names = [(css, str(getattr(css, "filename", css) or "").lower()) for css in styles]
        styles[:] = [css for css, name in names if "thebe" not in name and (has_design or "sphinx-design" not in name)]


# sphinx-mathjax-offline copies all of MathJax 3 (24 MB: every combined bundle, SVG output and its
# fonts); the pages load the loader (startup.js, ``mathjax_path``) and the components _config.yml's
# ``mathjax3_config.loader.load`` names with what they need: the core, TeX input, CommonHTML output
# and its font data, assistive MathML; TeX extensions on demand and the CHTML woff-v2 fonts.
# No menu (ui/menu.js alone is 0.43 MB): the formulas' hidden MathML is what screen readers read.
MATHJAX_KEEP = (
    "startup.js",
    "core.js",
    "input/tex.js",
    "input/tex/extensions/",
    "output/chtml.js",
    "output/chtml/fonts/tex.js",
    "output/chtml/fonts/woff-v2/",
    "a11y/assistive-mml.js",
)


def _prune_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    folder = Path(app.outdir) / "_static" / Path(app.config.mathjax_path).parent
    if folder.name != "mathjax" or not (folder / Path(app.config.mathjax_path).name).exists():
        return
    for path in sorted(folder.rglob("*"), reverse=True):
        rel = path.relative_to(folder).as_posix() + ("/" if path.is_dir() else "")
        if path.is_file() and not rel.startswith(MATHJAX_KEEP) and rel != Path(app.config.mathjax_path).name:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def _mathjax_path(app, config) -> None:
    """``bookbuild_mathjax_path`` as Sphinx's ``mathjax_path``: sphinx-mathjax-offline sets its own in setup."""
    if config.bookbuild_mathjax_path:
        config.mathjax_path = config.bookbuild_mathjax_path


def _lighten(app, exception) -> None:
    """Font Awesome's 1.5 MB script, unused icons and search scripts out of the site (bookbuild.lighten)."""
    if exception is not None or app.builder.format != "html":
        return
    from bookbuild.lighten import lighten

    options = getattr(app.config, "html_theme_options", None) or {}
    lighten(
        Path(app.outdir),
        search_as_you_type=bool(options.get("search_as_you_type", False)),
        state=Path(app.doctreedir) / "bookbuild-lighten.json",
    )


def _theme_mode(app, pagename, templatename, context, doctree) -> None:
    """Follow the system's light/dark setting from the first visit.

    pydata-sphinx-theme 0.17's layout reads a template variable ``default_mode`` that nothing
    sets, so a first visit started from mode "" ("Got invalid theme mode", a console error)
    before the theme fell back to auto.
    """
    if not context.get("default_mode"):
        context["default_mode"] = context.get("theme_default_mode") or "auto"


def _memoise_pybtex_plugins() -> None:
    """Look each pybtex plugin up once per process.

    pybtex resolves a plugin (a backend, a style) through ``importlib.metadata.entry_points`` on
    every call, which reads the metadata of every installed distribution; sphinxcontrib-bibtex and
    :func:`_citations` ask for one per citation rendered, several hundred lookups a build (profiled:
    the largest single cost of a prose edit's render). The installed plugins do not change while
    Sphinx runs; plugins registered at run time (``register_plugin``) are still looked up live.
    """
    import pybtex.plugin

    if getattr(pybtex.plugin._load_entry_point, "bookbuild_memoised", False):
        return
    installed = functools.lru_cache(maxsize=None)(pybtex.plugin._load_entry_point)

    def load(group, name, use_aliases=False):
        for search in [group, group + ".aliases"] if use_aliases else [group]:
            klass = pybtex.plugin._RUNTIME_PLUGINS.get(search, {}).get(name)
            if klass is not None:
                return klass
        return installed(group, name, use_aliases)

    load.bookbuild_memoised = True
    pybtex.plugin._load_entry_point = load


class _CompiledTemplates:
    """Jinja's compiled theme templates, kept for the next Sphinx application in this process.

    Each new Sphinx application makes a new template environment and compiles every theme template
    it renders again (36 for this theme: about a fifth of a small book's render, profiled). A
    process that renders more than once keeps them: the preview's renderer after a fresh start, and
    the unit tests' in-process builds. A template is reused only under the same name, file, source
    and environment settings (delimiters, extensions, filters, tests), so a changed template or
    another configuration compiles afresh.
    """

    def __init__(self) -> None:
        self.code: dict[tuple, object] = {}

    def install(self, environment) -> None:
        import jinja2

        outer = self

        class Cache(jinja2.BytecodeCache):
            def get_bucket(self, env, name, filename, source):
                key, checksum = self.get_cache_key(name, filename), self.get_source_checksum(source)
                bucket = jinja2.bccache.Bucket(env, key, checksum)
                bucket.code = outer.code.get((bucket.key, bucket.checksum, _environment_key(env)))
                return bucket

            def set_bucket(self, bucket):
                outer.code[(bucket.key, bucket.checksum, _environment_key(bucket.environment))] = bucket.code

        if environment.bytecode_cache is None:
            environment.bytecode_cache = Cache()


def _environment_key(env) -> tuple:
    """What a template's compiled code depends on besides its source."""
    return (
        type(env).__qualname__,
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.optimized,
        env.is_async,
        repr(env.autoescape) if not callable(env.autoescape) else env.autoescape,
        tuple(sorted(env.extensions)),
        tuple(sorted(env.filters)),
        tuple(sorted(env.tests)),
    )


_TEMPLATES = _CompiledTemplates()


def _keep_compiled_templates(app) -> None:
    templates = getattr(app.builder, "templates", None)
    environment = getattr(templates, "environment", None)
    if environment is not None:
        _TEMPLATES.install(environment)


_LABEL = re.compile(r"^\((?P<label>[^()\s]+)\)=[ \t]*\n(?:[ \t]*\n)*(?:#+[ \t]+(?P<title>.+))?", re.MULTILINE)


def _labels_elsewhere(app) -> dict[str, str]:
    """Labels (lower case) of the book's pages that this site leaves out, with the heading each names.

    Empty for the whole book; a chapter rendered alone (``make chapter``) leaves the other chapters out.
    """
    found = getattr(app, "_bookbuild_elsewhere", None)
    if found is None:
        found = {}
        for doc, path in pages(Path(app.srcdir)):
            if doc not in app.env.found_docs and path.suffix == ".md":
                for m in _LABEL.finditer(path.read_text(encoding="utf8")):
                    found[m["label"].lower()] = (m["title"] or m["label"]).strip()
        app._bookbuild_elsewhere = found
    return found


def _elsewhere_in_the_book(app, env, node, contnode):
    """A chapter rendered alone: a reference to a label of a page this site leaves out.

    Such a reference resolves in the whole book, so it is not an error here: it renders as its
    text, without a link, instead of an "undefined label" warning that fails the strict build. A
    label that no page of ``_toc.yml`` defines still warns.
    """
    if node.get("refdomain") != "std" or node.get("reftype") not in ("ref", "numref"):
        return None
    return contnode if node.get("reftarget", "").lower() in _labels_elsewhere(app) else None


def setup(app):
    _memoise_pybtex_plugins()
    app.add_config_value("bookbuild_manifest", str(_LAYOUT.manifest), "env")
    app.add_config_value("bookbuild_store", str(_LAYOUT.store), "env")
    app.add_config_value("bookbuild_install_package", "", "env")
    app.add_config_value("bookbuild_install_requirement", "{source}", "env")
    app.add_config_value("bookbuild_notebooks_branch", "notebooks", "env")
    app.add_config_value("bookbuild_mathjax_path", "", "html")
    app.connect("config-inited", _mathjax_path, priority=900)
    app.connect("builder-inited", _keep_compiled_templates)
    app.connect("html-page-context", _theme_mode, priority=501)
    app.connect("doctree-read", _detach_foreign_documents)
    app.connect("doctree-resolved", _run_links)
    app.connect("doctree-resolved", _unique_solution_ids)
    app.connect("build-finished", _write_notebooks)
    app.connect("build-finished", _prune_mathjax, priority=900)  # after sphinx-mathjax-offline copied it
    app.connect("build-finished", _lighten, priority=900)
    # After sphinx.ext.mathjax added it (500), before any handler that returns a template name (which
    # ends the event: Sphinx emits html-page-context with emit_firstresult).
    app.connect("html-page-context", _lighter_pages, priority=501)
    app.connect("env-get-outdated", _outdated)
    app.connect("missing-reference", _elsewhere_in_the_book)
    app.add_directive("execution-status", ExecutionStatus)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True, "env_version": 1}
