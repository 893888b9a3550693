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

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# Watched besides the folders of the table of contents' pages (book/ here) and the library's
# folder (src/): the configuration and the table of contents.
WATCHED_FILES = ("_config.yml", "_toc.yml")
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

    def __init__(self, build_argv: list[str], root: Path) -> None:
        self.build_argv = build_argv
        self.root = root

    def __call__(self, *, changed_paths=()) -> None:
        from bookbuild import cli

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
        try:
            rc = cli.main(self.build_argv)
        except SystemExit as done:  # argument or profile errors
            rc = done.code if isinstance(done.code, int) else 1
        if rc == 0:
            print(f"[preview] rebuilt in {time.perf_counter() - start:.1f} s; the open page reloads", flush=True)
        else:
            print(
                "[preview] the build failed (see above); the last good pages are still served. Fix it and save again.",
                flush=True,
            )


def watched_paths(root: Path, library_root: str) -> list[Path]:
    """The pages' folders (a page in the book root itself: that file), the library's folder, the configuration."""
    from bookbuild.execute import toc_docnames

    found: list[Path] = []
    for doc in toc_docnames(root):
        top = doc.split("/", 1)[0]
        path = root / top if "/" in doc else root / f"{doc}.md"
        if path not in found and path.exists():
            found.append(path)
    found += [root / library_root if not Path(library_root).is_absolute() else Path(library_root)]
    found += [root / name for name in WATCHED_FILES]
    return [p for p in dict.fromkeys(found) if p.exists()]


def cmd_preview(args: argparse.Namespace) -> int:
    try:
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
    from bookbuild.inprocess import preload

    root = args.root
    site = root / "_build" / "html"
    build_argv = ["--root", str(root)]
    for flag, value in (("--library-root", args.library_root), ("--package", args.package)):
        if value:
            build_argv += [flag, value]
    build_argv += ["build", "--jobs", str(args.jobs)]
    rebuild = Rebuild(build_argv, root)

    print("[preview] loading the renderer once (Sphinx, myst-nb, theme, extensions)", flush=True)
    preload()
    # The first build, before serving; in a child process like every rebuild, so the server
    # process never holds a Sphinx application's global state.
    with ProcessPoolExecutor(max_workers=1) as pool:
        pool.submit(rebuild).result()
    site.mkdir(parents=True, exist_ok=True)

    host, port = args.host, args.port
    if port == 0:
        import socket

        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    from bookbuild import cli

    library = cli.context(args).library
    paths = watched_paths(
        root, str(library.root.relative_to(root)) if library.root.is_relative_to(root) else str(library.root)
    )
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


def add_parser(sub) -> None:
    """The ``preview`` subcommand (called from ``bookbuild.cli.parser``)."""
    p = sub.add_parser("preview", help="serve the site, rebuild on save (dependency-aware), reload the browser")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PREVIEW_PORT", 8000)),
        help="port (default $PREVIEW_PORT or 8000; 0 picks a free one)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("BOOKBUILD_JOBS", os.cpu_count() or 1)),
        help="parallel kernels when chapters execute",
    )
