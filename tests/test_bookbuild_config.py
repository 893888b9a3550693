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


# --- every field read from its own key, every check with its own message --------------------------


def test_each_field_of_the_mini_book_is_read_from_its_own_key(book):  # noqa: F811
    """The mini book's fields differ from one another (key_env is not kernel_env), so a field read from the
    wrong key shows."""
    c = config_mod.load(book)
    assert (c.root, c.package, c.library_root, c.profile_env) == (book, "minilib", "src", "MINI_PROFILE")
    assert c.profiles == ("lite", "full") and c.key_packages == ("numpy",)
    assert c.key_env == ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED", "MINI_KEYED")
    assert c.kernel_env == {
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "MINI_KERNEL_ONLY": "k",
    }
    assert set(c.key_env) != set(c.kernel_env)
    [spec] = c.data
    assert spec == config_mod.DataSpec(
        "mini-cache", "data/raw/*", "MINI_CACHE", "~/.cache/minilib-never-there", ("full",)
    )
    assert c.source == book / "pyproject.toml" and c.sources == ("_static",) and c.standin_env == ""
    assert c.library().root == book / "src" and c.library().package == "minilib"


def test_defaults_of_a_minimal_table(tmp_path):
    c = config_mod.from_table(tmp_path, {"package": "p"})
    assert (c.library_root, c.profile_env, c.profiles, c.key_env, c.key_packages) == ("src", "", ("default",), (), ())
    assert (c.kernel_env, c.data, c.standin_env, c.sources) == ({}, (), "", ("_static",))
    assert (c.timeout, c.exclude_patterns, c.source) == (30, (), None)
    assert config_mod.from_table(tmp_path, {"package": "p", "library_root": ""}).library_root == "src"
    assert config_mod.from_table(tmp_path, {"package": "p", "profiles": []}).profiles == ("default",)


@pytest.mark.parametrize(
    "table, message",
    [
        ([1], "[tool.bookbuild] must be a table"),
        ({"package": 3}, "[tool.bookbuild]: package must be a string, got 3"),
        (
            {"package": ""},
            '[tool.bookbuild]: package is required (the library the chapters import, e.g. package = "mylib")',
        ),
        (
            {"package": "p", "x": 1, "a": 2},
            "[tool.bookbuild]: unknown key(s) a, x; allowed: data, kernel_env, key_env, key_packages, library_root, "
            "package, profile_env, profiles, repository, sources, standin_env",
        ),
        (
            {"package": "p", "profiles": ["a", ""]},
            "[tool.bookbuild]: profiles must be a list of non-empty strings, got ['a', '']",
        ),
        (
            {"package": "p", "key_packages": [1]},
            "[tool.bookbuild]: key_packages must be a list of non-empty strings, got [1]",
        ),
        (
            {"package": "p", "kernel_env": ["A"]},
            "[tool.bookbuild]: kernel_env must be a table of strings, e.g. {OMP_NUM_THREADS = \"1\"}, got ['A']",
        ),
        ({"package": "p", "data": {}}, "[tool.bookbuild]: data must be an array of tables ([[tool.bookbuild.data]])"),
        ({"package": "p", "data": [1]}, "[tool.bookbuild], data[0] must be a table"),
        (
            {"package": "p", "data": [{"label": "", "pattern": "*", "default": "d"}]},
            "[tool.bookbuild], data[0]: label and pattern are required",
        ),
        (
            {"package": "p", "data": [{"label": "l", "pattern": "", "default": "d"}]},
            "[tool.bookbuild], data[0]: label and pattern are required",
        ),
        (
            {"package": "p", "data": [{"label": "l", "pattern": "*", "default": "d"}, {"label": "m", "pattern": "*"}]},
            "[tool.bookbuild], data[1]: give root_env (a variable naming the folder) or default (a folder), or both",
        ),
        (
            {"package": "p", "data": [{"label": "l", "pattern": "*", "root_env": 5}]},
            "[tool.bookbuild], data[0]: root_env must be a string, got 5",
        ),
        (
            {
                "package": "p",
                "profiles": ["s", "l"],
                "data": [{"label": "l", "pattern": "*", "default": "d", "profiles": ["s", "x", "y"]}],
            },
            "[tool.bookbuild], data[0]: profiles ['x', 'y'] are not among profiles = ['s', 'l']",
        ),
        (
            {"package": "p", "standin_env": "1BAD"},
            "[tool.bookbuild]: standin_env must be an environment variable name; got '1BAD'",
        ),
        (
            {"package": "p", "standin_env": "A B"},
            "[tool.bookbuild]: standin_env must be an environment variable name; got 'A B'",
        ),
        (
            {"package": "p", "sources": ["nowhere", "_static"]},
            "[tool.bookbuild]: sources ['nowhere', '_static'] do not exist under {root}; remove them or create them",
        ),
    ],
)
def test_each_check_names_the_key_and_the_fix(tmp_path, table, message):
    with pytest.raises(ConfigError) as err:
        config_mod.from_table(tmp_path, table)
    assert str(err.value) == message.replace("{root}", str(tmp_path))


def test_where_names_the_file_and_good_values_pass(tmp_path):
    with pytest.raises(ConfigError, match=r"^\[tool\.bookbuild\] in /x/pyproject\.toml: package is required"):
        config_mod.from_table(tmp_path, {"package": ""}, Path("/x/pyproject.toml"))
    (tmp_path / "assets").mkdir()
    ok = config_mod.from_table(
        tmp_path,
        {
            "package": "p",
            "standin_env": "_A1",
            "sources": ["assets"],
            "profiles": ["s", "l"],
            "data": [{"label": "l", "pattern": "*", "root_env": "R", "profiles": ["l"]}],
        },
    )
    assert ok.standin_env == "_A1" and ok.sources == ("assets",) and ok.data[0].profiles == ("l",)
    assert config_mod.from_table(tmp_path, {"package": "p", "sources": []}).sources == ()


@pytest.mark.parametrize(
    "execute, timeout, excluded",
    [
        (None, 30, ()),
        ({}, 30, ()),
        ({"timeout": 600}, 600, ()),
        ({"exclude_patterns": ["a/*", "b.md"]}, 30, ("a/*", "b.md")),
    ],
)
def test_the_timeout_and_the_pages_never_executed_come_from_config_yml(tmp_path, execute, timeout, excluded):
    c = config_mod.from_table(tmp_path, {"package": "p"}, book={"execute": execute} if execute is not None else {})
    assert (c.timeout, c.exclude_patterns) == (timeout, excluded)


@pytest.mark.parametrize("bad", [0, -5, True, "600", 1.5])
def test_a_bad_timeout_is_an_error(tmp_path, bad):
    with pytest.raises(ConfigError) as err:
        config_mod.from_table(tmp_path, {"package": "p"}, book={"execute": {"timeout": bad}})
    assert str(err.value) == f"_config.yml: execute.timeout must be a positive number of seconds, got {bad!r}"


@pytest.mark.parametrize("bad", ["*.md", [1]])
def test_bad_exclude_patterns_are_an_error(tmp_path, bad):
    with pytest.raises(ConfigError) as err:
        config_mod.from_table(tmp_path, {"package": "p"}, book={"execute": {"exclude_patterns": bad}})
    assert str(err.value) == f"_config.yml: execute.exclude_patterns must be a list of glob patterns, got {bad!r}"


def test_load_reads_config_yml_and_names_bad_files(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.bookbuild]\npackage = 'p'\n")
    assert config_mod.book_config(tmp_path) == {} and config_mod.load(tmp_path).timeout == 30
    (tmp_path / "_config.yml").write_text("")
    assert config_mod.book_config(tmp_path) == {}
    (tmp_path / "_config.yml").write_text("execute:\n  timeout: 77\n")
    assert config_mod.load(tmp_path).timeout == 77
    (tmp_path / "_config.yml").write_text("execute: [unclosed\n")
    with pytest.raises(ConfigError, match=r"_config\.yml is not valid YAML: "):
        config_mod.load(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.other]\nx = 1\n")
    with pytest.raises(ConfigError) as err:
        config_mod.load(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'pyproject.toml'} has no [tool.bookbuild] table; add one with at least package = "
        '"<the library the chapters import>" (see bookbuild.config)'
    )
    (tmp_path / "pyproject.toml").unlink()
    with pytest.raises(ConfigError) as err:
        config_mod.load(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'pyproject.toml'} does not exist; bookbuild reads its settings")


@pytest.mark.parametrize(
    "value, on",
    [
        ("1", True),
        (" TRUE ", True),
        ("Yes", True),
        ("0", False),
        ("", False),
        (None, False),
        ("on", False),
        ("no", False),
    ],
)
def test_flag(value, on):
    assert config_mod.flag(value) is on


def test_the_profile_is_the_argument_else_the_variable_else_the_first(tmp_path, monkeypatch):
    c = config_mod.from_table(tmp_path, {"package": "p", "profile_env": "P_ENV", "profiles": ["small", "large"]})
    monkeypatch.delenv("P_ENV", raising=False)
    assert c.profile() == "small"
    monkeypatch.setenv("P_ENV", " LARGE ")
    assert c.profile() == "large" and c.profile("Small") == "small" and c.profile("") == "small"
    monkeypatch.setenv("P_ENV", "")
    assert c.profile() == "small"
    with pytest.raises(ConfigError) as err:
        c.profile("huge")
    assert str(err.value) == "unknown profile 'huge' in P_ENV; use small or large"
    plain = config_mod.from_table(tmp_path, {"package": "p"})
    monkeypatch.setenv("P_ENV", "large")
    assert plain.profile() == "default"
    with pytest.raises(ConfigError) as err:
        plain.profile("x")
    assert str(err.value) == "unknown profile 'x'; use default"


def test_a_data_folder_is_its_variable_else_its_default(tmp_path, monkeypatch):
    spec = config_mod.DataSpec("l", "*", "D_ROOT", "~/fallback")
    monkeypatch.delenv("D_ROOT", raising=False)
    assert spec.folder() == Path.home() / "fallback"
    monkeypatch.setenv("D_ROOT", "")
    assert spec.folder() == Path.home() / "fallback"
    monkeypatch.setenv("D_ROOT", str(tmp_path))
    assert spec.folder() == tmp_path
    assert config_mod.DataSpec("l", "*", "", "/fixed").folder() == Path("/fixed")


def test_stand_in_runs_keep_their_files_apart(tmp_path):
    c = config_mod.from_table(tmp_path, {"package": "p", "standin_env": "MY_STANDIN"})
    assert c.standin({"MY_STANDIN": "yes"}) == "MY_STANDIN" and c.standin({"MY_STANDIN": "no"}) is None
    assert c.paths({"MY_STANDIN": "1"}).build == tmp_path / "_build" / "standin"
    assert c.paths({}).build == tmp_path / "_build"


def test_the_site_is_made_from_the_tocs_folders_the_library_and_the_configuration(tmp_path):
    (tmp_path / "book" / "sub").mkdir(parents=True)
    for name in ("index.md", "book/a.md", "book/sub/b.md", "solo.ipynb", "_config.yml", "extra.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "src").mkdir()
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: index\nchapters:\n  - file: book/a\n  - file: book/sub/b\n  - file: solo\n"
    )
    c = config_mod.from_table(tmp_path, {"package": "p", "sources": ["extra.txt"]})
    assert c.site_sources() == [
        tmp_path / "index.md",
        tmp_path / "book",
        tmp_path / "solo.ipynb",
        tmp_path / "src",
        tmp_path / "_config.yml",
        tmp_path / "_toc.yml",
        tmp_path / "extra.txt",
    ]
    (tmp_path / "_static").mkdir()
    assert config_mod.from_table(tmp_path, {"package": "p"}).site_sources()[-1] == tmp_path / "_static"


def test_kernel_defaults_are_set_only_where_the_caller_set_nothing(tmp_path, monkeypatch):
    c = config_mod.from_table(tmp_path, {"package": "p", "kernel_env": {"K_ONE": "1", "K_TWO": "2"}})
    monkeypatch.delenv("K_ONE", raising=False)
    monkeypatch.setenv("K_TWO", "mine")
    c.apply_kernel_env()
    import os

    assert os.environ["K_ONE"] == "1" and os.environ["K_TWO"] == "mine"
    monkeypatch.delenv("K_ONE")


# --- edges found by mutation testing (make mutation) --------------------------------------------


@pytest.mark.parametrize(
    "table, message",
    [
        ({"library_root": 3}, "[tool.bookbuild]: library_root must be a string, got 3"),
        ({"profile_env": 3}, "[tool.bookbuild]: profile_env must be a string, got 3"),
        ({"key_env": "X"}, "[tool.bookbuild]: key_env must be a list of non-empty strings, got 'X'"),
        ({"standin_env": 3}, "[tool.bookbuild]: standin_env must be a string, got 3"),
        ({"sources": "x"}, "[tool.bookbuild]: sources must be a list of non-empty strings, got 'x'"),
        ({"data": [{"label": 3, "pattern": "*"}]}, "[tool.bookbuild], data[0]: label must be a string, got 3"),
        ({"data": [{"label": "l", "pattern": 3}]}, "[tool.bookbuild], data[0]: pattern must be a string, got 3"),
        (
            {"data": [{"label": "l", "pattern": "*", "default": 3}]},
            "[tool.bookbuild], data[0]: default must be a string, got 3",
        ),
        (
            {"data": [{"label": "l", "pattern": "*", "default": "d", "profiles": "x"}]},
            "[tool.bookbuild], data[0]: profiles must be a list of non-empty strings, got 'x'",
        ),
    ],
)
def test_each_type_error_names_where_it_is(tmp_path, table, message):
    with pytest.raises(ConfigError) as err:
        config_mod.from_table(tmp_path, {"package": "p", **table})
    assert str(err.value) == message


def test_values_at_the_edges_of_what_is_allowed(tmp_path, monkeypatch):
    c = config_mod.from_table(tmp_path, {"package": "p", "library_root": "lib", "standin_env": "my_standin_2"})
    assert c.library_root == "lib" and c.standin_env == "my_standin_2"
    assert config_mod.from_table(tmp_path, {"package": "p"}, book={"execute": {"timeout": 1}}).timeout == 1
    monkeypatch.setenv("my_standin_2", "yes")
    assert c.standin() == "my_standin_2" and c.paths().build == tmp_path / "_build" / "standin"
    monkeypatch.setenv("my_standin_2", "no")
    assert c.standin() is None


def test_a_listed_page_that_does_not_exist_is_no_site_source(tmp_path):
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: gone\n")
    (tmp_path / "index.md").write_text("x")
    c = config_mod.from_table(tmp_path, {"package": "p"})
    assert c.site_sources() == [tmp_path / "index.md", tmp_path / "_toc.yml"]


def test_a_missing_pyproject_says_what_to_add(tmp_path):
    with pytest.raises(ConfigError) as err:
        config_mod.load(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'pyproject.toml'} does not exist; bookbuild reads its settings from a [tool.bookbuild] "
        'table there (at least package = "<the library the chapters import>")'
    )
