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
    sources = ["_static"]             # files/folders the site reads besides the pages' folders, the
                                      # library, _config.yml and _toc.yml (default ["_static"]; see below)

    [[tool.bookbuild.data]]           # files whose content is part of every key in some profiles
    profiles = ["large"]
    label = "mylib-cache"             # machine-independent name in the key
    root_env = "MYLIB_CACHE"          # the folder: this variable, else `default` (~ expanded)
    default = "~/.cache/mylib"
    pattern = "data/raw/*"            # glob under the folder (``**`` allowed)

Unknown keys and wrong types are errors that name the key and what was expected.

Two settings come from the book's ``_config.yml``, which myst-nb reads as well, so that both use
the same values: ``execute.timeout`` (seconds a cell may run; myst-nb's default, 30 s, when
absent) and ``execute.exclude_patterns`` (pages never executed).

Stand-in runs: a project may run its book against stand-in inputs (generated files with the real
formats but meaningless content) to show that a profile's code executes. When the variable named
by ``standin_env`` is set to a true value (:func:`flag`: ``1``, ``true`` or ``yes``), bookbuild keeps
everything of the run in ``_build/standin/`` (store, manifest, logs), executes chapters with
assertions off but refuses to render (nothing stand-in reaches ``_build/html`` or a deployment),
and its manifest says it is a stand-in run (:meth:`Config.standin`).

What the site is rendered from, and what ``bookbuild preview`` watches (:meth:`Config.site_sources`):
the folders of the table of contents' pages (a page in the book root: that file), the library's
folder (``library_root``: the API reference renders the docstrings), ``_config.yml``, ``_toc.yml``, and the
``sources`` listed here (relative to the book root; each must exist, except the default
``_static``, which counts only where there is one).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bookbuild.book import Paths, toc_docnames
from importgraph import Library

TABLE = "tool.bookbuild"
DEFAULT_PROFILE = "default"  # the one profile of a book without profile_env
DEFAULT_TIMEOUT = 30  # seconds per cell when _config.yml sets no execute.timeout (myst-nb's default)
DEFAULT_SOURCES = ("_static",)
TRUE = ("1", "true", "yes")


def flag(value: str | None) -> bool:
    """Whether an environment variable's value switches something on: ``1``, ``true`` or ``yes`` (any case)."""
    return (value or "").strip().lower() in TRUE


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
    standin_env: str = ""
    sources: tuple[str, ...] = DEFAULT_SOURCES
    timeout: int = DEFAULT_TIMEOUT
    exclude_patterns: tuple[str, ...] = ()
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

    def standin(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The stand-in switch's name if this is a stand-in run (``standin_env`` set true), else None."""
        environ = os.environ if environ is None else environ
        return self.standin_env if self.standin_env and flag(environ.get(self.standin_env)) else None

    def paths(self, environ: Mapping[str, str] | None = None) -> Paths:
        """The build's files: under ``_build``, or ``_build/standin`` in a stand-in run."""
        return Paths(self.root, standin=self.standin(environ) is not None)

    def site_sources(self) -> list[Path]:
        """What the rendered site is made from (see the module docstring), existing paths, each once."""
        found: list[Path] = []
        for doc in toc_docnames(self.root):
            found.append(self.root / doc.split("/", 1)[0] if "/" in doc else self.root / doc)
        found.append(self.root / self.library_root)
        found += [self.root / name for name in ("_config.yml", "_toc.yml", *self.sources)]
        out = []
        for p in dict.fromkeys(found):
            if p.parent == self.root and not p.exists():  # a page in the root: its file
                p = next((p.with_name(p.name + s) for s in (".md", ".ipynb") if p.with_name(p.name + s).exists()), p)
            if p.exists():
                out.append(p)
        return out

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
    "sources",
    "repository",
}  # repository ("owner/name" on GitHub): read by bookbuild.notebooks
DATA_KEYS = {"label", "pattern", "root_env", "default", "profiles"}


def from_table(root: Path, table: Any, source: Path | None = None, book: dict | None = None) -> Config:
    """Validate a ``[tool.bookbuild]`` table (already parsed) and build the :class:`Config`.

    ``book``: the parsed ``_config.yml`` (its ``execute`` section gives the timeout and the pages
    never executed).
    """
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
    standin_env = _string(table, "standin_env", where)
    if standin_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", standin_env):
        raise ConfigError(f"{where}: standin_env must be an environment variable name; got {standin_env!r}")
    if "sources" in table:
        sources = _strings(table, "sources", where)
        missing = [s for s in sources if not (Path(root) / s).exists()]
        if missing:
            raise ConfigError(f"{where}: sources {missing} do not exist under {root}; remove them or create them")
    else:
        sources = DEFAULT_SOURCES
    execute = (book or {}).get("execute") or {}
    timeout = execute.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise ConfigError(f"_config.yml: execute.timeout must be a positive number of seconds, got {timeout!r}")
    excluded = execute.get("exclude_patterns") or []
    if not isinstance(excluded, list) or not all(isinstance(p, str) for p in excluded):
        raise ConfigError(f"_config.yml: execute.exclude_patterns must be a list of glob patterns, got {excluded!r}")
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
        standin_env=standin_env,
        sources=sources,
        timeout=timeout,
        exclude_patterns=tuple(excluded),
        source=source,
    )


def book_config(root: Path) -> dict:
    """The book's ``_config.yml`` (``{}`` without one)."""
    path = Path(root) / "_config.yml"
    if not path.exists():
        return {}
    try:
        return yaml.safe_load(path.read_text(encoding="utf8")) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None


def load(root: Path) -> Config:
    """Read ``root/pyproject.toml``'s ``[tool.bookbuild]`` table (and ``_config.yml``'s execute section)."""
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
    return from_table(Path(root), table, path, book_config(root))
