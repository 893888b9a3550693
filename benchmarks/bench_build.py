"""The contributor's loop, bookbuild against plain ``jupyter-book build``, in one run: ``make bench``.

Prints one Markdown table, measured in this run on this machine: for each step the wall seconds,
the CPU-seconds of the whole process tree (Jupyter kernels and renderer processes included,
``benchmarks/cputime.py``) and the chapters executed, for bookbuild and, where it compares, for
plain ``jupyter-book build .`` after the same edit, with the ratios bookbuild / plain:

1. a prose-only edit, ``make book`` (``bookbuild build``);
2. a prose-only edit with ``make preview`` running: from the save to the preview's "rebuilt"
   line, and the CPU-seconds its process tree used in between;
3. a one-module library edit (a function appended to ``MODULE_FILE``), ``make book``: bookbuild
   executes the chapters that import the module; plain jupyter-book executes none and publishes
   stale outputs;
4. the executing steps of a warm ``make test`` (the Makefile's ``build-strict`` and ``nbval``)
   after a prose-only edit (0 executions) and after a one-module edit (2 per dependent chapter);
5. with ``--fresh-clone``: ``make test`` in a fresh ``git clone`` of this checkout's HEAD (about
   11 minutes on 2 cores), this checkout's virtualenv hard-linked into it;
and with ``--cold``: the first build of each builder from empty caches (minutes).

Each builder works on its own temporary copy of the repository (tracked and untracked, not
ignored, files), with this checkout's virtualenv and ``PYTHONPATH`` pointing at the copy's
``src``, so that library edits in the copy are what the kernels import. Without ``--cold`` (the
default, also spelled ``--quick``) bookbuild's copy starts from this checkout's execution store and
trained-weights cache (run ``make book`` and ``make nbval`` first, or the first build and nbval
run in the copy execute what is missing), and plain jupyter-book's copy starts from bookbuild's
executed outputs (its jupyter-cache and weights), so its first build renders without executing.
Rows 1 and 2 are medians over ``--edits`` edits (3), each writing a different sentence.
Every command's output is kept under ``--logs`` (``_build/bench``).
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import cputime
from benchtable import (
    Row,
    Run,
    executed_by_bookbuild,
    executed_by_jupyter_book,
    executed_by_nbval,
    module_edit,
    preview_failed,
    preview_rebuilt,
    preview_serving,
    problems,
    prose_edit,
    render_table,
    renderer_cpu,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
PROSE_FILE = "book/priors.md"
MODULE_FILE = "src/lecturekit/metrics/distances.py"  # imported by some chapters, not all
# The environment make exports (Makefile); the copies get their own values.
MAKE_VARS = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")


def copy_repo(dest: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    return dest


def env_for(copy: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARS}
    env.update(
        PYTHONPATH=str(copy / "src"),
        LECTUREKIT_PROFILE="lite",
        LECTUREKIT_CACHE=str(copy / "_build" / "lecturekit-cache"),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONHASHSEED="0",
    )
    return env


class Commands:
    """Runs and measures commands; every output goes to a numbered log file."""

    def __init__(self, logs: Path, jobs: int | None) -> None:
        self.logs, self.n = logs, 0
        jobs_args = ["--jobs", str(jobs)] if jobs else []
        cores = str(os.cpu_count() or 1)
        self.build = [PYTHON, "-m", "bookbuild", "build", *jobs_args]  # make book
        self.strict = [PYTHON, "-m", "bookbuild", "build", "--strict", *jobs_args]  # make build-strict
        # make nbval (the Makefile's nbval target, without FULL=1)
        self.nbval = [PYTHON, "-m", "bookbuild", "nbval", "--out", "_build/nbval"]
        self.nbval += ["--sanitize", "tools/nbval_sanitize.cfg", "--cores", cores]
        self.plain = [str(BIN / "jupyter-book"), "build", ".", "--builder", "html"]
        self.preview = [PYTHON, "-m", "bookbuild", "preview", "--port", "0", *jobs_args]

    def log(self, name: str) -> Path:
        self.n += 1
        return self.logs / f"{self.n:02d}-{re.sub(r'[^A-Za-z0-9]+', '-', name).strip('-')}.log"

    def measure(self, cmd: list[str], cwd: Path, env: dict, name: str) -> tuple[float, float, str]:
        """Wall seconds, CPU-seconds of the command's process tree (orphaned kernels included), output."""
        log = self.log(name)
        with log.open("w") as f:
            done = cputime.run(cmd, cwd=str(cwd), env=env, stdout=f, stderr=subprocess.STDOUT)
        out = log.read_text(errors="replace")
        if done["rc"] != 0:
            sys.exit(f"benchmark command failed (rc {done['rc']}): {' '.join(cmd)}\n{out[-3000:]}\n(full log: {log})")
        return done["wall_s"], done["cpu_s"], out


def say(message: str) -> None:
    print(message, flush=True)


def edit(copy: Path, rel: str, change, n: int) -> None:
    p = copy / rel
    p.write_text(change(p.read_text(), n))


def bookbuild_run(cmds: Commands, copy: Path, name: str) -> Run:
    wall, cpu, out = cmds.measure(cmds.build, copy, env_for(copy), name)
    names = executed_by_bookbuild(out)
    say(f"  bookbuild {name:<34} {wall:6.1f} s  {cpu:6.1f} CPU-s  executed {len(names)} {' '.join(names)}")
    return Run(wall, cpu, len(names))


def plain_run(cmds: Commands, copy: Path, name: str) -> Run:
    wall, cpu, out = cmds.measure(cmds.plain, copy, env_for(copy), f"plain-{name}")
    n = executed_by_jupyter_book(out)
    say(f"  plain     {name:<34} {wall:6.1f} s  {cpu:6.1f} CPU-s  executed {n}")
    return Run(wall, cpu, n)


def make_test_steps(cmds: Commands, copy: Path, name: str) -> Run:
    """The executing steps of ``make test`` (build-strict, then nbval), as the Makefile runs them."""
    env = env_for(copy)
    w1, c1, out1 = cmds.measure(cmds.strict, copy, env, f"{name}-build-strict")
    w2, c2, out2 = cmds.measure(cmds.nbval, copy, env, f"{name}-nbval")
    built, validated = executed_by_bookbuild(out1), executed_by_nbval(out2)
    detail = f"build {len(built)} + nbval {len(validated)}"
    say(
        f"  bookbuild {name:<34} {w1 + w2:6.1f} s  {c1 + c2:6.1f} CPU-s  executed {detail}: "
        f"{' '.join(built)} | {' '.join(validated)}"
    )
    return Run(w1 + w2, c1 + c2, len(built) + len(validated), detail)


def seed(source_store: Path, source_cache: Path | None, copy: Path) -> None:
    """Give bookbuild's copy this checkout's execution store and trained weights (copies, not links)."""
    if source_store.is_dir():
        shutil.copytree(source_store, copy / "_build" / "exec-store", dirs_exist_ok=True)
    if source_cache is not None and source_cache.is_dir():
        shutil.copytree(source_cache, copy / "_build" / "lecturekit-cache", dirs_exist_ok=True)


def seed_plain(ours: Path, plain: Path) -> None:
    """Give plain jupyter-book's copy bookbuild's executed outputs: myst-nb's jupyter-cache and the weights."""
    for part in (".jupyter_cache", "lecturekit-cache"):
        if (ours / "_build" / part).is_dir():
            shutil.copytree(ours / "_build" / part, plain / "_build" / part, dirs_exist_ok=True)


def preview_runs(cmds: Commands, copy: Path, edits: list[int]) -> list[Run]:
    """Prose edits with ``bookbuild preview`` running: save -> its "rebuilt" line; the tree's CPU in between."""
    log = cmds.log("preview")
    cputime.become_subreaper()  # a renderer orphaned by the server comes here, not to init
    proc = subprocess.Popen(
        cmds.preview,
        cwd=copy,
        env=env_for(copy),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        with log.open("w") as f:
            for line in proc.stdout:
                f.write(line)
                f.flush()
                lines.put((time.perf_counter(), line))

    threading.Thread(target=read, daemon=True).start()

    def next_line(timeout: float) -> tuple[float, str] | None:
        try:
            return lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def until(match, what: str, timeout: float = 900) -> tuple[float, list[str]]:
        seen, end = [], time.monotonic() + timeout
        while time.monotonic() < end:
            got = next_line(1)
            if got is None:
                if proc.poll() is not None:
                    break
                continue
            seen.append(got[1])
            if match(got[1]):
                return got[0], seen
            if preview_failed(got[1]):
                break
        sys.exit(f"preview benchmark: no {what} line; its output ends:\n{''.join(seen)[-3000:]}\n(log: {log})")

    def quiet(seconds: float) -> int:
        """Wait until the preview printed nothing for ``seconds``; how many rebuilds it reported meanwhile."""
        extra = 0
        while (got := next_line(seconds)) is not None:
            if preview_rebuilt(got[1]):
                extra += 1
        return extra

    runs = []
    try:
        until(preview_serving, "'[preview] serving'")
        time.sleep(2)  # the watcher starts after the server
        quiet(2)
        for n in edits:
            cpu0 = cputime.tree_cpu()
            start = time.perf_counter()
            edit(copy, PROSE_FILE, prose_edit, n)
            at, seen = until(preview_rebuilt, "'[preview] rebuilt'")
            cpu = cputime.tree_cpu() - cpu0
            wall = at - start
            extra = quiet(2)  # a second event for the same save would be counted in the next edit otherwise
            window = "".join(seen)
            executed = len(executed_by_bookbuild(window))
            own = renderer_cpu(seen[-1])
            note = f"; the preview says {own:.1f} CPU-s in its renderer" if own is not None else ""
            note += f"; {extra} more rebuild(s) after it" if extra else ""
            say(f"  preview   prose-only edit {n:<18} {wall:6.1f} s  {cpu:6.1f} CPU-s  executed {executed}{note}")
            runs.append(Run(wall, cpu, executed))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # the server (uvicorn) stops on Ctrl+C and stops its renderer
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        cputime.reap_orphans(10.0)
    return runs


def link_venv(source: Path, dest: Path) -> None:
    """A hard-linked copy of ``source`` (a virtualenv) at ``dest``, its paths rewritten (as /work/mkwt.sh does).

    Files that name the old location (scripts' ``#!`` lines, ``pyvenv.cfg``, the editable install's
    ``.pth`` and ``direct_url.json``) are replaced by rewritten copies, never edited in place: the
    links share their content with ``source``.
    """
    old, new = str(source.parent), str(dest.parent)
    shutil.copytree(source, dest, symlinks=True, copy_function=os.link)
    site = next(dest.glob("lib/python3*/site-packages"))
    candidates = [p for p in (dest / "bin").iterdir() if p.is_file() and not p.is_symlink()]
    candidates += [
        dest / "pyvenv.cfg",
        *site.glob("*.pth"),
        *site.glob("__editable__*"),
        *site.glob("*/direct_url.json"),
    ]
    for p in candidates:
        data = p.read_bytes()
        head = data[:300] if p.parent.name == "bin" else data
        if old.encode() not in head or b"\0" in data[:1024]:
            continue
        mode = p.stat().st_mode
        p.unlink()
        p.write_bytes(data.replace(old.encode(), new.encode()))
        p.chmod(mode)
    (dest / ".installed").touch()  # newer than the clone's pyproject.toml: make installs nothing


def fresh_clone_run(cmds: Commands, tmp: Path, target: str) -> Run:
    """``make <target>`` (test) in a fresh clone of HEAD, with this checkout's virtualenv hard-linked in."""
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    if dirty.strip():
        say("  note: the fresh clone has HEAD only; this checkout's uncommitted changes are not in it")
    clone = tmp / "fresh-clone"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    link_venv(ROOT / ".venv", clone / ".venv")
    # As a fresh shell would: the Makefile picks the profile, the cache (inside the clone) and the threads.
    unset = (*MAKE_VARS, "PYTHONPATH", "LECTUREKIT_CACHE", "LECTUREKIT_PROFILE", "VIRTUAL_ENV", "BOOKBUILD_JOBS")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    say(f"  fresh clone: make {target} in {clone} (minutes; log {cmds.logs})")
    wall, cpu, out = cmds.measure(["make", target], clone, env, f"fresh-clone-make-{target}")
    built = executed_by_bookbuild(out)
    validated = executed_by_nbval(out) if "nbval:" in out else []
    detail = f"build {len(built)} + nbval {len(validated)}"
    say(f"  fresh clone make {target:<27} {wall:6.1f} s  {cpu:6.1f} CPU-s  executed {detail}")
    return Run(wall, cpu, len(built) + len(validated), detail)


def dependents_of(module_file: str) -> list[str]:
    from bookbuild.config import load
    from bookbuild.plan import plan

    module = module_file[len("src/") : -len(".py")].replace("/", ".")
    return [c.docname for c in plan(load(ROOT), "lite") if module in c.key.components["modules"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=None, help="bookbuild's parallel kernels (default: its own)")
    parser.add_argument("--edits", type=int, default=3, help="prose edits per builder and in the preview (median)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the default: start from this checkout's executed outputs; no cold builds, no fresh clone",
    )
    parser.add_argument("--cold", action="store_true", help="start both builders from empty caches (minutes)")
    parser.add_argument(
        "--fresh-clone", action="store_true", help="also make test in a fresh clone of HEAD (about 11 min on 2 cores)"
    )
    parser.add_argument("--fresh-clone-target", default="test", help=argparse.SUPPRESS)  # e.g. lint, to try it
    parser.add_argument("--logs", type=Path, default=ROOT / "_build" / "bench", help="where each command's log goes")
    args = parser.parse_args(argv)
    if args.quick and args.cold:
        parser.error("--quick and --cold contradict each other: --quick starts from executed outputs")
    if args.edits < 1:
        parser.error("--edits must be at least 1")
    shutil.rmtree(args.logs, ignore_errors=True)
    args.logs.mkdir(parents=True)
    cmds = Commands(args.logs, args.jobs)
    dependents = dependents_of(MODULE_FILE)
    say(
        f"benchmark on {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {MODULE_FILE} is imported "
        f"(directly or not) by {len(dependents)} chapter(s): {', '.join(dependents)}"
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        ours, plain = copy_repo(Path(tmp) / "bookbuild"), copy_repo(Path(tmp) / "plain")
        if not args.cold:
            cache = Path(os.environ.get("LECTUREKIT_CACHE") or ROOT / "_build" / "lecturekit-cache")
            seed((ROOT / "_build" / "exec-store").resolve(), cache, ours)
        first = bookbuild_run(cmds, ours, "cold build" if args.cold else "first build (seeded)")
        if args.cold:
            cold_plain = plain_run(cmds, plain, "cold build")
            rows.append(Row("cold build, empty caches (`make book`)", [first], [cold_plain]))
        else:
            seed_plain(ours, plain)
            seeded = plain_run(cmds, plain, "first build (seeded)")
            if seeded.executed:
                say(f"  note: plain jupyter-book executed {seeded.executed} notebook(s) despite the seeded cache")
        # nbval's records for the current keys, as `make test` leaves them on a contributor's checkout.
        _, _, out = cmds.measure(cmds.nbval, ours, env_for(ours), "nbval-before-the-edits")
        say(f"  (before the edits, nbval validated {len(executed_by_nbval(out))} chapter(s))")

        n = 0
        ours_prose, plain_prose = [], []
        for _ in range(args.edits):
            n += 1
            edit(ours, PROSE_FILE, prose_edit, n)
            edit(plain, PROSE_FILE, prose_edit, n)
            ours_prose.append(bookbuild_run(cmds, ours, f"prose-only edit {n}"))
            plain_prose.append(plain_run(cmds, plain, f"prose-only edit {n}"))
        rows.append(Row(f"prose-only edit of `{PROSE_FILE}`, `make book`", ours_prose, plain_prose))

        edits = list(range(n + 1, n + 1 + args.edits))
        n += args.edits
        live = preview_runs(cmds, ours, edits)
        rows.append(Row("prose-only edit, `make preview` running: save to its 'rebuilt' line", live, plain_prose))

        n += 1
        edit(ours, PROSE_FILE, prose_edit, n)
        prose_test = make_test_steps(cmds, ours, "make test steps, prose edit")
        rows.append(Row("warm `make test` after a prose-only edit (build-strict + nbval)", [prose_test], expect=0))

        edit(ours, MODULE_FILE, module_edit, 1)
        edit(plain, MODULE_FILE, module_edit, 1)
        module_ours = bookbuild_run(cmds, ours, "one-module edit")
        module_plain = plain_run(cmds, plain, "one-module edit")
        rows.append(
            Row(
                f"one-module edit of `{MODULE_FILE}`, `make book`",
                [module_ours],
                [module_plain],
                plain_note="stale outputs" if module_plain.executed == 0 else "",
                note=f"of {len(dependents)} dependent chapters",
                expect=len(dependents),
            )
        )
        edit(ours, MODULE_FILE, module_edit, 2)
        module_test = make_test_steps(cmds, ours, "make test steps, module edit")
        rows.append(
            Row(
                "warm `make test` after a one-module edit (build-strict + nbval)",
                [module_test],
                note=f"for {len(dependents)} dependent chapters",
                expect=2 * len(dependents),
            )
        )
        if args.fresh_clone:
            clone_run = fresh_clone_run(cmds, Path(tmp), args.fresh_clone_target)
            rows.append(Row(f"fresh-clone `make {args.fresh_clone_target}` (empty caches)", [clone_run]))

    given = sys.argv[1:] if argv is None else argv
    command = "make bench" + (f" BENCH_ARGS='{' '.join(given)}'" if given else "")
    say(f"\n{command}, {datetime.now(UTC):%Y-%m-%d} ({os.cpu_count()} cores):\n\n{render_table(rows)}\n")
    found = problems(rows)
    for problem in found:
        say(f"warning: {problem}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
