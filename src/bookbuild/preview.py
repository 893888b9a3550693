"""``python -m bookbuild preview``: serve the book, rebuild it on save, reload the open page (``make preview``).

Watching, serving and reloading are sphinx-autobuild's (watchfiles for the file events, a
Starlette app serving ``_build/html``, a websocket script injected into every HTML page that
reloads it after each rebuild); only the build step is ours. Each rebuild is ``bookbuild build``
itself, so it goes through the dependency-keyed execution and store: a prose edit renders without
executing anything, a code edit executes the chapter it is in, a library edit executes exactly the
chapters that import the edited module (directly or not).

The server process imports the renderer (Sphinx, myst-nb, the theme and extensions) once, then
forks one renderer process that runs every rebuild and keeps its Sphinx application between them
(:class:`bookbuild.resident.ResidentSphinx`): a prose edit re-reads and writes that page (and the
pages whose table of contents or numbers changed), without starting Sphinx or loading its
environment again. Each rebuild is still the whole pipeline (plan, execute what changed, hand the
outputs over through jupyter-cache), so what the pages show is what ``bookbuild build`` would show:
a code edit executes its chapter before the page is rendered, a library edit the chapters that import
the module, and a chapter whose execution fails renders nothing.

After an edit of bookbuild's own code, or a package installed, upgraded or removed since the
preview started, it renders nothing and asks to be restarted: its modules are the old ones.

The renderer process is replaced (a fresh fork, so a fresh Sphinx) when the configuration changes
(``_config.yml``, the table of contents, a bibliography: a new page comes with a new table of
contents), after a build that raised, and when it dies; the server itself never holds a Sphinx
application, so no page can take it down.

A chapter that fails to execute prints its error in the terminal, and nothing is rendered: the
last good pages stay served until the next save.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from bookbuild import render
from bookbuild.build import Request, build, context, reported
from bookbuild.inprocess import preload
from bookbuild.resident import ResidentSphinx
from bookbuild.util import site_packages_stamp

WATCH_STEP_MS = 15

# Editor droppings and caches: saving them is not an edit.
IGNORED_PATTERNS = (
    r"__pycache__",
    r"\.ipynb_checkpoints",
    r"\.egg-info",
    r"\.pyc$",
    r"\.sw[a-p]$",
    r"~$",
    r"/\.#[^/]*$",
    r"/4913$",
    r"\.tmp$",
)


class Rebuild:
    """One rebuild through the pipeline, rendered by this process's resident Sphinx (runs in the renderer process)."""

    def __init__(self, root: Path, package: str | None, library_root: str | None, request: Request) -> None:
        self.root, self.package, self.library_root, self.request = root, package, library_root, request

    def __call__(self, changed_paths=()) -> str:
        """Rebuild; ``"restart"`` when this process should be replaced first (nothing was built), else ``"done"``."""
        global _RESIDENT
        ctx = context(self.root, self.package, self.library_root)
        if _RESIDENT is None:
            _RESIDENT = ResidentSphinx(ctx.config.package)
            print(f"[preview] renderer process {os.getpid()} keeps its Sphinx application between rebuilds", flush=True)
        site = ctx.paths.book_site()
        stale = None
        if render.renderer_code_digest() != _LOADED_CODE:
            stale = f"bookbuild's own code changed ({render.RENDERER_CODE}); this preview still runs the old code"
        elif site_packages_stamp() != _LOADED_PACKAGES:
            # The renderer's modules and the chapters' keys (their package versions, read once per
            # process) would be the old ones: pages could show what a fresh build would not.
            stale = "packages were installed, upgraded or removed since this preview started; it runs the old ones"
        if stale:
            restart = "stop it (Ctrl+C) and run `make preview` again"
            print(f"\n[preview] {stale}, so it renders nothing: {restart}.", flush=True)
            return "done"
        if _RESIDENT.dropped or (_RESIDENT.app is not None and not _RESIDENT.current(self.root, site)):
            return "restart"  # a second application in one process is not as clean as a new process
        if changed_paths:
            shown = []
            for p in changed_paths[:5]:
                try:
                    shown.append(str(Path(p).relative_to(self.root)))
                except ValueError:
                    shown.append(str(p))
            more = f" and {len(changed_paths) - 5} more" if len(changed_paths) > 5 else ""
            print(f"\n[preview] changed: {', '.join(shown)}{more}; rebuilding", flush=True)
        start, cpu = time.perf_counter(), time.process_time()
        request = dataclasses.replace(self.request, renderer=_RESIDENT)
        rc = reported(lambda: build(ctx, request))
        if rc == 0:
            print(
                f"[preview] rebuilt in {time.perf_counter() - start:.1f} s "
                f"({time.process_time() - cpu:.1f} CPU-s in the renderer); the open page reloads",
                flush=True,
            )
            if _RESIDENT.app is None:  # the site was up to date: start Sphinx now, not on the first save
                start = time.perf_counter()
                if _RESIDENT(self.root, site, False, False, lambda _: None) == 0:
                    print(f"[preview] Sphinx started for the next saves ({time.perf_counter() - start:.1f} s)")
        else:
            print(
                "[preview] the build failed (see above); the last good pages are still served. Fix it and save again.",
                flush=True,
            )
        return "done"


def _die_with_parent() -> None:
    """In the renderer process: end when the server ends, however it ends.

    A worker of a process pool waits for work forever; when the server was killed (or stopped by a
    signal before it could shut the pool down) the renderer was left running, with its Sphinx
    application, owned by init. On Linux the kernel sends it SIGTERM when the server goes
    (``prctl(PR_SET_PDEATHSIG)``); elsewhere a thread checks every second that the server is there.
    """
    import signal

    # Forked while the server ran, it inherited the server's signal handlers (uvicorn's, which only
    # tell the server's own loop to stop) and its loop's wake-up descriptor: back to the defaults, so
    # that SIGTERM and Ctrl+C end it.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, signal.SIGTERM, 0, 0, 0) == 0:  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the server went before the call
                os._exit(0)
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


#: The renderer process's resident Sphinx (one per process; see Rebuild).
_RESIDENT: ResidentSphinx | None = None
#: bookbuild's own code as this process imported it (a later edit needs a new preview).
_LOADED_CODE = render.renderer_code_digest()
#: The installed packages as this process imported them (an install or upgrade needs a new preview).
_LOADED_PACKAGES = site_packages_stamp()


class Renderer:
    """The renderer process, seen from the server: runs rebuilds in it, replaces it when asked or when it died."""

    def __init__(self, rebuild: Rebuild) -> None:
        self.rebuild = rebuild
        self.pool: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            # Forked from the server, which has imported the renderer but never holds an application.
            self.pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("fork"), initializer=_die_with_parent
            )
        return self.pool

    def replace(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def submit(self, changed_paths=()) -> Future:
        """Start a rebuild (call from the server's main thread: the process is forked from the caller)."""
        try:
            return self._pool().submit(self.rebuild, changed_paths=list(changed_paths))
        except BrokenProcessPool:  # it died while idle (killed, out of memory): the pool refuses work
            self._drop_dead("[preview] the renderer process died; starting a new one")
            return self._pool().submit(self.rebuild, changed_paths=list(changed_paths))

    def _drop_dead(self, message: str) -> None:
        print(message, flush=True)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None

    def outcome(self, future: Future) -> str:
        """``"done"``, or ``"again"`` after replacing the renderer process (asked to, or it died)."""
        try:
            answer = future.result()
        except BrokenProcessPool:
            self._drop_dead("[preview] the renderer process died; starting a new one and rebuilding")
            return "again"
        if answer == "restart":
            print("[preview] configuration changed (or the last render failed): starting a fresh Sphinx", flush=True)
            self.replace()
            return "again"
        return "done"

    def run(self, changed_paths=()) -> None:
        """A rebuild, to the end (the first build, before serving)."""
        for _ in range(3):
            if self.outcome(self.submit(changed_paths)) == "done":
                return

    async def arun(self, changed_paths) -> None:
        """A rebuild from the server's event loop (the process forks, if it must, from the main thread)."""
        for _ in range(3):
            future = self.submit(changed_paths)
            await asyncio.wrap_future(future)
            if self.outcome(future) == "done":
                return


def _watcher(sources: Callable[[], list[Path]], root: Path, ignore, renderer: Renderer, since_ns: int):
    """sphinx-autobuild's watcher and reload socket, with every rebuild sent to ``renderer``.

    ``sources()``: what to watch, asked again after every rebuild; when it changed (a page added to
    or dropped from the table of contents) the watch starts over on the new list, so a new page's
    later saves are seen. (sphinx-autobuild itself runs each rebuild in a new process, which could
    keep nothing between saves, and watches the paths it was started with.)

    A save is never lost. While a rebuild runs, the file events wait in the watcher. A watch that
    starts (the first, after the first build, ``since_ns`` its start; a new one after a table-of-contents
    change) has seen nothing of what was saved before it: the files saved since that rebuild began
    (:func:`saved_since`) are rebuilt at once, and their events, if the new watch caught them too,
    do not rebuild a second time.
    """
    import watchfiles
    from sphinx_autobuild.server import RebuildServer

    class Watcher(RebuildServer):
        async def watch(self) -> None:
            announce = "[preview] watching for saves: {} (Ctrl+C stops)"
            paths, started = sources(), since_ns
            while True:
                # step: how long the files must stay quiet before a rebuild starts (watchfiles' default,
                # 50 ms, was a twentieth of a prose edit's rebuild; an editor's save takes a few ms).
                changes = watchfiles.awatch(
                    *paths, watch_filter=lambda _, path: not self.ignore(path), step=WATCH_STEP_MS
                )
                pending = asyncio.ensure_future(anext(changes))
                # The watcher registers its paths synchronously on its first step: only then is a save seen.
                await asyncio.sleep(0)
                found = saved_since(paths, started, self.ignore)
                if found:
                    print(f"[preview] saved while the last build ran: {_listed(found, root)}; rebuilding", flush=True)
                caught = _stats(found)  # already rebuilt, should the new watch report them too
                while True:
                    if not found:
                        if announce:
                            print(announce.format(_listed(paths, root)), flush=True)
                            announce = ""
                        events = await pending
                        pending = None
                        found = [Path(path).resolve() for (_, path) in events]
                        if caught and _stats(found) == {p: caught.get(p) for p in found}:
                            found, pending = [], asyncio.ensure_future(anext(changes))
                            continue  # the saves the start-up check already rebuilt
                        caught = {}
                    started = time.time_ns()
                    try:
                        await renderer.arun(found)
                    except Exception:  # noqa: BLE001 -- the preview must go on watching
                        traceback.print_exc()
                        print("[preview] the rebuild failed in the preview itself (above); save to retry", flush=True)
                    self.flag.set()
                    found = []
                    now = sources()
                    if now != paths:  # a page added to or dropped from the table of contents
                        if pending is not None:
                            pending.cancel()
                            await asyncio.gather(pending, return_exceptions=True)
                        await changes.aclose()
                        paths, announce = now, "[preview] now watching {}"
                        break
                    if pending is None:
                        pending = asyncio.ensure_future(anext(changes))

    return Watcher(sources(), ignore, change_callback=None)


# A file's time stamp can trail the clock by one kernel tick (up to 10 ms at 100 Hz). A save that set
# off a rebuild is older than the rebuild's start by the watch step at least, so it is not counted again.
MTIME_SLACK_NS = 10_000_000
assert MTIME_SLACK_NS < WATCH_STEP_MS * 1_000_000


def saved_since(paths: list[Path], since_ns: int, ignore: Callable[[str], bool]) -> list[Path]:
    """The files under ``paths`` (files, or folders searched) not ``ignore``d, written at ``since_ns`` or later."""
    found = []
    for top in paths:
        for f in [top] if top.is_file() else sorted(top.rglob("*")):
            if ignore(str(f)):
                continue
            try:
                if f.is_file() and f.stat().st_mtime_ns >= since_ns - MTIME_SLACK_NS:
                    found.append(f.resolve())
            except OSError:  # gone meanwhile: its deletion is the watcher's
                continue
    return found


def _stats(files: list[Path]) -> dict[Path, tuple[int, int] | None]:
    out: dict[Path, tuple[int, int] | None] = {}
    for f in files:
        try:
            st = f.stat()
            out[f] = (st.st_mtime_ns, st.st_size)
        except OSError:
            out[f] = None
    return out


def _ignore_filter(root: Path):
    """Whether a path is no source of the site: the build, the environment, git, editor droppings."""
    from sphinx_autobuild.filter import IgnoreFilter

    return IgnoreFilter([root / "_build", root / ".venv", root / ".git"], list(IGNORED_PATTERNS))


def _listed(paths: list[Path], root: Path) -> str:
    return ", ".join(str(p.relative_to(root)) for p in paths)


def serve(root: Path, package: str | None, library_root: str | None, jobs: int, host: str, port: int) -> int:
    """Build, serve ``_build/html`` on ``host:port`` (0: a free port), rebuild on every save, reload the page.

    What is watched is what the site is made from (:meth:`bookbuild.config.Config.site_sources`).
    """
    try:  # the dev extras; a clear error without them
        import uvicorn
        from sphinx_autobuild.middleware import JavascriptInjectorMiddleware
        from sphinx_autobuild.server import RebuildServer  # noqa: F401 -- the watcher's base (_watcher)
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from starlette.routing import Mount, WebSocketRoute
        from starlette.staticfiles import StaticFiles
    except ImportError as err:
        print(
            f"error: the preview needs sphinx-autobuild ({err}); install the dev extras: "
            "pip install -e '.[dev]' (make venv does)"
        )
        return 2
    ctx = context(root, package, library_root)
    site = ctx.paths.book_site().html
    rebuild = Rebuild(root, package, library_root, Request(jobs=jobs))

    print("[preview] loading the renderer once (Sphinx, myst-nb, theme, extensions)", flush=True)
    preload()
    # The first build, before serving, in the renderer process that keeps its Sphinx for the next.
    renderer = Renderer(rebuild)
    first_build = time.time_ns()  # what is saved from here on, before the watch starts, is rebuilt then
    renderer.run()
    site.mkdir(parents=True, exist_ok=True)

    if port == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    ignore = _ignore_filter(root)

    watched = [ctx.config.site_sources()]

    def sources() -> list[Path]:
        try:
            watched[0] = context(root, package, library_root).config.site_sources()
        except Exception as err:  # noqa: BLE001 -- a half-saved _toc.yml: keep watching what was watched
            print(f"[preview] cannot read the table of contents ({err}); watching what was watched", flush=True)
        return watched[0]

    watcher = _watcher(sources, root, ignore, renderer, first_build)
    app = Starlette(
        routes=[
            WebSocketRoute("/websocket-reload", watcher, name="reload"),
            Mount("/", app=StaticFiles(directory=site, html=True), name="static"),
        ],
        middleware=[Middleware(JavascriptInjectorMiddleware, ws_url=f"{host}:{port}")],
        lifespan=watcher.lifespan,
    )
    print(
        f"[preview] serving {site} on http://{host}:{port}/",
        flush=True,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        renderer.replace()
    return 0
