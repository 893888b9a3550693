"""Doctest setup for ``src/`` (``make unit`` runs the ``>>>`` examples with ``--doctest-modules``).

Every example sees ``np`` and ``torch`` as the docstrings assume, and runs with the same isolation
as the unit tests (``tests/conftest.py``): its own empty lecturekit cache and torch hub folder,
the default offline ``lite`` profile, one thread.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

# Importing bookbuild/__main__.py would run the build tool.
collect_ignore = ["bookbuild/__main__.py"]


@pytest.fixture(autouse=True)
def _doctest_env(doctest_namespace, tmp_path, monkeypatch):
    doctest_namespace.update(np=np, torch=torch)
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path / "lk-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    for name in ("LECTUREKIT_PROFILE", "LECTUREKIT_OFFLINE", "LECTUREKIT_PROGRESS"):
        monkeypatch.delenv(name, raising=False)
    torch.manual_seed(0)
    yield
