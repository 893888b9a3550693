"""Kernels forked from the warm fork server (bookbuild.kernelfork) are the kernels a plain start gives.

A chapter's code sees the same process in both: ``sys.path`` (with the chapter's own
``PYTHONPATH``, not the server's), the imported modules, the environment, the working directory,
interpreter flags and string-hash seed, ``__main__``, signal handlers, and every option of the
kernel application, kernel, shell and session. What differs is what differs between any two
kernels (ports, keys, ids, object addresses), and the random state, which is each kernel's own.
Forking is skipped wherever it could change a result (a random hash seed, another interpreter
setting, other packages, ``BOOKBUILD_FORK_KERNELS=0``); a forked kernel that dies, hangs or prints
is reported as a started one is.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from minibook import gone_within
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from bookbuild import execute as execute_mod
from bookbuild import kernelfork

STATE = r"""
import sys, os, json, signal, threading, random, gc, __main__
ip = get_ipython()
def options(obj):
    return {n: repr(getattr(obj, n, None)) for n in obj.trait_names()}
print(json.dumps({
    "path": sys.path, "modules": sorted(sys.modules), "cwd": os.getcwd(), "flags": repr(sys.flags),
    "hash": hash("a chapter"), "executable": sys.executable, "argv0": sys.argv[0],
    "env": {k: v for k, v in os.environ.items() if k != "JPY_PARENT_PID"},
    "main": sorted(k for k in vars(__main__) if not k.startswith("_")),
    "signals": {s.name: repr(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)},
    "own_session": os.getsid(0) == os.getpid() == os.getpgid(0),
    "parent_pid_option": ip.kernel.parent.parent_handle == int(os.environ["JPY_PARENT_PID"]),
    "options": {part: options(obj) for part, obj in
                {"app": ip.kernel.parent, "kernel": ip.kernel, "shell": ip, "session": ip.kernel.session}.items()},
    "random": random.random(),
    "gc": {"enabled": gc.isenabled(), "threshold": gc.get_threshold(), "debug": gc.get_debug()},
    "frozen": gc.get_freeze_count() > 0,
}))
"""


def run_cell(code: str, cwd: Path, fork: bool, timeout: int = 60, log: Path | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    extra = {"kernel_manager_class": kernelfork.ForkingKernelManager} if fork else {}
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}, **extra
    )
    with open(log or os.devnull, "w") as out:
        client.execute(stdout=out, stderr=out)
    return nb


@pytest.fixture
def server_env(tmp_path, monkeypatch):
    """This process's environment as a build sets it, and a fork server started with it."""
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.delenv("BOOKBUILD_FORK_KERNELS", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "server-path"))
    server = kernelfork.ensure_server()
    assert server is not None and server.alive()
    return server


def test_a_forked_kernel_is_the_kernel_a_plain_start_gives(tmp_path, server_env, monkeypatch):
    chapter_dir = tmp_path / "chapter dir"
    (chapter_dir / "lib").mkdir(parents=True)
    # The chapter's PYTHONPATH differs from the server's: the interpreter's start-up is redone with it.
    monkeypatch.setenv("PYTHONPATH", str(chapter_dir / "lib"))
    monkeypatch.setenv("A_CHAPTER_SETTING", "on")
    forked_before = kernelfork.forked
    started = [json.loads(run_cell(STATE, chapter_dir, fork=False).cells[0].outputs[0]["text"]) for _ in range(2)]
    assert kernelfork.forked == forked_before
    forked = [json.loads(run_cell(STATE, chapter_dir, fork=True).cells[0].outputs[0]["text"]) for _ in range(2)]
    assert kernelfork.forked == forked_before + 2
    one = started[0]
    assert one["path"][:1] == [str(chapter_dir / "lib")] and "" in one["path"]
    assert str(tmp_path / "server-path") not in forked[0]["path"]
    assert one["env"]["A_CHAPTER_SETTING"] == "on" and one["own_session"] and one["parent_pid_option"]

    def options_that_differ(a: dict, b: dict) -> set[str]:
        parts = a["options"]
        return {
            f"{p}.{n}"
            for p in parts
            for n in parts[p].keys() | b["options"][p].keys()
            if parts[p].get(n) != b["options"][p].get(n)
        }

    # What differs between any two kernels: ports, keys, ids, threads, object addresses.
    between_started = options_that_differ(*started)
    compared = sum(len(v) for v in one["options"].values())
    assert between_started and compared > 2 * len(between_started) and "app.parent_handle" not in between_started
    for kernel in forked:
        assert options_that_differ(one, kernel) - between_started == set()
        differ = {k: (one[k], kernel[k]) for k in one if k not in ("options", "random") and one[k] != kernel[k]}
        # The documented difference (kernelfork_server.py): the server's objects are frozen in a forked kernel.
        assert differ == {"frozen": (False, True)}
    assert len({k["random"] for k in started + forked}) == 4  # each kernel its own random state


def test_an_edited_module_is_read_again_and_output_reaches_the_log(tmp_path, server_env):
    (tmp_path / "mod_here.py").write_text("VALUE = 1\n")
    code = "import os, mod_here\nos.write(1, b'raw out\\n')\nos.write(2, b'raw err\\n')\nprint(mod_here.VALUE)"
    log = tmp_path / "kernel.log"
    assert run_cell(code, tmp_path, fork=True, log=log).cells[0].outputs[0]["text"] == "1\n"
    assert "raw out" in log.read_text() and "raw err" in log.read_text()
    (tmp_path / "mod_here.py").write_text("VALUE = 22\n")
    assert run_cell(code, tmp_path, fork=True).cells[0].outputs[0]["text"] == "22\n"
    assert "mod_here" not in sys.modules  # the server imports nothing of the chapter's


def test_a_forked_kernel_that_hangs_is_killed_and_one_that_dies_is_reported(tmp_path, server_env):
    before = kernelfork.forked
    start = time.perf_counter()
    with pytest.raises(CellTimeoutError):
        run_cell("import os, time\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(60)", tmp_path, True, timeout=2)
    assert time.perf_counter() - start < 30
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):  # killed, and reaped by the server
        os.kill(pid, 0)
    with pytest.raises(DeadKernelError):
        run_cell("import os\nos._exit(3)", tmp_path, fork=True)
    assert kernelfork.forked == before + 2


def test_the_worker_forks_and_counts_the_kernels_cpu(tmp_path, server_env):
    page = tmp_path / "page.md"
    page.write_text("# T\n\n```{code-cell} ipython3\nimport os\nprint(os.getcwd())\n```\n")
    result = execute_mod._execute_worker(str(page), 60, str(tmp_path / "logs" / "page.kernel.log"))
    assert result["ok"] and result["kernel"] == "forked"
    assert nbformat.reads(result["nb"], as_version=4).cells[1].outputs[0]["text"] == f"{tmp_path}\n"
    # The server is the kernel's parent: its CPU comes from there, not from this process's children.
    assert 0 < result["cpu_seconds"] < result["seconds"] + 1


def test_forking_only_where_it_cannot_change_a_result(monkeypatch):
    env = {"PYTHONHASHSEED": "0", "PATH": "/usr/bin", "COUNT_DIR": "/x", "PYTHONPATH": "/a"}
    key = kernelfork.interpreter_key(sys.executable, env)
    assert key is not None
    # What a kernel reads after it starts does not matter; PYTHONPATH is applied in each kernel.
    assert kernelfork.interpreter_key(sys.executable, {**env, "COUNT_DIR": "/y", "PYTHONPATH": "/b"}) == key
    for other in ({"PYTHONOPTIMIZE": "1"}, {"LANG": "C"}, {"LC_ALL": "C"}, {"JUPYTER_PATH": "/j"}, {"USER": "u"}):
        assert kernelfork.interpreter_key(sys.executable, {**env, **other}) not in (None, key), other
    assert kernelfork.interpreter_key("/other/python", env) != key
    for seed in ({}, {"PYTHONHASHSEED": "random"}):  # each kernel would get its own seed; forks share one
        assert (
            kernelfork.interpreter_key(
                sys.executable, {**{k: v for k, v in env.items() if k != "PYTHONHASHSEED"}, **seed}
            )
            is None
        )
    assert kernelfork.interpreter_key(sys.executable, {**env, "BOOKBUILD_FORK_KERNELS": "0"}) is None
    # Packages installed or removed since the server started: another key (the server is replaced).
    monkeypatch.setattr(kernelfork, "site_packages_stamp", lambda: ("changed",))
    assert kernelfork.interpreter_key(sys.executable, env) not in (None, key)


def test_without_a_fitting_server_the_kernel_starts_as_usual(tmp_path, server_env, monkeypatch):
    before = kernelfork.forked
    monkeypatch.setenv("IPYTHON_FORK_TEST", str(tmp_path))  # a setting no fork server was started with
    assert (
        run_cell("import os\nprint(os.environ['IPYTHON_FORK_TEST'])", tmp_path, True).cells[0].outputs[0]["text"]
        == f"{tmp_path}\n"
    )
    assert kernelfork.forked == before  # (BOOKBUILD_FORK_KERNELS=0: the real-worker test in test_bookbuild_execute)


@contextlib.contextmanager
def subreaper():
    """This process is the child subreaper of its descendants for the block (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    try:
        yield
    finally:
        libc.prctl(36, 0, 0, 0, 0)


def test_the_server_ends_with_its_owner_and_a_dead_one_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setenv("A_TEST_SERVER", "1")  # not part of the key: this is the shared server's key
    monkeypatch.setenv("IPYTHON_TEST_SERVER", str(tmp_path))  # part of it: a server of this test's own
    server = kernelfork.ensure_server()
    assert kernelfork.ensure_server() is server

    async def start_kernel():
        km = kernelfork.ForkingKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return km.provisioner.pid

    kernel = asyncio.run(start_kernel())
    assert Path(f"/proc/{kernel}/stat").read_text().rsplit(")", 1)[1].split()[1] == str(server.process.pid)
    # The server killed (its build gone): its kernel goes too, not left running for no one. This
    # process adopts orphans meanwhile (as `benchmarks/cputime.py` or a service manager would), so a
    # kernel that stopped only when re-parented to init would still be running.
    with subreaper():
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        assert gone_within({kernel}, 10)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(kernel, 0)  # adopted: reaped here
    replaced = kernelfork.ensure_server()
    assert replaced is not server and replaced.alive()
    replaced.stop()  # as when the build's process exits: its end of the server's stdin closes
    assert replaced.process.returncode == 0
    before = kernelfork.forked
    assert run_cell("print(2)", tmp_path, fork=True).cells[0].outputs[0]["text"] == "2\n"  # started as usual
    assert kernelfork.forked == before


def test_the_server_runs_code_as_python_c_would(tmp_path, server_env):
    """What bookbuild asks the kernels' interpreter (where the library is) is answered by a fork."""
    (tmp_path / "here_mod.py").write_text("X = 5\n")
    code = (
        "import json, sys, here_mod\n"
        "print(json.dumps([here_mod.X, sys.path, sys.argv, sys.flags.optimize]))\n"
        "sys.stderr.write('to stderr')\n"
        "raise SystemExit(3)\n"
    )
    env = dict(os.environ)
    done = server_env.run(code, env, str(tmp_path), 30)
    real = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (real.returncode, real.stdout, real.stderr)
    assert json.loads(done.stdout)[0] == 5 and done.returncode == 3
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        server_env.run("import time\ntime.sleep(30)", env, str(tmp_path), 1)
    assert time.monotonic() - start < 10


def test_a_forked_kernel_lets_its_control_thread_finish_before_the_exit_handlers(monkeypatch):
    """The exit handlers stop the IOPub thread; the control thread's last flush must come first."""
    import importlib.util
    import threading
    import types

    spec = importlib.util.spec_from_file_location("kernelfork_server_under_test", kernelfork.SERVER)
    server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(server)

    flushed = threading.Event()

    def last_message():
        time.sleep(0.3)  # handling the shutdown request, then the flush
        flushed.set()

    class App:
        control_thread = threading.Thread(target=last_message)

        @staticmethod
        def initialized():
            return True

        @classmethod
        def instance(cls):
            return cls

    monkeypatch.setitem(sys.modules, "ipykernel.kernelapp", types.SimpleNamespace(IPKernelApp=App))
    App.control_thread.start()
    server.let_the_control_thread_finish(threading)
    assert flushed.is_set() and not App.control_thread.is_alive()

    App.control_thread = threading.Thread(target=threading.Event().wait, args=(3,), daemon=True)  # never asked to stop
    App.control_thread.start()
    start = time.monotonic()
    server.let_the_control_thread_finish(threading)
    assert 1.9 < time.monotonic() - start < 2.9  # waited, but not for ever
