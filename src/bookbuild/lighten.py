"""Lighter pages: the theme's icon bundle and unused search scripts left out of the built site.

pydata-sphinx-theme 0.17 loads Font Awesome twice on every page: ``scripts/fontawesome.js``
(1.5 MB, every icon as JavaScript, which rewrites each ``<i class="fa-...">`` into an inline SVG)
and, through its style sheet, the icon webfonts (the solid one alone is 156 kB) with one CSS rule
per icon (1,900 rules, 86 kB). The icons the pages show render from the CSS and the webfonts alone
(upstream is moving the same way: pydata-sphinx-theme issue #2379, PR #2494), so
:func:`lighten`, run after the HTML build:

- removes the ``fontawesome.js`` script from every page and the bundle from ``_static``;
- keeps only the CSS rules of the icons the site uses (named in its HTML pages or its scripts,
  e.g. the search dialog's close button) and subsets the webfonts to those glyphs;
- removes the search index and Sphinx's search scripts from every page but the search page when
  search-as-you-type is off (the theme loads them everywhere for that feature only; the search
  box sends the reader to the search page, which loads them itself).

Every step reads the files Sphinx just copied (it copies the theme's static files on every
build), so running it twice, or on pages an incremental build did not rewrite, is harmless.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from bookbuild.util import atomic_write

__all__ = ["icon_codepoints", "icons_used", "lighten", "prune_icon_css", "strip_scripts"]

FONTAWESOME_JS = re.compile(r'[ \t]*<script[^>]*src="[^"]*_static/scripts/fontawesome\.js[^"]*"[^>]*></script>\n?')
SEARCH_JS = re.compile(
    r'[ \t]*<script[^>]*src="[^"]*(?:_static/searchtools\.js|_static/language_data\.js|searchindex\.js)"[^>]*>'
    r"</script>\n?"
)
ICON_RULE = re.compile(r'((?:\.fa-[\w-]+:{1,2}before,?)+)\{content:"((?:[^"\\]|\\.)*)"\}')
ICON_NAME = re.compile(r"\bfa-[a-z0-9]+(?:-[a-z0-9]+)*")
FONT_DIR = "_static/vendor/fontawesome/webfonts"
ICON_CSS = "_static/styles/pydata-sphinx-theme.css"


def strip_scripts(html: str, search_as_you_type: bool, search_page: bool) -> str:
    r"""``html`` without the Font Awesome bundle and (where unused) the search scripts.

    >>> page = '<script defer src="_static/scripts/fontawesome.js?digest=1"></script>\n<p>x</p>'
    >>> strip_scripts(page, search_as_you_type=False, search_page=False)
    '<p>x</p>'
    """
    html = FONTAWESOME_JS.sub("", html)
    if not search_as_you_type and not search_page:
        html = SEARCH_JS.sub("", html)
    return html


def icons_used(texts: Iterable[str]) -> set[str]:
    """Every ``fa-<name>`` token in ``texts`` (pages and scripts): a superset of the icons shown.

    >>> sorted(icons_used(['<i class="fa-solid fa-magnifying-glass fa-lg"></i>']))
    ['fa-lg', 'fa-magnifying-glass', 'fa-solid']
    """
    return {m.group(0) for text in texts for m in ICON_NAME.finditer(text)}


def _css_string(value: str) -> str:
    """A CSS string's characters, escapes (a backslash and hex digits) decoded."""
    escape = re.compile(r"\\([0-9a-fA-F]{1,6}) ?|\\(.)")
    return escape.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), value)


def icon_codepoints(css: str, names: set[str]) -> set[int]:
    r"""The code points of the glyphs ``css`` gives the icons ``names``.

    >>> icon_codepoints('.fa-search:before,.fa-magnifying-glass:before{content:"\\f002"}', {"fa-search"})
    {61442}
    """
    points = set()
    for m in ICON_RULE.finditer(css):
        selectors = {s.split(":")[0][1:] for s in m.group(1).split(",") if s}
        if selectors & names:
            points.update(ord(c) for c in _css_string(m.group(2)))
    return points


def prune_icon_css(css: str, names: set[str]) -> str:
    """``css`` without the rules of icons not in ``names`` (other rules untouched).

    >>> prune_icon_css('.fa-a:before{content:"A"}.fa-b:before{content:"B"}.x{y:z}', {"fa-b"})
    '.fa-b:before{content:"B"}.x{y:z}'
    """

    def keep(m: re.Match) -> str:
        selectors = {s.split(":")[0][1:] for s in m.group(1).split(",") if s}
        return m.group(0) if selectors & names else ""

    return ICON_RULE.sub(keep, css)


# Subsets made in this process: {(font digest, code points, suffix): subset bytes}. A process that
# renders more than once (the unit tests' builds, a preview) subsets the theme's fonts for the same
# icons each time; fontTools' subsetting was about a fifth of a small book's render.
_SUBSETS: dict[tuple[str, frozenset[int], str], bytes] = {}


def _subset_font(path: Path, codepoints: set[int]) -> None:
    key = (hashlib.sha256(path.read_bytes()).hexdigest(), frozenset(codepoints), path.suffix)
    if key in _SUBSETS:
        path.write_bytes(_SUBSETS[key])
        return
    _subset_font_afresh(path, codepoints)
    _SUBSETS[key] = path.read_bytes()


def _subset_font_afresh(path: Path, codepoints: set[int]) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    flavor = "woff2" if path.suffix == ".woff2" else None
    font = TTFont(path)
    options = subset.Options()
    options.flavor = flavor
    options.layout_features = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints) or [0x20])
    subsetter.subset(font)
    font.flavor = flavor
    font.save(path)


def lighten(outdir: Path, search_as_you_type: bool = False, state: Path | None = None) -> dict[str, int]:
    """Apply the module's steps to a built HTML site; returns bytes saved per kind of file.

    ``state``: a file where the run remembers what it left (each page's and script's size and
    times with the icons it names, the digests of the style sheet and fonts it wrote, each font's
    subset), so that the next run reads only the files that changed since: a page an incremental
    build did not rewrite is not read again; the style sheet is pruned again when Sphinx copied it
    afresh (it copies the theme's files on every build), and a font copied afresh gets the subset
    made last time unless the icons the site uses changed. Without it every file is read and rewritten.
    """
    outdir = Path(outdir)
    saved = {"html": 0, "fontawesome.js": 0, "css": 0, "fonts": 0}
    old = _load_state(state)
    new: dict = {"files": {}, "outputs": {}}
    names: set[str] = set()
    pages = sorted(outdir.rglob("*.html"))
    for page in pages:
        rel = str(page.relative_to(outdir))
        known = old["files"].get(rel)
        if known is not None and known[0] == _stamp(page):
            new["files"][rel] = known
            names.update(known[1])
            continue
        html = page.read_text(encoding="utf8")
        lighter = strip_scripts(html, search_as_you_type, search_page=page == outdir / "search.html")
        if lighter != html:
            page.write_text(lighter, encoding="utf8")
            saved["html"] += len(html) - len(lighter)
        used = sorted(icons_used([lighter]))
        new["files"][rel] = [_stamp(page), used]
        names.update(used)
    bundle = sorted((outdir / "_static" / "scripts").glob("fontawesome.js*"))
    for path in bundle:
        saved["fontawesome.js"] += path.stat().st_size
        path.unlink()
    for script in [*(outdir / "_static").glob("*.js"), *(outdir / "_static" / "scripts").glob("*.js")]:
        rel = str(script.relative_to(outdir))
        known = old["files"].get(rel)
        if known is None or known[0] != _stamp(script):
            known = [_stamp(script), sorted(icons_used([script.read_text(encoding="utf8", errors="replace")]))]
        new["files"][rel] = known
        names.update(known[1])
    css_path = outdir / ICON_CSS
    if not css_path.exists():
        _save_state(state, new)
        return saved
    new["names"] = sorted(names)
    same_icons = old.get("names") == new["names"]
    css = css_path.read_text(encoding="utf8")
    current = _digest(css.encode())
    pruned_before = old.get("css")
    if same_icons and old["outputs"].get(ICON_CSS) == current and "codepoints" in old:
        codepoints = set(old["codepoints"])  # this run's own output, for the same icons: nothing to do
        new["css"] = pruned_before
    elif same_icons and pruned_before and pruned_before.get("input") == current and "codepoints" in old:
        codepoints = set(old["codepoints"])  # Sphinx copied the same style sheet again: last run's result
        pruned = pruned_before["output"]
        saved["css"] = len(css) - len(pruned)
        css_path.write_text(pruned, encoding="utf8")
        css = pruned
        new["css"] = pruned_before
    else:
        new["css"] = {"input": current}
        codepoints = icon_codepoints(css, names)
        pruned = prune_icon_css(css, names)
        saved["css"] = len(css) - len(pruned)
        css_path.write_text(pruned, encoding="utf8")
        css = pruned
        new["css"]["output"] = pruned
    new["codepoints"] = sorted(codepoints)
    new["outputs"][ICON_CSS] = _digest(css.encode())
    same_glyphs = old.get("codepoints") == new["codepoints"]
    new["subsets"] = {}
    for font in sorted((outdir / FONT_DIR).glob("fa-*")):
        if font.suffix in (".woff2", ".ttf"):
            rel = str(font.relative_to(outdir))
            data = font.read_bytes()
            current = _digest(data)
            made = old.get("subsets", {}).get(rel)
            if same_glyphs and old["outputs"].get(rel) == current:  # still the subset this run wrote
                new["subsets"][rel] = made
            elif same_glyphs and made and made.get("input") == current:  # Sphinx copied the same font again
                font.write_bytes(base64.b64decode(made["output"]))
                saved["fonts"] += len(data) - font.stat().st_size
                new["subsets"][rel] = made
            else:
                _subset_font(font, codepoints)
                saved["fonts"] += len(data) - font.stat().st_size
                new["subsets"][rel] = {"input": current, "output": base64.b64encode(font.read_bytes()).decode()}
            new["outputs"][rel] = _digest(font.read_bytes())
    _save_state(state, new)
    return saved


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_mtime_ns, st.st_size]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _load_state(state: Path | None) -> dict:
    empty = {"files": {}, "outputs": {}}
    if state is None or not state.exists():
        return empty
    try:
        loaded = json.loads(state.read_text())
    except ValueError:  # torn or foreign: start over (every file read again)
        return empty
    return loaded if isinstance(loaded, dict) and {"files", "outputs"} <= loaded.keys() else empty


def _save_state(state: Path | None, data: dict) -> None:
    if state is not None:
        atomic_write(state, json.dumps(data, sort_keys=True))
