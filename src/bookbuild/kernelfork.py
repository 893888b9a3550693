"""Kernels forked from a warm server instead of started from nothing.

Starting an IPython kernel costs about 0.4 CPU-s, most of it importing ipykernel, IPython, zmq,
tornado and jupyter_client; a chapter's own code often costs less. The first build command that
executes a chapter starts one *fork server* (``kernelfork_server.py``), which imports those and
nothing of the book, then waits; each chapter's kernel is a ``fork()`` of it that goes on exactly
as ``python -m ipykernel_launcher -f CONN`` would: the chapter's working directory, its environment
(``PYTHONPATH`` applied to ``sys.path`` as the interpreter would), a fresh ``__main__``, its own
process group, the exit handlers run at exit. Nothing the chapter imports is in the server, so an
edited module is read from disk as in a new process. The server stays up while the process that
started it lives (the preview's rebuilds reuse it) and exits when that process is gone.

Forking is used only where it cannot change what a chapter computes; otherwise the kernel starts
the usual way (``BOOKBUILD_FORK_KERNELS=0`` forces that everywhere):

- the kernel is the standard ``PYTHON -m ipykernel_launcher ...`` command, on Linux;
- ``PYTHONHASHSEED`` is fixed: a fork keeps its parent's string-hash seed, so with a random seed
  every forked kernel would share one;
- the interpreter-level settings are those the server started with (``PYTHON*`` other than
  ``PYTHONPATH``, ``LANG``/``LC_*``, ``JUPYTER*``/``IPYTHON*``, ``USER``) and no package was installed or
  removed since (the site-packages folders' modification times); a stand-in run's
  ``PYTHONOPTIMIZE=1`` thus gets a server of its own.

nbval's kernels are never forked: it re-runs each chapter in a kernel started the usual way and
compares the outputs, which checks this module's kernels against ordinary ones on every ``make test``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner

from bookbuild.util import site_packages_stamp

SERVER = Path(__file__).with_name("kernelfork_server.py")
_KEY_PREFIXES = ("PYTHON", "LC_", "JUPYTER", "IPYTHON")
_KEY_NAMES = ("LANG", "USER")  # USER: jupyter_client's Session reads it when imported

_servers: dict[tuple, Server] = {}
# In this process: kernels forked, and the CPU seconds of those that finished (their parent is the
# server, so RUSAGE_CHILDREN does not count them).
forked = 0
finished_cpu = 0.0


def interpreter_key(python: str, env: dict[str, str]) -> tuple | None:
    """What a kernel's interpreter fixes at start-up; ``None`` where a forked kernel could differ."""
    if env.get("BOOKBUILD_FORK_KERNELS", "1") == "0" or sys.platform != "linux" or not hasattr(socket, "send_fds"):
        return None
    if env.get("PYTHONHASHSEED", "random") == "random":
        return None
    settings = sorted(
        (k, v) for k, v in env.items() if (k.startswith(_KEY_PREFIXES) or k in _KEY_NAMES) and k != "PYTHONPATH"
    )
    return (os.path.realpath(python), tuple(settings), site_packages_stamp())


class Server:
    """A running fork server: its listening address and process (owned by the process that started it)."""

    def __init__(self, python: str, env: dict[str, str]) -> None:
        self.address = f"\0bookbuild-kernelfork-{os.getpid()}-{secrets.token_hex(8)}"
        self.pythonpath = env.get("PYTHONPATH", "")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            listener.bind(self.address)
            listener.listen(64)
            # Requests wait in the listening socket's backlog while the server still imports.
            self.process = subprocess.Popen(
                [python, "-c", SERVER.read_text(), str(listener.fileno())],
                stdin=subprocess.PIPE,
                env=env,
                cwd="/",
                pass_fds=[listener.fileno()],
                start_new_session=True,  # a Ctrl-C in the preview's terminal is not for it; it ends with stdin
            )
        finally:
            listener.close()
        self.owner = os.getpid()

    def alive(self) -> bool:
        return self.owner != os.getpid() or self.process.poll() is None

    def fork(self, args: list[str], env: dict[str, str], cwd: str, fds: list[int]) -> ForkedKernel:
        """A kernel ``python -m ipykernel_launcher ARGS`` in ``cwd`` with ``env`` and stdio ``fds``."""
        return self._request({"argv": args, "env": env, "cwd": cwd}, fds)

    def _request(self, request: dict, fds: list[int]) -> ForkedKernel:
        """Send ``request`` with the child's stdio ``fds``; the child the server forked for it."""
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            conn.connect(self.address)
            request = {**request, "server_pythonpath": self.pythonpath}
            socket.send_fds(conn, [json.dumps(request).encode()], fds)
            reply = json.loads(conn.recv(1 << 16) or b'{"error": "the fork server closed the connection"}')
        except BaseException:
            conn.close()
            raise
        if "pid" not in reply:
            conn.close()
            raise OSError(f"the kernel fork server could not fork: {reply.get('error')}")
        return ForkedKernel(conn, reply["pid"])

    def run(self, code: str, env: dict[str, str], cwd: str, timeout: float) -> subprocess.CompletedProcess:
        """``python -c CODE`` in ``cwd`` with ``env``, forked from the server: its exit status, stdout, stderr.

        What the interpreter would do at start-up with ``env`` is redone as for a kernel
        (``sys.path`` from its ``PYTHONPATH``, the working directory first), so the answer is the one
        a kernel forked here would get. Raises ``OSError`` where the server cannot fork and
        ``subprocess.TimeoutExpired`` (the child killed) after ``timeout`` seconds.
        """
        import selectors

        deadline = time.monotonic() + timeout
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            child = self._request({"code": code, "argv": [], "env": env, "cwd": cwd}, [null, out_w, err_w])
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            for fd in (null, out_w, err_w):
                os.close(fd)
        chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
        with selectors.DefaultSelector() as sel:
            for fd in chunks:
                sel.register(fd, selectors.EVENT_READ)
            try:
                while sel.get_map():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        child.kill()
                        child.wait()
                        raise subprocess.TimeoutExpired(["python", "-c", code], timeout)
                    for key, _ in sel.select(left):
                        data = os.read(key.fd, 1 << 16)
                        if data:
                            chunks[key.fd].append(data)
                        else:
                            sel.unregister(key.fd)
            finally:
                os.close(out_r)
                os.close(err_r)
        try:
            rc = child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:  # its output closed, but it has not exited
            child.kill()
            child.wait()
            raise
        text = [b"".join(chunks[fd]).decode(errors="replace") for fd in (out_r, err_r)]
        return subprocess.CompletedProcess(["python", "-c", code], rc, *text)

    def stop(self) -> None:
        """End the server (its kernels end with it), as when the process that started it exits."""
        if self.owner != os.getpid():
            return
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def ensure_server(python: str | None = None, env: dict[str, str] | None = None) -> Server | None:
    """The fork server for kernels of ``python`` (default this interpreter) with ``env``; started if needed.

    Call it in the process that lives longest (the build, the preview), before worker processes
    are forked from it: they find the server through this module and fork kernels there.
    """
    python = python or sys.executable
    env = dict(os.environ if env is None else env)
    key = interpreter_key(python, env)
    if key is None:
        return None
    server = _servers.get(key)
    if server is not None and server.alive():
        return server
    for old_key in [k for k in _servers if k[:2] == key[:2]]:  # packages changed: the old one goes
        _servers.pop(old_key).stop()
    try:
        server = _servers[key] = Server(python, env)
    except OSError:
        return None
    return server


class ForkedKernel:
    """What jupyter_client's ``LocalProvisioner`` uses of a ``Popen``, for a kernel the server forked.

    The server is the kernel's parent; it sends the exit status and CPU seconds on ``conn``.
    """

    stdin = stdout = stderr = None

    def __init__(self, conn: socket.socket, pid: int) -> None:
        self.conn, self.pid = conn, pid
        self.returncode: int | None = None
        self.stdin_fd: int | None = None  # the write end of the kernel's stdin pipe, closed when it exits

    def _receive(self, timeout: float | None) -> None:
        self.conn.settimeout(timeout)
        try:
            msg = self.conn.recv(1 << 16)
        except (BlockingIOError, TimeoutError):
            return
        except OSError:
            msg = b""
        if msg:
            done = json.loads(msg)
            self.returncode = done["exit"]
            global finished_cpu
            finished_cpu += done["cpu"]
        else:  # the server is gone: the kernel, re-parented, ends itself; wait for that
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = -signal.SIGKILL
            else:
                time.sleep(min(timeout or 0.1, 0.1))
                return
        self.conn.close()
        if self.stdin_fd is not None:
            os.close(self.stdin_fd)
            self.stdin_fd = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._receive(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._receive(left)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _fd(stream: Any, default: int, opened: list[int]) -> int | None:
    """A file descriptor for a ``Popen`` stdio argument; ``None`` where forking cannot honour it.

    ``None`` is ``default`` (inherited); ``DEVNULL`` opens the null device (added to ``opened``); a
    pipe to this process (``PIPE``, ``STDOUT``) is not offered: the kernel then starts the usual way.
    """
    if stream is None:
        return default
    if stream == subprocess.DEVNULL:
        opened.append(os.open(os.devnull, os.O_RDWR))
        return opened[-1]
    if isinstance(stream, int):
        return stream if stream >= 0 else None
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


class ForkingProvisioner(LocalProvisioner):
    """The local provisioner, but the kernel is forked from this process's fork server when one fits."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any):
        env = dict(kwargs.get("env") or os.environ)
        key = interpreter_key(cmd[0], env) if cmd[1:3] == ["-m", "ipykernel_launcher"] else None
        server = _servers.get(key) if key is not None else None
        if server is None:
            return await super().launch_kernel(cmd, **kwargs)
        opened: list[int] = []
        keep = None  # launch_kernel's default stdin=PIPE: a pipe nobody writes to, this end kept open
        try:
            if kwargs.get("stdin") is None:
                stdin, keep = os.pipe()
                opened.append(stdin)
            else:
                stdin = _fd(kwargs["stdin"], 0, opened)
            fds = [stdin, _fd(kwargs.get("stdout"), 1, opened), _fd(kwargs.get("stderr"), 2, opened)]
            if None in fds:
                raise OSError("a pipe to this process cannot be handed to a forked kernel")
            if not kwargs.get("independent"):
                env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launch_kernel sets it
            cwd = str(kwargs.get("cwd") or os.getcwd())
            self.process = server.fork(cmd[3:], env, cwd, fds)
        except OSError:
            if keep is not None:
                os.close(keep)
            return await super().launch_kernel(cmd, **kwargs)
        finally:
            for fd in opened:
                os.close(fd)
        self.process.stdin_fd = keep
        global forked
        forked += 1
        self.pid = self.process.pid
        self.pgid = self.pid  # the child made itself a session (and group) leader before the reply
        self.cwd = cwd
        return self.connection_info


class ForkingKernelManager(AsyncKernelManager):
    """nbclient's kernel manager, with :class:`ForkingProvisioner` for kernels without a provisioner of their own."""

    async def _async_pre_start_kernel(self, **kw: Any):
        if self.provisioner is None and not self.kernel_spec.metadata.get("kernel_provisioner"):
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = ForkingProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)
