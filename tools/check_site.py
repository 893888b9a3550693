"""Check the built site in a real browser (headless Chromium driven by Playwright), as a reader gets it.

Serves ``_build/html`` on 127.0.0.1 and loads every page of the table of contents in the system's
Chromium with **every request to another host blocked** (the site must work offline), lets the
page's JavaScript run, and checks what the reader sees:

- every page: a title; no build leftovers (unresolved glue keys, ``??`` references, tracebacks);
  no request that left the local server; math typeset by the site's own MathJax (no raw ``\\(``
  or ``$$`` left); every image has alt text that describes it (not empty, not a file name); an
  axe-core accessibility audit with no critical or serious violation (the moderate and minor ones
  are printed, and the README lists them);
- every chapter: states the profile its numbers come from, numbered figures (``Fig. <chapter>.<n>``)
  with images and captions, exercise solutions collapsed and opened by a click on their toggle,
  a "Download notebook" link to a notebook with outputs, and an "Open in Colab" link (when the
  build knew its GitHub repository; otherwise the note that says where it is offered);
- the status page lists every executed chapter; the landing page links to every chapter; the
  search page finds a glossary term.

Usage: python tools/check_site.py [--site _build/html]   (exit 1 on any problem)
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
            outputs = sum(len(c.get("outputs", [])) for c in nb["cells"] if c["cell_type"] == "code")
            first = "".join(nb["cells"][0]["source"])
            if outputs == 0:
                problems.append(f"the downloadable notebook {href} has no outputs")
            if "find_spec" not in first or '"install"' not in first:
                problems.append(f"the downloadable notebook {href} does not start with its install cell")
        except (ValueError, KeyError, IndexError) as err:
            problems.append(f"the 'Download notebook' link {href} is not a notebook ({response.status}: {err})")
    colab = page.locator("a.bookbuild-colab")
    if has_repository:
        href = colab.first.get_attribute("href") if colab.count() else ""
        if not COLAB.match(href or "") or not (href or "").endswith(f"{doc}.ipynb"):
            problems.append(f"no valid 'Open in Colab' link for {doc} (got {href!r})")
    elif page.locator(".bookbuild-colab-note").count() == 0:
        problems.append("no 'Open in Colab' link and no note saying where it is offered")
    return problems


def audit(page) -> tuple[list[str], list[str]]:
    """axe-core on the page: (blocking violations, other violations), one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations"]})
    blocking, other = [], []
    for v in results.response["violations"]:
        line = f"{v['impact']}: {v['id']} ({len(v['nodes'])}x) {v['help']}"
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
        for doc in docs:
            outside.clear()
            page.goto(f"{origin}/{doc}.html", wait_until="load")
            wait_for_math(page)
            blocking, other = audit(page)  # first, on the page as it loads
            problems = [f"accessibility: {b}" for b in blocking]
            for o in other:
                minor.setdefault(o.split(" (")[0], set()).add(doc)
            problems += check_page(page, doc, doc in executable, has_repository)
            if outside:
                problems.append(f"{len(outside)} request(s) to other hosts, e.g. {outside[0]}")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    args = parser.parse_args()
    if not (args.site / "index.html").exists():
        sys.exit(f"check_site: no site at {args.site}; run `make book` first")
    browser_path = find_browser()

    executable = {doc for doc, _ in discover(ROOT, load_config(ROOT).exclude_patterns)}
    docs = toc_docnames(ROOT)
    manifest_path = args.site.parent / "bookbuild-manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    has_repository = bool(manifest.get("repository"))
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
