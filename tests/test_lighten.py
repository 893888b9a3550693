"""bookbuild.lighten on a small built site: Font Awesome's script out, icons kept, search scripts where needed."""

import importlib.util
import shutil
from pathlib import Path

import pytest

from bookbuild import lighten

# Found, not imported: importing the theme while collecting cost every test process 0.15 CPU-s.
THEME_STATIC = Path(importlib.util.find_spec("pydata_sphinx_theme").origin).parent / "theme/pydata_sphinx_theme/static"
FONTS = THEME_STATIC / "vendor" / "fontawesome" / "webfonts"

HEAD = (
    '<script defer src="../_static/scripts/fontawesome.js?digest=abc"></script>\n'
    '    <script src="../_static/searchtools.js"></script>\n'
    '    <script src="../_static/language_data.js"></script>\n'
    '    <script src="../searchindex.js"></script>\n'
)
CSS = (
    '.fa-solid{font-weight:900}.fa-magnifying-glass:before,.fa-search:before{content:"\\f002"}'
    '.fa-download:before{content:"\\f019"}.fa-xmark:before,.fa-close:before{content:"\\f00d"}'
    '.fa-house:before{content:"\\f015"}.bd-header{color:red}'
)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    if not FONTS.is_dir():
        pytest.skip(f"pydata-sphinx-theme's webfonts not at {FONTS}")
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "page.html").write_text(f'{HEAD}<i class="fa-solid fa-magnifying-glass"></i><p>text</p>')
    (tmp_path / "search.html").write_text(HEAD.replace("../", "") + "<p>search</p>")
    scripts = tmp_path / "_static" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "fontawesome.js").write_text("x" * 1000)
    (scripts / "fontawesome.js.map").write_text("{}")
    (scripts / "theme.js").write_text('button.innerHTML = `<i class="fa-solid fa-xmark"></i>`;')
    (tmp_path / "_static" / "styles").mkdir()
    (tmp_path / lighten.ICON_CSS).write_text(CSS)
    fonts = tmp_path / lighten.FONT_DIR
    fonts.mkdir(parents=True)
    for font in ("fa-solid-900.woff2", "fa-solid-900.ttf"):
        shutil.copy(FONTS / font, fonts / font)
    return tmp_path


def cmap(path: Path) -> set[int]:
    from fontTools.ttLib import TTFont

    return set(TTFont(path).getBestCmap())


def test_lighten_removes_the_script_keeps_used_icons_and_search_on_its_page(site: Path):
    before = (site / lighten.FONT_DIR / "fa-solid-900.woff2").stat().st_size
    assert {0xF002, 0xF019, 0xF00D, 0xF015} <= cmap(site / lighten.FONT_DIR / "fa-solid-900.woff2")
    saved = lighten.lighten(site)

    page = (site / "book" / "page.html").read_text()
    assert "fontawesome.js" not in page and "searchindex.js" not in page and "searchtools.js" not in page
    assert '<i class="fa-solid fa-magnifying-glass"></i><p>text</p>' in page
    search = (site / "search.html").read_text()
    assert "fontawesome.js" not in search
    assert "searchindex.js" in search and "searchtools.js" in search and "language_data.js" in search
    assert not list((site / "_static" / "scripts").glob("fontawesome.js*"))
    assert saved["fontawesome.js"] == 1002

    css = (site / lighten.ICON_CSS).read_text()
    # The page's icon and the one a script inserts stay (with their aliases); the unused ones go.
    assert ".fa-magnifying-glass:before,.fa-search:before" in css and ".fa-xmark:before" in css
    assert "fa-download" not in css and "fa-house" not in css
    assert ".fa-solid{font-weight:900}" in css and ".bd-header{color:red}" in css

    for font in ("fa-solid-900.woff2", "fa-solid-900.ttf"):
        kept = cmap(site / lighten.FONT_DIR / font)
        assert {0xF002, 0xF00D} <= kept and not {0xF019, 0xF015} & kept
    assert (site / lighten.FONT_DIR / "fa-solid-900.woff2").stat().st_size < before / 10
    assert (site / lighten.FONT_DIR / "fa-solid-900.woff2").read_bytes()[:4] == b"wOF2"

    # Twice is the same as once (an incremental build runs it over pages already lightened).
    again = lighten.lighten(site)
    assert (site / "book" / "page.html").read_text() == page and again["html"] == 0


def test_search_as_you_type_keeps_the_search_scripts_on_every_page(site: Path):
    shutil.rmtree(site / lighten.FONT_DIR)  # (subsetting is the slow part, tested above)
    lighten.lighten(site, search_as_you_type=True)
    page = (site / "book" / "page.html").read_text()
    assert "fontawesome.js" not in page and "searchindex.js" in page


def test_with_state_a_later_run_reads_only_what_the_build_rewrote(site: Path, tmp_path: Path, monkeypatch):
    """An incremental build rewrites some pages (and Sphinx may copy the theme's files afresh):
    with ``state``, the next run strips those pages, re-prunes the style sheet and fonts only when
    they were copied afresh or the icons used changed, and leaves the rest unread."""
    state = tmp_path / "doctrees" / "lighten.json"
    subset, read = [], []
    real_subset, real_strip = lighten._subset_font, lighten.strip_scripts
    monkeypatch.setattr(lighten, "_subset_font", lambda path, cps: subset.append(path.name) or real_subset(path, cps))
    monkeypatch.setattr(
        lighten, "strip_scripts", lambda html, *a, **k: read.append(html[-30:]) or real_strip(html, *a, **k)
    )
    lighten.lighten(site, state=state)
    assert len(read) == 2 and sorted(subset) == ["fa-solid-900.ttf", "fa-solid-900.woff2"]
    font = (site / lighten.FONT_DIR / "fa-solid-900.woff2").read_bytes()

    # Nothing rewritten: no page read, no font subset, the same output.
    read.clear(), subset.clear()
    assert lighten.lighten(site, state=state) == {"html": 0, "fontawesome.js": 0, "css": 0, "fonts": 0}
    assert read == [] and subset == []
    # Sphinx copied the same style sheet again (it does on every build): last run's result is put
    # back without pruning it again.
    pruned = (site / lighten.ICON_CSS).read_text()
    (site / lighten.ICON_CSS).write_text(CSS)
    real_prune = lighten.prune_icon_css
    monkeypatch.setattr(lighten, "prune_icon_css", lambda *a: pytest.fail("pruned again"))
    lighten.lighten(site, state=state)
    assert (site / lighten.ICON_CSS).read_text() == pruned
    monkeypatch.setattr(lighten, "prune_icon_css", real_prune)

    # The build rewrote one page (the script back in, a new icon): that page only; the new icon's
    # CSS rule is gone already (pruned last time), so Sphinx's fresh copy of the style sheet is what
    # brings it back, and then the fonts are subset again for the new set of icons.
    page = site / "book" / "page.html"
    page.write_text(f'{HEAD}<i class="fa-solid fa-magnifying-glass"></i><i class="fa-solid fa-house"></i>')
    (site / lighten.ICON_CSS).write_text(CSS)
    shutil.copy(FONTS / "fa-solid-900.woff2", site / lighten.FONT_DIR / "fa-solid-900.woff2")
    shutil.copy(FONTS / "fa-solid-900.ttf", site / lighten.FONT_DIR / "fa-solid-900.ttf")
    read.clear(), subset.clear()
    lighten.lighten(site, state=state)
    assert len(read) == 1 and "fontawesome.js" not in page.read_text()
    assert sorted(subset) == ["fa-solid-900.ttf", "fa-solid-900.woff2"]
    assert ".fa-house:before" in (site / lighten.ICON_CSS).read_text()
    assert 0xF015 in cmap(site / lighten.FONT_DIR / "fa-solid-900.woff2")

    # Sphinx copied a font afresh (it copies the theme's files on every build), icons unchanged: the
    # subset made last time is put back, byte for byte, without subsetting.
    subset_ttf = (site / lighten.FONT_DIR / "fa-solid-900.ttf").read_bytes()
    shutil.copy(FONTS / "fa-solid-900.ttf", site / lighten.FONT_DIR / "fa-solid-900.ttf")
    read.clear(), subset.clear()
    lighten.lighten(site, state=state)
    assert read == [] and subset == []
    assert (site / lighten.FONT_DIR / "fa-solid-900.ttf").read_bytes() == subset_ttf
    assert (site / lighten.FONT_DIR / "fa-solid-900.woff2").read_bytes() != font  # (has the house now)
    # ... but not when the icons changed meanwhile: subset again for the new set.
    page.write_text(f'{HEAD}<i class="fa-solid fa-magnifying-glass"></i>')
    shutil.copy(FONTS / "fa-solid-900.ttf", site / lighten.FONT_DIR / "fa-solid-900.ttf")
    (site / lighten.ICON_CSS).write_text(CSS)
    subset.clear()
    lighten.lighten(site, state=state)
    assert sorted(subset) == ["fa-solid-900.ttf", "fa-solid-900.woff2"]
    assert 0xF015 not in cmap(site / lighten.FONT_DIR / "fa-solid-900.ttf")

    # A torn state file: every file is read again.
    state.write_text("{")
    read.clear()
    lighten.lighten(site, state=state)
    assert len(read) == 2


def test_a_font_subset_for_the_same_icons_is_made_once_per_process(tmp_path: Path, monkeypatch):
    """A process that renders again (the preview, the unit tests) puts back the subset it made for
    the same font and icons; another icon set, or another font, is subset afresh."""
    monkeypatch.setattr(lighten, "_SUBSETS", {})
    made = []
    real = lighten._subset_font_afresh
    monkeypatch.setattr(lighten, "_subset_font_afresh", lambda path, cps: made.append(path.name) or real(path, cps))
    first, second = tmp_path / "first.woff2", tmp_path / "second.woff2"
    for font in (first, second):
        shutil.copy(FONTS / "fa-solid-900.woff2", font)
    lighten._subset_font(first, {0xF002})
    lighten._subset_font(second, {0xF002})
    assert made == ["first.woff2"] and second.read_bytes() == first.read_bytes()
    assert 0xF002 in cmap(second) and 0xF015 not in cmap(second)
    shutil.copy(FONTS / "fa-solid-900.woff2", second)
    lighten._subset_font(second, {0xF002, 0xF015})  # a new icon
    assert made == ["first.woff2", "second.woff2"] and 0xF015 in cmap(second)
    ttf = tmp_path / "third.ttf"
    shutil.copy(FONTS / "fa-solid-900.ttf", ttf)
    lighten._subset_font(ttf, {0xF002})  # another font file
    assert made[-1] == "third.ttf" and 0xF002 in cmap(ttf)
