"""The build's re-execution rules, proven on a small book made in a temporary folder (see minibook)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from minibook import book, chapter, components, output_text, run  # noqa: F401 -- book is a fixture

import bookbuild
from bookbuild import config as config_mod
from bookbuild import deps
from bookbuild.deps import Library
from bookbuild.plan import plan
from bookbuild.render import sync_jupyter_cache
from bookbuild.store import Store


def test_first_build_executes_second_reuses(book):
    assert run(book)[0] == {"a": "executed", "b": "executed"}
    status, outcomes = run(book)
    assert status == {"a": "cached", "b": "cached"}
    store = Store(book / "_build" / "exec-store")
    assert [output_text(o, store) for o in outcomes] == ["20\n", "6\n"]


def test_prose_edit_executes_nothing(book):
    run(book)
    text = (book / "a.md").read_text()
    (book / "a.md").write_text(text.replace("Prose of A.", "Rewritten prose, new heading below.\n\n## New"))
    assert run(book)[0] == {"a": "cached", "b": "cached"}


def test_module_edit_executes_exactly_its_dependents_and_revert_finds_old_outputs(book):
    _, first = run(book)
    assert [o.reasons for o in first] == [["no earlier execution"]] * 2
    extra = book / "src" / "minilib" / "extra.py"
    extra.write_text(extra.read_text().replace("3 * core.SCALE", "4 * core.SCALE"))
    status, outcomes = run(book, previous=components(first))
    assert status == {"a": "cached", "b": "executed"}
    assert outcomes[1].reasons == ["minilib.extra changed"]
    assert output_text(outcomes[1], Store(book / "_build" / "exec-store")) == "8\n"

    core = book / "src" / "minilib" / "core.py"
    core.write_text("SCALE = 5\n")  # b depends on core through extra
    status, later = run(book, previous=components(outcomes))
    assert status == {"a": "executed", "b": "executed"}
    assert [o.reasons for o in later] == [["minilib.core changed"]] * 2

    core.write_text("SCALE = 2\n")  # revert: the earlier entries are found again
    extra.write_text(extra.read_text().replace("4 * core.SCALE", "3 * core.SCALE"))
    status, outcomes = run(book)
    assert status == {"a": "cached", "b": "cached"}
    assert output_text(outcomes[1], Store(book / "_build" / "exec-store")) == "6\n"

    (book / "src" / "minilib" / "unused.py").write_text("X = 2\n")
    assert run(book)[0] == {"a": "cached", "b": "cached"}


def test_code_edit_executes_that_chapter_only(book):
    run(book)
    (book / "a.md").write_text((book / "a.md").read_text().replace("core.SCALE * 10", "core.SCALE * 100"))
    assert run(book)[0] == {"a": "executed", "b": "cached"}


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


def test_corrupt_or_half_written_entries_are_re_executed_never_used(book):
    run(book)
    store = Store(book / "_build" / "exec-store")
    chapters = plan(config_mod.load(book), "lite", library=Library(book / "src", "minilib"))
    (chapter_a,) = [c for c in chapters if c.docname == "a"]
    nb_path = store.root / chapter_a.name / f"{chapter_a.key.key}.ipynb"
    nb_path.write_text(nb_path.read_text()[:100])  # a build killed mid-write
    status, outcomes = run(book)
    assert status["a"] == "executed" and status["b"] == "cached"
    assert output_text(outcomes[0], store) == "20\n"
    (store.root / chapter_a.name / f"{chapter_a.key.key}.json").unlink()  # metadata never written
    assert run(book)[0]["a"] == "executed"


def test_broken_jupyter_cache_is_rebuilt_from_the_store(book):
    _, outcomes = run(book)
    store = Store(book / "_build" / "exec-store")
    cache_dir = book / "_build" / ".jupyter_cache"
    sync_jupyter_cache(cache_dir, outcomes, store)
    (cache_dir / "global.db").write_bytes(b"not a database")  # e.g. a build killed mid-write
    sync_jupyter_cache(cache_dir, outcomes, store)
    from jupyter_cache import get_cache

    assert len(get_cache(cache_dir).list_cache_records()) == 2


def test_parallel_output_is_identical_to_serial(book):
    _, parallel = run(book, jobs=2)
    store = Store(book / "_build" / "exec-store")
    first = [output_text(o, store) for o in parallel]
    _, serial = run(book, jobs=1, force=True)
    assert [output_text(o, store) for o in serial] == first


def test_shards_execute_separately_and_merge(book, tmp_path):
    shard_a, shard_b = Store(tmp_path / "shard-a"), Store(tmp_path / "shard-b")
    assert run(book, only=["a"], store=shard_a)[0] == {"a": "executed"}
    assert run(book, only=["b"], store=shard_b)[0] == {"b": "executed"}
    main = Store(book / "_build" / "exec-store")
    assert main.merge_from(shard_a) == (1, 0) and main.merge_from(shard_b) == (1, 0)
    assert run(book)[0] == {"a": "cached", "b": "cached"}


def test_failing_cell_fails_the_chapter_and_stores_nothing(book):
    (book / "b.md").write_text(chapter("B", "x", "raise RuntimeError('broken chapter')"))
    status, outcomes = run(book)
    assert status == {"a": "executed", "b": "failed"}
    assert "broken chapter" in outcomes[1].error
    assert not list((book / "_build" / "exec-store").glob("b/*"))


def test_unknown_chapter_and_missing_file_are_clear_errors(book):
    with pytest.raises(ValueError, match="unknown chapter"):
        run(book, only=["nope"])
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: missing\n")
    with pytest.raises(FileNotFoundError, match="missing"):
        run(book)


def test_import_graph_reading(tmp_path):
    lib_dir = tmp_path / "pkg"
    (lib_dir / "sub").mkdir(parents=True)
    (lib_dir / "__init__.py").write_text('_EXPORTS = {"helper": "pkg.a"}\n')
    (lib_dir / "a.py").write_text("from . import b\n")
    (lib_dir / "b.py").write_text("")
    (lib_dir / "c.py").write_text('_EXPORTS = {"Thing": "pkg.b"}\n')
    (lib_dir / "sub" / "__init__.py").write_text("")
    (lib_dir / "sub" / "d.py").write_text("from ..c import *\n")
    lib = Library(tmp_path, "pkg")
    assert lib.closure(lib.direct_imports("import pkg as p\np.helper()", "t")) == {"pkg", "pkg.a", "pkg.b"}
    assert lib.closure(lib.direct_imports("import pkg as p\np.sub.d.f()", "t")) == {
        "pkg",
        "pkg.sub",
        "pkg.sub.d",
        "pkg.c",
    }
    assert lib.direct_imports("import numpy as np\nnp.zeros(1)", "t") == set()
    # A module's lazy re-exports resolve to the defining module, not to everything.
    assert lib.closure(lib.direct_imports("import pkg.c as c\nc.Thing()", "t")) == {"pkg", "pkg.c", "pkg.b"}
    assert lib.closure(lib.direct_imports("from pkg.c import Thing", "t")) == {"pkg", "pkg.c", "pkg.b"}
    # An alias used in a way that cannot be read statically: depend on everything.
    assert lib.direct_imports("import pkg as p\ngetattr(p, name)", "t") == lib.all_modules()
    with pytest.raises(ValueError, match="cannot parse"):
        lib.direct_imports("def (", "cell 3")


def test_priors_chapter_depends_on_what_it_uses():
    root = Path(__file__).resolve().parent.parent
    lib = Library(root / "src", "lecturekit")
    (priors,) = [c for c in plan(config_mod.load(root), "lite", ["priors"], lib)]
    modules = set(priors.key.components["modules"])
    assert {"lecturekit.encoders", "lecturekit.training", "lecturekit.metrics.pca"} <= modules
    assert not any(m.startswith("bookbuild") for m in modules)


@pytest.mark.skipif(not (Path(sys.executable).parent / "jupyter-book").exists(), reason="jupyter-book not installed")
def test_rendered_page_follows_a_library_edit_without_touching_the_chapter(book):
    """Sphinx re-reads a page whose outputs changed even though its source did not."""
    (book / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: cache\nsphinx:\n  extra_extensions: [bookbuild.sphinx_ext]\n"
    )
    # The bookbuild of the tree under test (not whichever is installed), and the book's library.
    tree_src = Path(bookbuild.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree_src), str(book / "src")])}

    def build():
        cmd = [sys.executable, "-m", "bookbuild", "--root", str(book), "--package", "minilib", "build", "--jobs", "2"]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(f"bookbuild (from {tree_src / 'bookbuild'}):"), done.stdout[:300]
        return done.stdout, (book / "_build" / "html" / "b.html").read_text()

    out, html = build()
    assert "executed" in out and re.search(r"</span>6\s*</pre>", html)
    core = book / "src" / "minilib" / "core.py"
    core.write_text("SCALE = 7\n")
    out, html = build()
    assert re.search(r"b\s+executed", out) and re.search(r"</span>21\s*</pre>", html)  # source untouched
    out, _ = build()
    assert "site is up to date" in out  # nothing changed: Sphinx is not even started
    (book / "a.md").write_text((book / "a.md").read_text().replace("Prose of A.", "New prose of A."))
    out, _ = build()
    assert "rendered the site" in out and "New prose of A." in (book / "_build" / "html" / "a.html").read_text()
    assert "Executing notebook" not in (book / "_build" / "logs" / "sphinx.log").read_text()
    # A prose edit finds its jupyter-cache record by key; a record that is gone is put back from
    # the store, so myst-nb never executes a chapter itself.
    from jupyter_cache import get_cache

    cache = get_cache(book / "_build" / ".jupyter_cache")
    (gone,) = [r for r in cache.list_cache_records() if r.uri.endswith("a.md")]
    cache.remove_cache(gone.pk)
    (book / "a.md").write_text((book / "a.md").read_text().replace("New prose of A.", "Newer prose of A."))
    out, _ = build()
    assert "Newer prose of A." in (book / "_build" / "html" / "a.html").read_text()
    assert "Executing notebook" not in (book / "_build" / "logs" / "sphinx.log").read_text()
    assert sorted(r.uri.rsplit("/", 1)[-1] for r in cache.list_cache_records()) == ["a.md", "b.md"]
