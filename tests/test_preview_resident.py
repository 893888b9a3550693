"""`make preview` (``bookbuild preview``, ``bookbuild.resident``): one server through a day's edits.

The real server on a small book with numbered chapters. Each rebuild tells the open page to reload
(over the websocket sphinx-autobuild's script opens); a prose edit re-reads only the edited page with
the Sphinx application the previous rebuild left, executes nothing, and chapter numbers stay as they
were; a code edit executes the chapter before the page shows its new output; a library edit executes
exactly the chapter that imports the module; a failing cell prints its error while the last good page
stays served; a new page with its table-of-contents entry starts a fresh application and is served;
an extension failing on one page fails that rebuild only (the server stays up, the next save renders
with a fresh application); a killed renderer process is replaced on the next save. Stopped, the
server takes its renderer with it, and every page the preview wrote is the page a fresh
``bookbuild build`` of the same sources writes. (One server for all of it: a server's start is the
expensive part. A killed server's renderer: tests/test_bookbuild_preview.py.)
"""

from __future__ import annotations

import asyncio
import os
import queue
import re
import shutil
import signal
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from minibook import (  # noqa: F401 -- book is a fixture
    PreviewServer,
    alive,
    book,
    bookbuild_here,
    chapter,
    gone_within,
    printed,
    seed,
)

pytestmark = pytest.mark.skipif(
    not (Path(sys.executable).parent / "jupyter-book").exists(), reason="jupyter-book not installed"
)
websockets = pytest.importorskip("websockets")


class ReloadListener:
    """What the injected script does: open the websocket and collect its messages ("refresh")."""

    def __init__(self, url: str) -> None:
        self.messages: queue.Queue[str] = queue.Queue()
        self.ready = threading.Event()
        self.ws_url = url.replace("http://", "ws://") + "/websocket-reload"
        threading.Thread(target=lambda: asyncio.run(self._listen()), daemon=True).start()
        assert self.ready.wait(30), "could not open the reload websocket"

    async def _listen(self) -> None:
        try:
            async with websockets.connect(self.ws_url) as ws:
                self.ready.set()
                async for message in ws:
                    self.messages.put(message)
        except websockets.ConnectionClosed:  # the server stopped at the end of the test
            pass

    def wait(self, timeout: float) -> str:
        return self.messages.get(timeout=timeout)

    def pending(self) -> int:
        return self.messages.qsize()


NUMBERED_TOC = textwrap.dedent("""\
    format: jb-book
    root: index
    parts:
      - caption: Chapters
        numbered: true
        chapters:
          - file: a
          - file: b
          - file: notes
    """)

# An extension of the test book that raises while Sphinx reads a page holding the marker.
FAILING_EXTENSION = textwrap.dedent("""\
    def _source_read(app, docname, source):
        if "RAISE-IN-SPHINX" in source[0]:
            raise RuntimeError("an extension failed on purpose")


    def setup(app):
        app.connect("source-read", _source_read)
        return {"parallel_read_safe": True}
    """)


# What the preview's in-process caches touch: numbered figures and a {numref} to one, a citation
# formatted by sphinxcontrib-bibtex, section numbers in the readers' notebooks.
BIB = textwrap.dedent("""\
    @article{lecun2022,
      author = {Yann LeCun},
      title = {A Path Towards Autonomous Machine Intelligence},
      journal = {OpenReview},
      year = {2022},
    }
    @article{chen2021,
      author = {Xinlei Chen and Kaiming He},
      title = {Exploring Simple Siamese Representation Learning},
      journal = {CVPR},
      year = {2021},
    }
    """)
# A 1x1 PNG.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
NOTES = textwrap.dedent("""\
    # Notes

    Reference material {cite:p}`lecun2022`.

    ```{figure} pixel.png
    :name: fig-pixel

    A pixel.
    ```

    As {numref}`fig-pixel` shows.

    ```{bibliography}
    ```
    """)


def numbered_book(root: Path) -> Path:
    """The mini book (:func:`minibook.make_book`, made at ``root`` already) with numbered chapters,
    a failing extension, a bibliography and a figure."""
    (root / "_toc.yml").write_text(NUMBERED_TOC)
    (root / "src" / "failing_ext.py").write_text(FAILING_EXTENSION)
    (root / "references.bib").write_text(BIB)
    (root / "pixel.png").write_bytes(PIXEL)
    (root / "notes.md").write_text(NOTES)
    config = root / "_config.yml"
    config.write_text(
        config.read_text().replace("[bookbuild.sphinx_ext]", "[bookbuild.sphinx_ext, failing_ext]")
        + "bibtex_bibfiles: [references.bib]\n"
    )
    return root


def title_number(html: str) -> str:
    """The section number shown in a page's title (``2.`` for the second numbered chapter)."""
    m = re.search(r'<h1>(?:<span class="section-number">([^<]*)</span>)?[^<]*<a class="headerlink"', html)
    assert m, "no page title (an <h1> with its link) on the page"
    return (m.group(1) or "").strip()


# myst-nb writes its style sheet into _static/ after the pages of a build: Sphinx stamps the link with
# the file's checksum (``?v=``) only when the file was already there, so pages written by any
# incremental build carry the stamp and a fresh build's do not (plain jupyter-book does the same).
_MYSTNB_CSS_STAMP = re.compile(r'(href="_static/mystnb\.[0-9a-f]+\.css)\?v=[0-9a-f]+"')


def page_files(html_dir: Path) -> dict[str, str]:
    """The pages of a built site (their HTML) and its readers' notebooks, by name; the build-status
    page (when built, by whom) left out."""
    pages = {
        p.name: _MYSTNB_CSS_STAMP.sub(r'\1"', p.read_text())
        for p in sorted(html_dir.glob("*.html"))
        if p.name not in ("status.html",)
    }
    notebooks = {f"_notebooks/{p.name}": p.read_text() for p in sorted((html_dir / "_notebooks").glob("*.ipynb"))}
    assert notebooks, f"no readers' notebooks in {html_dir}"
    return {**pages, **notebooks}


@pytest.fixture
def numbered(book, minibook_store):
    """The numbered book, its chapters' first executions taken from the session's store (the claims
    are about what the server does after its first build; a code edit below still executes)."""
    seed(book, minibook_store)
    return numbered_book(book)


@pytest.fixture
def server(numbered):
    s = PreviewServer(numbered)
    yield s
    s.stop()


def test_preview_through_a_day_of_edits(server, tmp_path):
    root = server.root
    first = "".join(server.log)
    assert "Sphinx application fresh" in first
    assert "watching for saves: index.md, a.md, b.md, notes.md, src, _config.yml, _toc.yml" in first, first
    assert (title_number(server.get("a.html")), title_number(server.get("b.html"))) == ("1.", "2.")
    html = server.get("b.html")
    assert printed(html) == "6"
    assert "websocket-reload" in html  # the reload script is injected into every page
    listener = ReloadListener(server.url)

    # Prose edits: the running application re-reads the edited page only; nothing executes; the
    # chapter numbers stay (a reused sphinx-external-toc collector used to count on: 4., 5., ...);
    # the open page reloads after each.
    for n in (1, 2):
        old = "Prose of A." if n == 1 else "Edited prose of A, 1."
        out = server.edit("a.md", old, f"Edited prose of A, {n}.")
        assert listener.wait(60) == "refresh"
        assert "changed: a.md" in out and "Sphinx application reused: re-read 1 page(s) (a)" in out, out
        assert not re.search(r"\s(a|b)\s+executed\s", out), out
        assert f"Edited prose of A, {n}." in server.get("a.html")
        assert (title_number(server.get("a.html")), title_number(server.get("b.html"))) == ("1.", "2.")

    # A code edit: the chapter executes before its page is rendered; the old output is never shown.
    out = server.edit("a.md", "print(core.SCALE * 10)", "print(core.SCALE * 100)")
    assert listener.wait(60) == "refresh"
    assert re.search(r"\sa\s+executed\s", out) and re.search(r"\sb\s+cached\s", out), out
    assert "Sphinx application reused: re-read 1 page(s) (a)" in out, out
    assert printed(server.get("a.html")) == "200"

    # A library edit: exactly the chapter importing the module (b, through minilib.extra) executes.
    out = server.edit("src/minilib/extra.py", "3 * core.SCALE", "4 * core.SCALE")
    assert listener.wait(60) == "refresh"
    assert "changed: src/minilib/extra.py" in out, out
    assert re.search(r"\sb\s+executed\s", out) and re.search(r"\sa\s+cached\s", out), out
    assert printed(server.get("b.html")) == "8"
    assert listener.pending() == 0  # one reload per rebuild

    # A failing cell: the error is printed, the last good page stays served; fixed, the chapter's
    # outputs for that code are found in the store.
    out = server.edit("b.md", "print(extra.triple())", "raise RuntimeError('broken on purpose')")
    assert "[preview] the build failed" in out and "broken on purpose" in out and "b failed to execute" in out, out
    assert printed(server.get("b.html")) == "8"
    out = server.edit("b.md", "raise RuntimeError('broken on purpose')", "print(extra.triple())")
    assert "[preview] rebuilt" in out and re.search(r"\sb\s+cached\s", out), out
    assert printed(server.get("b.html")) == "8"

    # A new page and its table-of-contents entry: a fresh application (in a fresh renderer process).
    (root / "c.md").write_text(chapter("C", "Prose of C.", "print('c' * 3)"))
    out = server.edit("_toc.yml", "      - file: notes\n", "      - file: notes\n      - file: c\n")
    assert "configuration changed" in out and "Sphinx application fresh" in out, out
    assert re.search(r"\sc\s+executed\s", out), out
    c_html = server.get("c.html")
    assert "Prose of C." in c_html and printed(c_html) == "ccc" and title_number(c_html) == "4."
    assert 'href="c.html"' in server.get("a.html"), out  # the navigation lists the new page
    out = server.edit("c.md", "Prose of C.", "Edited prose of C.")
    assert "Sphinx application reused: re-read 1 page(s) (c)" in out, out
    assert "Edited prose of C." in server.get("c.html")

    # A figure added before the other: the numbers shift on the page and in its reference; a second
    # citation (the bibliography lists it; each entry was formatted once by this process).
    assert "Fig. 3.1" in server.get("notes.html")
    out = server.edit(
        "notes.md",
        "Reference material {cite:p}`lecun2022`.\n",
        "Reference material {cite:p}`lecun2022`; also {cite:t}`chen2021`.\n\n"
        "```{figure} pixel.png\n:name: fig-first\n\nThe first pixel.\n```\n",
    )
    assert "Sphinx application reused: re-read 1 page(s) (notes)" in out, out
    notes = server.get("notes.html")
    assert "Fig. 3.2" in notes and "Fig. 3.1" in notes, notes
    assert "Exploring simple siamese representation learning" in notes, notes

    # An extension raising on one page: that rebuild fails, the server and the other pages stay; the
    # next save starts a fresh application and renders.
    out = server.edit("notes.md", "Reference material", "Reference material RAISE-IN-SPHINX")
    assert (
        "[preview] the build failed" in out
        and "an extension failed on purpose" in (root / "_build" / "logs" / "sphinx.log").read_text()
    )
    assert "Edited prose of A, 2." in server.get("a.html")
    out = server.edit("notes.md", "Reference material RAISE-IN-SPHINX", "Reference material, fixed,")
    assert "starting a fresh Sphinx" in out and "Sphinx application fresh" in out and "[preview] rebuilt" in out, out
    assert "Reference material, fixed," in server.get("notes.html")

    # The renderer process killed: replaced on the next save.
    pid = int(re.findall(r"renderer process (\d+) keeps", "".join(server.log))[-1])
    os.kill(pid, signal.SIGKILL)
    out = server.edit("b.md", "Prose of B.", "Edited prose of B.")
    assert "the renderer process died" in out and "[preview] rebuilt" in out, out
    assert "Edited prose of B." in server.get("b.html")

    # Stopped, the server takes its renderer process with it. (A killed server's renderer:
    # tests/test_bookbuild_preview.py.)
    renderers = {int(p) for p in re.findall(r"renderer process (\d+) keeps", "".join(server.log))}
    server.stop()
    assert gone_within(renderers, 15), f"renderer processes left running: {sorted(alive(renderers))}"

    # Everything the preview wrote is what a fresh build of the same sources writes.
    fresh = tmp_path / "fresh"
    shutil.copytree(root, fresh, ignore=shutil.ignore_patterns("_build"))
    shutil.copytree(root / "_build" / "exec-store", fresh / "_build" / "exec-store")
    done = bookbuild_here(fresh, "build")
    assert done.returncode == 0, done.stdout + done.stderr
    ours, theirs = page_files(root / "_build" / "html"), page_files(fresh / "_build" / "html")
    assert "Fig. 3.2" in ours["notes.html"]
    assert ours.keys() == theirs.keys()
    differ = [
        name for name in ours if ours[name].replace(str(root), "<root>") != theirs[name].replace(str(fresh), "<root>")
    ]
    assert not differ, f"pages the preview left different from a fresh build: {differ}; first difference:\n" + (
        first_difference(ours[differ[0]].replace(str(root), "<root>"), theirs[differ[0]].replace(str(fresh), "<root>"))
        if differ
        else ""
    )


def first_difference(ours: str, theirs: str) -> str:
    """The first lines that differ, with a little context (preview's, then the fresh build's)."""
    import difflib

    return "\n".join(list(difflib.unified_diff(ours.splitlines(), theirs.splitlines(), "preview", "fresh", n=2))[:40])
