"""Print the built book to PDF with the system Chromium (Playwright ``page.pdf``); no TeX needed.

Serves ``_build/html`` on 127.0.0.1 (every other host blocked, as in tools/check_site.py), prints
every page of the table of contents with the print style sheet (``_static/print.css``: solutions
open, hidden code left out, navigation gone), and writes

- ``_build/html/_pdf/<docname>.pdf`` for every executed chapter (the pages link to it), and
- ``_build/html/_pdf/book.pdf``: every page of the table of contents, in order, with an outline.

Then checks what it wrote: each chapter's PDF contains its solutions' text and none of the code
of its hidden (``hide-input``/``remove-input``) cells. Exit 1 on any problem.

Usage: python tools/make_pdf.py [--site _build/html]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tools"))

from check_site import find_browser, serve  # noqa: E402

from bookbuild.book import discover, toc_docnames  # noqa: E402

FOLDER = "_pdf"
PDF_OPTIONS = {
    "format": "A4",
    "print_background": True,
    "margin": {"top": "18mm", "bottom": "18mm", "left": "16mm", "right": "16mm"},
    "display_header_footer": True,
    "header_template": "<span></span>",
    "footer_template": (
        '<div style="font-size:8px;width:100%;text-align:center;color:#555">'
        '<span class="title"></span> · <span class="pageNumber"></span>/<span class="totalPages"></span></div>'
    ),
}
# What the reader of a printout should see, whatever the theme does: solutions open, hidden code gone.
PREPARE_JS = """() => {
  document.querySelectorAll('.toggle-hidden').forEach(e => e.classList.remove('toggle-hidden'));
  document.querySelectorAll('details').forEach(d => d.open = true);
  const hidden = [];
  document.querySelectorAll('.cell.tag_hide-input .cell_input, .cell.tag_remove-input .cell_input').forEach(e => {
    hidden.push(e.innerText); e.remove();
  });
  const shown = Array.from(document.querySelectorAll('.cell_input, pre')).map(e => e.innerText);
  return {hidden, shown};
}"""


def normalise(text: str) -> str:
    """Text as compared: ligatures unfolded (the PDF has "ﬁ"), no whitespace (line breaks differ)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def pieces(text: str, size: int = 40) -> list[str]:
    """Runs of plain prose of ``size`` characters (MathJax output is not text in a PDF)."""
    words = [w for w in re.split(r"(?<=[.;:,])\s+|\n", text) if re.fullmatch(rf"[A-Za-z ,'’()-]{{{size},}}", w)]
    return [normalise(w)[:size] for w in words]


def print_site(site: Path, out: Path) -> dict[str, dict]:
    from playwright.sync_api import sync_playwright

    executable = {doc for doc, _ in discover(ROOT)}
    docs = toc_docnames(ROOT)
    server, port = serve(site)
    report: dict[str, dict] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=find_browser(), args=["--no-sandbox"])
            context = browser.new_context()
            context.route(
                "**/*",
                lambda r: (
                    r.continue_() if r.request.url.startswith((f"http://127.0.0.1:{port}/", "data:")) else r.abort()
                ),
            )
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.emulate_media(media="print")
            for doc in docs:
                page.goto(f"http://127.0.0.1:{port}/{doc}.html", wait_until="load")
                if page.evaluate("() => !!(window.MathJax && window.MathJax.startup)"):
                    page.evaluate("() => window.MathJax.startup.promise")
                code = page.evaluate(PREPARE_JS)
                solutions = page.eval_on_selector_all("div.solution", "els => els.map(e => e.innerText)")
                target = out / "pages" / f"{doc}.pdf"
                target.parent.mkdir(parents=True, exist_ok=True)
                page.pdf(path=str(target), **PDF_OPTIONS)
                report[doc] = {"path": target, "hidden": code["hidden"], "shown": code["shown"]}
                report[doc].update(solutions=solutions, chapter=doc in executable)
            browser.close()
    finally:
        server.shutdown()
    return report


def assemble(report: dict[str, dict], out: Path) -> list[str]:
    """Chapter PDFs and the book PDF from the printed pages; the problems found in them."""
    from pypdf import PdfReader, PdfWriter

    problems = []
    book = PdfWriter()
    for doc, info in report.items():
        reader = PdfReader(info["path"])
        text = normalise("".join(p.extract_text() or "" for p in reader.pages))
        if info["chapter"]:
            chapter = out / f"{doc}.pdf"
            chapter.parent.mkdir(parents=True, exist_ok=True)
            info["path"].replace(chapter)
            info["path"] = chapter
            for sol in info["solutions"]:
                samples = pieces(sol)
                if samples and not any(p in text for p in samples):
                    problems.append(f"{doc}: a solution is missing from the PDF ({sol.strip()[:60]!r})")
                    break
            for code in info["hidden"]:
                shown = normalise("\n".join(info["shown"]))  # a line also in a visible cell may be printed
                lines = [ln for ln in code.splitlines() if len(normalise(ln)) > 25 and normalise(ln) not in shown]
                printed = [line for line in lines if normalise(line) in text]
                if printed:
                    problems.append(f"{doc}: the PDF prints hidden code ({printed[0].strip()!r})")
                    break
        start = len(book.pages)
        book.append(str(info["path"]))
        book.add_outline_item(title=doc, page_number=start)
    book.write(out / "book.pdf")
    for leftover in sorted((out / "pages").rglob("*.pdf"), reverse=True):
        leftover.unlink()
    for folder in sorted((out / "pages").rglob("*"), reverse=True) + [out / "pages"]:
        if folder.is_dir():
            folder.rmdir()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    args = parser.parse_args()
    if not (args.site / "index.html").exists():
        sys.exit(f"make_pdf: no site at {args.site}; run `make book` first")
    out = args.site / FOLDER
    t0 = time.time()
    report = print_site(args.site, out)
    problems = assemble(report, out)
    for doc, info in report.items():
        if info["chapter"]:
            size = info["path"].stat().st_size / 1e6
            print(f"  {doc:<28} {size:5.1f} MB, {len(info['solutions'])} solutions, {len(info['hidden'])} hidden cells")
    print(
        f"make_pdf: {out / 'book.pdf'} ({(out / 'book.pdf').stat().st_size / 1e6:.1f} MB) in {time.time() - t0:.0f} s"
    )
    for p in problems:
        print(f"  PROBLEM {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
