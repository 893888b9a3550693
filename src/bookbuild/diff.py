"""Compare two builds' results: which glued numbers and figures a change moves.

A *side* is ``{docname: results}`` (:mod:`bookbuild.results`) for every chapter of one build. It
comes from a manifest (``_build/exec-manifest.json``, a copy of it, or the folder holding it),
whose chapters carry their results -- or, for a manifest written before results were kept, the
store entries its keys name --, or from a checkout planned against a store (executing what the
store lacks, reusing everything else: the base of a pull request costs only the chapters the pull
request changes).

:func:`compare` reports per chapter the glued values added, removed and changed (old -> new, with
the relative change), the figures whose image changed, and the chapters whose outputs are
byte-identical; :func:`terminal` and :func:`markdown` print it. With a threshold, numeric changes
larger than that relative tolerance (and changed non-numeric values) are marked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bookbuild.book import safe_name
from bookbuild.store import CorruptEntry, Store


class NoBuild(ValueError):
    """There is no build to compare with where one was named."""


@dataclass
class Side:
    """The results of one build: ``{docname: results or None (unknown)}``."""

    label: str
    chapters: dict[str, dict | None] = field(default_factory=dict)


def _entry_results(stores: list[Store], docname: str, key: str | None) -> dict | None:
    for store in stores:
        if key and store.has(safe_name(docname), key):
            try:
                entry = store.get(safe_name(docname), key)
            except CorruptEntry:
                continue
            if entry is not None:
                return entry.meta["results"]
    return None


def manifest_path(path: Path) -> Path:
    """The manifest file that ``path`` names: the file itself, or in ``path`` or ``path/_build``."""
    path = Path(path)
    for candidate in (path, path / "exec-manifest.json", path / "_build" / "exec-manifest.json"):
        if candidate.is_file():
            return candidate
    raise NoBuild(
        f"no build manifest at {path} (looked for {path}/exec-manifest.json and "
        f"{path}/_build/exec-manifest.json); build it first (python -m bookbuild build), or pass "
        "--execute-base to execute that checkout against this build's store"
    )


def from_manifest(path: Path, stores: list[Store] = ()) -> Side:
    """A side from a manifest; results missing from it are read from its sibling store, then ``stores``."""
    path = manifest_path(path)
    try:
        data = json.loads(path.read_text())
    except ValueError as err:
        raise NoBuild(f"{path} is not a build manifest (invalid JSON: {err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("chapters"), dict):
        raise NoBuild(f"{path} is not a build manifest (no 'chapters' table)")
    search = [Store(path.parent / "exec-store"), *stores]
    side = Side(str(path))
    for doc, info in data["chapters"].items():
        side.chapters[doc] = info.get("results") or _entry_results(search, doc, info.get("key"))
    return side


def from_outcomes(label: str, outcomes) -> Side:
    """A side from a build's outcomes (their store metadata carries the results)."""
    return Side(label, {o.chapter.docname: o.meta.get("results") for o in outcomes if o.status != "failed"})


def _relative(old: float | None, new: float | None) -> float | None:
    if old is None or new is None or old == 0:
        return None
    return (new - old) / abs(old)


def compare(base: Side, head: Side, threshold: float | None = None) -> dict:
    """Per chapter: glued values added/removed/changed, figures added/removed/changed, identical outputs."""
    chapters = []
    identical = []
    for doc in list(head.chapters) + [d for d in base.chapters if d not in head.chapters]:
        old, new = base.chapters.get(doc), head.chapters.get(doc)
        if doc not in base.chapters:
            chapters.append({"chapter": doc, "status": "added", "glue": [], "figures": []})
            continue
        if doc not in head.chapters:
            chapters.append({"chapter": doc, "status": "removed", "glue": [], "figures": []})
            continue
        if old is None or new is None:
            chapters.append(
                {
                    "chapter": doc,
                    "status": "unknown",
                    "glue": [],
                    "figures": [],
                    "why": f"no results for the {'base' if old is None else 'current'} build",
                }
            )
            continue
        if old.get("outputs") == new.get("outputs"):
            identical.append(doc)
            continue
        glue = []
        og, ng = old.get("glue", {}), new.get("glue", {})
        for name in sorted(set(og) | set(ng)):
            a, b = og.get(name), ng.get(name)
            if a is not None and b is not None and a == b:
                continue
            item = {"name": name, "old": a and a.get("text"), "new": b and b.get("text")}
            if a is None or b is None:
                item["change"] = "added" if a is None else "removed"
            else:
                item["change"] = "changed"
                # a glued image by its fingerprint (its text is only "<Figure ...>"); a value that turned
                # from an image into text, or back, shows each side as what it is
                item["old"], item["new"] = (_image_text(v) if v.get("sha256") else v.get("text") for v in (a, b))
                item["relative"] = _relative(a.get("value"), b.get("value"))
                item["flagged"] = threshold is not None and (
                    item["relative"] is None or abs(item["relative"]) > threshold
                )
            glue.append(item)
        figures = []
        of, nf = old.get("figures", {}), new.get("figures", {})
        for name in sorted(set(of) | set(nf), key=_natural):
            a, b = of.get(name), nf.get(name)
            if a == b:
                continue
            change = "added" if a is None else "removed" if b is None else "changed"
            figures.append({"name": name, "change": change, "old": a and _image_text(a), "new": b and _image_text(b)})
        chapters.append(
            {
                "chapter": doc,
                "status": "changed",
                "glue": glue,
                "figures": figures,
                "outputs_only": not glue and not figures,
            }
        )
    return {
        "base": base.label,
        "head": head.label,
        "threshold": threshold,
        "chapters": chapters,
        "identical": identical,
    }


def _natural(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in name.replace("[", " ").replace("]", " ").split()]


def _image_text(info: dict) -> str:
    size = f"{info['width']}x{info['height']} px, " if "width" in info else ""
    return f"{size}{info.get('mime', 'image')} {info['sha256'][:10]}"


def _rel_text(item: dict) -> str:
    rel = item.get("relative")
    if item["change"] != "changed":
        return ""
    return f"{rel:+.2%}" if rel is not None else "n/a"


def terminal(report: dict) -> str:
    """The report for a terminal: one block per chapter that differs."""
    t = report["threshold"]
    lines = [
        f"Results of {report['head']} compared with {report['base']}"
        + (f" (marked '!': relative change above {t:.2%})" if t is not None else "")
        + ":"
    ]
    if not report["chapters"]:
        lines.append(
            f"  no differences: no glued value or figure changed ({len(report['identical'])} chapter(s) byte-identical)"
        )
        return "\n".join(lines) + "\n"
    for ch in report["chapters"]:
        if ch["status"] != "changed":
            lines.append(f"{ch['chapter']}: {ch['status']}" + (f" ({ch['why']})" if ch.get("why") else ""))
            continue
        parts = [f"{len(ch['glue'])} glued value(s)"] if ch["glue"] else []
        parts += [f"{len(ch['figures'])} figure(s)"] if ch["figures"] else []
        lines.append(
            f"{ch['chapter']}: "
            + (", ".join(parts) + " differ" if parts else "outputs differ, but no glued value or figure")
        )
        for g in ch["glue"]:
            mark = {"added": "+", "removed": "-", "changed": "~"}[g["change"]]
            if g["change"] == "changed":
                flag = "  !" if g.get("flagged") else ""
                lines.append(f"  {mark} {g['name']}: {g['old']} -> {g['new']} ({_rel_text(g)}){flag}")
            else:
                lines.append(f"  {mark} {g['name']}: {g['new'] if g['change'] == 'added' else g['old']}")
        for f in ch["figures"]:
            lines.append(
                f"  figure {f['name']}: {f['change']}"
                + (f" ({f['old']} -> {f['new']})" if f["change"] == "changed" else "")
            )
    if report["identical"]:
        lines.append(f"byte-identical: {', '.join(report['identical'])}")
    return "\n".join(lines) + "\n"


def _md(text: str | None) -> str:
    return "" if text is None else "`" + str(text).replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def markdown(report: dict) -> str:
    """The report as GitHub-flavoured Markdown (a job summary, a pull-request comment)."""
    t = report["threshold"]
    out = [
        "### Published numbers and figures this change moves",
        "",
        f"Compared with `{report['base']}`."
        + (
            f" **Bold**: relative change above {t:.2%} (or a changed non-numeric value) -- check the prose "
            "that interprets it."
            if t is not None
            else ""
        ),
        "",
    ]
    if not report["chapters"]:
        out.append(f"No glued value or figure changed ({len(report['identical'])} chapter(s) byte-identical).")
        return "\n".join(out) + "\n"
    values = [(ch["chapter"], g) for ch in report["chapters"] for g in ch["glue"]]
    if values:
        out += ["| chapter | value | before | after | change |", "|---|---|---|---|---|"]
        for doc, g in values:
            rel = _rel_text(g) or g["change"]
            if g.get("flagged"):
                rel = f"**{rel}**"
            out.append(f"| {doc} | `{g['name']}` | {_md(g['old'])} | {_md(g['new'])} | {rel} |")
        out.append("")
    figures = [(ch["chapter"], f) for ch in report["chapters"] for f in ch["figures"]]
    if figures:
        out.append("Figures: " + "; ".join(f"{doc} `{f['name']}` {f['change']}" for doc, f in figures) + ".")
        out.append("")
    other = [ch for ch in report["chapters"] if ch["status"] != "changed" or ch.get("outputs_only")]
    for ch in other:
        what = "outputs differ, but no glued value or figure" if ch["status"] == "changed" else ch["status"]
        out.append(f"- {ch['chapter']}: {what}" + (f" ({ch['why']})" if ch.get("why") else ""))
    if report["identical"]:
        out += ["", f"Byte-identical: {', '.join(report['identical'])}."]
    return "\n".join(out) + "\n"
