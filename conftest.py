"""Test setup shared by the unit tests (tests/) and the docstring examples (src/, ``--doctest-modules``).

One conftest at the root: pytest imports every ``conftest.py`` outside a package under the same
module name, so ``tests/`` and ``src/`` cannot each have one. Every test and every ``>>>``
example runs with its own empty lecturekit cache and torch hub folder, the default offline
``lite`` profile, no progress output and the Agg backend; the examples see ``np`` and ``torch``
as the docstrings assume.
"""

from __future__ import annotations

import gc
import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

# One OpenMP thread per pytest-xdist worker: `make unit` runs one worker per core, and torch's default
# of one thread per core in each worker put two busy-waiting threads on every core (measured: 7 of
# `make unit`'s 72 CPU-seconds went to that spinning, with no gain in wall time). Set before any test
# module imports torch; an explicit setting in the environment wins. A single-process `pytest` keeps
# torch's default.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, "1")

# The oldest generation is collected after 100 collections of the middle one, not 10 (and, as
# always, only once it grew by a quarter). A test process imports torch, timm, scikit-learn and
# Sphinx as it goes, so its heap grows by a quarter again and again, and each full collection walked
# all of it: 10-11 per `make unit` worker, 4.0 CPU-s in all; now 2-3, 1.9 CPU-s (peak memory
# unchanged, 1.5 GB). Tests that count what was freed call gc.collect() themselves.
gc.set_threshold(*gc.get_threshold()[:2], 100)

# Importing bookbuild/__main__.py would run the build tool.
collect_ignore = ["src/bookbuild/__main__.py"]


@pytest.hookimpl(trylast=True)  # after pytest's own end-of-session collection (its unraisable-exception check)
def pytest_unconfigure(config):
    """Keep the interpreter's exit from walking the whole heap again.

    A process that ran the tests holds torch, timm, scikit-learn, Sphinx and what the tests left:
    at exit the interpreter's garbage collections walked all of it, 1.7 CPU-s in a process with
    only those imports and 2 to 3 CPU-s in each `make unit` worker (measured from the last exit
    handler to the end of the process), for garbage that dies with the process anyway. pytest
    has just collected the garbage and reported what it found; what is left is frozen, so the
    remaining collections (pytest's second one, the interpreter's) skip it. Exit handlers and
    reference-counted clean-up (closing files, ending pools) run as before.
    """
    gc.freeze()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch, doctest_namespace):
    """Point caches at a temporary folder and default to the offline lite profile."""
    import torch  # here, not at the top: pytest-xdist's controlling process runs no test and skips the import

    doctest_namespace.update(np=np, torch=torch)
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path / "lk-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    for name in ("LECTUREKIT_PROFILE", "LECTUREKIT_OFFLINE", "LECTUREKIT_PROGRESS", "LECTUREKIT_STANDIN"):
        monkeypatch.delenv(name, raising=False)
    # The examples draw from the global (CPU) generator. Seeded directly: torch.manual_seed would
    # also queue a CUDA seed for a device that never starts, formatting this call's whole stack
    # (about a millisecond under pytest, for each of some 800 tests).
    torch.default_generator.manual_seed(0)
    yield tmp_path


@pytest.fixture(scope="session")
def minibook_store(tmp_path_factory):
    """This session's store of mini-book executions (tests/minibook.py's ``seed``), one per xdist worker.

    Content-addressed like every execution store: an entry is the outputs of its key's code,
    modules and environment, whichever test's copy of the mini book executed it.
    """
    from bookbuild.store import Store

    return Store(tmp_path_factory.mktemp("minibook-store") / "exec-store")


# Tests that start Jupyter kernels (mini books built end to end) run on one pytest-xdist worker
# (`--dist loadgroup` in `make unit`): two workers starting kernels at once on a loaded 2-core
# machine made a kernel die before its first reply. One worker also imports the renderer once and
# holds one ``minibook_store`` for all of them.
KERNEL_TESTS = ("test_bookbuild",)  # every bookbuild test file: tests/test_bookbuild_<module>.py


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's worker reads the groups
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.name.startswith(KERNEL_TESTS):
            item.add_marker(pytest.mark.xdist_group("kernels"))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's worker sends the test ids to its controller
def pytest_collection_finish(session):
    """Put each test's xdist group into its id, where ``--dist loadgroup``'s scheduler looks for it.

    pytest-xdist (3.8) appends ``@<group>`` to ``item._nodeid``, which pytest 9.2 no longer reads
    (a node's id is ``item._id``, a ``NodeId``): the groups were silently ignored, and the kernel
    tests and the timm tests ran on both workers. Where xdist's suffix did not take, it is set here.
    """
    if not session.config.getoption("loadgroup", False):  # set in xdist workers under --dist loadgroup
        return
    from _pytest.nodeid import NodeId

    for item in session.items:
        groups = sorted(
            {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
        )
        if groups and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(groups)}")
