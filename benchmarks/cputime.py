"""CPU seconds of a command and of every process it starts, kernels included: ``python benchmarks/cputime.py CMD...``.

On a shared machine wall time says more about the neighbours than about the command; CPU seconds
do not. ``/usr/bin/time`` counts only descendants that their parents wait for; a Jupyter kernel
whose parent exits first is re-parented to init and its CPU is lost. Here this process becomes a
child subreaper (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``): orphans are re-parented to it and reaped
by it, so their CPU time is counted too. Prints one JSON line on stderr:
``{"cpu_s": ..., "user_s": ..., "sys_s": ..., "wall_s": ..., "rc": ...}``; exits with the command's status.

:func:`tree_cpu` counts the same thing for a process tree that is still running (the preview
server, measured between a save and its rebuild): the CPU of every live descendant and of every
descendant already reaped, whoever reaped it.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import time
from typing import IO

PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Make this process the child subreaper of its descendants: orphans are re-parented here."""
    if sys.platform != "linux":
        raise OSError("cputime needs Linux (prctl PR_SET_CHILD_SUBREAPER)")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def reap_orphans(linger: float) -> None:
    """Reap the processes re-parented to this one (its subreaper), for up to ``linger`` s, until none is left."""
    deadline = time.monotonic() + linger
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.1)


def run(
    cmd: list[str],
    cwd: str | None = None,
    env: dict | None = None,
    linger: float = 30.0,
    stdout: int | IO | None = None,
    stderr: int | IO | None = None,
) -> dict:
    """Run ``cmd``: CPU seconds of it and all its descendants (orphans reaped here, up to ``linger`` s).

    ``stdout`` and ``stderr`` go to :func:`subprocess.call` (a file to keep the output). Call it
    while this process has no other child: the orphans are reaped with ``waitpid(-1)``.
    """
    become_subreaper()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    rc = subprocess.call(cmd, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
    wall = time.perf_counter() - start
    reap_orphans(linger)  # orphans (kernels whose parent is gone) come back here
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {
        "cpu_s": round(user + system, 2),
        "user_s": round(user, 2),
        "sys_s": round(system, 2),
        "wall_s": round(wall, 2),
        "rc": rc,
    }


def _tree_sample() -> float:
    import psutil

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = usage.ru_utime + usage.ru_stime  # descendants reaped here (children, and orphans as subreaper)
    for proc in psutil.Process().children(recursive=True):
        try:
            t = proc.cpu_times()
        except psutil.Error:  # gone between the listing and the reading: an undercount, never a double count
            continue
        # Its own CPU, and that of its descendants it has reaped (they are no longer listed).
        total += t.user + t.system + t.children_user + t.children_system
    return total


def tree_cpu(samples: int = 3) -> float:
    """CPU-seconds used so far by every descendant of this process, alive or reaped (needs psutil).

    A descendant that has exited counts through its parent's ``children_*`` times once its parent
    reaps it (or through this process's own, for a child or an orphan re-parented here by
    :func:`become_subreaper`), so processes that come and go between two readings are counted.
    A reading races only one way (a process reaped between listing it and reading its parent's
    times is missed), so the largest of a few readings is taken. The difference of two readings is
    the tree's CPU in between.
    """
    return max(_tree_sample() for _ in range(samples))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python benchmarks/cputime.py COMMAND [ARGS...]")
    result = run(sys.argv[1:])
    print(json.dumps(result), file=sys.stderr, flush=True)
    sys.exit(result["rc"])
