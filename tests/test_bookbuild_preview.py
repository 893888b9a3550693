"""The preview's renderer process ends with its server, however the server ends.

The server's whole day (prose, code and library edits, reloads, failures, a stopped server):
tests/test_preview_resident.py. Here the server is killed with SIGKILL, which leaves it no chance
to shut its renderer down: the renderer (:class:`bookbuild.preview.Renderer`, forked from the
server with ``_die_with_parent``) must still go. The killed process stands in for the server as the
renderer sees it: it has uvicorn's kind of SIGTERM handler (one that only sets a flag) and a signal
wake-up descriptor when it forks the renderer, as the real server has by its first save.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from minibook import alive, gone_within

ROOT = Path(__file__).resolve().parents[1]

SERVER = textwrap.dedent("""\
    import os, signal, socket, sys, time
    from bookbuild.preview import Renderer

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # as uvicorn's handler: a flag, no exit
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    r, w = socket.socketpair()
    w.setblocking(False)
    signal.set_wakeup_fd(w.fileno())
    renderer = Renderer(dict)  # the rebuild, run in the renderer process: dict(changed_paths=[...])
    assert renderer.submit(["a.md"]).result(60) == {"changed_paths": ["a.md"]}
    print(*renderer.pool._processes, flush=True)
    time.sleep(120)
    """)


def test_a_killed_servers_renderer_process_goes_with_it():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True, env=env)
    try:
        renderers = {int(p) for p in server.stdout.readline().split()}
        assert renderers and alive(renderers), "no renderer process running before the server is killed"
        server.kill()
        server.wait(30)
        assert gone_within(renderers, 15), (
            f"renderer processes outlived their killed server: {sorted(alive(renderers))}"
        )
    finally:
        server.kill()
        server.wait(30)
