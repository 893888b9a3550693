"""``python -m bookbuild preview``: serve the book, rebuild it on save, reload the open page (``make preview``).

Watching, serving and reloading are sphinx-autobuild's (watchfiles for the file events, a
Starlette app serving ``_build/html``, a websocket script injected into every HTML page that
reloads it after each rebuild); only the build step is ours. Each rebuild is ``bookbuild build``
itself, so it goes through the dependency-keyed execution and store: a prose edit renders without
executing anything, a code edit executes the chapter it is in, a library edit executes exactly the
chapters that import the edited module (directly or not).

The server process imports the renderer (Sphinx, myst-nb, the theme and extensions) once, before
serving; sphinx-autobuild runs each rebuild in a child process, which on Linux is forked from the
server and so starts with all of that already imported. A rebuild therefore costs what changed,
not an interpreter and its imports, and a crash in it cannot take the server down.

A chapter that fails to execute prints its error in the terminal, and nothing is rendered: the
last good pages stay served until the next save.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bookbuild.build import Request, build, context, reported
from bookbuild.inprocess import preload

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
    """The build step sphinx-autobuild calls with the changed paths (in a child process; picklable)."""

    def __init__(self, root: Path, package: str | None, library_root: str | None, request: Request) -> None:
        self.root, self.package, self.library_root, self.request = root, package, library_root, request

    def __call__(self, *, changed_paths=()) -> None:
        if changed_paths:
            shown = []
            for p in changed_paths[:5]:
                try:
                    shown.append(str(Path(p).relative_to(self.root)))
                except ValueError:
                    shown.append(str(p))
            more = f" and {len(changed_paths) - 5} more" if len(changed_paths) > 5 else ""
            print(f"\n[preview] changed: {', '.join(shown)}{more}; rebuilding", flush=True)
        start = time.perf_counter()
        rc = reported(lambda: build(context(self.root, self.package, self.library_root), self.request))
        if rc == 0:
            print(f"[preview] rebuilt in {time.perf_counter() - start:.1f} s; the open page reloads", flush=True)
        else:
            print(
                "[preview] the build failed (see above); the last good pages are still served. Fix it and save again.",
                flush=True,
            )


def serve(root: Path, package: str | None, library_root: str | None, jobs: int, host: str, port: int) -> int:
    """Build, serve ``_build/html`` on ``host:port`` (0: a free port), rebuild on every save, reload the page.

    What is watched is what the site is made from (:meth:`bookbuild.config.Config.site_sources`).
    """
    try:  # the dev extras; a clear error without them
        import uvicorn
        from sphinx_autobuild.filter import IgnoreFilter
        from sphinx_autobuild.middleware import JavascriptInjectorMiddleware
        from sphinx_autobuild.server import RebuildServer
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
    # The first build, before serving; in a child process like every rebuild, so the server
    # process never holds a Sphinx application's global state.
    with ProcessPoolExecutor(max_workers=1) as pool:
        pool.submit(rebuild).result()
    site.mkdir(parents=True, exist_ok=True)

    if port == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    paths = ctx.config.site_sources()
    ignore = IgnoreFilter([root / "_build", root / ".venv", root / ".git"], list(IGNORED_PATTERNS))
    watcher = RebuildServer(paths, ignore, change_callback=rebuild)
    app = Starlette(
        routes=[
            WebSocketRoute("/websocket-reload", watcher, name="reload"),
            Mount("/", app=StaticFiles(directory=site, html=True), name="static"),
        ],
        middleware=[Middleware(JavascriptInjectorMiddleware, ws_url=f"{host}:{port}")],
        lifespan=watcher.lifespan,
    )
    print(
        f"[preview] serving {site} on http://{host}:{port}/ ; watching "
        f"{', '.join(str(p.relative_to(root)) for p in paths)} (Ctrl+C stops)",
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
