"""The book's build configuration: the ``[tool.bookbuild]`` table of ``pyproject.toml``.

bookbuild is generic: everything it knows about the library a book imports -- the package, its
environment variables, its profiles, its data files, the kernel settings -- comes from here::

    [tool.bookbuild]
    package = "mylib"                 # the library whose imports are tracked (required)
    library_root = "src"              # folder holding it, relative to the book root
    profile_env = "MYLIB_PROFILE"     # environment variable that selects a profile (optional)
    profiles = ["small", "large"]     # allowed profiles; the first is the default
    key_env = ["OMP_NUM_THREADS"]     # environment variables whose values are part of every key
    key_packages = ["numpy"]          # installed packages whose versions are part of every key
    kernel_env = {OMP_NUM_THREADS = "1"}  # defaults set for the kernels (the caller's value wins)
    standin_env = "MYLIB_STANDIN"     # a stand-in run: kept in _build/standin, never rendered (optional)
    repository = "owner/name"         # GitHub repository: notebooks install from it, pages link to Colab (optional)

    [[tool.bookbuild.data]]           # files whose content is part of every key in some profiles
    profiles = ["large"]
    label = "mylib-cache"             # machine-independent name in the key
    root_env = "MYLIB_CACHE"          # the folder: this variable, else `default` (~ expanded)
    default = "~/.cache/mylib"
    pattern = "data/raw/*"            # glob under the folder (``**`` allowed)

Unknown keys and wrong types are errors that name the key and what was expected.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from importgraph import Library

TABLE = "tool.bookbuild"
DEFAULT_PROFILE = "default"  # the one profile of a book without profile_env


class ConfigError(ValueError):
    """``[tool.bookbuild]`` is missing or malformed; the message says what and how to fix it."""


@dataclass(frozen=True)
class DataSpec:
    """Files under one folder whose content goes into the key (in the listed profiles)."""

    label: str
    pattern: str
    root_env: str = ""
    default: str = ""
    profiles: tuple[str, ...] = ()

    def folder(self) -> Path:
        value = (os.environ.get(self.root_env) if self.root_env else None) or self.default
        return Path(value).expanduser()


@dataclass(frozen=True)
class Config:
    """bookbuild's settings for one book (see the module docstring for the table)."""

    root: Path
    package: str
    library_root: str = "src"
    profile_env: str = ""
    profiles: tuple[str, ...] = (DEFAULT_PROFILE,)
    key_env: tuple[str, ...] = ()
    key_packages: tuple[str, ...] = ()
    kernel_env: dict[str, str] = field(default_factory=dict)
    data: tuple[DataSpec, ...] = ()
    source: Path | None = None

    def library(self) -> Library:
        return Library(self.root / self.library_root, self.package)

    def profile(self, value: str | None = None) -> str:
        """The active profile: ``value``, else ``$profile_env``, else the first listed; checked here only."""
        if value is None:
            value = os.environ.get(self.profile_env, "") if self.profile_env else ""
        value = value.strip().lower() or self.profiles[0]
        if value not in self.profiles:
            where = f" in {self.profile_env}" if self.profile_env else ""
            raise ConfigError(f"unknown profile {value!r}{where}; use {' or '.join(self.profiles)}")
        return value

    def data_for(self, profile: str) -> tuple[DataSpec, ...]:
        return tuple(d for d in self.data if not d.profiles or profile in d.profiles)

    def apply_kernel_env(self) -> None:
        """Set the kernel defaults in this process's environment (inherited by the kernels)."""
        for name, value in self.kernel_env.items():
            os.environ.setdefault(name, value)


def _strings(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {key} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _string(table: dict, key: str, where: str, default: str = "") -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
    return value


def _check_keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


TOP_KEYS = {
    "package",
    "library_root",
    "profile_env",
    "profiles",
    "key_env",
    "key_packages",
    "kernel_env",
    "data",
    "standin_env",
    "repository",
}  # standin_env: read by bookbuild.standin; repository ("owner/name" on GitHub): by bookbuild.notebooks
DATA_KEYS = {"label", "pattern", "root_env", "default", "profiles"}


def from_table(root: Path, table: Any, source: Path | None = None) -> Config:
    """Validate a ``[tool.bookbuild]`` table (already parsed) and build the :class:`Config`."""
    where = f"[{TABLE}] in {source}" if source else f"[{TABLE}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    _check_keys(table, TOP_KEYS, where)
    package = _string(table, "package", where)
    if not package:
        raise ConfigError(f'{where}: package is required (the library the chapters import, e.g. package = "mylib")')
    profiles = _strings(table, "profiles", where) or (DEFAULT_PROFILE,)
    kernel_env = table.get("kernel_env", {})
    if not isinstance(kernel_env, dict) or not all(isinstance(v, str) for v in kernel_env.values()):
        raise ConfigError(
            f'{where}: kernel_env must be a table of strings, e.g. {{OMP_NUM_THREADS = "1"}}, got {kernel_env!r}'
        )
    raw_data = table.get("data", [])
    if not isinstance(raw_data, list):
        raise ConfigError(f"{where}: data must be an array of tables ([[{TABLE}.data]])")
    data = []
    for i, entry in enumerate(raw_data):
        here = f"{where}, data[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{here} must be a table")
        _check_keys(entry, DATA_KEYS, here)
        label, pattern = _string(entry, "label", here), _string(entry, "pattern", here)
        root_env, default = _string(entry, "root_env", here), _string(entry, "default", here)
        if not label or not pattern:
            raise ConfigError(f"{here}: label and pattern are required")
        if not root_env and not default:
            raise ConfigError(f"{here}: give root_env (a variable naming the folder) or default (a folder), or both")
        spec_profiles = _strings(entry, "profiles", here)
        bad = [p for p in spec_profiles if p not in profiles]
        if bad:
            raise ConfigError(f"{here}: profiles {bad} are not among profiles = {list(profiles)}")
        data.append(DataSpec(label, pattern, root_env, default, spec_profiles))
    return Config(
        root=root,
        package=package,
        library_root=_string(table, "library_root", where, "src") or "src",
        profile_env=_string(table, "profile_env", where),
        profiles=profiles,
        key_env=_strings(table, "key_env", where),
        key_packages=_strings(table, "key_packages", where),
        kernel_env=dict(kernel_env),
        data=tuple(data),
        source=source,
    )


def load(root: Path) -> Config:
    """Read ``root/pyproject.toml``'s ``[tool.bookbuild]`` table."""
    path = Path(root) / "pyproject.toml"
    try:
        text = path.read_text(encoding="utf8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist; bookbuild reads its settings from a [{TABLE}] table there "
            '(at least package = "<the library the chapters import>")'
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    table = document.get("tool", {}).get("bookbuild")
    if table is None:
        raise ConfigError(
            f'{path} has no [{TABLE}] table; add one with at least package = "<the library the '
            'chapters import>" (see bookbuild.config)'
        )
    return from_table(Path(root), table, path)
