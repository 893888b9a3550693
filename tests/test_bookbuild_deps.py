"""bookbuild.deps: what goes into a chapter's key, and every re-execution reason it gives."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from minibook import book  # noqa: F401 -- book is a fixture

from bookbuild import config as config_mod
from bookbuild import deps
from bookbuild.deps import ChapterKey, data_digest
from bookbuild.digests import Digests

LATER = time.time() + 3600  # "now", long after the files were written: their digests may be remembered


def test_data_files_are_hashed_by_label_in_the_profiles_that_read_them(book, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("MINI_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "cache" / "data" / "raw" / "images"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"AAAA")
    config = config_mod.load(book)
    assert data_digest(config, "full") == {"mini-cache/data/raw/images": hashlib.sha256(b"AAAA").hexdigest()}
    assert data_digest(config, "lite") == {}  # lite reads no data files


BASE = {
    "code": "c1",
    "kernel": "python3",
    "profile": "lite",
    "env": {"OMP_NUM_THREADS": "1"},
    "packages": {"numpy": "2.0"},
    "data": {},
    "modules": {"lib": "h0", "lib.core": "h1", "lib.old": "h2"},
}


@pytest.mark.parametrize(
    "change, reasons",
    [
        ({}, []),
        ({"code": "c2"}, ["code changed"]),
        ({"kernel": "python2"}, ["kernel changed"]),
        ({"profile": "full"}, ["profile changed"]),
        ({"env": {"OMP_NUM_THREADS": "2"}}, ["env changed"]),
        ({"packages": {"numpy": "2.1"}}, ["packages changed"]),
        ({"data": {"d/x": "h"}}, ["data changed"]),
        ({"modules": {"lib": "h0", "lib.core": "h9", "lib.old": "h2"}}, ["lib.core changed"]),
        ({"modules": {"lib": "h0", "lib.core": "h1", "lib.old": "h2", "lib.new": "h3"}}, ["now imports lib.new"]),
        ({"modules": {"lib": "h0", "lib.core": "h1"}}, ["no longer imports lib.old"]),
        (
            {"code": "c2", "profile": "full", "modules": {"lib": "h0", "lib.core": "h9"}},
            ["code changed", "profile changed", "lib.core changed", "no longer imports lib.old"],
        ),
    ],
)
def test_chapter_key_diff_names_each_reason(change, reasons):
    new = ChapterKey("k", {**BASE, **change})
    assert new.diff(BASE) == reasons


# --- edges found by mutation testing (make mutation) ----------------------------------------------


def notebook(*cells: str, kernel: str | None = "python3"):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A")] + [nbformat.v4.new_code_cell(c) for c in cells]
    if kernel is not None:
        nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    return nb


@pytest.fixture
def library(tmp_path):
    from minibook import make_book

    return deps.Library(make_book(tmp_path / "book") / "src", "minilib")


def test_chapter_key_components_and_the_reasons_they_give(library):
    base = deps.chapter_key(notebook("from minilib import core", "print(core.SCALE)"), "a.md", library, "lite")
    assert len(base.key) == 20 and base.components["kernel"] == "python3"
    assert (
        base.components["code"]
        == hashlib.sha256(json.dumps(["from minilib import core", "print(core.SCALE)"]).encode()).hexdigest()
    )
    assert set(base.components["modules"]) == {"minilib", "minilib.core"}
    assert base.components["env"] == {} and set(base.components["packages"]) == {"python"}  # no config
    again = deps.chapter_key(notebook("from minilib import core", "print(core.SCALE)"), "a.md", library, "lite")
    assert again == base
    edited = deps.chapter_key(notebook("from minilib import core", "print(2 * core.SCALE)"), "a.md", library, "lite")
    assert edited.key != base.key and edited.diff(base.components) == ["code changed"]
    other_kernel = deps.chapter_key(
        notebook("from minilib import core", "print(core.SCALE)", kernel="ir"), "a.md", library, "lite"
    )
    assert other_kernel.diff(base.components) == ["kernel changed"]
    no_kernel = deps.chapter_key(notebook("print(1)", kernel=None), "a.md", library, "lite")
    assert no_kernel.components["kernel"] == "" and no_kernel.components["modules"] == {}
    extra = deps.chapter_key(notebook("from minilib import extra", "print(1)"), "a.md", library, "lite")
    assert extra.diff(base.components) == ["code changed", "now imports minilib.extra"]


def test_chapter_key_does_not_depend_on_the_order_of_the_data_it_is_given(library):
    nb = notebook("print(1)")
    first = deps.chapter_key(nb, "a.md", library, "full", data={"d/b": "1", "d/a": "2"})
    assert deps.chapter_key(nb, "a.md", library, "full", data={"d/a": "2", "d/b": "1"}).key == first.key


def test_chapter_key_names_the_cell_that_does_not_parse(library):
    with pytest.raises(ValueError, match=r"^a\.md, code cell 2: cannot parse code"):
        deps.chapter_key(notebook("print(1)", "print(("), "a.md", library, "lite")


def test_chapter_key_reads_unset_key_variables_as_empty(book, monkeypatch):  # noqa: F811
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    library = deps.Library(book / "src", "minilib")
    key = deps.chapter_key(notebook("print(1)"), "a.md", library, "lite", config=config_mod.load(book))
    assert key.components["env"]["MKL_NUM_THREADS"] == ""
    assert set(key.components["packages"]) >= {"python"}


def test_the_module_memo_follows_the_code(library, tmp_path):
    from bookbuild.planmemo import ChapterMemo

    memo = ChapterMemo(tmp_path / "memo", "a")
    core = deps.chapter_key(
        notebook("from minilib import core"), "a.md", library, "lite", memo=memo, library_digest="d"
    )
    extra = deps.chapter_key(
        notebook("from minilib import extra"), "a.md", library, "lite", memo=memo, library_digest="d"
    )
    assert set(core.components["modules"]) == {"minilib", "minilib.core"}
    assert set(extra.components["modules"]) == {"minilib", "minilib.extra", "minilib.core"}


def test_components_recorded_without_modules_still_compare():
    old = {k: v for k, v in BASE.items() if k != "modules"}
    assert ChapterKey("k", old).diff(old) == []
    assert ChapterKey("k", BASE).diff(old) == ["now imports lib", "now imports lib.core", "now imports lib.old"]
    assert ChapterKey("k", old).diff(BASE) == [
        "no longer imports lib",
        "no longer imports lib.core",
        "no longer imports lib.old",
    ]


# --- each input that must enter a key changes it; what must not, does not ------------------------


def _config(root, **table):
    return config_mod.from_table(root, {"package": "minilib", **table})


def test_chapter_key_hashes_the_key_variables_and_not_the_kernel_defaults(library, monkeypatch):
    """``key_env`` is in the key; ``kernel_env`` only sets the kernels' defaults (a fixture that tells them apart)."""
    config = _config(library.root.parent, key_env=["MINI_KEYED"], kernel_env={"MINI_KERNEL_ONLY": "1"})
    nb = notebook("print(1)")
    monkeypatch.setenv("MINI_KEYED", "a")
    monkeypatch.setenv("MINI_KERNEL_ONLY", "x")
    base = deps.chapter_key(nb, "a.md", library, "lite", config=config)
    assert base.components["env"] == {"MINI_KEYED": "a"}
    monkeypatch.setenv("MINI_KERNEL_ONLY", "y")
    assert deps.chapter_key(nb, "a.md", library, "lite", config=config).key == base.key
    monkeypatch.setenv("MINI_KEYED", "b")
    changed = deps.chapter_key(nb, "a.md", library, "lite", config=config)
    assert changed.key != base.key and changed.diff(base.components) == ["env changed"]


def test_chapter_key_changes_with_the_profile_the_packages_and_the_data(library, monkeypatch):
    nb = notebook("print(1)")
    config = _config(library.root.parent, key_packages=["pytest"])
    base = deps.chapter_key(nb, "a.md", library, "lite", data={"d/x": "1"}, config=config)
    assert "pytest" in base.components["packages"]
    assert deps.chapter_key(nb, "a.md", library, "full", data={"d/x": "1"}, config=config).key != base.key
    assert deps.chapter_key(nb, "a.md", library, "lite", data={"d/x": "2"}, config=config).key != base.key
    assert deps.chapter_key(nb, "a.md", library, "lite", data={}, config=config).key != base.key
    monkeypatch.setattr(deps, "package_versions", lambda names: {n: "0.0-other" for n in names})
    other = deps.chapter_key(nb, "a.md", library, "lite", data={"d/x": "1"}, config=config)
    assert other.key != base.key and other.diff(base.components) == ["packages changed"]


def test_data_without_a_profile_list_is_part_of_every_profiles_key(tmp_path, monkeypatch):
    """A data spec that names no profiles applies to all of them; one that names ``full`` only to it."""
    monkeypatch.setenv("MINI_ALWAYS", str(tmp_path / "always"))
    (tmp_path / "always").mkdir()
    (tmp_path / "always" / "table.csv").write_text("a,b\n")
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "weights.bin").write_bytes(b"w")
    config = _config(
        tmp_path,
        profiles=["lite", "full"],
        data=[
            {"label": "always", "root_env": "MINI_ALWAYS", "pattern": "*.csv"},
            {"label": "big", "default": str(tmp_path / "big"), "pattern": "*.bin", "profiles": ["full"]},
        ],
    )
    assert [d.label for d in config.data_for("lite")] == ["always"]
    assert [d.label for d in config.data_for("full")] == ["always", "big"]
    assert list(deps.data_files(config, "lite")) == ["always/table.csv"]
    assert list(deps.data_files(config, "full")) == ["always/table.csv", "big/weights.bin"]
    before = data_digest(config, "lite", Digests(now=LATER))
    (tmp_path / "always" / "table.csv").write_text("a,c\n")
    assert data_digest(config, "lite")["always/table.csv"] != before["always/table.csv"]


def test_data_files_are_labelled_independently_of_their_folder(tmp_path, monkeypatch):
    for where in ("one", "two"):
        (tmp_path / where / "sub").mkdir(parents=True)
        (tmp_path / where / "sub" / "f.bin").write_bytes(b"x")
        (tmp_path / where / "sub" / "dir.bin").mkdir()  # a folder matching the pattern is no data file
    config = _config(tmp_path, data=[{"label": "d", "root_env": "MINI_D", "pattern": "**/*.bin"}])
    monkeypatch.setenv("MINI_D", str(tmp_path / "one"))
    one = data_digest(config, "default", Digests(now=LATER))
    monkeypatch.setenv("MINI_D", str(tmp_path / "two"))
    assert (
        data_digest(config, "default", Digests(now=LATER)) == one == {"d/sub/f.bin": hashlib.sha256(b"x").hexdigest()}
    )
