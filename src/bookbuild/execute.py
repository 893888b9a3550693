"""Step 2 of a build: reuse stored outputs where the key matches, execute the rest in parallel kernels.

Each chapter that needs executing runs in its own worker process and kernel (nbclient), ``jobs``
at a time; its executed notebook goes into the store (:mod:`bookbuild.store`) with what produced
it (time, device, profile, packages, the key's components, what the cells wrote to stderr).
Before any kernel starts, :func:`check_kernel_library` makes sure the kernels import the library
from the tree whose files were hashed.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat

from bookbuild.deps import Library, code_sources, read_notebook
from bookbuild.plan import Chapter
from bookbuild.store import CorruptEntry, Store


@dataclass
class Outcome:
    chapter: Chapter
    status: str  # "cached", "executed" or "failed"
    seconds: float = 0.0  # execution time (of the run that produced the outputs)
    error: str = ""
    meta: dict = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def device_description() -> str:
    """The GPU (``nvidia-smi``) if there is one, else the CPU model, with the core count."""
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
                check=True,
            ).stdout.strip()
            if out:
                return "GPU: " + ", ".join(sorted(set(out.splitlines())))
        except (subprocess.SubprocessError, OSError):
            pass
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU: {model} ({os.cpu_count()} cores)"


def forget_library_bytecode(library: Library) -> int:
    """Remove the library's cached bytecode (``__pycache__``) before kernels import it; how many files.

    Python trusts a ``.pyc`` whose recorded source modification time (in whole seconds) and size
    match the source file. An edit within the same second that keeps the file's size (``3 * x``
    -> ``4 * x``) leaves that true, and the kernel would run the old code under the key of the new
    one: stored outputs describing code they did not come from. The keys hash the sources' content;
    with no bytecode left, every kernel compiles what it imports from them (a fraction of a second
    for the library). Other packages' bytecode is untouched.
    """
    removed = 0
    for cache in (library.root / library.package).rglob("__pycache__"):
        for f in cache.glob("*.pyc"):
            with contextlib.suppress(OSError):
                f.unlink()
                removed += 1
    return removed


class WrongLibrary(RuntimeError):
    """The kernels would import the library from somewhere other than the tree whose files were hashed."""


def check_kernel_library(library: Library, cwd: Path) -> Path:
    """Where a kernel started in ``cwd`` imports ``library.package`` from; it must be under ``library.root``.

    The keys hash the library's files under ``library.root``. A virtual environment shared with
    another checkout (an editable install made there, as with git worktrees) would make the
    kernels run that checkout's code under this tree's keys: stored outputs would then describe
    code they did not come from. This asks the kernel's interpreter (``sys.executable``, with this
    process's environment) where the package is, and raises :class:`WrongLibrary` if it is
    elsewhere or missing. Where the kernels are forked (:mod:`bookbuild.kernelfork`), the question
    is asked of a child of the fork server, set up as a kernel would be; otherwise of a new
    interpreter, as a kernel would start.
    """
    from bookbuild import kernelfork

    probe = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.find_spec({library.package!r})\n"
        "print(spec.origin if spec and spec.origin else '' if spec is None else "
        "next(iter(spec.submodule_search_locations or []), ''))"
    )
    server = kernelfork.ensure_server()
    done = None
    if server is not None:
        with contextlib.suppress(OSError):
            done = server.run(probe, dict(os.environ), str(cwd), timeout=120)
    if done is None:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, timeout=120)
    expected = (library.root / library.package).resolve()
    fix = (
        f"install this checkout's library into the environment (`{Path(sys.executable).parent / 'pip'} install "
        f"-e .` in {library.root.resolve().parent}), or put {library.root.resolve()} first on PYTHONPATH"
    )
    found = done.stdout.strip()
    if done.returncode != 0 or not found:
        raise WrongLibrary(
            f"the kernels cannot import {library.package!r} ({sys.executable}); bookbuild hashed "
            f"{expected}. Fix: {fix}. {done.stderr.strip()[-300:]}".strip()
        )
    origin = Path(found).resolve()
    if origin != expected and expected not in origin.parents:
        raise WrongLibrary(
            f"the kernels would import {library.package!r} from {origin}, but bookbuild hashed the files under "
            f"{expected}: the outputs would come from other code than their keys describe (an environment shared "
            f"with another checkout?). Fix: {fix}."
        )
    return origin


def _execute_worker(path: str, timeout: int, kernel_log: str) -> dict:
    """Execute one notebook in its own kernel (in a worker process, or a thread of the build: :class:`InThread`).

    The kernel process's own stderr (start-up chatter, crashes) goes to ``kernel_log``; what
    cells print reaches the notebook through the kernel protocol as usual.
    """
    # Imported here, in the worker: a build with nothing to execute never pays for the kernel machinery.
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from bookbuild import kernelfork

    nb = read_notebook(Path(path))
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=nb.metadata.get("kernelspec", {}).get("name", "python3"),
        kernel_manager_class=kernelfork.ForkingKernelManager,
        resources={"metadata": {"path": str(Path(path).parent)}},
        allow_errors=False,
    )
    Path(kernel_log).parent.mkdir(parents=True, exist_ok=True)
    start, cpu, forked = time.perf_counter(), _kernels_cpu(), kernelfork.forked
    with open(kernel_log, "w") as log:
        try:
            client.execute(stderr=log, stdout=log)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            return {"ok": False, "seconds": time.perf_counter() - start, "error": str(err)}
    # CPU time of the finished kernel: on a shared machine, what wall time would be on idle cores.
    return {
        "ok": True,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": _kernels_cpu() - cpu,
        "kernel": "forked" if kernelfork.forked > forked else "started",
        "nb": nbformat.writes(nb),
    }


def _kernels_cpu() -> float:
    """CPU seconds of the finished kernels this process drove: started ones (its children) and forked ones."""
    from bookbuild import kernelfork

    return _children_cpu() + kernelfork.finished_cpu


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished child processes (the kernels)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def stderr_outputs(nb: nbformat.NotebookNode) -> list[str]:
    """Text a notebook's cells wrote to stderr (Python warnings land there)."""
    found = []
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append(f"code cell {i + 1}: {out.get('text', '').strip()[:500]}")
    return found


class InThread:
    """The executor of a build that executes one chapter at a time: each worker runs in a thread here.

    The worker drives a kernel (another process) and waits on it; a worker process forked from the
    build for that copied the build's whole address space first, once per execution (a twentieth of
    a CPU-second from a test process that holds torch). The thread is a daemon: a Ctrl-C ends the
    build without waiting for the chapter, whose kernel ends with the fork server (or, started the
    usual way, when it sees its parent gone). Each thread's event loop (nbclient's) is closed with it.
    """

    def __enter__(self) -> InThread:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable, *args: object) -> Future:
        future: Future = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args))
            except BaseException as err:  # noqa: BLE001 -- the caller reports it, as a crashed worker process
                future.set_exception(err)
            finally:
                _close_this_threads_event_loop()

        threading.Thread(target=run, name="bookbuild-chapter", daemon=True).start()
        return future


def _close_this_threads_event_loop() -> None:
    import asyncio

    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # none was made in this thread
        return
    if not loop.is_running():
        loop.close()
    asyncio.set_event_loop(None)


def _run_pool(
    pool: ProcessPoolExecutor | InThread,
    todo: list[Chapter],
    workers: int,
    timeout: int,
    log_dir: Path,
    report: Callable[[str], None],
    start: float,
    every: float = 20.0,
):
    """Keep ``workers`` chapters executing; yield (chapter, result) as each finishes.

    Chapters are submitted one at a time as slots free up, so "running" means running, and the
    progress lines can give each chapter's own elapsed time.
    """
    queue = list(todo)
    running: dict[Future, tuple[Chapter, float]] = {}

    def submit() -> None:
        ch = queue.pop(0)
        fut = pool.submit(_execute_worker, str(ch.path), timeout, str(log_dir / f"{ch.name}.kernel.log"))
        running[fut] = (ch, time.perf_counter())
        report(f"  {ch.docname:<28} started    (elapsed {time.perf_counter() - start:.0f} s)")

    while queue and len(running) < workers:
        submit()
    while running:
        done, _ = wait(running, timeout=every, return_when=FIRST_COMPLETED)
        if not done:
            now = time.perf_counter()
            report(
                "  ... "
                + ", ".join(f"{ch.docname} {now - t0:.0f} s" for ch, t0 in running.values())
                + (f"; {len(queue)} queued" if queue else "")
            )
        for fut in done:
            ch, _ = running.pop(fut)
            try:
                result = fut.result()
            except Exception as err:  # noqa: BLE001 -- a crashed worker fails that chapter, visibly
                result = {"ok": False, "seconds": 0.0, "error": f"worker crashed: {err!r}"}
            if queue:
                submit()
            yield ch, result


def execute(
    chapters: list[Chapter],
    store: Store,
    jobs: int,
    timeout: int,
    device: str,
    profile: str,
    report: Callable[[str], None],
    previous: dict | None = None,
    force: bool = False,
    logs: Path | None = None,
    library: Library | None = None,
) -> list[Outcome]:
    """Reuse stored outputs where the key matches; execute the rest, ``jobs`` at a time.

    With ``library``, the kernels are first checked to import it from the tree whose files were
    hashed (:func:`check_kernel_library`).
    """
    outcomes: dict[str, Outcome] = {}
    todo: list[Chapter] = []
    for ch in chapters:
        entry = None
        if not force:
            try:
                entry = store.get(ch.name, ch.key.key, code_sources(ch.nb))
            except CorruptEntry as err:
                report(f"  {ch.docname}: {err}")
        if entry is not None:
            outcomes[ch.docname] = Outcome(ch, "cached", entry.meta.get("seconds", 0.0), meta=entry.meta)
        else:
            old = (previous or {}).get(ch.docname, {}).get("components")
            reasons = ["forced"] if force else (ch.key.diff(old) if old else ["no earlier execution"])
            outcomes[ch.docname] = Outcome(ch, "pending", reasons=reasons)
            todo.append(ch)
    for ch in chapters:
        o = outcomes[ch.docname]
        if o.status == "cached":
            report(f"  {ch.docname:<28} cached     ({o.seconds:.1f} s when executed {o.meta.get('executed_at', '?')})")
    if todo and library is not None:
        check_kernel_library(library, todo[0].path.parent)
        forget_library_bytecode(library)
    if todo:
        workers = max(1, min(jobs, len(todo)))
        report(f"  executing {len(todo)} chapter(s) with {workers} worker(s): {', '.join(c.docname for c in todo)}")
        start = time.perf_counter()
        log_dir = logs or store.root.parent / "logs"
        from bookbuild import kernelfork  # the kernel machinery only where something executes

        # Started here, before the workers are forked from this process: they fork the kernels there.
        kernelfork.ensure_server()
        with ProcessPoolExecutor(max_workers=workers) if workers > 1 else InThread() as pool:
            for ch, result in _run_pool(pool, todo, workers, timeout, log_dir, report, start):
                o = outcomes[ch.docname]
                o.seconds = result["seconds"]
                if not result["ok"]:
                    o.status, o.error = "failed", result["error"]
                    report(
                        f"  {ch.docname:<28} FAILED     after {o.seconds:.1f} s "
                        f"(elapsed {time.perf_counter() - start:.0f} s)"
                    )
                    continue
                nb = nbformat.reads(result["nb"], as_version=4)
                o.meta = {
                    "executed_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    "seconds": round(o.seconds, 2),
                    "cpu_seconds": round(result.get("cpu_seconds", 0.0), 2),
                    "kernel": result.get("kernel", "started"),
                    "profile": profile,
                    "device": device,
                    "packages": ch.key.components.get("packages", {}),
                    "components": ch.key.components,
                    "stderr": stderr_outputs(nb),
                }
                o.meta = store.put(ch.name, ch.key.key, nb, o.meta)
                o.status = "executed"
                why = "; ".join(o.reasons[:3]) + (" ..." if len(o.reasons) > 3 else "")
                report(
                    f"  {ch.docname:<28} executed   {o.seconds:.1f} s, "
                    f"kernel CPU {o.meta.get('cpu_seconds', 0.0):.1f} s "
                    f"(kernel {o.meta['kernel']}; elapsed {time.perf_counter() - start:.0f} s; {why})"
                )
    return [outcomes[ch.docname] for ch in chapters]
