"""Command line: ``python -m bookbuild <command>``; run with ``--help`` for the commands."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from bookbuild import standin
from bookbuild.deps import Library, code_sources
from bookbuild.execute import Outcome, device_description, execute, plan, sync_jupyter_cache
from bookbuild.store import Store

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _say(message: str) -> None:
    print(message, flush=True)


class Paths:
    def __init__(self, root: Path) -> None:
        self.root = root
        # A stand-in run keeps its store, manifest and logs apart from the real ones.
        self.build = root / "_build" / "standin" if standin.active(root, os.environ) else root / "_build"
        self.store = self.build / "exec-store"
        self.jupyter_cache = self.build / ".jupyter_cache"
        self.manifest = self.build / "exec-manifest.json"
        self.logs = self.build / "logs"
        self.memo = self.build / "data-digests.json"
        self.render_stamp = self.build / "render-stamp.json"


def _profile() -> str:
    profile = os.environ.get("LECTUREKIT_PROFILE", "lite").strip().lower()
    if profile not in ("lite", "full"):
        raise SystemExit(f"error: unknown profile {profile!r} in LECTUREKIT_PROFILE; use lite or full")
    return profile


def _load_previous(paths: Paths) -> dict:
    try:
        return json.loads(paths.manifest.read_text()).get("chapters", {})
    except (OSError, ValueError):
        return {}


def _write_manifest(paths: Paths, outcomes: list[Outcome], profile: str, device: str,
                    standin_var: str | None = None) -> None:
    """Record what produced each chapter's outputs; rewritten only when its content changes.

    The status page renders it, and Sphinx re-reads that page when it changes, so it holds no
    build timestamp: a build that changed nothing leaves it, and the page, as they are.
    """
    chapters = {}
    for o in outcomes:
        chapters[o.chapter.docname] = {
            "key": o.chapter.key.key, "status": o.status, "seconds": round(o.seconds, 2),
            "executed_at": o.meta.get("executed_at"), "profile": o.meta.get("profile", profile),
            "device": o.meta.get("device", device), "packages": o.meta.get("packages", {}),
            "components": o.chapter.key.components, "reasons": o.reasons,
        }
    record = {"profile": profile, "device": device, "chapters": chapters}
    if standin_var:
        record["standin"] = standin_var
    text = json.dumps(record, indent=1)
    if paths.manifest.exists() and paths.manifest.read_text() == text:
        return
    paths.manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp = paths.manifest.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, paths.manifest)


RENDER_PACKAGES = ("jupyter-book", "sphinx", "myst-nb", "myst-parser", "sphinx-book-theme", "sphinx-design",
                   "sphinx-exercise", "sphinxcontrib-bibtex")


# What Sphinx reads: pages, bibliographies, configuration, images; and folders it never reads.
SOURCE_SUFFIXES = (".md", ".ipynb", ".bib", ".yml", ".yaml", ".png", ".svg", ".jpg", ".css", ".html")
SKIP_DIRS = {"node_modules", "__pycache__", "src", "tests", "benchmarks", "tools"}


def _render_stamp(paths: Paths, outcomes: list[Outcome]) -> dict:
    """Everything the rendered site depends on: page sources, configuration, outputs, renderer versions."""
    from importlib import metadata

    sources = {}
    for folder, dirs, files in os.walk(paths.root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_build")) and d not in SKIP_DIRS)
        for name in files:
            if name.endswith(SOURCE_SUFFIXES):
                f = Path(folder) / name
                st = f.stat()
                sources[str(f.relative_to(paths.root))] = [st.st_mtime_ns, st.st_size]
    versions = {}
    for name in RENDER_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return {"sources": sources, "keys": {o.chapter.docname: o.chapter.key.key for o in outcomes},
            "renderer": versions}


def _load_stamp(paths: Paths) -> dict:
    try:
        return json.loads(paths.render_stamp.read_text())
    except (OSError, ValueError):
        return {}


def _report_failures(paths: Paths, outcomes: list[Outcome], strict: bool) -> bool:
    failed = False
    paths.logs.mkdir(parents=True, exist_ok=True)
    for o in outcomes:
        if o.status == "failed":
            failed = True
            log = paths.logs / f"{o.chapter.name}.error.txt"
            log.write_text(ANSI.sub("", o.error))
            lines = ANSI.sub("", o.error).strip().splitlines()
            _say(f"\nerror: {o.chapter.docname} failed to execute ({o.chapter.path}):")
            _say("\n".join("    " + line for line in lines[-25:]))
            _say(f"    (full report: {log})")
        elif strict and o.meta.get("stderr"):
            failed = True
            _say(f"\nerror: {o.chapter.docname} wrote to stderr (warnings fail a strict build):")
            _say("\n".join("    " + s for s in o.meta["stderr"]))
    return failed


def _render(paths: Paths, strict: bool, all_pages: bool) -> int:
    """Run jupyter-book's Sphinx build; its log goes to a file, warnings are summarised."""
    paths.logs.mkdir(parents=True, exist_ok=True)
    log = paths.logs / "sphinx.log"
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(paths.root), "--path-output",
           str(paths.root), "--builder", "html"]
    if strict:
        cmd += ["-n", "-W", "--keep-going"]
    if strict or all_pages:
        cmd += ["--all"]
    start = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=paths.root).returncode
    text = ANSI.sub("", log.read_text())
    warnings = [line for line in text.splitlines() if "WARNING" in line and "IPKernelApp" not in line]
    executed = [line for line in text.splitlines() if "Executing notebook" in line]
    _say(f"  rendered the site in {time.perf_counter() - start:.1f} s ({len(warnings)} warnings; log: {log})")
    for line in warnings[:30]:
        _say(f"    {line.strip()}")
    if executed:
        _say("  myst-nb executed notebooks itself, so the execution store and jupyter-cache disagree:")
        for line in executed:
            _say(f"    {line.strip()}")
        if strict:
            return 1
    if rc != 0:
        _say(f"error: the Sphinx build failed (exit {rc}); see {log}")
        tail = [line for line in text.splitlines() if line.strip()][-15:]
        _say("\n".join("    " + line for line in tail))
    return rc


def _standin_checks(paths: Paths, outcomes: list[Outcome], store: Store, render: bool) -> int | None:
    """In a stand-in run: refuse to render (exit 2); otherwise None. Always: the glue check when not rendering."""
    var = standin.active(paths.root, os.environ)
    if var and render:
        _say(f"error: stand-in run ({var} is set): its numbers are meaningless, so it is never rendered into "
             "_build/html or published. Use `python -m bookbuild execute` for a stand-in run, or unset "
             f"{var} for a real build.")
        return 2
    if render:
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
        _write_manifest(paths, outcomes, _profile(), device_description(), var)
        _say(f"stand-in run ({var} is set): every chapter executed; its numbers are meaningless and it is "
             f"never rendered or published. Manifest: {paths.manifest}")
    return None


def cmd_build(args: argparse.Namespace, render: bool = True) -> int:
    paths = Paths(args.root)
    started = time.perf_counter()
    profile = _profile()
    if render and (refused := _standin_checks(paths, [], Store(paths.store), render)) is not None:
        return refused
    library = Library(args.root / args.library_root, args.package)
    store = Store(paths.store)
    device = device_description()
    _say(f"bookbuild: profile {profile}, {device}")
    try:
        chapters = plan(args.root, library, profile, args.only, paths.memo)
    except (ValueError, FileNotFoundError) as err:
        _say(f"error: {err}")
        return 2
    outcomes = execute(chapters, store, args.jobs, args.timeout, device, profile, _say,
                       previous=_load_previous(paths), force=args.force, logs=paths.logs)
    if _report_failures(paths, outcomes, args.strict):
        _say("\nbuild failed: nothing was rendered or published.")
        return 1
    if not render:
        if (failed := _standin_checks(paths, outcomes, store, render)) is not None:
            return failed
        _say(f"executed/verified {len(outcomes)} chapter(s) in {time.perf_counter() - started:.1f} s; store: {paths.store}")
        return 0
    stamp = _render_stamp(paths, outcomes)
    index = paths.build / "html" / "index.html"
    previous = _load_stamp(paths)
    if not (args.strict or args.all) and previous == stamp and index.exists():
        _say(f"  nothing changed since the last render; the site is up to date ({time.perf_counter() - started:.1f} s)")
        _say(f"Book: {index}")
        return 0
    # Hand outputs to myst-nb only for chapters whose source or outputs changed since the last render.
    changed = [o for o in outcomes
               if previous.get("keys", {}).get(o.chapter.docname) != o.chapter.key.key
               or previous.get("sources", {}).get(f"{o.chapter.docname}.md") != stamp["sources"].get(f"{o.chapter.docname}.md")]
    sync_jupyter_cache(paths.jupyter_cache, outcomes if not paths.jupyter_cache.exists() else changed, store)
    _write_manifest(paths, outcomes, profile, device)
    paths.render_stamp.unlink(missing_ok=True)
    rc = _render(paths, args.strict, args.all)
    if rc == 0:
        paths.render_stamp.write_text(json.dumps(stamp))
        _say(f"done in {time.perf_counter() - started:.1f} s. Book: {index}")
    return rc


def cmd_export(args: argparse.Namespace) -> int:
    """Write the stored executed notebooks of the current keys as .ipynb files (for nbval)."""
    paths = Paths(args.root)
    library = Library(args.root / args.library_root, args.package)
    store = Store(paths.store)
    chapters = plan(args.root, library, _profile(), args.only, paths.memo)
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("*.ipynb"):
        stale.unlink()
    missing = []
    for ch in chapters:
        entry = store.get(ch.name, ch.key.key, code_sources(ch.nb))
        if entry is None:
            missing.append(ch.docname)
            continue
        nbformat.write(entry.nb, args.out / f"{Path(ch.docname).name}.ipynb")
        _say(f"exported {ch.docname} [{ch.key.key}] -> {args.out / (Path(ch.docname).name + '.ipynb')}")
    if missing:
        _say(f"error: no executed outputs for {', '.join(missing)} with the current inputs; run `make book` first")
        return 1
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    copied, rejected = Store(Paths(args.root).store).merge_from(Store(args.source))
    _say(f"merged {copied} entries from {args.source}" + (f"; rejected {rejected} corrupt entries" if rejected else ""))
    return 1 if rejected and args.strict else 0


def cmd_plan(args: argparse.Namespace) -> int:
    paths = Paths(args.root)
    store = Store(paths.store)
    library = Library(args.root / args.library_root, args.package)
    previous = _load_previous(paths)
    for ch in plan(args.root, library, _profile(), args.only, paths.memo):
        meta_exists = store.has(ch.name, ch.key.key)
        old = previous.get(ch.docname, {}).get("components")
        why = "" if meta_exists else ("; ".join(ch.key.diff(old)) if old else "no earlier execution")
        mods = ", ".join(m.split(".", 1)[-1] for m in ch.key.components["modules"]) or "none"
        _say(f"{ch.docname:<28} {'cached ' if meta_exists else 'EXECUTE'} [{ch.key.key}] {why}")
        _say(f"{'':<28} library modules: {mods}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bookbuild", description="Execute what changed, render the book.")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="book root (holds _config.yml, _toc.yml)")
    p.add_argument("--library-root", default="src", help="folder holding the library package (relative to root)")
    p.add_argument("--package", default="lecturekit", help="the library package whose imports are tracked")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, execute_opts=True):
        sp.add_argument("--only", type=lambda s: [x for x in s.split(",") if x], default=None,
                        help="comma-separated chapters (e.g. priors,invariance)")
        if execute_opts:
            sp.add_argument("--jobs", type=int, default=int(os.environ.get("BOOKBUILD_JOBS", os.cpu_count() or 1)),
                            help="parallel kernels (default: $BOOKBUILD_JOBS or the number of cores)")
            sp.add_argument("--timeout", type=int, default=600, help="seconds per cell")
            sp.add_argument("--force", action="store_true", help="execute even where stored outputs match")
            sp.add_argument("--strict", action="store_true",
                            help="warnings (Sphinx or cell stderr) fail the build; nitpicky; re-read all pages")

    b = sub.add_parser("build", help="execute what changed (in parallel), then render the site")
    common(b)
    b.add_argument("--all", action="store_true", help="re-read every page (execution is still cached)")
    e = sub.add_parser("execute", help="execute what changed without rendering (a CI shard)")
    common(e)
    x = sub.add_parser("export", help="write the executed notebooks of the current inputs, for nbval")
    common(x, execute_opts=False)
    x.add_argument("--out", type=Path, required=True)
    m = sub.add_parser("merge", help="copy executed entries from another store (e.g. another CI shard)")
    m.add_argument("source", type=Path, help="another _build/exec-store folder")
    m.add_argument("--strict", action="store_true", help="fail if the source holds corrupt entries")
    pl = sub.add_parser("plan", help="show which chapters would execute, and why")
    common(pl, execute_opts=False)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.root = args.root.resolve()
    # One thread per kernel unless told otherwise: numerics then do not depend on how many
    # chapters run side by side, so parallel and serial builds print the same numbers.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    os.environ.setdefault("PYTHONHASHSEED", "0")  # as the Makefile sets it: same keys, same numbers
    commands = {"build": cmd_build, "execute": lambda a: cmd_build(a, render=False), "export": cmd_export,
                "merge": cmd_merge, "plan": cmd_plan}
    try:
        return commands[args.command](args)
    except (ValueError, FileNotFoundError) as err:  # bad chapter names, a broken _toc.yml, unparsable code
        _say(f"error: {err}")
        return 2
