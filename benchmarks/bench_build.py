"""Build benchmark: bookbuild against plain ``jupyter-book build``, on copies of this repository.

Measures, on this machine, for both builders: a cold build (empty caches, trained weights
included), a warm build with nothing changed, a build after a prose-only edit and a build after a
one-module library edit (how many chapters each executed, and whether the published outputs are
stale); a prose edit while ``bookbuild preview`` (``make preview``) runs; then the unit-test and
nbval times, run as ``make unit`` and ``make nbval`` run them (pytest-xdist). Prints a Markdown
table. Run with ``make bench``.

The copies live in a temporary folder and use this checkout's virtualenv, with ``PYTHONPATH``
pointing at the copy's ``src`` so that library edits in the copy are what the kernels import.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROSE_FILE = "book/priors.md"
MODULE_FILE = "src/lecturekit/metrics/distances.py"  # used by some chapters, not all


def copy_repo(dest: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for f in files:
        src = ROOT / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)
    return dest


def env_for(copy: Path) -> dict:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(copy / "src"),
        LECTUREKIT_PROFILE="lite",
        LECTUREKIT_CACHE=str(copy / "_build" / "lecturekit-cache"),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONHASHSEED="0",
    )
    return env


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds, done.stdout + done.stderr


def executed_by_bookbuild(output: str) -> int:
    return len(re.findall(r"^\s+\S+\s+executed\s", output, flags=re.M))


def executed_by_jupyter_book(output: str) -> int:
    return output.count("Executing notebook")


def edit_prose(copy: Path) -> None:
    p = copy / PROSE_FILE
    p.write_text(
        p.read_text().replace(
            "## How the priors fit together", "A sentence added by the benchmark.\n\n## How the priors fit together", 1
        )
    )


def edit_prose_again(copy: Path) -> None:
    p = copy / PROSE_FILE
    p.write_text(
        p.read_text().replace(
            "A sentence added by the benchmark.", "A sentence the benchmark edited while the preview ran.", 1
        )
    )


def preview_prose_edit(copy: Path, jobs: int) -> float:
    """Seconds from a prose edit to the end of the rebuild, with `make preview` already running and warm."""
    import queue
    import threading

    proc = subprocess.Popen(
        [str(BIN / "python"), "-m", "bookbuild", "preview", "--port", "0", "--jobs", str(jobs)],
        cwd=copy,
        env=env_for(copy),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen: list[str] = []

    def wait_for(pattern: str, timeout: float = 900) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            seen.append(line)
            if re.search(pattern, line):
                return
        proc.kill()
        sys.exit(f"preview benchmark: no {pattern!r}:\n{''.join(seen)[-3000:]}")

    try:
        wait_for(r"\[preview\] serving")
        time.sleep(2)  # let the watcher start
        start = time.perf_counter()
        edit_prose_again(copy)
        wait_for(r"\[preview\] rebuilt")
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def edit_module(copy: Path) -> None:
    p = copy / MODULE_FILE
    p.write_text(p.read_text() + "\n# edited by the benchmark\n")


def seed_from(source: Path, copy: Path) -> None:
    """Give ``copy`` the executed outputs of ``source``: myst-nb's jupyter-cache and the trained weights."""
    for part in (".jupyter_cache", "lecturekit-cache"):
        shutil.copytree(source / "_build" / part, copy / "_build" / part, dirs_exist_ok=True)


def scenario_rows(name: str, build: list[str], count, copy: Path, first: str = "cold (empty caches)") -> list[tuple]:
    env = env_for(copy)
    rows = []
    for label, edit in [
        (first, None),
        ("warm, nothing changed", None),
        ("after a prose-only edit", edit_prose),
        ("after a one-module library edit", edit_module),
    ]:
        if edit:
            edit(copy)
        seconds, out = timed(build, copy, env)
        rows.append((label, name, seconds, count(out)))
        print(f"  {name:<24} {label:<34} {seconds:7.1f} s  executed {count(out)}", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the edits only: plain jupyter-book's copy starts from bookbuild's executed outputs (its "
        "jupyter-cache and trained weights, so its first build renders without executing); no unit tests or nbval",
    )
    args = parser.parse_args()
    from bookbuild.book import discover
    from bookbuild.config import load
    from bookbuild.plan import plan

    config = load(ROOT)
    n_chapters = len(discover(ROOT, config.exclude_patterns))

    module = MODULE_FILE[len("src/") : -len(".py")].replace("/", ".")
    dependents = [c.docname for c in plan(config, "lite") if module in c.key.components["modules"]]
    print(
        f"benchmark on {os.cpu_count()} cores; {n_chapters} chapters; {module} is imported (directly or "
        f"through other modules) by {len(dependents)}: {', '.join(dependents)}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        ours = copy_repo(Path(tmp) / "bookbuild")
        plain = copy_repo(Path(tmp) / "plain")
        rows = scenario_rows(
            "bookbuild",
            [str(BIN / "python"), "-m", "bookbuild", "build", "--jobs", str(args.jobs)],
            executed_by_bookbuild,
            ours,
        )
        if args.quick:
            seed_from(ours, plain)
        rows += scenario_rows(
            "plain jupyter-book",
            [str(BIN / "jupyter-book"), "build", ".", "--builder", "html"],
            executed_by_jupyter_book,
            plain,
            first="first build (outputs seeded)" if args.quick else "cold (empty caches)",
        )
        try:
            live = preview_prose_edit(ours, args.jobs)
        except (SystemExit, OSError, subprocess.SubprocessError) as err:  # report the rest anyway
            print(f"preview benchmark failed: {err}", flush=True)
            live = float("nan")
        print(f"  {'bookbuild preview':<24} {'prose-only edit, preview running':<34} {live:7.1f} s", flush=True)
        if args.quick:
            print_table(rows, live, None, None)
            return 0
        env = env_for(ours)
        # As `make unit` and `make nbval` run them (pytest-xdist; one notebook per worker).
        cores = os.cpu_count() or 1
        unit, _ = timed([str(BIN / "python"), "-m", "pytest", "-q", "-n", str(cores), "--dist", "loadgroup"], ours, env)
        timed([str(BIN / "python"), "-m", "bookbuild", "export", "--out", "_build/nbval"], ours, env)
        workers = min(len(list((ours / "_build" / "nbval").glob("*.ipynb"))), 2 * cores)
        nbval, _ = timed(
            [
                str(BIN / "python"),
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-n",
                str(workers),
                "--dist",
                "loadscope",
                "--nbval",
                "_build/nbval",
                "--nbval-sanitize-with",
                "tools/nbval_sanitize.cfg",
            ],
            ours,
            env,
        )
    print_table(rows, live, unit, nbval)
    return 0


def print_table(rows: list[tuple], live: float, unit: float | None, nbval: float | None) -> None:
    table = {(label, who): (s, n) for label, who, s, n in rows}
    print("\n| build | bookbuild | chapters executed | plain jupyter-book | chapters executed | ratio |")
    print("|---|---|---|---|---|---|")
    labels = list(dict.fromkeys(r[0] for r in rows if r[1] == "bookbuild"))
    plain_labels = list(dict.fromkeys(r[0] for r in rows if r[1] != "bookbuild"))
    for label, plain_label in zip(labels, plain_labels, strict=True):
        (a, na), (b, nb) = table[(label, "bookbuild")], table[(plain_label, "plain jupyter-book")]
        if plain_label != label:
            label = f"{label} (plain: {plain_label})"
        stale = " (stale outputs)" if label.endswith("library edit") and nb == 0 else ""
        print(f"| {label} | {a:.1f} s | {na} | {b:.1f} s | {nb}{stale} | {a / b:.2f} |")
    plain_prose = table[("after a prose-only edit", "plain jupyter-book")][0]
    print(
        f"| after a prose-only edit, `make preview` running | {live:.1f} s | 0 "
        f"| {plain_prose:.1f} s | 0 | {live / plain_prose:.2f} |"
    )
    if unit is not None:
        print(f"| unit tests | {unit:.1f} s | | | | |")
    if nbval is not None:
        print(f"| nbval (all chapters) | {nbval:.1f} s | | | | |")


if __name__ == "__main__":
    sys.exit(main())
