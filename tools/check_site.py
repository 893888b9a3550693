"""Check the built site in a real browser (headless Chromium driven by Playwright), as a reader gets it.

Serves ``_build/html`` on 127.0.0.1 and loads every page of the table of contents in the system's
Chromium with **every request to another host blocked** (the site must work offline), lets the
page's JavaScript run, and checks what the reader sees:

- every page: a title; no build leftovers (unresolved glue keys, ``??`` references, tracebacks);
  no request that left the local server; math typeset by the site's own MathJax (no raw ``\\(``
  or ``$$`` left); every image has alt text that describes it (not empty, not a file name); an
  axe-core accessibility audit with no critical or serious violation (the moderate and minor ones
  are printed, and docs/readers.md lists them);
- every chapter: states the profile its numbers come from, numbered figures (``Fig. <chapter>.<n>``)
  with images and captions, exercise solutions collapsed and opened by a click on their toggle,
  a "Download notebook" link to a notebook with outputs, and an "Open in Colab" link exactly when
  the build knew its GitHub repository;
- the status page lists every executed chapter; the landing page links to every chapter; the
  search page finds a glossary term;
- every page: no console error while it loads, no build jargon (outside the API reference and
  the status page); every chapter: its notebook has no MyST left and shows the page's glued
  values, in order, and it links to its PDF;
- every figure of a chapter (a PNG the chapter's code drew): its smallest text, from the font size
  and dpi its PNG records (``lecturekit.plotting.png_with_text_record``) and the width the desktop
  page (1280-px viewport) shows it at, is at least ``MIN_TEXT_PX`` CSS pixels
  (``--figures`` prints the per-figure table only);
- every page again on a 390x844 phone (axe; nothing wider than the screen outside a scrolling
  container; the menu button opens the drawer with every chapter) and where the system asks for
  dark mode (the theme follows; axe).

Usage: python tools/check_site.py [--site _build/html] [--figures]   (exit 1 on any problem)
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import re
import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from bookbuild.book import discover, toc_docnames  # noqa: E402
from bookbuild.config import load as load_config  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "Install it with `apt-get update && apt-get install -y chromium` (Debian; as root) and run again."
BLOCKING_IMPACTS = ("critical", "serious")
COLAB = re.compile(r"^https://colab\.research\.google\.com/github/[\w.-]+/[\w.-]+/blob/[\w./-]+\.ipynb$")


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_site: no Chromium found (looked for " + ", ".join(BROWSERS) + "). " + INSTALL_HINT)


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # the browser's requests are not news
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:
            # The browser cancels requests it no longer needs (a page left mid-load): not a problem.
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                super().handle_error(request, client_address)

    handler = functools.partial(Quiet, directory=str(site))
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def looks_like_a_path(alt: str) -> bool:
    """An alt text that is a file name or path says nothing to a screen-reader user."""
    alt = alt.strip()
    return bool(
        re.search(r"\.(png|jpe?g|svg|gif|webp)$", alt, re.I)
        or re.fullmatch(r"[\w./\\-]+", alt)
        and ("/" in alt or "\\" in alt or "_" in alt)
    )


MAIN_TEXT_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const clone = main.cloneNode(true);
  clone.querySelectorAll('script, mjx-container, mjx-assistive-mml, .MathJax').forEach(e => e.remove());
  return clone.innerText;
}"""


def wait_for_math(page) -> bool:
    """Wait until MathJax finished typesetting; False when the page has no MathJax."""
    has = page.evaluate("() => typeof window.MathJax !== 'undefined' && !!(window.MathJax.startup)")
    if has:
        page.evaluate("() => window.MathJax.startup.promise")
    return has


def check_page(page, doc: str, executable: bool, has_repository: bool) -> list[str]:
    problems = []
    if page.locator("h1").count() == 0:
        problems.append("no title (h1)")
    math_loaded = wait_for_math(page)
    text = page.evaluate(MAIN_TEXT_JS)
    outputs = "\n".join(page.locator(".cell_output").all_inner_texts())
    for where, pattern, what in [
        (text, r"\{glue:?[a-z]*\}", "unrendered glue role"),
        (text, r"\?\?", "broken reference (??)"),
        (outputs, r"Traceback \(most recent call last\)", "an error traceback in an output"),
        (text, r"No key '[^']+' found in glue", "missing glue key"),
    ]:
        if re.search(pattern, where):
            problems.append(what)
    jargon = re.search(r"bookbuild|whose build knows|build (driver|machine)|exec(ution)?[- ]store", text, re.I)
    if jargon and not doc.endswith("status") and "/reference/" not in f"/{doc}":  # API docs name their tools
        problems.append(f"build jargon on a reader's page ({jargon.group(0)!r})")
    raw_math = re.findall(r"\\\(|\\\[|\$\$", text)
    if raw_math:
        problems.append(f"{len(raw_math)} formulas left as raw TeX (MathJax did not typeset them)")
    n_math = page.locator("mjx-container").count()
    if executable and n_math == 0:
        problems.append("no typeset math" + ("" if math_loaded else " (MathJax did not load)"))
    for alt in page.eval_on_selector_all("main img", "imgs => imgs.map(i => i.getAttribute('alt') || '')"):
        if not alt.strip():
            problems.append("an image without alt text")
            break
        if looks_like_a_path(alt):
            problems.append(f"an image whose alt text is a file name ({alt!r})")
            break
    if executable:
        problems += check_chapter(page, doc, text, has_repository)
        problems += check_figures(page, doc)
    return problems


def check_chapter(page, doc: str, text: str, has_repository: bool) -> list[str]:
    problems = []
    if "How this page was produced" not in text or not re.search(r"\b(lite|full)\b", text):
        problems.append("does not state the profile its numbers come from")
    figures = page.locator("main figure")
    if figures.count() == 0:
        problems.append("no figures")
    for i in range(figures.count()):
        fig = figures.nth(i)
        if fig.locator("img").count() == 0 or fig.locator("figcaption").count() == 0:
            problems.append("a figure without an image or a caption")
            break
    if figures.count() and not re.search(r"Fig\. \d+\.\d+", text):
        problems.append("figures are not numbered per chapter (Fig. <chapter>.<n>)")
    solutions = page.locator("div.solution")
    hidden = page.locator("div.solution.toggle-hidden")
    if hidden.count() != solutions.count():
        problems.append(f"{solutions.count() - hidden.count()} of {solutions.count()} solutions are not collapsed")
    if solutions.count():
        button = page.locator("div.solution button.toggle-button").first
        if button.count() == 0:
            problems.append("a solution without a toggle button")
        else:
            button.click()
            page.wait_for_timeout(300)
            if "toggle-hidden" in (page.locator("div.solution").first.get_attribute("class") or ""):
                problems.append("clicking a solution's toggle does not open it")
    elif "solution" in text.lower():
        problems.append("solutions did not render as collapsible blocks")
    # Run it yourself: the executed notebook, and Colab.
    download = page.locator("a.bookbuild-download")
    if download.count() == 0:
        problems.append("no 'Download notebook' link")
    else:
        href = download.first.get_attribute("href")
        response = page.request.get(page.url.rsplit("/", 1)[0] + "/" + href)
        try:
            nb = json.loads(response.body())
            glued = page.eval_on_selector_all("main .pasted-text", "els => els.map(e => e.textContent)")
            problems += check_notebook(nb, href, glued)
        except (ValueError, KeyError, IndexError) as err:
            problems.append(f"the 'Download notebook' link {href} is not a notebook ({response.status}: {err})")
    colab = page.locator("a.bookbuild-colab")
    if has_repository:
        href = colab.first.get_attribute("href") if colab.count() else ""
        if not COLAB.match(href or "") or not (href or "").endswith(f"{doc}.ipynb"):
            problems.append(f"no valid 'Open in Colab' link for {doc} (got {href!r})")
    elif colab.count():
        problems.append("an 'Open in Colab' link in a build that knows no repository")
    pdf = page.locator("a.bookbuild-pdf")
    if pdf.count() == 0:
        problems.append("no link to the chapter's PDF")
    return problems


# MyST that must not reach a reader's notebook: roles, directives, labels, jupytext markers.
MYST_LEFTOVERS = re.compile(r"\{[a-zA-Z][\w:-]*\}`|^\s*(`{3,}|:{3,})\{|^\s*\([\w:.-]+\)=\s*$|^\+\+\+", re.M)


def typographic(text: str) -> str:
    """The page's smart quotes and dashes (docutils' smart_quotes) read as the notebook's plain ones."""
    for fancy, plain in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\u2013", "--")):
        text = text.replace(fancy, plain)
    return text.strip()


def check_notebook(nb: dict, href: str, page_glue: list[str]) -> list[str]:
    """A reader's notebook: outputs, install cell first, plain Markdown, the page's glued values."""
    problems = []
    outputs = sum(len(c.get("outputs", [])) for c in nb["cells"] if c["cell_type"] == "code")
    first = "".join(nb["cells"][0]["source"])
    if outputs == 0:
        problems.append(f"the downloadable notebook {href} has no outputs")
    if "find_spec" not in first:
        problems.append(f"the downloadable notebook {href} does not start with its install cell")
    markdown = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    for text in markdown:
        m = MYST_LEFTOVERS.search(text)
        if m:
            problems.append(f"MyST left in the notebook {href}: {text[max(0, m.start() - 30) : m.end() + 30]!r}")
            break
    shown = [text for _key, _spec, text in nb["metadata"]["bookbuild"]["glue"]]
    if [typographic(t) for t in shown] != [typographic(t) for t in page_glue]:
        diff = next(
            (i for i, (a, b) in enumerate(zip(shown, page_glue, strict=False)) if typographic(a) != typographic(b)),
            min(len(shown), len(page_glue)),
        )
        problems.append(
            f"the notebook {href} shows {len(shown)} glued values, the page {len(page_glue)}; first difference at "
            f"#{diff}: {shown[diff : diff + 1]} vs {page_glue[diff : diff + 1]}"
        )
    joined = "\n".join(markdown)
    missing = [t for t in shown if t not in joined]
    if missing:
        problems.append(f"glued values not in the notebook's text: {missing[:3]}")
    return problems


# Keep in step with lecturekit.plotting (not imported: the check reads the built site only).
MIN_TEXT_PX = 9.0
FONT_KEY, DPI_KEY, TEXT_KEY = "lecturekit:min-font-pt", "lecturekit:dpi", "lecturekit:min-font-text"

# Every image of the article, loaded (not lazily left out), with its natural and shown width.
IMAGES_JS = """async () => {
  const imgs = [...document.querySelectorAll('main img')];
  await Promise.all(imgs.map(i => { i.loading = 'eager'; return i.decode().catch(() => null); }));
  return imgs.map(i => {
    const fig = i.closest('figure');
    const cap = fig && fig.querySelector('figcaption');
    const num = cap ? (cap.innerText.match(/Fig\\. \\d+\\.\\d+/) || [''])[0] : '';
    return {src: i.currentSrc || i.src, natural: i.naturalWidth, shown: i.getBoundingClientRect().width, figure: num};
  });
}"""


def png_text(data: bytes) -> dict[str, str]:
    """The tEXt/iTXt entries of a PNG (``{}`` for anything else)."""
    import struct
    import zlib

    out: dict[str, str] = {}
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return out
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"tEXt" and b"\0" in body:
            key, value = body.split(b"\0", 1)
            out[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"iTXt" and b"\0" in body:
            key, rest = body.split(b"\0", 1)
            compressed, rest = rest[0], rest[2:]
            _lang, _translated, text = rest.split(b"\0", 2)
            out[key.decode("latin-1")] = (zlib.decompress(text) if compressed else text).decode("utf8")
        elif kind == b"IEND":
            break
    return out


def figure_text_sizes(page) -> list[dict]:
    """Per image of the page: its figure number, widths, the font record and the smallest text in CSS px."""
    rows = []
    for img in page.evaluate(IMAGES_JS):
        record = png_text(page.request.get(img["src"]).body()) if img["src"].split("?")[0].endswith(".png") else {}
        row = {**img, "name": img["src"].rsplit("/", 1)[-1][:12], "pt": None, "dpi": None, "px": None, "text": ""}
        if FONT_KEY in record and DPI_KEY in record and img["natural"]:
            row["pt"], row["dpi"] = float(record[FONT_KEY]), float(record[DPI_KEY])
            row["px"] = row["pt"] * row["dpi"] / 72 * img["shown"] / img["natural"]
            row["text"] = record.get(TEXT_KEY, "")
        elif DPI_KEY in record:
            row["text"] = "(no text)"
        rows.append(row)
    return rows


def check_figures(page, doc: str) -> list[str]:
    problems = []
    for row in figure_text_sizes(page):
        what = f"figure {row['figure'] or row['name']} on {doc}"
        if row["text"] == "(no text)":
            continue  # a picture without any text: nothing to read
        if row["px"] is None:
            problems.append(
                f"{what} has no text-size record in its PNG (draw it in a chapter that calls lk.book.setup)"
            )
        elif row["px"] < MIN_TEXT_PX:
            problems.append(
                f"{what}: smallest text {row['px']:.1f} px < {MIN_TEXT_PX:g} px ({row['pt']:g} pt {row['text']!r}, "
                f"{row['natural']} px wide shown at {row['shown']:.0f} px): fewer panels per row, a figure "
                f"at most {672 / row['dpi']:.2f} in wide, or larger fonts"
            )
    return problems


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 3}

# Elements of the article that stick out of the viewport and are not inside a scrolling container.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if ((o === 'auto' || o === 'scroll') && a.getBoundingClientRect().right <= width + 1) return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll('main *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    // The drawers (chapters, page contents) wait off screen until a tap opens them.
    if (el.closest('.bd-sidebar-primary, .bd-sidebar-secondary, dialog')) continue;
    if (getComputedStyle(el).visibility === 'hidden') continue;
    if ((r.right > width + 1 || r.left < -1) && !scrolls(el)) {
      if (el.parentElement && out.some(o => o.el.contains(el))) continue;
      out.push({el, what: `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${[...el.classList].join('.')}`
                + ` (${Math.round(r.left)}..${Math.round(r.right)} px)`});
    }
  }
  return {page: document.documentElement.scrollWidth - width, items: out.map(o => o.what).slice(0, 4)};
}"""


def check_phone(browser, route, origin: str, doc: str, executable: set[str]) -> list[str]:
    """The page on a 390x844 phone: axe, nothing wider than the screen, the chapter drawer opens on a tap."""
    with opened(browser, route, f"{origin}/{doc}.html", **PHONE) as page:
        problems = [f"accessibility: {b}" for b in audit(page)[0]]
        over = page.evaluate(OVERFLOW_JS)
        if over["items"] or over["page"] > 1:
            problems.append(
                f"wider than the screen without a scroll container: {', '.join(over['items']) or 'the page'}"
            )
        toggles = [t for t in page.locator("button.primary-toggle, label.primary-toggle").all() if t.is_visible()]
        if not toggles:
            problems.append("no visible button that opens the chapter list")
        else:
            toggle = toggles[0]
            toggle.tap()
            page.wait_for_timeout(400)
            links = page.eval_on_selector_all(
                "#pst-primary-sidebar-modal a.reference.internal, #pst-primary-sidebar a.reference.internal",
                "els => els.filter(e => { const r = e.getBoundingClientRect(); "
                "return r.width > 0 && r.left >= 0 && r.right <= innerWidth + 1; }).map(e => e.getAttribute('href'))",
            )
            # The current chapter's own entry links to "#".
            missing = [
                d
                for d in executable
                if not any(h and (h.endswith(f"{Path(d).name}.html") or (d == doc and h == "#")) for h in links)
            ]
            if missing:
                problems.append(f"tapping the menu button does not show the chapters ({len(missing)} not visible)")
    return problems


def check_dark(browser, route, origin: str, doc: str) -> list[str]:
    """The page where the system asks for dark mode: the theme follows, axe finds nothing serious."""
    with opened(browser, route, f"{origin}/{doc}.html", color_scheme="dark") as page:
        problems = [f"accessibility: {b}" for b in audit(page)[0]]
        if page.evaluate("() => document.documentElement.dataset.theme") != "dark":
            problems.insert(0, "the page does not switch to its dark theme")
    return problems


@contextmanager
def opened(browser, route, url: str, **options):
    """``url`` loaded (math typeset) in a new browser context with ``options``, requests through ``route``."""
    context = browser.new_context(**options)
    context.route("**/*", route)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(url, wait_until="load")
        wait_for_math(page)
        yield page
    finally:
        context.close()


def audit(page) -> tuple[list[str], list[str]]:
    """axe-core on the page: (blocking violations, other violations), one line each.

    After the page's CSS transitions and animations settled: the theme switches to dark mode by
    script after load, and axe measuring a colour halfway through its transition reported a
    contrast the reader never sees (intermittently, one element on a page).
    """
    from axe_playwright_python.sync_playwright import Axe

    page.evaluate(
        "() => Promise.all(document.getAnimations()"
        ".filter(a => a.effect && a.effect.getTiming().iterations !== Infinity)"  # a spinner never ends
        ".map(a => a.finished.catch(() => null)))"
    )
    results = Axe().run(page, options={"resultTypes": ["violations"]})
    blocking, other = [], []
    for v in results.response["violations"]:
        where = ", ".join(" ".join(map(str, n.get("target", []))) for n in v["nodes"][:3])
        line = f"{v['impact']}: {v['id']} ({len(v['nodes'])}x) {v['help']} [{where}]"
        (blocking if v["impact"] in BLOCKING_IMPACTS else other).append(line)
    return blocking, other


def check_pages(
    browser_path: str,
    origin: str,
    port: int,
    docs: list[str],
    landing: str,
    executable: set[str],
    has_repository: bool,
    search: bool,
) -> dict:
    """Check ``docs`` in one browser: {"lines": {doc: report line}, "failures": n, "minor": {violation: docs}}."""
    from playwright.sync_api import sync_playwright

    lines: dict[str, str] = {}
    failures, minor = 0, {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        context = browser.new_context()
        outside: list[str] = []

        def route(r) -> None:
            if urlparse(r.request.url).netloc == f"127.0.0.1:{port}" or r.request.url.startswith("data:"):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(120_000)
        errors: list[str] = []
        page.on(
            "console",
            lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None,
        )
        page.on("response", lambda r: errors.append(f"{r.status} for {r.url}") if r.status >= 400 else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        for doc in docs:
            outside.clear()
            errors.clear()
            page.goto(f"{origin}/{doc}.html", wait_until="load")
            wait_for_math(page)
            page.wait_for_timeout(300)
            # What the page logged while loading (axe's own stylesheet fetches come later and resolve
            # the theme's @import "../basic.css" against the page, a 404 no reader gets).
            load_errors = list(errors)
            blocking, other = audit(page)  # first, on the page as it loads
            problems = [f"accessibility: {b}" for b in blocking]
            for o in other:
                minor.setdefault(o.split(" (")[0], set()).add(doc)
            problems += check_page(page, doc, doc in executable, has_repository)
            if outside:
                problems.append(f"{len(outside)} request(s) to other hosts, e.g. {outside[0]}")
            if load_errors:
                problems.append(f"{len(load_errors)} console error(s), e.g. {load_errors[0][:120]!r}")
            problems += [f"phone: {p}" for p in check_phone(browser, route, origin, doc, executable)]
            problems += [f"dark mode: {p}" for p in check_dark(browser, route, origin, doc)]
            if doc.endswith("status"):
                rows = page.locator(".bookbuild-status tr").count() - 1
                if rows != len(executable):
                    problems.append(f"status table lists {rows} chapters, the book executes {len(executable)}")
            if doc == landing:
                html = page.content()
                missing = [d for d in executable if f"{Path(d).name}.html" not in html]
                if missing:
                    problems.append(f"landing page does not link to {', '.join(missing)}")
            lines[doc] = f"  {doc:<28} {'ok' if not problems else 'PROBLEMS: ' + '; '.join(problems)}"
            failures += bool(problems)
        if search:  # search works offline and finds a glossary term
            page.goto(f"{origin}/search.html?q=equivariance", wait_until="load")
            page.wait_for_selector("#search-results li, .search li", timeout=15000)
            if "glossary" not in page.content():
                problem = "PROBLEMS: searching 'equivariance' does not find the glossary"
                lines["search"] = f"  {'search':<28} {problem}"
                failures += 1
            else:
                lines["search"] = "  search                       ok"
        browser.close()
    return {"lines": lines, "failures": failures, "minor": minor}


def figures_table(browser_path: str, origin: str, docs: list[str]) -> list[dict]:
    """Every chapter figure's smallest text at the desktop width: one row per image, in page order."""
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
        page = browser.new_context().new_page()
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(origin) else r.abort())
        for doc in docs:
            page.goto(f"{origin}/{doc}.html", wait_until="load")
            rows += [{"page": doc, **row} for row in figure_text_sizes(page)]
        browser.close()
    return rows


def print_figures(rows: list[dict]) -> int:
    print(
        f"{'page':<22} {'figure':<9} {'natural':>7} {'shown':>6} {'font pt':>7} {'dpi':>4} {'text px':>7}"
        "  smallest text"
    )
    bad = 0
    for r in rows:
        px = f"{r['px']:7.1f}" if r["px"] is not None else "      -"
        pt = f"{r['pt']:7g}" if r["pt"] is not None else "      -"
        dpi = f"{r['dpi']:4g}" if r["dpi"] is not None else "   -"
        low = r["px"] is not None and r["px"] < MIN_TEXT_PX or (r["px"] is None and r["text"] != "(no text)")
        bad += low
        name = r["figure"] or r["name"]
        print(
            f"{r['page'].removeprefix('book/'):<22} {name:<9} {r['natural']:7d} {r['shown']:6.0f} {pt} {dpi} {px}"
            f"  {r['text'][:30]!r}{'  < ' + format(MIN_TEXT_PX, 'g') + ' px' if low else ''}"
        )
    print(f"check_site --figures: {len(rows)} images, {bad} below {MIN_TEXT_PX:g} px or without a record")
    return 1 if bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--figures", action="store_true", help="only the chapters' figures: smallest text in px")
    args = parser.parse_args()
    if not (args.site / "index.html").exists():
        sys.exit(f"check_site: no site at {args.site}; run `make book` first")
    browser_path = find_browser()

    executable = {doc for doc, _ in discover(ROOT, load_config(ROOT).exclude_patterns)}
    docs = toc_docnames(ROOT)
    if args.figures:
        server, port = serve(args.site)
        try:
            rows = figures_table(browser_path, f"http://127.0.0.1:{port}", [d for d in docs if d in executable])
        finally:
            server.shutdown()
        return print_figures(rows)
    index_path = args.site / "_notebooks" / "index.json"
    has_repository = bool(index_path.exists() and json.loads(index_path.read_text()).get("repository"))
    server, port = serve(args.site)
    origin = f"http://127.0.0.1:{port}"
    # Pages are checked by two browsers side by side (Playwright's sync API: one instance per
    # thread); the report is printed in table-of-contents order.
    workers = max(1, min(2, os.cpu_count() or 1))
    shares = [docs[i::workers] for i in range(workers)]
    try:
        with ThreadPoolExecutor(workers) as pool:
            jobs = [
                pool.submit(check_pages, browser_path, origin, port, share, docs[0], executable, has_repository, i == 0)
                for i, share in enumerate(shares)
            ]
            results = [job.result() for job in jobs]
    finally:
        server.shutdown()
    reports = {doc: line for result in results for doc, line in result["lines"].items()}
    for doc in [*docs, "search"]:
        if doc in reports:
            print(reports[doc])
    failures = sum(r["failures"] for r in results)
    minor: dict[str, set[str]] = {}
    for r in results:
        for violation, pages in r["minor"].items():
            minor.setdefault(violation, set()).update(pages)
    for violation, pages in sorted(minor.items()):
        print(f"  note (not blocking) {violation}: {len(pages)} page(s)")
    print(f"check_site: {len(docs)} pages checked in Chromium (Playwright), offline; {failures} with problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
