"""Check the built site in a real browser (headless Chromium), the way a reader gets it.

Serves ``_build/html`` on 127.0.0.1, loads every page of the table of contents in Chromium, lets
the page's JavaScript run, and checks the DOM the reader sees:

- every page has a title and no leftovers of the build: unresolved glue keys, broken references
  (``??``), error tracebacks in outputs;
- every chapter states the profile its numbers come from ("How this page was produced"), shows
  numbered figures with captions and images, and its exercise solutions are collapsed (the toggle
  script hid them);
- the status page lists every executed chapter; the landing page links to every chapter.

Usage: python tools/check_site.py [--site _build/html]   (exit 1 on any problem)
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from html import unescape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from bookbuild.execute import discover, toc_docnames  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    sys.exit("check_site: no Chromium found (looked for " + ", ".join(BROWSERS) + "). "
             "Install it with `apt-get install chromium` (Debian) and run again.")


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # the browser's requests are not news
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def rendered_dom(browser: str, url: str, profile_dir: str) -> str:
    cmd = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={profile_dir}",
           "--virtual-time-budget=5000", "--dump-dom", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or "<html" not in done.stdout:
        raise RuntimeError(f"Chromium could not render {url}: {done.stderr.strip()[-500:]}")
    return done.stdout


def main_text(dom: str) -> str:
    main = dom[dom.find("<main"):dom.find("</main>")] if "<main" in dom else dom
    main = re.sub(r"<script.*?</script>", " ", main, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", main))


def check_page(doc: str, dom: str, executable: bool) -> list[str]:
    problems = []
    text = main_text(dom)
    if not re.search(r"<h1[^>]*>", dom):
        problems.append("no title (h1)")
    for pattern, what in [(r"\{glue:?[a-z]*\}", "unrendered glue role"), (r"\?\?", "broken reference (??)"),
                          (r"Traceback \(most recent call last\)", "an error traceback in an output"),
                          (r"No key '[^']+' found in glue", "missing glue key")]:
        if re.search(pattern, text):
            problems.append(what)
    if executable:
        if "How this page was produced" not in text or not re.search(r"\b(lite|full)\b", text):
            problems.append("does not state the profile its numbers come from")
        figures = re.findall(r"<figure.*?</figure>", dom, flags=re.S)
        if not figures:
            problems.append("no figures")
        for fig in figures:
            if "<img" not in fig or "<figcaption" not in fig:
                problems.append("a figure without an image or a caption")
                break
        if figures and not re.search(r"Fig\. \d+", text):
            problems.append("figures are not numbered")
        solutions = re.findall(r'<div class="solution[^"]*"', dom)
        hidden = [s for s in solutions if "toggle-hidden" in s]
        if len(hidden) != len(solutions):
            problems.append(f"{len(solutions) - len(hidden)} of {len(solutions)} solutions are not collapsed")
        if not solutions and "solution" in text.lower():
            problems.append("solutions did not render as collapsible blocks")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    args = parser.parse_args()
    if not (args.site / "index.html").exists():
        sys.exit(f"check_site: no site at {args.site}; run `make book` first")
    browser = find_browser()
    executable = {doc for doc, _ in discover(ROOT)}
    server, port = serve(args.site)
    failures = 0
    try:
        with tempfile.TemporaryDirectory(prefix="check-site-") as profile_dir:
            doms = {}
            for doc in toc_docnames(ROOT):
                url = f"http://127.0.0.1:{port}/{doc}.html"
                doms[doc] = dom = rendered_dom(browser, url, profile_dir)
                problems = check_page(doc, dom, doc in executable)
                if doc.endswith("status"):
                    rows = len(re.findall(r"<tr", dom[dom.find("bookbuild-status"):])) - 1
                    if rows != len(executable):
                        problems.append(f"status table lists {rows} chapters, the book executes {len(executable)}")
                if doc == toc_docnames(ROOT)[0]:
                    missing = [d for d in executable if f'{Path(d).name}.html' not in dom]
                    if missing:
                        problems.append(f"landing page does not link to {', '.join(missing)}")
                print(f"  {doc:<28} {'ok' if not problems else 'PROBLEMS: ' + '; '.join(problems)}")
                failures += bool(problems)
    finally:
        server.shutdown()
    print(f"check_site: {len(doms)} pages checked in {Path(browser).name}; {failures} with problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
