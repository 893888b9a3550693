"""bookbuild.execute: stored outputs are reused only when allowed, everything else executes and is recorded;
the kernels must import the library that was hashed.

Most tests replace the kernels by :func:`fake_worker` (the worker processes are forked after the patch,
so they run it), except the tests of the real worker, which start a kernel; the tests in the last
section execute the mini book (tests/minibook.py) end to end with real kernels.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import minibook
import nbformat
import pytest
from minibook import book, components, output_text, seed  # noqa: F401 -- book is a fixture

from bookbuild import cli
from bookbuild import config as config_mod
from bookbuild import execute as execute_mod
from bookbuild.deps import ChapterKey, Library
from bookbuild.execute import Outcome, WrongLibrary, check_kernel_library, execute, stderr_outputs
from bookbuild.plan import Chapter, plan
from bookbuild.store import Store

ROOT = Path(__file__).resolve().parents[1]
CODE = "print(1)"
COMPONENTS = {"code": "c1", "packages": {"numpy": "2.0"}, "modules": {}}


def executed_nb(text: str = "1\n", stderr: str = "") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(CODE)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    if stderr:
        cell.outputs.append(nbformat.v4.new_output("stream", name="stderr", text=stderr))
    nb.cells = [nbformat.v4.new_markdown_cell("# A"), cell]
    return nb


def fake_worker(path: str, timeout: int, kernel_log: str) -> dict:
    """Stands in for a kernel: behaves as the chapter file's first line says, and leaves its log."""
    Path(kernel_log).parent.mkdir(parents=True, exist_ok=True)
    Path(kernel_log).write_text(f"ran with timeout {timeout}\n")
    how = Path(path).read_text().splitlines()[0]
    if how == "crash":
        raise RuntimeError("the worker died")
    if how == "fail":
        return {"ok": False, "seconds": 1.25, "error": "cell 1 raised ZeroDivisionError"}
    if how.startswith("sleep"):
        time.sleep(float(how.split()[1]))
    if how == "no cpu":
        return {"ok": True, "seconds": 1.0, "nb": nbformat.writes(executed_nb())}
    return {
        "ok": True,
        "seconds": 2.3456,
        "cpu_seconds": 1.2345,
        "nb": nbformat.writes(executed_nb("2\n", stderr="a warning")),
    }


@pytest.fixture
def fake_kernels(monkeypatch):
    monkeypatch.setattr(execute_mod, "_execute_worker", fake_worker)


def chapter(tmp_path: Path, name: str = "a", how: str = "ok", components: dict | None = None) -> Chapter:
    path = tmp_path / "book" / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{how}\n")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A"), nbformat.v4.new_code_cell(CODE)]
    return Chapter(f"book/{name}", path, nb, ChapterKey(f"key-{name}", components or COMPONENTS))


def run(chapters, store, **kwargs):
    lines: list[str] = []
    outcomes = execute(chapters, store, kwargs.pop("jobs", 2), 33, "test-device", "lite", lines.append, **kwargs)
    return outcomes, lines


def test_stored_outputs_are_reused_and_nothing_executes(tmp_path, fake_kernels):
    store = Store(tmp_path / "_build" / "exec-store")
    ch = chapter(tmp_path)
    meta = store.put(ch.name, ch.key.key, executed_nb(), {"seconds": 3.5, "executed_at": "2026-01-01 10:00 UTC"})
    [outcome], lines = run([ch], store)
    assert (outcome.status, outcome.seconds, outcome.meta, outcome.reasons) == ("cached", 3.5, meta, [])
    assert lines == ["  book/a                       cached     (3.5 s when executed 2026-01-01 10:00 UTC)"]
    assert not (tmp_path / "_build" / "logs").exists()  # no kernel ran


def test_force_executes_even_where_stored_outputs_match(tmp_path, fake_kernels):
    store = Store(tmp_path / "_build" / "exec-store")
    ch = chapter(tmp_path)
    store.put(ch.name, ch.key.key, executed_nb(), {"seconds": 3.5, "executed_at": "then"})
    [outcome], lines = run([ch], store, force=True, previous={"book/a": {"components": COMPONENTS}})
    assert outcome.status == "executed" and outcome.reasons == ["forced"]
    assert (tmp_path / "_build" / "logs" / "book__a.kernel.log").read_text() == "ran with timeout 33\n"
    stored = store.get(ch.name, ch.key.key, [CODE])
    assert stored.meta["executed_at"] != "then" and stored.nb.cells[1].outputs[0].text == "2\n"
    assert "forced" in lines[-1]


def test_what_executes_is_recorded_with_what_produced_it(tmp_path, fake_kernels):
    store = Store(tmp_path / "_build" / "exec-store")
    ch = chapter(tmp_path)
    [outcome], lines = run([ch], store)
    assert outcome.status == "executed" and outcome.reasons == ["no earlier execution"]
    assert outcome.seconds == 2.3456
    meta = outcome.meta
    assert meta == store.get(ch.name, ch.key.key, [CODE]).meta
    assert (meta["seconds"], meta["cpu_seconds"], meta["profile"], meta["device"]) == (
        2.35,
        1.23,
        "lite",
        "test-device",
    )
    assert meta["packages"] == {"numpy": "2.0"} and meta["components"] == COMPONENTS
    assert meta["stderr"] == ["code cell 1: a warning"]
    assert meta["chapter"] == "book__a" and meta["key"] == "key-a"
    assert time.strptime(meta["executed_at"], "%Y-%m-%d %H:%M UTC")
    assert lines[0] == "  executing 1 chapter(s) with 1 worker(s): book/a"
    assert lines[1].startswith("  book/a                       started    (elapsed ")
    assert lines[2].startswith(
        "  book/a                       executed   2.3 s, kernel CPU 1.2 s (kernel started; elapsed "
    )
    assert lines[2].endswith(" s; no earlier execution)")


def test_the_reasons_come_from_the_previous_components(tmp_path, fake_kernels):
    store = Store(tmp_path / "_build" / "exec-store")
    old = {**COMPONENTS, "code": "c0", "profile": "full", "env": {"X": "1"}, "data": {"d": "1"}}
    [outcome], lines = run([chapter(tmp_path)], store, previous={"book/a": {"components": old}})
    assert outcome.reasons == ["code changed", "profile changed", "env changed", "data changed"]
    assert lines[-1].endswith("; code changed; profile changed; env changed ...)")
    [outcome], lines = run([chapter(tmp_path, "b")], store, previous={"book/a": {"components": old}})
    assert outcome.reasons == ["no earlier execution"]
    short = {**COMPONENTS, "code": "c0"}
    [outcome], lines = run([chapter(tmp_path, "c")], store, previous={"book/c": {"components": short}})
    assert lines[-1].endswith("; code changed)")


def test_failed_and_crashed_chapters_are_reported_and_not_stored(tmp_path, fake_kernels):
    store = Store(tmp_path / "_build" / "exec-store")
    chapters = [chapter(tmp_path, "bad", "fail"), chapter(tmp_path, "dead", "crash"), chapter(tmp_path, "good")]
    outcomes, lines = run(chapters, store, jobs=1)
    bad, dead, good = outcomes
    assert (bad.status, bad.error, bad.seconds) == ("failed", "cell 1 raised ZeroDivisionError", 1.25)
    assert (dead.status, dead.error, dead.seconds) == ("failed", "worker crashed: RuntimeError('the worker died')", 0.0)
    assert good.status == "executed"
    assert store.entries() == [("book__good", "key-good")]
    assert any(line.startswith("  book/bad                     FAILED     after 1.2 s (elapsed ") for line in lines)
    assert lines[0] == "  executing 3 chapter(s) with 1 worker(s): book/bad, book/dead, book/good"


def test_a_corrupt_entry_is_reported_and_the_chapter_executes_again(tmp_path, fake_kernels):
    store = Store(tmp_path / "_build" / "exec-store")
    ch = chapter(tmp_path)
    store.put(ch.name, ch.key.key, executed_nb(), {})
    nb_path = store.root / ch.name / f"{ch.key.key}.ipynb"
    nb_path.write_text(nb_path.read_text().replace('"1\\n"', '"9\\n"'))
    [outcome], lines = run([ch], store)
    assert outcome.status == "executed"
    assert lines[0] == (
        "  book/a: book__a [key-a]: notebook does not match its checksum (truncated or edited); "
        "entry removed, the chapter will re-execute"
    )


def test_the_workers_are_the_jobs_asked_for_but_at_least_one_and_at_most_one_per_chapter(tmp_path, fake_kernels):
    for jobs, expected in ((0, 1), (5, 2), (2, 2), (1, 1)):
        chapters = [chapter(tmp_path / str(jobs), n) for n in "xy"]
        _, lines = run(chapters, Store(tmp_path / str(jobs) / "s"), jobs=jobs)
        assert lines[0] == f"  executing 2 chapter(s) with {expected} worker(s): book/x, book/y"


def test_logs_go_where_asked_or_beside_the_store(tmp_path, fake_kernels):
    run([chapter(tmp_path)], Store(tmp_path / "b" / "store"), logs=tmp_path / "elsewhere")
    assert (tmp_path / "elsewhere" / "book__a.kernel.log").is_file()
    run([chapter(tmp_path, "c")], Store(tmp_path / "b" / "store"))
    assert (tmp_path / "b" / "logs" / "book__c.kernel.log").is_file()


def test_the_kernel_library_is_checked_only_when_something_executes(tmp_path, fake_kernels, monkeypatch):
    checked = []
    monkeypatch.setattr(execute_mod, "check_kernel_library", lambda lib, cwd: checked.append((lib, cwd)))
    monkeypatch.setattr(execute_mod, "forget_library_bytecode", lambda lib: 0)
    store = Store(tmp_path / "s")
    ch = chapter(tmp_path)
    run([ch], store)
    assert checked == []  # no library given
    run([chapter(tmp_path, "b")], store, library="LIB")
    assert checked == [("LIB", tmp_path / "book")]
    run([ch], store, library="LIB")  # cached: no kernel, no check
    assert len(checked) == 1


def test_progress_lines_name_the_running_chapters_and_the_queue(tmp_path, fake_kernels):
    from concurrent.futures import ProcessPoolExecutor

    chapters = [chapter(tmp_path, "slow", "sleep 0.6"), chapter(tmp_path, "next")]
    lines: list[str] = []
    with ProcessPoolExecutor(max_workers=1) as pool:
        done = list(execute_mod._run_pool(pool, chapters, 1, 9, tmp_path / "logs", lines.append, 0.0, every=0.2))
    assert [ch.docname for ch, _ in done] == ["book/slow", "book/next"]
    assert all(result["ok"] for _, result in done)
    assert "  ... book/slow 0 s; 1 queued" in lines
    assert lines[0].startswith("  book/slow                    started    (elapsed ")
    assert sum(line.startswith("  book/next ") for line in lines) == 1  # started once, after slow finished
    assert lines.index(next(line for line in lines if line.startswith("  book/next "))) > lines.index(
        "  ... book/slow 0 s; 1 queued"
    )


def test_stderr_outputs_name_the_code_cell_and_keep_the_start():
    nb = executed_nb(stderr="  first warning\n")
    extra = nbformat.v4.new_code_cell("x")
    extra.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="not stderr"),
        nbformat.v4.new_output("stream", name="stderr", text="w" * 600),
        nbformat.v4.new_output("display_data", data={"text/plain": "stderr"}),
    ]
    nb.cells += [nbformat.v4.new_markdown_cell("text"), extra]
    assert stderr_outputs(nb) == ["code cell 1: first warning", "code cell 2: " + "w" * 500]


def test_the_device_is_the_gpu_if_there_is_one_else_the_cpu(monkeypatch):
    import subprocess

    monkeypatch.setattr(execute_mod.shutil, "which", lambda name: None)
    cpu = execute_mod.device_description()
    assert cpu.startswith("CPU: ") and cpu.endswith(f" ({execute_mod.os.cpu_count()} cores)")
    monkeypatch.setattr(execute_mod.shutil, "which", lambda name: "/usr/bin/" + name)
    calls = []

    def smi(cmd, **kwargs):
        calls.append((cmd, kwargs))
        return subprocess.CompletedProcess(cmd, 0, stdout="H100\nA100\nH100\n", stderr="")

    monkeypatch.setattr(execute_mod.subprocess, "run", smi)
    assert execute_mod.device_description() == "GPU: A100, H100"
    assert calls[0][0] == ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]
    assert calls[0][1]["check"] is True and calls[0][1]["capture_output"] is True and calls[0][1]["text"] is True

    def broken(cmd, **kwargs):
        raise subprocess.CalledProcessError(9, cmd)

    monkeypatch.setattr(execute_mod.subprocess, "run", broken)
    assert execute_mod.device_description() == cpu
    monkeypatch.setattr(
        execute_mod.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 0, stdout=" \n", stderr="")
    )
    assert execute_mod.device_description() == cpu


def test_the_real_worker_executes_in_a_kernel_and_reports_errors(tmp_path):
    """One real kernel: the notebook's outputs, its time and CPU seconds, its log; a raising cell fails."""
    front = "---\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n"
    ok = tmp_path / "ok.md"
    ok.write_text(front + "# T\n\n```{code-cell} ipython3\nimport sys\nprint(6 * 7)\n```\n")
    result = execute_mod._execute_worker(str(ok), 60, str(tmp_path / "logs" / "ok.kernel.log"))
    assert result["ok"] is True and result["seconds"] > 0 and result["cpu_seconds"] >= 0
    nb = nbformat.reads(result["nb"], as_version=4)
    assert nb.cells[1].outputs[0]["text"] == "42\n"
    assert (tmp_path / "logs" / "ok.kernel.log").exists()
    bad = tmp_path / "bad.md"
    bad.write_text(front + "# T\n\n```{code-cell} ipython3\n1 / 0\n```\n")
    failed = execute_mod._execute_worker(str(bad), 60, str(tmp_path / "logs" / "bad.kernel.log"))
    assert failed["ok"] is False and "ZeroDivisionError" in failed["error"] and failed["seconds"] > 0
    assert set(failed) == {"ok", "seconds", "error"}


def test_outcome_defaults():
    o = Outcome(chapter=None, status="cached")
    assert (o.seconds, o.error, o.meta, o.reasons) == (0.0, "", {}, [])
    assert json.dumps(o.meta) == "{}"


# --- edges found by mutation testing (make mutation) --------------------------------------------


def test_outcomes_carry_their_chapter_and_defaults_for_what_a_record_lacks(tmp_path, fake_kernels):
    store = Store(tmp_path / "s")
    stored, fresh = chapter(tmp_path, "old"), chapter(tmp_path, "new", "no cpu", components={"code": "c"})
    store.put(stored.name, stored.key.key, executed_nb(), {})  # no seconds, no executed_at
    (cached, executed), lines = run([stored, fresh], store)
    assert cached.chapter is stored and executed.chapter is fresh
    assert cached.seconds == 0.0 and lines[0] == "  book/old                     cached     (0.0 s when executed ?)"
    assert executed.meta["cpu_seconds"] == 0.0 and executed.meta["packages"] == {}
    assert "executed   1.0 s, kernel CPU 0.0 s (kernel started; elapsed 0 s; no earlier execution)" in lines[-1]


def test_an_entry_with_other_code_cells_is_executed_again(tmp_path, fake_kernels):
    store = Store(tmp_path / "s")
    ch = chapter(tmp_path)
    other = executed_nb()
    other.cells[1].source = "print(2)"
    store.put(ch.name, ch.key.key, other, {})
    [outcome], lines = run([ch], store)
    assert outcome.status == "executed"
    assert (
        lines[0]
        == "  book/a: book__a [key-a]: code cells differ from the chapter's; entry removed, the chapter will re-execute"
    )


def test_three_reasons_are_shown_whole_and_more_are_cut(tmp_path, fake_kernels):
    old = {**COMPONENTS, "code": "c0", "profile": "full", "env": {"X": "1"}}
    [outcome], lines = run([chapter(tmp_path)], Store(tmp_path / "s"), previous={"book/a": {"components": old}})
    assert outcome.reasons == ["code changed", "profile changed", "env changed"]
    assert lines[-1].endswith("(kernel started; elapsed 0 s; code changed; profile changed; env changed)")


def test_progress_lines_list_every_running_chapter(tmp_path, fake_kernels):
    from concurrent.futures import ProcessPoolExecutor

    chapters = [chapter(tmp_path, "a", "sleep 0.6"), chapter(tmp_path, "b", "sleep 0.6")]
    lines: list[str] = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(
            execute_mod._run_pool(pool, chapters, 2, 9, tmp_path / "logs", lines.append, time.perf_counter(), every=0.2)
        )
    assert lines[0] == "  book/a                       started    (elapsed 0 s)"
    assert "  ... book/a 0 s, book/b 0 s" in lines


def test_stderr_outputs_without_text_or_outputs():
    nb = nbformat.v4.new_notebook()
    bare = nbformat.from_dict({"cell_type": "code", "source": "x", "metadata": {}})  # no outputs at all
    quiet = nbformat.v4.new_code_cell("y")
    quiet.outputs = [nbformat.from_dict({"output_type": "stream", "name": "stderr"})]  # no text
    nb.cells = [bare, quiet]
    assert stderr_outputs(nb) == ["code cell 2: "]


def test_children_cpu_is_user_plus_system_time(monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setattr(execute_mod.resource, "getrusage", lambda who: SimpleNamespace(ru_utime=1.5, ru_stime=0.25))
    assert execute_mod._children_cpu() == 1.75


def test_the_device_falls_back_to_the_platform_and_asks_nvidia_smi_with_a_timeout(monkeypatch):
    import platform
    import subprocess

    monkeypatch.setattr(execute_mod.shutil, "which", lambda name: None)
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    model = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("model name"))
    assert execute_mod.device_description() == f"CPU: {model} ({execute_mod.os.cpu_count()} cores)"

    class Unreadable:
        def __init__(self, *args):
            pass

        def read_text(self):
            raise OSError("no /proc here")

    monkeypatch.setattr(execute_mod, "Path", Unreadable)
    expected = platform.processor() or platform.machine()
    assert execute_mod.device_description() == f"CPU: {expected} ({execute_mod.os.cpu_count()} cores)"
    monkeypatch.setattr(execute_mod.shutil, "which", lambda name: "/bin/smi" if name == "nvidia-smi" else None)
    seen = {}

    def smi(cmd, **kwargs):
        seen.update(kwargs)
        return subprocess.CompletedProcess(cmd, 0, stdout="L4\n", stderr="")

    monkeypatch.setattr(execute_mod.subprocess, "run", smi)
    assert execute_mod.device_description() == "GPU: L4" and seen["timeout"] == 20


@pytest.mark.parametrize("fork", [True, False], ids=["asked-of-the-fork-server", "asked-of-a-new-interpreter"])
def test_the_kernel_library_check_runs_where_the_kernels_start(tmp_path, monkeypatch, fork):
    """A library importable only from the chapters' folder (the kernels' working directory) is found there,
    by a child of the fork server where kernels are forked, else by a new interpreter."""
    import subprocess
    import sys

    from bookbuild.deps import Library
    from bookbuild.execute import WrongLibrary, check_kernel_library

    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setenv("BOOKBUILD_FORK_KERNELS", "1" if fork else "0")
    started = []
    real_run = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: started.append(a) or real_run(*a, **k))
    here = tmp_path / "src"
    (here / "onlyhere_lib").mkdir(parents=True)
    (here / "onlyhere_lib" / "__init__.py").write_text("")
    assert (
        check_kernel_library(Library(here, "onlyhere_lib"), here) == (here / "onlyhere_lib" / "__init__.py").resolve()
    )
    (here / "onlyhere_ns").mkdir()  # a namespace package: no __init__, found by its folder
    assert check_kernel_library(Library(here, "onlyhere_ns"), here) == (here / "onlyhere_ns").resolve()
    with pytest.raises(WrongLibrary) as err:
        check_kernel_library(Library(here, "onlyhere_lib"), tmp_path)
    message = str(err.value)
    assert message.startswith(f"the kernels cannot import 'onlyhere_lib' ({sys.executable}); bookbuild hashed ")
    assert f"`{Path(sys.executable).parent / 'pip'} install -e .` in {here.resolve().parent}" in message
    assert len(started) == (0 if fork else 3)  # no interpreter started where the server answered


FRONT = "---\nkernelspec:\n  display_name: Python 3\n  language: python\n  name: {kernel}\n---\n"


def test_the_real_worker_runs_in_the_chapters_folder_with_its_kernel_timeout_and_log(tmp_path, monkeypatch):
    folder = tmp_path / "book" / "part"
    folder.mkdir(parents=True)
    plain = folder / "plain.md"  # no front matter: the default kernel
    plain.write_text(
        "# T\n\n```{code-cell} ipython3\nimport os\nprint(os.getcwd())\n"
        "os.write(1, b'raw out\\n')\nos.write(2, b'raw err\\n')\n```\n"
    )
    monkeypatch.setenv("BOOKBUILD_FORK_KERNELS", "0")  # a kernel started as a process of this one (see test_kernelfork)
    cpu = iter([100.0, 101.5, 0.0, 0.0, 0.0])
    monkeypatch.setattr(execute_mod, "_children_cpu", lambda: next(cpu))
    log = tmp_path / "deep" / "er" / "plain.kernel.log"
    start = time.perf_counter()
    result = execute_mod._execute_worker(str(plain), 60, str(log))
    took = time.perf_counter() - start
    assert result["ok"] is True and 0 < result["seconds"] <= took and result["cpu_seconds"] == 1.5
    assert result["kernel"] == "started"
    assert nbformat.reads(result["nb"], as_version=4).cells[1].outputs[0]["text"] == f"{folder}\n"
    assert "raw out" in log.read_text() and "raw err" in log.read_text()
    slow = folder / "slow.md"
    slow.write_text("# T\n\n```{code-cell} ipython3\nimport time\ntime.sleep(30)\n```\n")
    start = time.perf_counter()
    timed_out = execute_mod._execute_worker(str(slow), 2, str(tmp_path / "logs" / "slow.log"))
    assert timed_out["ok"] is False and "timed out" in timed_out["error"].lower()
    assert 0 < timed_out["seconds"] <= time.perf_counter() - start < 25
    odd = folder / "odd.md"
    odd.write_text(FRONT.format(kernel="no-such-kernel-here") + "# T\n\n```{code-cell} ipython3\nprint(1)\n```\n")
    with pytest.raises(Exception, match="no-such-kernel-here"):
        execute_mod._execute_worker(str(odd), 60, str(tmp_path / "logs" / "odd.log"))


# --- the mini book end to end: real kernels, the real store ------------------------------------


def test_prose_edit_executes_nothing(book, minibook_store):
    seed(book, minibook_store)  # the first build's outputs (executed once per session)
    assert minibook.run(book)[0] == {"a": "cached", "b": "cached"}
    text = (book / "a.md").read_text()
    (book / "a.md").write_text(text.replace("Prose of A.", "Rewritten prose, new heading below.\n\n## New"))
    assert minibook.run(book)[0] == {"a": "cached", "b": "cached"}


def test_an_edit_that_keeps_the_modules_size_and_time_reaches_the_kernel(book, monkeypatch):
    """Python trusts cached bytecode whose recorded source time (whole seconds) and size match.

    An edit within the same second that keeps the size made the kernel run the old code under the
    new code's key (found by `make unit` once bytecode was cached: 6 printed instead of 8).
    """
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)  # the kernels cache bytecode
    _, first = minibook.run(book)
    extra = book / "src" / "minilib" / "extra.py"
    assert list((extra.parent / "__pycache__").glob("extra.*.pyc")), "the kernel cached no bytecode"
    before = extra.stat()
    extra.write_text(extra.read_text().replace("3 * core.SCALE", "4 * core.SCALE"))
    os.utime(extra, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert extra.stat().st_size == before.st_size
    status, outcomes = minibook.run(book, previous=components(first))
    assert status == {"a": "cached", "b": "executed"}
    assert output_text(outcomes[1], Store(book / "_build" / "exec-store")) == "8\n"
    # Forked from the fork server the build started (bookbuild.kernelfork), where the hash seed is fixed.
    fixed_seed = os.environ.get("PYTHONHASHSEED", "random") != "random"
    assert outcomes[1].meta["kernel"] == ("forked" if fixed_seed else "started")


def test_module_edit_executes_exactly_its_dependents_and_revert_finds_old_outputs(book, minibook_store):
    first = seed(book, minibook_store)  # the first build's outputs (executed once per session)
    extra = book / "src" / "minilib" / "extra.py"
    extra.write_text(extra.read_text().replace("3 * core.SCALE", "4 * core.SCALE"))
    status, outcomes = minibook.run(book, previous=components(first))
    assert status == {"a": "cached", "b": "executed"}
    assert outcomes[1].reasons == ["minilib.extra changed"]
    assert output_text(outcomes[1], Store(book / "_build" / "exec-store")) == "8\n"

    core = book / "src" / "minilib" / "core.py"
    core.write_text("SCALE = 5\n")  # b depends on core through extra
    status, later = minibook.run(book, previous=components(outcomes))
    assert status == {"a": "executed", "b": "executed"}
    assert [o.reasons for o in later] == [["minilib.core changed"]] * 2

    core.write_text("SCALE = 2\n")  # revert: the earlier entries are found again
    extra.write_text(extra.read_text().replace("4 * core.SCALE", "3 * core.SCALE"))
    status, outcomes = minibook.run(book)
    assert status == {"a": "cached", "b": "cached"}
    assert output_text(outcomes[1], Store(book / "_build" / "exec-store")) == "6\n"

    (book / "src" / "minilib" / "unused.py").write_text("X = 2\n")
    assert minibook.run(book)[0] == {"a": "cached", "b": "cached"}


def test_code_edit_executes_that_chapter_only(book, minibook_store):
    seed(book, minibook_store)
    assert minibook.run(book)[0] == {"a": "cached", "b": "cached"}
    (book / "a.md").write_text((book / "a.md").read_text().replace("core.SCALE * 10", "core.SCALE * 100"))
    assert minibook.run(book)[0] == {"a": "executed", "b": "cached"}


def test_corrupt_or_half_written_entries_are_re_executed_never_used(book, minibook_store):
    seed(book, minibook_store)
    store = Store(book / "_build" / "exec-store")
    chapters = plan(config_mod.load(book), "lite", library=Library(book / "src", "minilib"))
    (chapter_a,) = [c for c in chapters if c.docname == "a"]
    nb_path = store.root / chapter_a.name / f"{chapter_a.key.key}.ipynb"
    nb_path.write_text(nb_path.read_text()[:100])  # a build killed mid-write
    status, outcomes = minibook.run(book)
    assert status["a"] == "executed" and status["b"] == "cached"
    assert output_text(outcomes[0], store) == "20\n"
    (store.root / chapter_a.name / f"{chapter_a.key.key}.json").unlink()  # metadata never written
    assert minibook.run(book)[0]["a"] == "executed"


def test_first_build_executes_second_reuses_and_parallel_output_is_identical_to_serial(book):
    status, parallel = minibook.run(book, jobs=2)
    assert status == {"a": "executed", "b": "executed"}
    assert [o.reasons for o in parallel] == [["no earlier execution"]] * 2
    status, outcomes = minibook.run(book)
    assert status == {"a": "cached", "b": "cached"}
    store = Store(book / "_build" / "exec-store")
    assert [output_text(o, store) for o in outcomes] == [output_text(o, store) for o in parallel] == ["20\n", "6\n"]
    status, serial = minibook.run(book, jobs=1, force=True)
    assert status == {"a": "executed", "b": "executed"}
    assert [output_text(o, store) for o in serial] == ["20\n", "6\n"]


def test_shards_execute_separately_and_merge(book, tmp_path):
    shard_a, shard_b = Store(tmp_path / "shard-a"), Store(tmp_path / "shard-b")
    assert minibook.run(book, only=["a"], store=shard_a)[0] == {"a": "executed"}
    assert minibook.run(book, only=["b"], store=shard_b)[0] == {"b": "executed"}
    main = Store(book / "_build" / "exec-store")
    assert main.merge_from(shard_a) == (1, 0) and main.merge_from(shard_b) == (1, 0)
    assert minibook.run(book)[0] == {"a": "cached", "b": "cached"}


def test_failing_cell_fails_the_chapter_and_stores_nothing(book, minibook_store):
    seed(book, minibook_store)
    stored = sorted(p.name for p in (book / "_build" / "exec-store").glob("b/*"))
    (book / "b.md").write_text(minibook.chapter("B", "x", "raise RuntimeError('broken chapter')"))
    status, outcomes = minibook.run(book)
    assert status == {"a": "cached", "b": "failed"}
    assert "broken chapter" in outcomes[1].error
    assert sorted(p.name for p in (book / "_build" / "exec-store").glob("b/*")) == stored  # the old entry only


def test_kernels_importing_another_checkouts_library_fail_loudly(book, tmp_path, monkeypatch, capsys):
    """The shared-venv trap: keys hash this tree's files, the kernel would run another tree's."""
    other = tmp_path / "other-checkout" / "src"
    shutil.copytree(book / "src", other)
    monkeypatch.setenv("PYTHONPATH", str(other))  # as an editable install of another worktree would
    library = config_mod.load(book).library()
    with pytest.raises(WrongLibrary) as err:
        check_kernel_library(library, book)
    text = str(err.value)
    assert str(other / "minilib") in text and str((book / "src" / "minilib").resolve()) in text
    assert "install -e ." in text and str(book.resolve()) in text
    with pytest.raises(WrongLibrary):
        minibook.run(book)  # nothing executes, nothing is stored
    assert not (book / "_build" / "exec-store").exists()
    assert cli.main(["--root", str(book), "execute", "--jobs", "1"]) == 2
    assert "the kernels would import 'minilib' from" in capsys.readouterr().out

    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "nowhere"))  # not installed at all
    with pytest.raises(WrongLibrary, match="cannot import 'minilib'"):
        check_kernel_library(library, book)

    monkeypatch.setenv("PYTHONPATH", str(book / "src"))
    assert check_kernel_library(library, book) == (book / "src" / "minilib" / "__init__.py").resolve()


def test_this_checkouts_environment_imports_this_checkouts_library():
    """The project's own venv (make venv: pip install -e .) passes the check for its own tree."""
    library = config_mod.load(ROOT).library()
    assert check_kernel_library(library, ROOT / "book") == (ROOT / "src" / "lecturekit" / "__init__.py").resolve()


def test_one_chapter_at_a_time_runs_in_a_thread_and_leaves_nothing_behind(book, monkeypatch):
    """With one worker the build forks no process per chapter (a thread drives the kernel), and builds
    repeated in one process (the preview's renderer runs them for hours) leave no thread, file
    descriptor or event loop behind."""
    import gc

    def no_process_pool(**kwargs):
        raise AssertionError(f"a worker process for one chapter at a time ({kwargs})")

    monkeypatch.setattr(execute_mod, "ProcessPoolExecutor", no_process_pool)

    def once() -> None:
        status, outcomes = minibook.run(book, jobs=1, only=["a"], force=True)
        assert status == {"a": "executed"} and outcomes[0].meta["kernel"] == "forked"
        assert outcomes[0].meta["cpu_seconds"] > 0  # the forked kernel's CPU, counted in this process

    import warnings

    once()  # the first pays for the imports and the fork server
    gc.collect()
    tasks, fds = len(os.listdir("/proc/self/task")), len(os.listdir("/proc/self/fd"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(2):
            once()
        gc.collect()
    assert not [str(w.message) for w in caught if "event loop" in str(w.message)]  # each thread's loop closed
    assert len(os.listdir("/proc/self/task")) <= tasks and len(os.listdir("/proc/self/fd")) <= fds
