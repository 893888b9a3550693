"""bookbuild's import graph: no circle, and nothing imports the command line but ``__main__``.

Read with the project's own :mod:`importgraph` (``Library.circles``; every ``import``, at the top of
a module or inside a function, counts), so an import moved into a function to hide a circle is still one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import bookbuild
from importgraph import Library

SRC = Path(bookbuild.__file__).resolve().parents[1]


def graph(lib: Library) -> dict[str, set[str]]:
    """``{module: bookbuild modules it imports}``, without the package itself (its ``__init__`` imports nothing)."""
    return {m: set(lib.imports_of(m)) - {"bookbuild", m} for m in sorted(lib.all_modules())}


def problems(root: Path, edges: dict[str, set[str]] | None = None) -> list[str]:
    """What is wrong with the import graph of the ``bookbuild`` package under ``root`` (``edges``: its graph, read)."""
    lib = Library(root, "bookbuild")
    found = ["circle: " + ", ".join(c) for c in lib.circles()]
    found += [
        f"{m} imports bookbuild.cli"
        for m, t in (edges or graph(lib)).items()
        if "bookbuild.cli" in t and m != "bookbuild.__main__"
    ]
    return found


def test_no_circle_and_only_main_imports_the_cli():
    lib = Library(SRC, "bookbuild")
    edges = graph(lib)
    assert {"bookbuild.build", "bookbuild.cli", "bookbuild.plan"} <= set(edges)  # the graph was read
    assert edges["bookbuild.__main__"] == {"bookbuild.cli"} and "bookbuild.build" in edges["bookbuild.cli"]
    assert not lib.imports_of("bookbuild")  # the package itself imports nothing
    assert problems(SRC, edges) == []


@pytest.mark.parametrize(
    "module, line, expected",
    [
        ("preview.py", "from bookbuild import cli\n", "bookbuild.preview imports bookbuild.cli"),
        ("render.py", "\n\ndef later():\n    from bookbuild import cli\n", "bookbuild.render imports bookbuild.cli"),
        ("render.py", "\n\ndef later():\n    from bookbuild import build\n", "circle: bookbuild.build, "),
    ],
)
def test_the_check_fails_when_someone_adds_such_an_import(tmp_path, module, line, expected):
    copy = tmp_path / "bookbuild"
    shutil.copytree(SRC / "bookbuild", copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / module).write_text((copy / module).read_text() + line)
    found = problems(tmp_path)
    assert any(expected in p for p in found), found
