"""Command line: ``python -m bookbuild <command>``; run with ``--help`` for the commands.

Argument parsing and orchestration only: settings come from ``[tool.bookbuild]``
(:mod:`bookbuild.config`), keys from :mod:`bookbuild.deps`, execution from
:mod:`bookbuild.execute`, rendering from :mod:`bookbuild.render`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from bookbuild import config as config_mod
from bookbuild import diff, render, standin
from bookbuild.config import Config, ConfigError
from bookbuild.deps import Library, code_sources
from bookbuild.execute import Chapter, WrongLibrary, device_description, execute, plan, sync_jupyter_cache
from bookbuild.render import Paths
from bookbuild.store import Store


def _say(message: str) -> None:
    print(message, flush=True)


@dataclass
class Context:
    """What every command needs, read once: settings, paths, the active profile, library and store."""

    args: argparse.Namespace
    config: Config
    paths: Paths
    profile: str
    library: Library
    store: Store

    def plan(self) -> list[Chapter]:
        return plan(
            self.paths.root, self.library, self.profile, getattr(self.args, "only", None), self.paths.memo, self.config
        )


def context(args: argparse.Namespace) -> Context:
    config = config_mod.load(args.root)
    overrides = {k: v for k, v in (("package", args.package), ("library_root", args.library_root)) if v}
    config = dataclasses.replace(config, **overrides)
    config.apply_kernel_env()
    paths = Paths(args.root)
    return Context(args, config, paths, config.profile(), config.library(), Store(paths.store))


def _standin_checks(paths: Paths, outcomes: list, store: Store, rendering: bool) -> int | None:
    """A stand-in run is never rendered (exit 2); without rendering, every glue key the text uses must be defined."""
    var = standin.active(paths.root, os.environ)
    if var and rendering:
        _say(
            f"error: stand-in run ({var} is set): its numbers are meaningless, so it is never rendered into "
            "_build/html or published. Use `python -m bookbuild execute` for a stand-in run, or unset "
            f"{var} for a real build."
        )
        return 2
    if rendering:
        return None
    missing = []
    for o in outcomes:
        entry = store.get(o.chapter.name, o.chapter.key.key, code_sources(o.chapter.nb))
        for key in standin.glue_problems(o.chapter.nb, entry.nb) if entry is not None else []:
            missing.append(f"{o.chapter.docname}: the text uses glue key {key!r}, which no cell glues")
    if missing:
        _say("\nerror: glue keys used but never defined in this profile:\n" + "\n".join("    " + m for m in missing))
        return 1
    if var:
        _say(
            f"stand-in run ({var} is set): every chapter executed; its numbers are meaningless and it is "
            f"never rendered or published. Manifest: {paths.manifest}"
        )
    return None


def cmd_build(args: argparse.Namespace, rendering: bool = True) -> int:
    started = time.perf_counter()
    ctx = context(args)
    paths = ctx.paths
    if rendering and (refused := _standin_checks(paths, [], ctx.store, rendering)) is not None:
        return refused
    device = device_description()
    _say(f"bookbuild (from {Path(__file__).resolve().parent}): profile {ctx.profile}, {device}")
    chapters = ctx.plan()
    if var := standin.active(paths.root, os.environ):
        # The kernels inherit this: Python drops `assert` statements, so the chapters' checks of
        # their claims (which only real inputs can make true) do not run; every cell still must.
        os.environ["PYTHONOPTIMIZE"] = "1"
        _say(
            f"stand-in run ({var} is set): kernels run with assertions off (python -O), since a stand-in's "
            "numbers are meaningless; every cell must still execute and every glue key be defined"
        )
    outcomes = execute(
        chapters,
        ctx.store,
        args.jobs,
        args.timeout,
        device,
        ctx.profile,
        _say,
        previous=render.previous_components(paths),
        force=args.force,
        logs=paths.logs,
        library=ctx.library,
    )
    if render.report_failures(paths, outcomes, args.strict, _say):
        _say("\nbuild failed: nothing was rendered or published.")
        return 1
    changes = {}
    if args.diff_base and not Path(args.diff_base).exists():
        _say(f"  no earlier build at {args.diff_base}: nothing to compare with")
    elif args.diff_base:  # the status page lists what moved since that build
        report = diff.compare(
            diff.from_manifest(args.diff_base, [ctx.store]), diff.from_outcomes("this build", outcomes)
        )
        changes = {"changes": report}
        _say(diff.terminal(report).rstrip())
    if not rendering:
        if (failed := _standin_checks(paths, outcomes, ctx.store, rendering)) is not None:
            return failed
        var = standin.active(paths.root, os.environ)
        render.write_manifest(
            paths, {**render.manifest(outcomes, ctx.profile, device), **changes, **({"standin": var} if var else {})}
        )
        _say(
            f"executed/verified {len(outcomes)} chapter(s) in {time.perf_counter() - started:.1f} s; "
            f"store: {paths.store}"
        )
        return 0
    stamp = render.render_stamp(paths, outcomes, ctx.library.root / ctx.library.package)
    index = paths.build / "html" / "index.html"
    previous = render.load_stamp(paths)
    if not (args.strict or args.all) and previous == stamp and index.exists():
        _say(f"  nothing changed since the last render; the site is up to date ({time.perf_counter() - started:.1f} s)")
        _say(f"Book: {index}")
        return 0
    # Hand myst-nb the outputs of every chapter whose key has no jupyter-cache record yet.
    sync_jupyter_cache(paths.jupyter_cache, outcomes, ctx.store)
    render.write_manifest(paths, {**render.manifest(outcomes, ctx.profile, device), **changes})
    paths.render_stamp.unlink(missing_ok=True)
    rc = render.sphinx(paths, args.strict, args.all, _say)
    if rc == 0:
        render.save_stamp(paths, stamp)
        _say(f"done in {time.perf_counter() - started:.1f} s. Book: {index}")
    return rc


def cmd_export(args: argparse.Namespace) -> int:
    """Write the stored executed notebooks of the current keys as .ipynb files (for nbval)."""
    ctx = context(args)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("*.ipynb"):
        stale.unlink()
    missing = []
    for ch in ctx.plan():
        entry = ctx.store.get(ch.name, ch.key.key, code_sources(ch.nb))
        if entry is None:
            missing.append(ch.docname)
            continue
        target = args.out / f"{Path(ch.docname).name}.ipynb"
        nbformat.write(entry.nb, target)
        _say(f"exported {ch.docname} [{ch.key.key}] -> {target}")
    if missing:
        _say(f"error: no executed outputs for {', '.join(missing)} with the current inputs; run `make book` first")
        return 1
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    copied, rejected = Store(Paths(args.root).store).merge_from(Store(args.source))
    _say(f"merged {copied} entries from {args.source}" + (f"; rejected {rejected} corrupt entries" if rejected else ""))
    return 1 if rejected and args.strict else 0


def cmd_plan(args: argparse.Namespace) -> int:
    ctx = context(args)
    previous = render.previous_components(ctx.paths)
    for ch in ctx.plan():
        cached = ctx.store.has(ch.name, ch.key.key)
        old = previous.get(ch.docname, {}).get("components")
        why = "" if cached else ("; ".join(ch.key.diff(old)) if old else "no earlier execution")
        mods = ", ".join(m.split(".", 1)[-1] for m in ch.key.components["modules"]) or "none"
        _say(f"{ch.docname:<28} {'cached ' if cached else 'EXECUTE'} [{ch.key.key}] {why}")
        _say(f"{'':<28} library modules: {mods}")
    return 0


def checkout_side(root: Path, head: Context, run: bool) -> diff.Side:
    """The results of the checkout at ``root``, from ``head``'s store; with ``run``, executing what it lacks.

    The checkout's kernels import its own library (put first on PYTHONPATH, then checked). Its
    ``[tool.bookbuild]`` table is used if it has one, else ``head``'s.
    """
    root = root.resolve()
    try:
        config = config_mod.load(root)
    except ConfigError:
        config = dataclasses.replace(head.config, root=root)
    library = config.library()
    paths = Paths(root)
    chapters = plan(root, library, head.profile, None, paths.memo, config)
    if not run:
        missing = [ch.docname for ch in chapters if not head.store.has(ch.name, ch.key.key)]
        if missing:
            raise diff.NoBuild(
                f"{', '.join(missing)} of {root} have no executed outputs in {head.store.root}; "
                "build first (python -m bookbuild build)"
            )
    else:
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(library.root.resolve())] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        )
    progress = (lambda m: print(m, file=sys.stderr, flush=True)) if run else (lambda m: None)  # stdout: the report
    outcomes = execute(
        chapters,
        head.store,
        head.args.jobs,
        head.args.timeout,
        device_description(),
        head.profile,
        progress,
        logs=paths.logs,
        library=library if run else None,
    )
    failed = [o.chapter.docname for o in outcomes if o.status == "failed"]
    if failed:
        raise diff.NoBuild(f"{', '.join(failed)} of {root} failed to execute; no comparison")
    return diff.from_outcomes(str(root), outcomes)


def cmd_diff(args: argparse.Namespace) -> int:
    """Compare this build's glued values and figures with another build's."""
    ctx = context(args)
    if args.execute_base:
        base = checkout_side(args.base, ctx, run=True)
    else:
        base = diff.from_manifest(args.base, [ctx.store])
    head = diff.from_manifest(args.head, [ctx.store]) if args.head else checkout_side(args.root, ctx, run=False)
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


def _common(sp: argparse.ArgumentParser, execute_opts: bool = True) -> None:
    sp.add_argument("--only", type=_only, default=None, help="comma-separated chapters (e.g. priors,invariance)")
    if execute_opts:
        sp.add_argument(
            "--jobs",
            type=int,
            default=int(os.environ.get("BOOKBUILD_JOBS", os.cpu_count() or 1)),
            help="parallel kernels (default: $BOOKBUILD_JOBS or the number of cores)",
        )
        sp.add_argument("--timeout", type=int, default=600, help="seconds per cell")
        sp.add_argument("--force", action="store_true", help="execute even where stored outputs match")
        sp.add_argument(
            "--strict",
            action="store_true",
            help="warnings (Sphinx or cell stderr) fail the build; nitpicky; re-read all pages",
        )


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

    b = sub.add_parser("build", help="execute what changed (in parallel), then render the site")
    _common(b)
    b.add_argument("--all", action="store_true", help="re-read every page (execution is still cached)")
    e = sub.add_parser("execute", help="execute what changed without rendering (a CI shard)")
    _common(e)
    for sp in (b, e):
        sp.add_argument(
            "--diff-base",
            type=Path,
            default=os.environ.get("BOOKBUILD_DIFF_BASE") or None,
            help="another build's manifest (or its folder): the status page lists the glued values "
            "and figures that changed since (default: $BOOKBUILD_DIFF_BASE)",
        )
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
    d.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("BOOKBUILD_JOBS", os.cpu_count() or 1)),
        help="parallel kernels for --execute-base",
    )
    d.add_argument("--timeout", type=int, default=600, help="seconds per cell (--execute-base)")
    x = sub.add_parser("export", help="write the executed notebooks of the current inputs, for nbval")
    _common(x, execute_opts=False)
    x.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("merge", help="copy executed entries from another store (e.g. another CI shard)")
    m.add_argument("source", type=Path, help="another _build/exec-store folder")
    m.add_argument("--strict", action="store_true", help="fail if the source holds corrupt entries")
    pl = sub.add_parser("plan", help="show which chapters would execute, and why")
    _common(pl, execute_opts=False)
    from bookbuild import chapter, preview, validated  # contributor commands: make chapter, make preview, make nbval

    chapter.add_parser(sub)
    preview.add_parser(sub)
    validated.add_parser(sub)
    return p


COMMANDS = {
    "build": cmd_build,
    "execute": lambda a: cmd_build(a, rendering=False),
    "export": cmd_export,
    "merge": cmd_merge,
    "plan": cmd_plan,
    "diff": cmd_diff,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.root = args.root.resolve()
    from bookbuild import chapter, preview, validated

    commands = {
        **COMMANDS,
        "chapter": chapter.cmd_chapter,
        "preview": preview.cmd_preview,
        "nbval": validated.cmd_nbval,
    }
    try:
        return commands[args.command](args)
    except (ConfigError, WrongLibrary, diff.NoBuild) as err:
        _say(f"error: {err}")
        return 2
    except (ValueError, FileNotFoundError) as err:  # bad chapter names, a broken _toc.yml, unparsable code
        _say(f"error: {err}")
        return 2
