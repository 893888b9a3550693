"""Command line: ``python -m bookbuild <command>``; run with ``--help`` for the commands.

Argument parsing only: each command reads the settings once (:func:`bookbuild.build.context`) and
calls the pipeline (:func:`bookbuild.build.build`) or one of its parts. Nothing imports this module
but ``__main__``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import nbformat

from bookbuild import diff, preview, validated
from bookbuild.build import Request, build, checkout_side, context, default_jobs, reported, say
from bookbuild.config import load
from bookbuild.deps import code_sources
from bookbuild.record import previous_components
from bookbuild.store import Store


def _context(args: argparse.Namespace):
    return context(args.root, args.package, args.library_root)


def cmd_build(args: argparse.Namespace) -> int:
    """``build`` (``make book``) and ``execute`` (no render): the pipeline, as the options ask."""
    request = Request(
        only=args.only,
        jobs=args.jobs,
        timeout=args.timeout,
        force=args.force,
        strict=args.strict,
        all_pages=getattr(args, "all", False),
        render=args.command == "build",
        diff_base=args.diff_base,
    )
    return build(_context(args), request)


def cmd_chapter(args: argparse.Namespace) -> int:
    """``chapter NAME`` (``make chapter``): the pipeline for one chapter, rendered alone and strictly."""
    return build(_context(args), Request(chapter=args.name, jobs=1, timeout=args.timeout, force=args.force))


def cmd_preview(args: argparse.Namespace) -> int:
    """``preview`` (``make preview``): serve the site, rebuild it through the pipeline on every save."""
    return preview.serve(args.root, args.package, args.library_root, args.jobs, args.host, args.port)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the stored executed notebooks of the current keys as .ipynb files (for nbval)."""
    ctx = _context(args)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("*.ipynb"):
        stale.unlink()
    missing = []
    for ch in ctx.plan(args.only):
        entry = ctx.store.get(ch.name, ch.key.key, code_sources(ch.nb))
        if entry is None:
            missing.append(ch.docname)
            continue
        target = args.out / f"{Path(ch.docname).name}.ipynb"
        nbformat.write(entry.nb, target)
        say(f"exported {ch.docname} [{ch.key.key}] -> {target}")
    if missing:
        say(f"error: no executed outputs for {', '.join(missing)} with the current inputs; run `make book` first")
        return 1
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    copied, rejected = Store(load(args.root).paths().store).merge_from(Store(args.source))
    say(f"merged {copied} entries from {args.source}" + (f"; rejected {rejected} corrupt entries" if rejected else ""))
    return 1 if rejected and args.strict else 0


def cmd_plan(args: argparse.Namespace) -> int:
    ctx = _context(args)
    previous = previous_components(ctx.paths)
    for ch in ctx.plan(args.only):
        cached = ctx.store.has(ch.name, ch.key.key)
        old = previous.get(ch.docname, {}).get("components")
        why = "" if cached else ("; ".join(ch.key.diff(old)) if old else "no earlier execution")
        mods = ", ".join(m.split(".", 1)[-1] for m in ch.key.components["modules"]) or "none"
        say(f"{ch.docname:<28} {'cached ' if cached else 'EXECUTE'} [{ch.key.key}] {why}")
        say(f"{'':<28} library modules: {mods}")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """Compare this build's glued values and figures with another build's."""
    ctx = _context(args)
    if args.execute_base:
        base = checkout_side(args.base, ctx, True, args.jobs, args.timeout)
    else:
        base = diff.from_manifest(args.base, [ctx.store])
    if args.head:
        head = diff.from_manifest(args.head, [ctx.store])
    else:
        head = checkout_side(args.root, ctx, False, args.jobs, args.timeout)
    report = diff.compare(base, head, args.threshold)
    text = diff.markdown(report) if args.format == "markdown" else diff.terminal(report)
    if args.output:
        with open(args.output, "a", encoding="utf8") as f:  # appends: $GITHUB_STEP_SUMMARY collects steps
            f.write(text)
    else:
        print(text, end="", flush=True)
    return 0


def _only(text: str) -> list[str]:
    return [x for x in text.split(",") if x]


def _fraction(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (e.g. 0.05 or 5%)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a tolerance cannot be negative: {text!r}")
    return value


def _execution(sp: argparse.ArgumentParser, force: bool = True) -> None:
    """The options of a command that may execute chapters."""
    sp.add_argument(
        "--jobs", type=int, default=default_jobs(), help="parallel kernels (default: $BOOKBUILD_JOBS or the cores)"
    )
    sp.add_argument(
        "--timeout", type=int, default=None, help="seconds per cell (default: _config.yml's execute.timeout)"
    )
    if force:
        sp.add_argument("--force", action="store_true", help="execute even where stored outputs match")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bookbuild", description="Execute what changed, render the book.")
    p.add_argument(
        "--root", type=Path, default=Path.cwd(), help="book root (holds _config.yml, _toc.yml, pyproject.toml)"
    )
    p.add_argument(
        "--library-root",
        default=None,
        help="folder holding the library package, relative to root (default: [tool.bookbuild] library_root)",
    )
    p.add_argument(
        "--package",
        default=None,
        help="the library package whose imports are tracked (default: [tool.bookbuild] package)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    only = {"type": _only, "default": None, "help": "comma-separated chapters (e.g. priors,invariance)"}

    b = sub.add_parser("build", help="execute what changed (in parallel), then render the site")
    b.add_argument("--all", action="store_true", help="re-read every page (execution is still cached)")
    e = sub.add_parser("execute", help="execute what changed without rendering (a CI shard)")
    for sp in (b, e):
        sp.add_argument("--only", **only)
        _execution(sp)
        sp.add_argument(
            "--strict",
            action="store_true",
            help="warnings (Sphinx or cell stderr) fail the build; nitpicky; re-read all pages",
        )
        sp.add_argument(
            "--diff-base",
            type=Path,
            default=os.environ.get("BOOKBUILD_DIFF_BASE") or None,
            help="another build's manifest (or its folder): the status page lists the glued values "
            "and figures that changed since (default: $BOOKBUILD_DIFF_BASE)",
        )
    c = sub.add_parser("chapter", help="execute (if its inputs changed) and render one chapter alone, strictly")
    c.add_argument("name", help="the chapter, e.g. priors or book/priors")
    _execution(c)
    v = sub.add_parser("preview", help="serve the site, rebuild on save (dependency-aware), reload the browser")
    v.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    v.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PREVIEW_PORT", 8000)),
        help="port (default $PREVIEW_PORT or 8000; 0 picks a free one)",
    )
    v.add_argument("--jobs", type=int, default=default_jobs(), help="parallel kernels when chapters execute")
    d = sub.add_parser("diff", help="which glued values and figures differ from another build")
    d.add_argument(
        "base",
        type=Path,
        help="the other build: its exec-manifest.json or the folder holding it (with --execute-base: a checkout)",
    )
    d.add_argument(
        "--execute-base",
        action="store_true",
        help="BASE is a checkout: execute what this build's store lacks of it, reuse the rest",
    )
    d.add_argument(
        "--head", type=Path, default=None, help="compare this manifest instead of the current checkout's build"
    )
    d.add_argument("--format", choices=("terminal", "markdown"), default="terminal")
    d.add_argument("--threshold", type=_fraction, default=None, help="mark relative changes above this (0.05 = 5%%)")
    d.add_argument("--output", type=Path, default=None, help="append the report to this file (else print it)")
    _execution(d, force=False)
    x = sub.add_parser("export", help="write the executed notebooks of the current inputs, for nbval")
    x.add_argument("--only", **only)
    x.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("merge", help="copy executed entries from another store (e.g. another CI shard)")
    m.add_argument("source", type=Path, help="another _build/exec-store folder")
    m.add_argument("--strict", action="store_true", help="fail if the source holds corrupt entries")
    pl = sub.add_parser("plan", help="show which chapters would execute, and why")
    pl.add_argument("--only", **only)
    validated.add_parser(sub)  # make nbval
    return p


COMMANDS = {
    "build": cmd_build,
    "execute": cmd_build,
    "chapter": cmd_chapter,
    "preview": cmd_preview,
    "export": cmd_export,
    "merge": cmd_merge,
    "plan": cmd_plan,
    "diff": cmd_diff,
    "nbval": validated.cmd_nbval,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.root = args.root.resolve()
    return reported(lambda: COMMANDS[args.command](args))
