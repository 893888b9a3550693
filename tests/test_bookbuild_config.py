"""bookbuild's settings come from [tool.bookbuild]; the kernels must import the library that was hashed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from minibook import book  # noqa: F401 -- book is a fixture

import bookbuild
from bookbuild import cli
from bookbuild import config as config_mod
from bookbuild.config import ConfigError

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


def test_the_switch_is_read_from_pyproject_once_with_the_settings(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.bookbuild]\npackage = "m"\n')
    assert config_mod.load(tmp_path).standin({"MY_STANDIN": "1"}) is None  # no standin_env
    (tmp_path / "pyproject.toml").write_text('[tool.bookbuild]\npackage = "m"\nstandin_env = "MY_STANDIN"\n')
    config = config_mod.load(tmp_path)
    assert config.standin_env == "MY_STANDIN"
    assert config.standin({"MY_STANDIN": "1"}) == "MY_STANDIN"
    assert config.standin({"MY_STANDIN": "0"}) is None and config.standin({}) is None
    assert config.paths({"MY_STANDIN": "yes"}).store == tmp_path / "_build" / "standin" / "exec-store"
    assert config.paths({}).store == tmp_path / "_build" / "exec-store"
    (tmp_path / "pyproject.toml").write_text('[tool.bookbuild]\npackage = "m"\nstandin_env = "not a name"\n')
    with pytest.raises(ConfigError, match="environment variable name"):
        config_mod.load(tmp_path)


def test_the_project_names_its_standin_switch():
    root = Path(__file__).resolve().parent.parent
    assert config_mod.load(root).standin_env == "LECTUREKIT_STANDIN"
