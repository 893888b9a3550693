"""Bytes a reader's browser transfers to show each page (HTML, scripts, styles, fonts, figures).

Loads every page of the table of contents in the system Chromium (Playwright, every other host
blocked) from a fresh cache, waits until MathJax has typeset, and sums the bodies of all responses
(``total``: what the local server sends, uncompressed). ``gzip`` is what a server that compresses
text sends (GitHub Pages does): HTML, scripts, styles, JSON and SVG gzipped (level 6), images and
fonts as they are.
Usage: python tools/page_weight.py [--site _build/html] [--json out.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

from check_site import find_browser, serve, wait_for_math  # noqa: E402

from bookbuild.book import toc_docnames  # noqa: E402

TEXT = (".html", ".js", ".css", ".json", ".svg", ".txt", ".map")


def compressible(url: str) -> bool:
    return url.split("?")[0].split("#")[0].endswith(TEXT)


def weigh(site: Path) -> dict[str, dict[str, int]]:
    from playwright.sync_api import sync_playwright

    server, port = serve(site)
    out = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=find_browser(), args=["--no-sandbox"])
            for doc in toc_docnames(ROOT):
                context = browser.new_context()  # empty cache: what a first visit costs
                context.route(
                    "**/*",
                    lambda r: r.continue_() if r.request.url.startswith(f"http://127.0.0.1:{port}/") else r.abort(),
                )
                sizes: dict[str, int] = {}
                zipped: dict[str, int] = {}

                def record(r, s=sizes, z=zipped) -> None:
                    body = r.body() if r.ok else b""
                    s[r.url] = len(body)
                    z[r.url] = len(gzip.compress(body, 6, mtime=0)) if compressible(r.url) else len(body)

                page = context.new_page()
                page.on("response", record)
                page.goto(f"http://127.0.0.1:{port}/{doc}.html", wait_until="load")
                wait_for_math(page)
                page.wait_for_load_state("networkidle")
                total = sum(sizes.values())
                images = sum(v for k, v in sizes.items() if k.split("?")[0].endswith((".png", ".jpg", ".svg")))
                mathjax = sum(v for k, v in sizes.items() if "/mathjax/" in k)
                out[doc] = {
                    "total": total,
                    "gzip": sum(zipped.values()),
                    "images": images,
                    "mathjax": mathjax,
                    "requests": len(sizes),
                }
                context.close()
            browser.close()
    finally:
        server.shutdown()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = weigh(args.site)
    print(f"{'page':<28} {'total MB':>9} {'gzip MB':>8} {'figures':>8} {'MathJax':>8} {'requests':>8}")
    for doc, r in result.items():
        mb = {k: r[k] / 1e6 for k in ("total", "gzip", "images", "mathjax")}
        sizes = f"{mb['total']:9.2f} {mb['gzip']:8.2f} {mb['images']:8.2f} {mb['mathjax']:8.2f}"
        print(f"{doc:<28} {sizes} {r['requests']:8d}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
