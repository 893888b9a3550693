"""`make mutation`'s module table (tools/mutation.py) and pyproject.toml's [tool.mutmut] agree."""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_tool():
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pyproject_lists_every_module_and_test_the_tool_runs():
    """A plain `mutmut run` (pyproject's lists) mutates and runs what `make mutation` does, module by module."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    modules = load_tool().MODULES
    for name, (path, tests) in modules.items():
        assert (ROOT / path).is_file(), f"{name}: {path} does not exist"
        assert any(fnmatch.fnmatch(path, pattern) for pattern in settings["only_mutate"]), f"{path} not in only_mutate"
        for test in tests:  # a file, or one test in it (path::name)
            assert (ROOT / test.split("::")[0]).is_file(), f"{name}: {test} does not exist"
            assert test in settings["pytest_add_cli_args_test_selection"], f"{test} ({name}) missing in pyproject"


def test_every_named_test_file_and_node_id_exists():
    """Every test the tool selects, leaves out as slow or leaves out elsewhere names a file, and a test defined in
    it (a renamed or moved test would otherwise silently drop out of the selection or of --deselect)."""
    tool = load_tool()
    named = [t for _, tests in tool.MODULES.values() for t in tests]
    named += [t for tests in tool.SLOW.values() for t in tests] + [
        t for tests in tool.ELSEWHERE.values() for t in tests
    ]
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    named += settings["pytest_add_cli_args_test_selection"]
    for test in named:
        path, _, name = test.partition("::")
        assert (ROOT / path).is_file(), f"{test}: no file {path}"
        if name:
            defined = {n.name for n in ast.parse((ROOT / path).read_text()).body if isinstance(n, ast.FunctionDef)}
            assert name in defined, f"{test}: {path} defines no test {name}"
