"""The build: plan -> execute -> record -> hand to jupyter-cache -> render, top to bottom in :func:`build`.

``python -m bookbuild build`` (``make book``), ``execute`` (a CI shard), ``chapter`` (``make chapter``)
and every rebuild of ``preview`` (``make preview``) are this one function with different
:class:`Request` s:

1. **plan** (:mod:`bookbuild.plan`): read every executable chapter and compute its key;
2. **execute** (:mod:`bookbuild.execute`): reuse the stored outputs of each key, execute the rest
   in parallel kernels into the store (:mod:`bookbuild.store`);
3. **record** (:mod:`bookbuild.record`): stop on a failed chapter; otherwise write the manifest
   (what produced each chapter's outputs), or for ``execute`` check the glue keys instead of rendering;
4. **hand over** (:func:`bookbuild.render.sync_jupyter_cache`): put the outputs where myst-nb reads them;
5. **render** (:func:`bookbuild.render.sphinx`): Sphinx renders the whole book (skipped when nothing
   it is made from changed) or one chapter alone.

:class:`Context` is what every command needs, read once: the settings (``[tool.bookbuild]`` and
``_config.yml``, :mod:`bookbuild.config`), where the build's files are, the profile, the library and
the store.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bookbuild import config as config_mod
from bookbuild import diff, record, render
from bookbuild.book import MANIFEST_ENV, Paths, chapter_toc
from bookbuild.config import Config, ConfigError
from bookbuild.deps import Library
from bookbuild.digests import Digests
from bookbuild.execute import Outcome, WrongLibrary, device_description, execute
from bookbuild.plan import Chapter, plan
from bookbuild.store import Store

#: What a command reports as ``error: ...`` with exit status 2 (bad settings, names or sources).
USER_ERRORS = (ConfigError, WrongLibrary, diff.NoBuild, ValueError, FileNotFoundError)


def say(message: str) -> None:
    """Print one line of the build's report at once (the preview and CI logs show it as it happens)."""
    print(message, flush=True)


def default_jobs() -> int:
    """Parallel kernels: ``$BOOKBUILD_JOBS``, else the number of cores."""
    return int(os.environ.get("BOOKBUILD_JOBS", os.cpu_count() or 1))


@dataclass
class Context:
    """What every command needs, read once: settings, paths, the active profile, library and store."""

    config: Config
    paths: Paths
    profile: str
    library: Library
    store: Store
    digests: Digests  # the one change detector: every file's SHA-256, remembered on its stat stamp
    say: Callable[[str], None] = say

    def plan(self, only: list[str] | None = None) -> list[Chapter]:
        chapters = plan(self.config, self.profile, only, self.library, self.paths, self.digests)
        self.digests.save()
        return chapters


def context(root: Path, package: str | None = None, library_root: str | None = None) -> Context:
    """Read the book at ``root``'s settings (``package``/``library_root`` override ``[tool.bookbuild]``)."""
    config = config_mod.load(root)
    overrides = {k: v for k, v in (("package", package), ("library_root", library_root)) if v}
    config = dataclasses.replace(config, **overrides)
    config.apply_kernel_env()
    paths = config.paths()
    return Context(config, paths, config.profile(), config.library(), Store(paths.store), Digests(paths.digests))


@dataclass(frozen=True)
class Request:
    """What one build is asked to do."""

    only: list[str] | None = None  # these chapters (names or docnames), else every chapter
    jobs: int = dataclasses.field(default_factory=default_jobs)
    timeout: int | None = None  # seconds per cell; None: _config.yml's execute.timeout
    force: bool = False  # execute even where stored outputs match
    strict: bool = False  # warnings (Sphinx, cell stderr) fail; nitpicky; every page re-read
    all_pages: bool = False  # re-read every page
    render: bool = True  # False: execute and record only (``execute``, a CI shard, a stand-in run)
    chapter: str | None = None  # render this chapter alone (``chapter NAME``), strictly
    diff_base: Path | None = None  # another build's manifest: the status page lists what changed since
    # Renders the book (called like render.sphinx); None: render.sphinx. The preview's is a resident Sphinx.
    renderer: Callable[..., int] | None = None


def build(ctx: Context, req: Request) -> int:
    """Plan, execute, record, hand over, render; returns the exit status (0, 1: failed, 2: refused)."""
    started = time.perf_counter()
    standin = ctx.config.standin()
    if standin and req.render:
        ctx.say(
            f"error: stand-in run ({standin} is set): its numbers are meaningless, so it is never rendered into "
            "_build/html or published. Use `python -m bookbuild execute` for a stand-in run, or unset "
            f"{standin} for a real build."
        )
        return 2
    device = device_description()
    what = f"chapter {req.chapter}, " if req.chapter else ""
    ctx.say(f"bookbuild (from {Path(__file__).resolve().parent}): {what}profile {ctx.profile}, {device}")

    # 1. plan
    chapters = ctx.plan([req.chapter] if req.chapter else req.only)
    if standin:
        # The kernels inherit this: Python drops `assert` statements, so the chapters' checks of
        # their claims (which only real inputs can make true) do not run; every cell still must.
        os.environ["PYTHONOPTIMIZE"] = "1"
        ctx.say(
            f"stand-in run ({standin} is set): kernels run with assertions off (python -O), since a stand-in's "
            "numbers are meaningless; every cell must still execute and every glue key be defined"
        )

    # 2. execute
    outcomes = execute(
        chapters,
        ctx.store,
        req.jobs,
        req.timeout or ctx.config.timeout,
        device,
        ctx.profile,
        ctx.say,
        previous=record.previous_components(ctx.paths),
        force=req.force,
        logs=ctx.paths.logs,
        library=ctx.library,
    )

    # 3. record
    if record.report_failures(ctx.paths, outcomes, req.strict or req.chapter is not None, ctx.say):
        ctx.say("\nbuild failed: nothing was rendered or published.")
        return 1
    manifest = {**record.manifest(outcomes, ctx.profile, device), **_changes(ctx, req.diff_base, outcomes)}
    if not req.render:
        return _record_execution(ctx, outcomes, manifest, standin, started)

    # 4. hand over and 5. render
    if req.chapter is not None:
        return _render_chapter(ctx, outcomes, manifest, started)
    return _render_book(ctx, req, outcomes, manifest, started)


def _changes(ctx: Context, diff_base: Path | None, outcomes: list[Outcome]) -> dict:
    """``{"changes": report}`` against ``diff_base``'s manifest (the status page lists them), else ``{}``."""
    if diff_base is None:
        return {}
    if not Path(diff_base).exists():
        ctx.say(f"  no earlier build at {diff_base}: nothing to compare with")
        return {}
    report = diff.compare(diff.from_manifest(diff_base, [ctx.store]), diff.from_outcomes("this build", outcomes))
    ctx.say(diff.terminal(report).rstrip())
    return {"changes": report}


def _record_execution(ctx: Context, outcomes: list[Outcome], manifest: dict, standin: str | None, started) -> int:
    """``execute``: no render, so check what a render would (glue keys), then write the manifest."""
    missing = record.glue_problems(outcomes, ctx.store)
    if missing:
        ctx.say("\nerror: glue keys used but never defined in this profile:\n" + "\n".join("    " + m for m in missing))
        return 1
    if standin:
        ctx.say(
            f"stand-in run ({standin} is set): every chapter executed; its numbers are meaningless and it is "
            f"never rendered or published. Manifest: {ctx.paths.manifest}"
        )
    record.write_manifest(ctx.paths, {**manifest, **({"standin": standin} if standin else {})})
    ctx.say(
        f"executed/verified {len(outcomes)} chapter(s) in {time.perf_counter() - started:.1f} s; "
        f"store: {ctx.paths.store}"
    )
    return 0


def _render_book(ctx: Context, req: Request, outcomes: list[Outcome], manifest: dict, started: float) -> int:
    """The whole site, unless nothing it is made from changed since the last render."""
    site = ctx.paths.book_site()
    index = site.html / "index.html"
    stamp = render.render_stamp(ctx.config, outcomes, ctx.digests)
    ctx.digests.save()
    previous = render.load_stamp(ctx.paths)
    all_pages = req.all_pages
    if not (req.strict or req.all_pages) and previous == stamp and index.exists():
        ctx.say(
            f"  nothing changed since the last render; the site is up to date ({time.perf_counter() - started:.1f} s)"
        )
        ctx.say(f"Book: {index}")
        return 0
    if not all_pages and render.renderer_changed(previous, stamp):
        ctx.say(
            "  the renderer changed since the last render (bookbuild's own code or a package version): "
            "every page is read again"
        )
        all_pages = True
    render.sync_jupyter_cache(site.jupyter_cache, outcomes, ctx.store)
    record.write_manifest(ctx.paths, manifest)
    ctx.paths.render_stamp.unlink(missing_ok=True)
    rc = (req.renderer or render.sphinx)(ctx.paths.root, site, req.strict, all_pages, ctx.say)
    if rc == 0:
        render.save_stamp(ctx.paths, stamp)
        ctx.say(f"done in {time.perf_counter() - started:.1f} s. Book: {index}")
    return rc


def _render_chapter(ctx: Context, outcomes: list[Outcome], manifest: dict, started: float) -> int:
    """One chapter alone, strictly, with the landing page and the reference pages so its links resolve.

    The book's manifest and render stamp are left as they are: they describe the whole book. The
    chapter's own manifest (its current key) goes beside its site, and the Sphinx side reads that
    one (``$BOOKBUILD_MANIFEST``): the book's may name an older execution of this chapter.
    """
    (chapter,) = [o.chapter for o in outcomes]
    site = ctx.paths.chapter_site(chapter.docname)
    site.out.mkdir(parents=True, exist_ok=True)
    site.toc.write_text(yaml.safe_dump(chapter_toc(ctx.paths.root, chapter.docname), sort_keys=False))
    own = site.out / "exec-manifest.json"
    own.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    render.sync_jupyter_cache(site.jupyter_cache, outcomes, ctx.store)
    previous = os.environ.get(MANIFEST_ENV)
    os.environ[MANIFEST_ENV] = str(own)
    try:
        rc = render.sphinx(ctx.paths.root, site, True, True, ctx.say)
    finally:
        if previous is None:
            os.environ.pop(MANIFEST_ENV, None)
        else:
            os.environ[MANIFEST_ENV] = previous
    if rc == 0:
        ctx.say(f"done in {time.perf_counter() - started:.1f} s. Chapter: {site.html / chapter.docname}.html")
    return rc


def checkout_side(root: Path, head: Context, run: bool, jobs: int, timeout: int | None) -> diff.Side:
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
    paths = config.paths()
    chapters = plan(config, head.profile, None, library, paths)
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
        jobs,
        timeout or config.timeout,
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


def reported(command: Callable[[], int]) -> int:
    """Run ``command``; a user error (bad settings, an unknown chapter, a broken page) is one line, exit 2."""
    try:
        return command()
    except USER_ERRORS as err:
        say(f"error: {err}")
        return 2
