"""bookbuild.plan: the chapters of the book and their keys; every component changes the key by itself."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from minibook import book, run  # noqa: F401 -- book is a fixture

from bookbuild import config as config_mod
from bookbuild import deps
from bookbuild.deps import Library
from bookbuild.plan import plan


def test_profile_packages_data_and_threads_are_in_the_key(book, monkeypatch, tmp_path):
    """Each component changes the key by itself: only that part of the components differs."""
    monkeypatch.setenv("MINI_CACHE", str(tmp_path / "cache"))
    raw = tmp_path / "cache" / "data" / "raw"
    raw.mkdir(parents=True)

    def key(profile="lite"):
        (a,) = [c for c in plan(config_mod.load(book), profile, ["a"])]
        return a.key.key, a.key.components

    def changed(before, after):
        assert before[0] != after[0], "the key did not change"
        return {part for part in before[1] if before[1][part] != after[1][part]}

    base = key()
    assert changed(base, key("full")) == {"profile"}  # no data files yet: the profile alone
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    assert changed(base, key()) == {"env"}
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONHASHSEED", "3")
    assert changed(base, key()) == {"env"}
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setenv("SOME_UNRELATED_VARIABLE", "x")  # not in key_env
    assert key() == base
    monkeypatch.setenv("MINI_KERNEL_ONLY", "other")  # a kernel default, not a key variable
    assert key() == base
    monkeypatch.setenv("MINI_KEYED", "x")  # a key variable the kernels get no default for
    assert changed(base, key()) == {"env"}
    monkeypatch.delenv("MINI_KEYED")
    with monkeypatch.context() as m:
        real = deps.package_versions
        assert set(real(("numpy",))) == {"python", "numpy"}  # what key_packages names, plus Python
        # another numpy installed: only what the key asks about can show it
        m.setattr(
            deps, "package_versions", lambda names: {**real(names), **({"numpy": "0.0.1"} if "numpy" in names else {})}
        )
        assert changed(base, key()) == {"packages"}
    assert key() == base
    # full-profile data files: their content is hashed, and lite does not read them
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"one")
    first = key("full")
    assert changed(base, first) == {"profile", "data"}
    assert first[1]["data"] == {"mini-cache/data/raw/t10k-images-idx3-ubyte": hashlib.sha256(b"one").hexdigest()}
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"two")
    assert changed(first, key("full")) == {"data"}
    assert key() == base


def test_unknown_chapter_and_missing_file_are_clear_errors(book):
    with pytest.raises(ValueError, match="unknown chapter"):
        run(book, only=["nope"])
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: missing\n")
    with pytest.raises(FileNotFoundError, match="missing"):
        run(book)


def test_priors_chapter_depends_on_what_it_uses():
    root = Path(__file__).resolve().parent.parent
    lib = Library(root / "src", "lecturekit")
    (priors,) = [c for c in plan(config_mod.load(root), "lite", ["priors"], lib)]
    modules = set(priors.key.components["modules"])
    assert {"lecturekit.encoders", "lecturekit.training", "lecturekit.metrics.pca"} <= modules
    assert not any(m.startswith("bookbuild") for m in modules)


def test_the_kernel_tests_are_one_xdist_group(request):
    """Under `make unit` (``--dist loadgroup``) this file's tests carry the ``kernels`` group in their id.

    The scheduler groups by that suffix: without it the kernel tests ran on every worker (each
    importing the renderer, each executing the mini books again), as they did when pytest 9.2
    stopped reading the id pytest-xdist 3.8 sets (conftest.py's ``pytest_collection_finish``).
    """
    if not request.config.getoption("loadgroup", False):
        pytest.skip("only in a pytest-xdist worker under --dist loadgroup, as in make unit")
    assert request.node.nodeid.endswith("@kernels"), request.node.nodeid
