"""`make preview` (``bookbuild preview``): serves the site, rebuilds through bookbuild on save, reloads the page.

Runs the real server on a small book: a prose edit re-renders without executing, a library edit
re-executes exactly the chapter that imports the module, each rebuild tells the open page to
reload (over the websocket sphinx-autobuild's script opens), and a failing cell prints its error
while the last good page stays served.
"""

from __future__ import annotations

import asyncio
import queue
import re
import sys
import threading
from pathlib import Path

import pytest
from minibook import PreviewServer, alive, book, gone_within, printed, seed  # noqa: F401 -- book is a fixture

pytestmark = pytest.mark.skipif(
    not (Path(sys.executable).parent / "jupyter-book").exists(), reason="jupyter-book not installed"
)
websockets = pytest.importorskip("websockets")


class ReloadListener:
    """What the injected script does: open the websocket and count "refresh" messages."""

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


@pytest.fixture
def server(book, minibook_store):
    seed(book, minibook_store)  # the first executions come from the store: the claims are about what a save does
    s = PreviewServer(book)
    yield s
    s.stop()


def test_preview_rebuilds_and_reloads_on_save(server):
    root = server.root
    html = server.get("b.html")
    assert printed(html) == "6"
    assert "websocket-reload" in html  # the reload script is injected into every page
    listener = ReloadListener(server.url)

    # A prose edit: re-rendered, nothing executed, the page reloads.
    start = len(server.log)
    (root / "a.md").write_text((root / "a.md").read_text().replace("Prose of A.", "Edited prose of A."))
    server.wait_for(r"\[preview\] rebuilt", 300)
    assert listener.wait(60) == "refresh"
    assert "watching for saves: index.md, a.md, b.md, notes.md, src, _config.yml, _toc.yml" in "".join(server.log)
    assert "Edited prose of A." in server.get("a.html")
    assert "changed: a.md" in server.since(start) and not re.search(r"\s(a|b)\s+executed\s", server.since(start))

    # A library edit: exactly the chapter importing the module (b, through minilib.extra) executes.
    start = len(server.log)
    extra = root / "src" / "minilib" / "extra.py"
    extra.write_text(extra.read_text().replace("3 * core.SCALE", "4 * core.SCALE"))
    server.wait_for(r"\[preview\] rebuilt", 300)
    assert listener.wait(60) == "refresh"
    out = server.since(start)
    assert re.search(r"\sb\s+executed\s", out) and re.search(r"\sa\s+cached\s", out), out
    assert printed(server.get("b.html")) == "8"

    # A failing cell: the error is printed, the last good page stays served.
    start = len(server.log)
    (root / "b.md").write_text(
        (root / "b.md").read_text().replace("print(extra.triple())", "raise RuntimeError('broken on purpose')")
    )
    server.wait_for(r"\[preview\] the build failed", 300)
    out = server.since(start)
    assert "broken on purpose" in out and "b failed to execute" in out
    assert printed(server.get("b.html")) == "8"

    # Killed (SIGKILL leaves the server no chance to shut its pool down), the server still takes its
    # renderer process with it. (Stopped with SIGTERM: tests/test_preview_resident.py.)
    renderers = {int(p) for p in re.findall(r"renderer process (\d+) keeps", "".join(server.log))}
    assert alive(renderers), "no renderer process running before the server is killed"
    server.proc.kill()
    server.proc.wait(30)
    assert gone_within(renderers, 15), f"renderer processes outlived their killed server: {sorted(alive(renderers))}"
