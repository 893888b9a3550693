"""importgraph: the static import graph of a package, and what a piece of code reaches (the basis of keys)."""

from pathlib import Path

import pytest
import torch

import importgraph
from lecturekit import data

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = importgraph.Library(ROOT / "src", "lecturekit")


def reach_of(compute) -> dict[str, str]:
    """What a cache key hashes of ``compute``'s code and data (lecturekit.cache.key adds the config and torch)."""
    return importgraph.reach(compute, LIBRARY)


def test_reach_follows_notebook_code(tmp_path):
    """A training function defined outside any module (a notebook cell) is keyed on its source and callees."""
    namespace = {"__name__": "__main__"}  # as in a notebook kernel
    exec(
        compile("def helper(x):\n    return x + 1\n\ndef run():\n    return helper(1)\n", "<cell-1>", "exec"), namespace
    )
    k1 = reach_of(namespace["run"])
    exec(compile("def helper(x):\n    return x + 2\n", "<cell-2>", "exec"), namespace)
    assert reach_of(namespace["run"]) != k1


def _notebook(code: str, **names) -> dict:
    """A namespace as a notebook kernel has: code defined in cells, not in an installed module."""
    ns = {"__name__": "__main__", "torch": torch, **names}
    exec(compile(code, "<cell>", "exec"), ns)
    return ns


TRAINER = """
def fit():
    return (data.sum() * scale, split.x.mean())
"""


def test_reach_follows_the_data_notebook_code_reads():
    """A notebook's training function reads globals: their content is part of the key, not just their type."""

    def key(values=None, scale=2, split=None):
        values = values if values is not None else torch.arange(6.0)
        split = split if split is not None else data.ImageSet(torch.ones(3, 1, 2, 2), torch.tensor([0, 1, 2]), "d")
        ns = _notebook(TRAINER, data=values, scale=scale, split=split)
        return reach_of(ns["fit"])

    base = key()
    assert key() == base  # the same content, built again: the same key
    assert key(values=torch.arange(7.0)) != base  # a longer tensor
    assert key(values=torch.arange(6.0) + 1) != base  # same shape, other values
    assert key(values=torch.arange(6.0).double()) != base  # other dtype
    assert key(scale=3) != base and key(scale=2.0) != base  # a setting, and its type
    other = data.ImageSet(torch.ones(3, 1, 2, 2), torch.tensor([0, 1, 1]), "d")
    assert key(split=other) != base  # a library object's content (its labels)


def test_reach_ignores_globals_the_code_does_not_read():
    split = data.ImageSet(torch.ones(1, 1, 2, 2), torch.tensor([0]), "d")
    ns = _notebook(TRAINER, data=torch.arange(6.0), scale=2, split=split)
    before = reach_of(ns["fit"])
    ns["unrelated"] = torch.randn(5)
    assert reach_of(ns["fit"]) == before


def test_reach_follows_a_model_the_notebook_code_uses():
    code = "def embed_all():\n    return encoder(x)\n"
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    with torch.no_grad():
        b.weight.copy_(a.weight)
        b.bias.copy_(a.bias)
    keys = [reach_of(_notebook(code, encoder=m, x=torch.ones(1, 2))["embed_all"]) for m in (a, b)]
    assert keys[0] == keys[1]  # same weights
    with torch.no_grad():
        b.bias.add_(1.0)
    assert reach_of(_notebook(code, encoder=b, x=torch.ones(1, 2))["embed_all"]) != keys[0]


@pytest.mark.parametrize("package", ["lecturekit", "importgraph"])
def test_no_import_circle(package):
    """No two modules import each other, directly or around a loop (an import inside a function counts)."""
    assert importgraph.Library(ROOT / "src", package).circles() == []


def test_circles_finds_a_loop_closed_inside_a_function_and_only_the_modules_on_it(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "def late():\n    from pkg import c\n",
        "c.py": "import pkg.a\n",
        "d.py": "from pkg import a\n",  # imports the circle, is not on it
        "sub/__init__.py": "",
        "sub/x.py": "from pkg.sub import y\n",  # importing a package's __init__ from below is no circle
        "sub/y.py": "from pkg import sub\n",
    }
    for name, text in files.items():
        (pkg / name).write_text(text)
    assert importgraph.Library(tmp_path, "pkg").circles() == [["pkg.a", "pkg.b", "pkg.c"]]
    (pkg / "sub" / "y.py").write_text("from pkg.sub import x\n")
    assert importgraph.Library(tmp_path, "pkg").circles() == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.sub.x", "pkg.sub.y"]]
