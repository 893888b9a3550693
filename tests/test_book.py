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


def test_mean_spread_is_the_sample_std():
    mean, std, n = book.mean_spread([1.0, 2.0, 4.0])
    assert (mean, n) == (7 / 3, 3)
    assert std == pytest.approx(np.std([1.0, 2.0, 4.0], ddof=1))
    assert np.isnan(book.mean_spread([5.0])[1])
    with pytest.raises(ValueError, match="at least one value"):
        book.mean_spread([])


def test_spread_keeps_two_significant_digits_and_the_mean_at_their_place():
    assert book.spread([0.12, 0.1205, 0.1193]) == "0.11993 ± 0.00060"
    assert book.spread([24.0, 26.0, 28.0]) == "26.0 ± 2.0"
    assert book.spread([100.0, 130.0, 160.0]) == "130 ± 30"  # never fewer than 0 decimals
    assert book.spread([0.9, 0.92, 0.91], percent=True) == "91.0% ± 1.0%"
    assert book.spread([3.0]) == "3.00" and book.spread([3.0], decimals=1) == "3.0"
    assert book.spread([3.0, 3.0, 3.0], decimals=1) == "3.0 ± 0.0"
    assert "e" not in book.spread([3.0, 3.0001, 2.9999])  # no "3.000e+00"


def test_spread_table_gives_single_runs_the_columns_decimals():
    table = book.spread_table(
        {"acc": {"cnn": [0.9, 0.92, 0.91], "pixels": [0.5]}, "ratio": {"cnn": [1.0, 1.2, 1.4], "pixels": [2.0]}},
        percent=["acc"],
    )
    assert table.loc["pixels", "acc"] == "50.0%" and table.loc["pixels", "ratio"] == "2.00"
    assert table.loc["cnn", "ratio"] == "1.20 ± 0.20"


def test_exceeds_spread_needs_the_intervals_apart():
    assert book.exceeds_spread([1.0, 2.0, 3.0], [4.5, 5.0, 5.5])  # 5 - 2 = 3 > 1 + 0.5
    assert not book.exceeds_spread([1.0, 2.0, 3.0], [3.0, 3.5, 4.0])  # 3.5 - 2 = 1.5 < 1 + 0.5
    assert not book.exceeds_spread([4.5, 5.0, 5.5], [1.0, 2.0, 3.0])  # the order matters: high must be higher
    assert book.exceeds_spread([0.5], [0.6, 0.61, 0.62])  # a single run (pixels) counts as spread 0


def test_the_landing_page_states_the_spread_convention():
    assert book.SPREAD_CONVENTION in " ".join((ROOT / "book" / "index.md").read_text().split())
