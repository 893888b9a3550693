"""importgraph: the static import graph of a package, and what a piece of code reaches (the basis of keys)."""

import itertools
import linecache
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
    """A namespace as a notebook kernel has: code defined in cells, not in an installed module,
    whose source ``inspect`` finds in ``linecache`` (as ipykernel registers each cell)."""
    name = f"<notebook-cell-{next(_CELLS)}>"  # unlike the bare "<cell-1>" some tests compile
    linecache.cache[name] = (len(code), None, code.splitlines(keepends=True), name)
    ns = {"__name__": "__main__", "torch": torch, **names}
    exec(compile(code, name, "exec"), ns)
    return ns


_CELLS = itertools.count()


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


# --- what must change a key: data by content, code however deeply it is nested ----------------


def test_tensor_and_array_digests_tell_dtype_and_shape_apart_even_for_the_same_bytes():
    """Zeros are the same bytes in every dtype and shape: only the recorded dtype and shape separate them."""
    import numpy as np

    tensors = [torch.zeros(6, dtype=torch.int32), torch.zeros(6), torch.zeros(2, 3), torch.zeros(3, 2)]
    arrays = [
        np.zeros(6, np.int32),
        np.zeros(6, np.float32),
        np.zeros((2, 3), np.float32),
        np.zeros((3, 2), np.float32),
    ]
    for group in (tensors, arrays):
        assert len({importgraph.value_digest(v) for v in group}) == len(group)
    assert importgraph.value_digest(torch.zeros(2, 3)) == importgraph.value_digest(torch.zeros(2, 3))
    assert importgraph.value_digest(torch.zeros(0)) != importgraph.value_digest(torch.zeros(0, 2))


def test_values_without_a_plain_content_are_hashed_by_the_documented_fallback():
    """Path by its string, pandas by values+index+columns+dtypes, numbers by value, generators by state."""
    import decimal
    import enum
    import fractions
    import random

    import numpy as np
    import pandas as pd

    digest = importgraph.value_digest
    assert digest(Path("a/b.csv")) == digest(Path("a/b.csv")) != digest(Path("a/c.csv"))
    assert digest(Path("a")) != digest("a")  # the type counts too
    frame = pd.DataFrame({"x": [1, 2], "y": [0.5, 1.5]})
    variants = [
        frame,
        pd.DataFrame({"x": [1, 3], "y": [0.5, 1.5]}),  # a value
        frame.set_axis([5, 6]),  # the index
        frame.rename(columns={"y": "z"}),  # a column name
        frame.astype({"x": "int32"}),  # a dtype
        frame["x"],  # a Series
        frame.index,  # an Index
        pd.DataFrame({"s": ["a", "b"]}),
        pd.DataFrame({"s": ["a", "c"]}),  # strings (object columns) by content
    ]
    assert len({digest(v) for v in variants}) == len(variants)
    assert digest(pd.DataFrame({"x": [1, 2], "y": [0.5, 1.5]})) == digest(frame)
    assert digest(fractions.Fraction(1, 3)) != digest(fractions.Fraction(2, 3))
    assert digest(fractions.Fraction(1, 3)) == digest(fractions.Fraction(2, 6))
    assert digest(decimal.Decimal("0.1")) != digest(decimal.Decimal("0.2"))
    assert digest(range(3)) != digest(range(4)) and digest(slice(1, 2)) != digest(slice(1, 3))
    assert digest(torch.float32) != digest(torch.float64) and digest(np.dtype("int8")) != digest(np.dtype("int16"))
    assert digest(torch.device("cpu")) != digest(torch.device("meta"))

    class Colour(enum.Enum):
        RED = 1
        BLUE = 2

    assert digest(Colour.RED) != digest(Colour.BLUE)
    for make in (
        lambda: np.random.default_rng(0),
        lambda: np.random.RandomState(0),
        lambda: torch.Generator().manual_seed(0),
        lambda: random.Random(0),
    ):
        a, b = make(), make()
        assert digest(a) == digest(b)
        if isinstance(b, torch.Generator):
            torch.rand(1, generator=b)
        else:
            b.random_sample() if isinstance(b, np.random.RandomState) else b.random()
        assert digest(a) != digest(b), f"{type(a)}: a draw did not change the digest"


def test_instances_count_by_their_attributes_when_defined_in_the_package_or_a_notebook():
    ns = _notebook(
        "class Plain:\n    def __init__(self, w):\n        self.w = w\n\n"
        "class Slotted:\n    __slots__ = ('w',)\n    def __init__(self, w):\n        self.w = w\n"
    )
    for cls in (ns["Plain"], ns["Slotted"]):
        assert importgraph.value_digest(cls(torch.ones(2))) == importgraph.value_digest(cls(torch.ones(2)))
        assert importgraph.value_digest(cls(torch.ones(2))) != importgraph.value_digest(cls(torch.zeros(2)))
    split = data.ImageSet(torch.ones(3, 1, 2, 2), torch.tensor([0, 1, 2]), "d")
    other = data.ImageSet(torch.ones(3, 1, 2, 2), torch.tensor([0, 1, 1]), "d")
    assert importgraph.value_digest(split, "lecturekit") != importgraph.value_digest(other, "lecturekit")


def test_what_has_no_readable_content_is_an_error_not_left_out():
    """A generator, an open file, a lock or a structure that holds itself cannot be hashed: an error, not nothing."""
    import threading

    loop = [1]
    loop.append(loop)
    with open(__file__) as handle:
        for value, kind in (
            ((x for x in range(3)), "builtins.generator"),
            (handle, "_io.TextIOWrapper"),
            (threading.Lock(), "_thread.lock"),
            ([1, (x for x in "a")], "builtins.generator"),
            (loop, "nested too deep"),
            (torch.zeros(3, 3).to_sparse(), "sparse"),
        ):
            with pytest.raises(importgraph.Unhashable, match=kind.replace(".", r"\.")):
                importgraph.value_digest(value)
    assert importgraph.value_digest(len) is None and importgraph.value_digest(torch.nn.functional) is None


def test_reach_names_the_global_it_cannot_hash_and_the_fix():
    ns = _notebook("def fit():\n    return next(numbers)\n", numbers=(x for x in range(3)))
    with pytest.raises(importgraph.Unhashable, match=r"fit reads 'numbers', a builtins\.generator.*pass what matters"):
        reach_of(ns["fit"])
    captured = _notebook("def make(n):\n    def fit():\n        return next(n)\n    return fit\n")["make"](iter([1]))
    with pytest.raises(importgraph.Unhashable, match=r"make\.<locals>\.fit reads 'n', a builtins\.list_iterator"):
        reach_of(captured)
    with_default = _notebook("def fit(n=iter([1])):\n    return next(n)\n")["fit"]
    with pytest.raises(importgraph.Unhashable, match=r"fit reads 'n'"):
        reach_of(with_default)


@pytest.mark.parametrize(
    "body",
    [
        "return sum(scale * v for v in range(3))",  # a generator expression
        "return (lambda: scale)()",  # a lambda
        "return [scale for _ in range(2)]",  # a list comprehension
        "return {k: scale for k in 'ab'}",  # a dict comprehension
        "return {scale for _ in 'ab'}",  # a set comprehension
        "def inner():\n        return scale\n    return inner()",  # a nested function
    ],
)
def test_reach_reads_globals_named_only_inside_nested_code(body):
    """A global read only inside nested code (its own code object) still counts, by content."""
    keys = [reach_of(_notebook(f"def fit():\n    {body}\n", scale=s)["fit"]) for s in (2, 3)]
    assert keys[0] != keys[1]
    assert reach_of(_notebook(f"def fit():\n    {body}\n", scale=2)["fit"]) == keys[0]


def test_reach_follows_functions_named_only_inside_nested_code_and_held_in_containers():
    helper = "def helper():\n    return {}\n"
    code = "def fit():\n    return [helper() for _ in range(1)] + [table['f']()]\n"
    keys = []
    for value in (1, 2):
        ns = _notebook(helper.format(value) + "def other():\n    return 0\n")
        ns["table"] = {"f": ns["other"]}
        exec(compile(code, "<cell>", "exec"), ns)
        keys.append(reach_of(ns["fit"]))
    assert keys[0] != keys[1]  # helper's source, reached through a comprehension
    ns = _notebook(helper.format(1) + "def other():\n    return 5\n")
    ns["table"] = {"f": ns["other"]}
    exec(compile(code, "<cell>", "exec"), ns)
    assert reach_of(ns["fit"]) != keys[0]  # other's source, reached through a dict of functions


NOTEBOOK_MODEL = """
class Base(torch.nn.Module):
    def scale(self):
        return {scale}

class TinyNet(Base):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(28 * 28, 4)

    @staticmethod
    def flatten(x):
        return x.flatten(1) * {factor}

    def forward(self, x):
        return self.lin(self.flatten(x)) * self.scale()
"""


def test_a_notebook_model_handed_to_library_training_code_counts_by_its_source():
    """``training.cached(TinyNet(), ...)``: the closure the library builds captures the notebook's model,
    whose class, static methods and base class are code the training runs."""
    from lecturekit import training

    config = training.TrainConfig("supervised", epochs=1)

    def key(scale=1, factor=1):
        ns = _notebook(NOTEBOOK_MODEL.format(scale=scale, factor=factor))
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return reach_of(training._fitter(ns["TinyNet"](), config, "tiny"))

    base = key()
    assert key() == base
    assert "source:TinyNet" in base and "module:lecturekit.training" in base
    assert key(factor=2) != base  # a static method
    assert key(scale=2) != base  # the notebook base class


def test_import_of_a_submodule_without_as_binds_the_top_package():
    """``import pkg.sub`` binds ``pkg``: attribute chains on it start at the top package."""
    uses = LIBRARY.direct_imports("import lecturekit.metrics.pca\nlecturekit.transforms.rotate\n", "<cell>")
    assert {"lecturekit", "lecturekit.metrics", "lecturekit.metrics.pca", "lecturekit.transforms"} <= uses
    assert "lecturekit.losses" not in uses
    aliased = LIBRARY.direct_imports("import lecturekit.metrics as m\nm.probes.knn_accuracy\n", "<cell>")
    assert {"lecturekit.metrics", "lecturekit.metrics.probes"} <= aliased and "lecturekit.transforms" not in aliased
    ns = _notebook("import lecturekit.metrics\n\ndef f():\n    return lecturekit.transforms.rotate\n")
    assert "module:lecturekit.transforms" in reach_of(ns["f"])


def test_a_notebook_class_counts_by_its_class_level_data_and_its_slots_are_no_error():
    code = "class Net:\n    __slots__ = ('w',)\n    DIM = {dim}\n\n    def run(self):\n        return self.DIM\n\n"
    code += "def fit():\n    return Net().run()\n"
    keys = [reach_of(_notebook(code.format(dim=d))["fit"]) for d in (2, 3)]
    assert "value:Net.DIM" in keys[0] and keys[0] != keys[1]
    assert reach_of(_notebook(code.format(dim=2))["fit"]) == keys[0]
