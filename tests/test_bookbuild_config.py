"""bookbuild's settings come from [tool.bookbuild]; the kernels must import the library that was hashed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from minibook import PYPROJECT, book, run  # noqa: F401 -- book is a fixture

import bookbuild
from bookbuild import cli
from bookbuild import config as config_mod
from bookbuild.config import ConfigError
from bookbuild.execute import WrongLibrary, check_kernel_library

ROOT = Path(__file__).resolve().parents[1]


def test_bookbuild_names_nothing_of_the_library_it_builds():
    """The tool is generic: the library's package, variables, folders, data and profiles live in pyproject.toml."""
    forbidden = re.compile(
        r"lecturekit|LECTUREKIT|MNIST|dinov2|torch_home|TORCH_HOME|\"lite\"|'lite'|\"full\"|'full'", re.IGNORECASE
    )
    src = Path(bookbuild.__file__).parent
    hits = [
        f"{f.name}:{i}: {line.strip()}"
        for f in sorted(src.glob("*.py"))
        for i, line in enumerate(f.read_text().splitlines(), 1)
        if forbidden.search(line)
    ]
    assert hits == []
    table = config_mod.load(ROOT)
    assert table.package == "lecturekit" and table.profile_env == "LECTUREKIT_PROFILE"
    assert table.profiles == ("lite", "full") and {d.label for d in table.data_for("full")} == {
        "lecturekit-cache",
        "torch-home",
    }
    assert table.data_for("lite") == ()


def test_the_real_books_table_reads_profiles_from_its_variable(monkeypatch):
    table = config_mod.load(ROOT)
    monkeypatch.delenv("LECTUREKIT_PROFILE", raising=False)
    assert table.profile() == "lite"  # the first listed is the default
    monkeypatch.setenv("LECTUREKIT_PROFILE", " Full ")
    assert table.profile() == "full"
    monkeypatch.setenv("LECTUREKIT_PROFILE", "huge")
    with pytest.raises(ConfigError, match="unknown profile 'huge' in LECTUREKIT_PROFILE; use lite or full"):
        table.profile()


@pytest.mark.parametrize(
    "table, message",
    [
        ("", r"no \[tool.bookbuild\] table"),
        ("[tool.bookbuild]\nlibrary_root = 'src'\n", "package is required"),
        ("[tool.bookbuild]\npackage = 'x'\nprofile = 'lite'\n", r"unknown key\(s\) profile; allowed: data, "),
        (
            "[tool.bookbuild]\npackage = 'x'\nkey_env = 'OMP_NUM_THREADS'\n",
            "key_env must be a list of non-empty strings",
        ),
        ("[tool.bookbuild]\npackage = 'x'\nkernel_env = {A = 1}\n", "kernel_env must be a table of strings"),
        (
            "[tool.bookbuild]\npackage = 'x'\n[[tool.bookbuild.data]]\nlabel = 'd'\npattern = '*'\n",
            r"data\[0\]: give root_env .* or default",
        ),
        (
            "[tool.bookbuild]\npackage = 'x'\n[[tool.bookbuild.data]]\nlabel = 'd'\npattern = '*'\ndefault = '/d'\n"
            "profiles = ['gpu']\n",
            r"profiles \['gpu'\] are not among profiles = \['default'\]",
        ),
        (
            "[tool.bookbuild]\npackage = 'x'\n[[tool.bookbuild.data]]\nlabel = 'd'\npattern = '*'\ndefault = '/d'\n"
            "folder = 'x'\n",
            r"data\[0\]: unknown key\(s\) folder",
        ),
        ("[tool.bookbuild\npackage = 'x'\n", "is not valid TOML"),
    ],
)
def test_a_bad_table_is_a_clear_error(tmp_path, table, message):
    (tmp_path / "pyproject.toml").write_text(table)
    with pytest.raises(ConfigError, match=message):
        config_mod.load(tmp_path)


def test_missing_pyproject_is_a_clear_error_from_the_command_line(tmp_path, capsys):
    assert cli.main(["--root", str(tmp_path), "plan"]) == 2
    assert "pyproject.toml does not exist" in capsys.readouterr().out


def test_kernel_env_defaults_do_not_override_the_caller(book, monkeypatch):
    monkeypatch.delenv("MKL_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    config_mod.load(book).apply_kernel_env()
    import os

    assert os.environ["MKL_NUM_THREADS"] == "1" and os.environ["OMP_NUM_THREADS"] == "4"


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
