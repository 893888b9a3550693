"""The preview's renderer process ends with its server, however the server ends; a preview older
than its packages or its own code says so instead of rendering.

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

import pytest
from minibook import alive, gone_within, make_book

from bookbuild import preview, util
from bookbuild.build import Request

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


@pytest.mark.parametrize("what", ["packages", "code"])
def test_a_preview_older_than_its_packages_or_code_renders_nothing_and_says_so(tmp_path, monkeypatch, capsys, what):
    """After `pip install` (site-packages changed) or an edit of bookbuild itself, the running preview
    has the old modules imported (and reads package versions once): it tells the reader to restart it
    instead of rendering pages a fresh build would not."""
    root = make_book(tmp_path / "book")
    monkeypatch.setattr(preview, "_RESIDENT", None)  # this process's renderer state, as in a new renderer
    if what == "packages":
        monkeypatch.setattr(preview, "_LOADED_PACKAGES", ("before the upgrade",))
    else:
        monkeypatch.setattr(preview, "_LOADED_CODE", "bookbuild as it was")
    rebuild = preview.Rebuild(root, "minilib", None, Request(jobs=1))
    assert rebuild(changed_paths=[str(root / "a.md")]) == "done"
    out = capsys.readouterr().out
    expected = "packages were installed, upgraded or removed" if what == "packages" else "bookbuild's own code changed"
    assert expected in out and "renders nothing: stop it (Ctrl+C) and run `make preview` again" in out, out
    assert not (root / "_build" / "html").exists() and not (root / "_build" / "exec-store").exists()


def test_the_stamp_follows_an_install(tmp_path, monkeypatch):
    """Installing into a site-packages folder (a new entry) changes the stamp; reading it does not."""
    import site

    monkeypatch.setattr(site, "getsitepackages", lambda: [str(tmp_path / "site-packages")])
    monkeypatch.setattr(site, "getusersitepackages", lambda: str(tmp_path / "no-user-site"))
    (tmp_path / "site-packages").mkdir()
    os.utime(tmp_path / "site-packages", ns=(1, 1))  # long ago: the install below is later, whatever the clock's step
    before = util.site_packages_stamp()
    assert before == util.site_packages_stamp() == (1, 0)
    (tmp_path / "site-packages" / "newpkg-1.0.dist-info").mkdir()
    assert util.site_packages_stamp() != before
