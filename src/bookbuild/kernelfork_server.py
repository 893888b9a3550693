# The kernel fork server (see bookbuild.kernelfork): run as ``python -c <this file's text> LISTEN_FD``.
# A request may also carry ``code`` instead of a kernel's arguments: the child then runs it as
# ``python -c CODE`` would (bookbuild's check of where the kernels import the library from).
#
# It imports what every IPython kernel imports at start-up (ipykernel, IPython, zmq, tornado) and
# nothing of the book, then waits. For each request on the listening socket (a JSON message with the
# kernel's command line, working directory and environment, and its stdin/stdout/stderr as file
# descriptors) it forks; the child becomes the kernel exactly as ``python -m ipykernel_launcher``
# would start it. The server is the kernel's parent: it reaps it and sends its exit status and CPU
# seconds on the request's connection. It exits when its standard input closes (the process that
# started it is gone). Single-threaded on purpose: fork copies only the calling thread.
import json
import os
import selectors
import signal
import socket
import sys

PR_SET_PDEATHSIG = 1
# What ipykernel.kernelapp imports, and what a kernel imports as it starts and runs a cell; not
# ipykernel.kernelapp itself, whose option defaults read the environment (JPY_PARENT_PID) when it
# is imported: each kernel imports that module (a millisecond) with its own environment.
PRELOAD = (
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.control",
    "ipykernel.heartbeat",
    "ipykernel.iostream",
    "ipykernel.parentpoller",
    "ipykernel.shellchannel",
    "ipykernel.connect",
    "ipykernel.debugger",
    "IPython.core.application",
    "IPython.core.profiledir",
    "IPython.core.shellapp",
    "jupyter_client.connect",
    "jupyter_client.session",
    "jupyter_core.paths",
    "tornado.ioloop",
    "zmq.eventloop.zmqstream",
    # Imported while a kernel initialises and runs its first cell.
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.logger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "IPython.utils.wildcard",
    "jupyter_client.localinterfaces",
    "psutil",
    "sqlite3",
    "tornado.platform.asyncio",
)


def preload():
    """Import PRELOAD; return what that set in the environment (debugpy sets variables), for each kernel."""
    import importlib

    before = dict(os.environ)
    # Import-time notices (pydevd's about frozen modules) would reach the build's log once, from
    # here; a kernel started the usual way writes them to its own log.
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        for name in PRELOAD:
            importlib.import_module(name)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return {k: v for k, v in os.environ.items() if before.get(k) != v}


def become_kernel(request, fds, listener, sel, wake_r, wake_w, ready_w, preload_env, server_pid):
    """In the forked child: make this process what ``python -m ipykernel_launcher ARGS`` would be."""
    import atexit
    import ctypes
    import runpy
    import threading
    import types

    os.setsid()  # as launch_kernel's start_new_session: the kernel leads its own process group
    # The kernel ends with this server (which ends with the build that started it): a kernel left
    # running after its build is gone would never be told to stop.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server_pid:  # the server died before the line above
        os._exit(1)
    os.write(ready_w, b"1")
    os.close(ready_w)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    sel.close()
    listener.close()
    for fd in (wake_r, wake_w, 0):
        os.close(fd)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    atexit._clear()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    for key, value in preload_env.items():  # as the imports would have set it here (debugpy: if unset)
        os.environ.setdefault(key, value)
    # sys.path as the interpreter builds it for ``-m`` in this directory with this PYTHONPATH.
    ours = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    server = [p for p in request["server_pythonpath"].split(os.pathsep) if p]
    rest = list(sys.path)
    del rest[: len(server)]
    sys.path[:] = [os.getcwd(), *ours, *rest]
    sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    code = 0
    try:
        if request.get("code") is not None:  # ``python -c CODE``: the working directory is sys.path's ''
            sys.path[0] = ""
            sys.argv = ["-c"]
            exec(compile(request["code"], "<string>", "exec"), vars(main))
        else:
            sys.argv = ["-m", *request["argv"]]
            runpy._run_module_as_main("ipykernel_launcher", alter_argv=True)
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    # What the interpreter does at exit: wait for non-daemon threads, run the exit handlers, flush.
    try:
        let_the_control_thread_finish(threading)
        threading._shutdown()
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:
                pass
    finally:
        os._exit(code)


def let_the_control_thread_finish(threading):
    """Wait (up to 2 s) for the kernel's control thread to end before the exit handlers run.

    A kernel stops when its control thread handles the shutdown request: that asks the main loop
    and its own loop to stop, then flushes stdout and stderr through the IOPub thread. The exit
    handlers stop the IOPub thread and then join the control thread; when they got there before
    that flush, it waited for a thread that had stopped, and the kernel hung until its manager sent
    SIGTERM 2.5 s later (one kernel in eight here; ipykernel 7.4, kernels started the usual way
    too). Waiting here lets the flush finish first. A kernel that ends without a shutdown request
    (its control thread still running) waits the 2 s; nothing else changes.
    """
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    app = kernelapp.IPKernelApp.instance() if kernelapp and kernelapp.IPKernelApp.initialized() else None
    thread = getattr(app, "control_thread", None)
    if thread is not None and thread.is_alive() and thread is not threading.current_thread():
        thread.join(2)


def serve():
    # ``-c`` put the working directory first on sys.path; a kernel's imports do not see it either.
    del sys.path[0]
    preload_env = preload()
    # What is here now stays alive in every kernel: frozen, the cyclic garbage collector of a kernel
    # never walks it (touching each object's header made the kernel copy the pages it shares with
    # this process; a third of a forked kernel's CPU). Python's own advice for processes that fork
    # without exec. A kernel's gc.get_freeze_count() is therefore not 0, and gc.get_objects() does
    # not list these objects: the one difference from a kernel started the usual way.
    import gc

    gc.collect()
    gc.freeze()
    listener = socket.socket(fileno=int(sys.argv[1]))
    listener.setblocking(True)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(wake_r, selectors.EVENT_READ, "child")
    sel.register(0, selectors.EVENT_READ, "parent")
    kernels = {}  # pid -> the request's connection
    while True:
        for key, _ in sel.select():
            if key.data == "parent":
                if not os.read(0, 4096):  # the process that started this server is gone
                    return
            elif key.data == "child":
                try:
                    while os.read(wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass
            elif key.data == "accept":
                conn, _ = listener.accept()
                try:
                    msg, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
                    request = json.loads(msg)
                    ready_r, ready_w = os.pipe()
                    server_pid = os.getpid()
                    pid = os.fork()
                    if pid == 0:
                        conn.close()
                        for other in kernels.values():
                            other.close()
                        os.close(ready_r)
                        become_kernel(request, fds, listener, sel, wake_r, wake_w, ready_w, preload_env, server_pid)
                    os.close(ready_w)
                    os.read(ready_r, 1)  # the child leads its process group before anyone signals it
                    os.close(ready_r)
                    for fd in fds:
                        os.close(fd)
                    conn.sendall(json.dumps({"pid": pid}).encode())
                    kernels[pid] = conn
                except Exception as err:  # a bad request fails that request, not the server
                    try:
                        conn.sendall(json.dumps({"error": repr(err)}).encode())
                    finally:
                        conn.close()
        while kernels:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = kernels.pop(pid, None)
            if conn is not None:
                try:
                    conn.sendall(
                        json.dumps(
                            {"exit": os.waitstatus_to_exitcode(status), "cpu": usage.ru_utime + usage.ru_stime}
                        ).encode()
                    )
                except OSError:
                    pass
                conn.close()


if __name__ == "__main__":  # ``python -c``; not when a tool imports this file (doctest collection)
    serve()
