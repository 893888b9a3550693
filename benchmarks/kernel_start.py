"""A kernel started the usual way against one forked by bookbuild: ``python benchmarks/kernel_start.py [N]``.

Each kernel runs one cell (``x = 1``) and shuts down, as bookbuild's worker drives it (nbclient).
Prints, per kernel and for each kind, the CPU seconds (the kernel's own, from its parent: this
process for a started kernel, the fork server for a forked one, plus this process's share) and
the wall seconds, as a JSON line. N rounds (default 8), the two kinds alternating so that both see
the same machine.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import nbformat
from nbclient import NotebookClient

from bookbuild import kernelfork


def cpu() -> float:
    both = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in both) + kernelfork.finished_cpu


def one(fork: bool) -> tuple[float, float]:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    extra = {"kernel_manager_class": kernelfork.ForkingKernelManager} if fork else {}
    c0, t0 = cpu(), time.perf_counter()
    with open(os.devnull, "w") as log:
        NotebookClient(nb, timeout=60, kernel_name="python3", **extra).execute(stdout=log, stderr=log)
    return cpu() - c0, time.perf_counter() - t0


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    os.environ.setdefault("PYTHONHASHSEED", "0")  # forking needs a fixed seed (bookbuild.kernelfork)
    server = kernelfork.ensure_server()
    if server is None:
        print("no fork server for this environment (see bookbuild.kernelfork)", file=sys.stderr)
        return 1
    one(True)  # the server's imports happen once, before the first fork; not counted
    forked_before = kernelfork.forked
    runs: dict[str, list[tuple[float, float]]] = {"started": [], "forked": []}
    for _ in range(rounds):
        runs["started"].append(one(False))
        runs["forked"].append(one(True))
    assert kernelfork.forked - forked_before == rounds, "a kernel meant to be forked was started"
    summary = {
        kind: {
            "cpu_s_per_kernel": round(sum(c for c, _ in r) / len(r), 3),
            "wall_s_per_kernel": round(sum(w for _, w in r) / len(r), 3),
        }
        for kind, r in runs.items()
    }
    print(json.dumps({"rounds": rounds, **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
