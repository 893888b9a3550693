"""CPU seconds of a command and of every process it starts, kernels included: ``python benchmarks/cputime.py CMD...``.

On a shared machine wall time says more about the neighbours than about the command; CPU seconds
do not. ``/usr/bin/time`` counts only descendants that their parents wait for; a Jupyter kernel
whose parent exits first is re-parented to init and its CPU is lost. Here this process becomes a
child subreaper (Linux ``prctl(PR_SET_CHILD_SUBREAPER)``): orphans are re-parented to it and reaped
by it, so their CPU time is counted too. Prints one JSON line on stderr:
``{"cpu_s": ..., "user_s": ..., "sys_s": ..., "wall_s": ..., "rc": ...}``; exits with the command's status.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def run(cmd: list[str], cwd: str | None = None, env: dict | None = None, linger: float = 30.0) -> dict:
    """Run ``cmd``: CPU seconds of it and all its descendants (orphans reaped here, up to ``linger`` s)."""
    if sys.platform != "linux":
        raise OSError("cputime needs Linux (prctl PR_SET_CHILD_SUBREAPER)")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    rc = subprocess.call(cmd, cwd=cwd, env=env)
    wall = time.perf_counter() - start
    deadline = time.monotonic() + linger
    while time.monotonic() < deadline:  # orphans (kernels whose parent is gone) come back here
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.1)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    return {
        "cpu_s": round(user + system, 2),
        "user_s": round(user, 2),
        "sys_s": round(system, 2),
        "wall_s": round(wall, 2),
        "rc": rc,
    }


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python benchmarks/cputime.py COMMAND [ARGS...]")
    result = run(sys.argv[1:])
    print(json.dumps(result), file=sys.stderr, flush=True)
    sys.exit(result["rc"])
