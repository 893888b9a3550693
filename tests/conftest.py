"""Shared fixtures: every test gets its own empty lecturekit cache and torch hub folder."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Point caches at a temporary folder and default to the offline lite profile."""
    monkeypatch.setenv("LECTUREKIT_CACHE", str(tmp_path / "lk-cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv("LECTUREKIT_PROFILE", raising=False)
    monkeypatch.delenv("LECTUREKIT_OFFLINE", raising=False)
    monkeypatch.delenv("LECTUREKIT_PROGRESS", raising=False)
    monkeypatch.delenv("LECTUREKIT_STANDIN", raising=False)
    yield tmp_path
