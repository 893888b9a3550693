"""`make mutation`'s module table (tools/mutation.py) and pyproject.toml's [tool.mutmut] agree."""

from __future__ import annotations

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
