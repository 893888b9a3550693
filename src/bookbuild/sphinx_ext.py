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

import hashlib
import json
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.util.docutils import SphinxDirective

from bookbuild import notebooks
from bookbuild.book import Paths, safe_name

# Where the build keeps the manifest and the store, relative to the book root (a rendered build is
# never a stand-in run, so the real layout).
_LAYOUT = Paths(Path())


def _manifest(app) -> tuple[dict, str]:
    path = Path(app.srcdir) / app.config.bookbuild_manifest
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


def _run_links(app, doctree, docname: str) -> None:
    """Put "Download notebook" and "Open in Colab" under the title of every executed chapter."""
    manifest, _ = _manifest(app)
    info = manifest.get("chapters", {}).get(docname)
    if app.builder.format != "html" or not info or not _store_notebook(app, docname, info):
        return
    depth = docname.count("/")
    href = "../" * depth + f"{notebooks.FOLDER}/{docname}.ipynb"
    name = docname.rsplit("/", 1)[-1]
    parts = [
        f'<a class="bookbuild-download reference external" href="{href}" download="{name}.ipynb">'
        "Download notebook (.ipynb)</a>"
    ]
    repo = notebooks.repository()
    if repo:
        url = notebooks.colab_url(repo, app.config.bookbuild_notebooks_branch, docname)
        parts.append(f'<a class="bookbuild-colab reference external" href="{url}">Open in Colab</a>')
    else:
        parts.append(
            '<span class="bookbuild-colab-note">"Open in Colab" is offered on the published site, '
            "whose build knows its GitHub repository.</span>"
        )
    html = '<p class="bookbuild-run"><strong>Run this chapter yourself:</strong> ' + " · ".join(parts) + "</p>"
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    title = next(iter(section.findall(nodes.title)), None)
    section.insert(section.index(title) + 1 if title is not None else 0, nodes.raw("", html, format="html"))


def _write_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    manifest, _ = _manifest(app)
    found = {doc: p for doc, info in manifest.get("chapters", {}).items() if (p := _store_notebook(app, doc, info))}
    if found:
        notebooks.write_all(
            Path(app.outdir),
            Path(app.srcdir),
            found,
            app.config.bookbuild_install_package,
            app.config.bookbuild_install_requirement,
            app.config.bookbuild_notebooks_branch,
        )


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


def setup(app):
    app.add_config_value("bookbuild_manifest", str(_LAYOUT.manifest), "env")
    app.add_config_value("bookbuild_store", str(_LAYOUT.store), "env")
    app.add_config_value("bookbuild_install_package", "", "env")
    app.add_config_value("bookbuild_install_requirement", "{source}", "env")
    app.add_config_value("bookbuild_notebooks_branch", "notebooks", "env")
    app.connect("doctree-read", _detach_foreign_documents)
    app.connect("doctree-resolved", _run_links)
    app.connect("build-finished", _write_notebooks)
    app.connect("env-get-outdated", _outdated)
    app.add_directive("execution-status", ExecutionStatus)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True, "env_version": 1}
