"""``python -m bookbuild chapter NAME``: one chapter, executed and rendered alone (``make chapter CH=NAME``).

The chapter goes through the same dependency-keyed execution and store as the whole book: it
executes when its code cells, the library modules it imports, the data or the environment
changed, and reuses the stored outputs otherwise (a later ``make book`` reuses what this
executed, and the other way round). It is then rendered strictly into
``_build/chapter-NAME/_build/html``, with the book's landing page and its reference pages
(glossary, bibliography: every page without code cells, except the build-status page, which
describes the whole book) so that its links and citations resolve.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

from bookbuild.execute import device_description, execute, is_executable, sync_jupyter_cache, toc_docnames
from bookbuild.inprocess import jupyter_book_build

STATUS_DIRECTIVE = "{execution-status}"


def chapter_toc(root: Path, docname: str) -> dict:
    """A table of contents holding the landing page, ``docname`` and the book's reference pages."""
    names = toc_docnames(root)
    pages = []
    for doc in names[1:]:
        path = root / f"{doc}.md"
        if doc == docname:
            pages.append(doc)
        elif path.exists() and not is_executable(path) and STATUS_DIRECTIVE not in path.read_text(encoding="utf8"):
            pages.append(doc)
    return {"format": "jb-book", "root": names[0], "chapters": [{"file": d} for d in pages]}


def cmd_chapter(args: argparse.Namespace) -> int:
    from bookbuild import cli, render  # the build's own context, manifest and failure reports

    started = time.perf_counter()
    ctx = cli.context(args)
    paths = ctx.paths
    device = device_description()
    cli._say(f"bookbuild chapter {args.name}: profile {ctx.profile}, {device}")
    args.only = [args.name]
    chapters = ctx.plan()  # unknown names: ValueError
    (chapter,) = chapters
    outcomes = execute(
        chapters,
        ctx.store,
        1,
        args.timeout,
        device,
        ctx.profile,
        cli._say,
        previous=render.previous_components(paths),
        force=args.force,
        logs=paths.logs,
        library=ctx.library,
    )
    if render.report_failures(paths, outcomes, True, cli._say):
        cli._say("\nchapter build failed: nothing was rendered.")
        return 1
    store = ctx.store

    name = Path(chapter.docname).name
    out = paths.build / f"chapter-{name}"
    out.mkdir(parents=True, exist_ok=True)
    toc = out / "_toc.yml"
    toc.write_text(yaml.safe_dump(chapter_toc(args.root, chapter.docname), sort_keys=False))
    sync_jupyter_cache(out / "_build" / ".jupyter_cache", outcomes, store)
    log = paths.logs / f"chapter-{name}.sphinx.log"
    render_start = time.perf_counter()
    rc = jupyter_book_build(
        [
            "build",
            str(args.root),
            "--toc",
            str(toc),
            "--path-output",
            str(out),
            "--builder",
            "html",
            "--all",
            "-n",
            "-W",
            "--keep-going",
        ],
        log,
        cwd=args.root,
    )
    text = render.ANSI.sub("", log.read_text())
    warnings = [line for line in text.splitlines() if "WARNING" in line and "IPKernelApp" not in line]
    cli._say(
        f"  rendered {chapter.docname} in {time.perf_counter() - render_start:.1f} s "
        f"({len(warnings)} warnings; log: {log})"
    )
    for line in warnings[:30]:
        cli._say(f"    {line.strip()}")
    if "Executing notebook" in text:
        cli._say(
            f"error: myst-nb executed the chapter itself, so the execution store and jupyter-cache disagree; see {log}"
        )
        return 1
    if rc != 0:
        cli._say(f"error: the Sphinx build failed (exit {rc}); see {log}")
        return rc
    page = out / "_build" / "html" / f"{chapter.docname}.html"
    cli._say(f"done in {time.perf_counter() - started:.1f} s. Chapter: {page}")
    return 0


def add_parser(sub) -> None:
    """The ``chapter`` subcommand (called from ``bookbuild.cli.parser``)."""
    c = sub.add_parser("chapter", help="execute (if its inputs changed) and render one chapter alone, strictly")
    c.add_argument("name", help="the chapter, e.g. priors or book/priors")
    c.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    c.add_argument("--force", action="store_true", help="execute even where stored outputs match")
