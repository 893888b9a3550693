"""bookbuild.execute: stored outputs are reused where the key matches, the rest executes; the kernels must
import the library that was hashed. Proven on the mini book (tests/minibook.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from minibook import book, chapter, components, output_text, run  # noqa: F401 -- book is a fixture

from bookbuild import cli
from bookbuild import config as config_mod
from bookbuild.deps import Library
from bookbuild.execute import WrongLibrary, check_kernel_library
from bookbuild.plan import plan
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


ROOT = Path(__file__).resolve().parents[1]


def test_kernels_importing_another_checkouts_library_fail_loudly(book, tmp_path, monkeypatch, capsys):
    """The shared-venv trap: keys hash this tree's files, the kernel would run another tree's."""
    other = tmp_path / "other-checkout" / "src"
    shutil.copytree(book / "src", other)
    monkeypatch.setenv("PYTHONPATH", str(other))  # as an editable install of another worktree would
    library = config_mod.load(book).library()
    with pytest.raises(WrongLibrary) as err:
        check_kernel_library(library, book)
    text = str(err.value)
    assert str(other / "minilib") in text and str((book / "src" / "minilib").resolve()) in text
    assert "install -e ." in text and str(book.resolve()) in text
    with pytest.raises(WrongLibrary):
        run(book)  # nothing executes, nothing is stored
    assert not (book / "_build" / "exec-store").exists()
    assert cli.main(["--root", str(book), "execute", "--jobs", "1"]) == 2
    assert "the kernels would import 'minilib' from" in capsys.readouterr().out

    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "nowhere"))  # not installed at all
    with pytest.raises(WrongLibrary, match="cannot import 'minilib'"):
        check_kernel_library(library, book)

    monkeypatch.setenv("PYTHONPATH", str(book / "src"))
    assert check_kernel_library(library, book) == (book / "src" / "minilib" / "__init__.py").resolve()


def test_this_checkouts_environment_imports_this_checkouts_library():
    """The project's own venv (make venv: pip install -e .) passes the check for its own tree."""
    library = config_mod.load(ROOT).library()
    assert check_kernel_library(library, ROOT / "book") == (ROOT / "src" / "lecturekit" / "__init__.py").resolve()
