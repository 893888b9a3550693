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
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from minibook import bookbuild_cmd, env_for, make_book, printed

pytestmark = pytest.mark.skipif(
    not (Path(sys.executable).parent / "jupyter-book").exists(), reason="jupyter-book not installed"
)
websockets = pytest.importorskip("websockets")


class Server:
    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen(
            bookbuild_cmd(root, "preview", "--port", "0", "--jobs", "1"),
            env=env_for(root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_for(r"serving .* on (http://\S+)/", 300)
        self.url = re.search(r"on (http://\S+)/", line).group(1)
        self.wait_for(r"\[preview\] watching for saves", 60)  # a save before this line would be missed

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float) -> str:
        """The first new output line matching ``pattern``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, "preview exited:\n" + "".join(self.log)
                continue
            self.log.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n" + "".join(self.log))

    def since(self, start: int) -> str:
        return "".join(self.log[start:])

    def get(self, page: str) -> str:
        end = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/{page}", timeout=30) as r:
                    return r.read().decode()
            except urllib.error.URLError:  # the server binds its port just after printing its address
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


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
def server(tmp_path):
    root = make_book(tmp_path / "book")
    s = Server(root)
    s.root = root
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
