"""lecturekit.book: the one chapter setup, the glue helper and the provenance values."""

from __future__ import annotations

import builtins
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lecturekit import book

ROOT = Path(__file__).resolve().parents[1]


def test_setup_seeds_limits_threads_and_returns_the_generator():
    before = torch.get_num_threads()
    try:
        rng = book.setup(seed=3, threads=1)
        assert torch.get_num_threads() == 1
        a = torch.rand(3)
        assert rng.integers(0, 10**6) == np.random.default_rng(3).integers(0, 10**6)
        book.setup(seed=3, threads=1)
        assert torch.equal(torch.rand(3), a)  # the same seed gives the same draws
        from threadpoolctl import threadpool_info

        assert all(p["num_threads"] == 1 for p in threadpool_info())
    finally:
        torch.set_num_threads(before)


def test_setup_rejects_a_bad_thread_count():
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        book.setup(threads=0)


def test_plain_unwraps_scalars_and_rounds_floats():
    assert book.plain(np.float64(0.1) + np.float64(0.2)) == 0.3
    assert type(book.plain(np.int64(4))) is int
    assert book.plain(torch.tensor(2.5)) == 2.5
    assert book.plain("lite") == "lite"
    assert book.plain(1.23456789012345) == 1.23456789


def test_glue_without_myst_nb_returns_the_value(monkeypatch):
    """A reader's notebook (Colab) has no myst-nb: glue must not fail there."""
    real_import = builtins.__import__

    def no_myst(name, *args, **kwargs):
        if name.startswith("myst_nb"):
            raise ImportError("no myst_nb here")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "myst_nb", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_myst)
    assert book.glue("x", np.float32(0.5)) == 0.5


def test_provenance_glues_the_profile_statement(monkeypatch):
    glued = {}
    monkeypatch.setattr("myst_nb.glue", lambda key, value, display=True: glued.setdefault(key, value))
    values = book.provenance("digits", n_images=np.int64(12), encoders=["pixels", "random-cnn"], profile="lite")
    assert glued == values
    assert values["profile"] == "lite" and values["n_images"] == 12
    assert values["encoder_names"] == "pixels, random-cnn"
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", values["torch_version"])


def test_chapters_share_the_setup_and_define_no_common_helpers():
    chapters = [p for p in (ROOT / "book").glob("*.md") if "{code-cell}" in p.read_text()]
    assert chapters
    defined = {}
    for path in chapters:
        text = path.read_text()
        first = text[text.index("```{code-cell}") :]
        first = first[: first.index("\n```", 1)]
        assert "lk.book.setup(" in first, f"{path.name}: the first code cell must call lk.book.setup()"
        assert "remove-cell" not in first, f"{path.name}: the first code cell (the imports) must be visible"
        for name in re.findall(r"^def (\w+)", text, flags=re.M):
            defined.setdefault(name, set()).add(path.name)
    shared = {name: files for name, files in defined.items() if len(files) > 1}
    assert not shared, f"helpers defined in several chapters belong in the library: {shared}"


def test_every_public_module_is_in_the_library_reference():
    pages = "\n".join(p.read_text() for p in (ROOT / "book" / "reference").glob("*.md"))
    documented = set(re.findall(r"automodule:: ([\w.]+)", pages))
    modules = set()
    for f in (ROOT / "src" / "lecturekit").rglob("*.py"):
        rel = f.relative_to(ROOT / "src").with_suffix("")
        if rel.name.startswith("_"):
            continue
        modules.add(".".join(rel.parts))
    assert modules - documented == set(), f"add these modules to book/reference/: {sorted(modules - documented)}"
