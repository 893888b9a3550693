"""importgraph: the static import graph of a package, and what a piece of code reaches (the basis of keys)."""

import dataclasses
import itertools
import linecache
import re
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


# --- digests are stable: every cache key in the shared cache is made of them -----------------------


@dataclasses.dataclass(frozen=True)
class Setting:
    lr: float
    tags: tuple = ("a",)


SLOTTED = (
    "class Slotted:\n    __slots__ = 'weight'\n\n    def __init__(self, w):\n        self.weight = w\n\n"
    "class Open:\n    __slots__ = ('w', '__dict__', '__weakref__')\n\n    def __init__(self):\n        self.w = 1\n"
)
#: A class of the library (not a dataclass, no state dict), callable: its instances are data.
Kit = type("Kit", (), {"__module__": "lecturekit.fake", "__call__": lambda self: 1})


def _kit(w):
    kit = Kit()
    kit.w = w
    return kit


def _golden_values() -> dict:
    import decimal
    import enum
    import fractions
    import random

    import numpy as np
    import pandas as pd

    class Colour(enum.Enum):
        RED = 1

    with torch.random.fork_rng():
        torch.manual_seed(0)
        linear = torch.nn.Linear(2, 1)
    plain = _notebook("class Plain:\n    def __init__(self):\n        self.w = 3\n        self.v = 'x'\n")["Plain"]
    return {
        "scalars": (None, True, 3, 2.5, 1j, "s", b"b"),
        "tensor": torch.arange(6, dtype=torch.float32).reshape(2, 3),
        "int tensor": torch.tensor([1, 2], dtype=torch.int16),
        "empty tensor": torch.zeros(0, 3),
        "array": np.arange(4, dtype=np.int64).reshape(2, 2),
        "object array": np.array(["a", 1], dtype=object),
        "numpy scalar": np.float32(0.5),
        "list": [1, [2, (3,)]],
        "set": {1, "a", (2, 3)},
        "frozenset": frozenset({"x"}),
        "dict": {"b": 1, "a": [2], 3: None},
        "path": Path("data/x.csv"),
        "numbers": (fractions.Fraction(1, 3), decimal.Decimal("0.10")),
        "enum range slice": (Colour.RED, range(1, 9, 2), slice(None, 4)),
        "dtypes": (torch.float64, torch.device("cpu"), np.dtype("float32")),
        "frame": pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}, index=[10, 20]),
        "series": pd.Series([0.5, 1.5], name="s"),
        "index": pd.Index(["p", "q"]),
        "generators": (np.random.default_rng(1), np.random.RandomState(2), random.Random(3)),
        "torch generator": torch.Generator().manual_seed(4),
        "model": linear,
        "dataclass": Setting(0.1),
        "package object": data.ImageSet(torch.zeros(1, 1, 2, 2), torch.tensor([1]), "tiny"),
        "notebook object": plain(),
        "slotted": _notebook(SLOTTED)["Slotted"]([1.5]),
        "open slots": _notebook(SLOTTED)["Open"](),
        "package objects nested": (
            [data.ImageSet(torch.zeros(1, 1, 2, 2), torch.tensor([1]), "n")],
            {"k": _kit(2)},
            Setting(_kit(3)),
            np.array([_kit(4), 1], dtype=object),
            {_kit(5)},
        ),
        "code inside": {"f": len, "g": _golden_values, "m": torch.nn.functional, "u": np.sin, "v": np.vectorize(abs)},
    }


GOLDEN = {
    "scalars": "a95b7973417a530dbdb72c033fea5ec80cdc4d200dde468e1c27006f77cf8506",
    "tensor": "d8b017fe6e35f8e22cb947aac37c9d4f763cff3b02df02b59433474a967cb8cf",
    "int tensor": "f512618df95be155f14c8aedb18ebf6d735e74e53e1bac7c35e2e0d72366375f",
    "empty tensor": "bd433ab1305417aeda562f5e5a6cbc58de78013a8526b1c7a2695e1bec3a5d46",
    "array": "0e9eaf95fa63348ce0e8cc75ece396fbbb0dd344e74d27f5912f9e7be66fd034",
    "object array": "f6ea65e3f2bd89ae1426562b810dc067e0d126ab598122da406b4b40db755396",
    "numpy scalar": "4dcc99ca394c86d59b65fe7a7e0c49045606074b3bca1aef050342c558c765ed",
    "list": "36d879609b6b90cd434d6b59e160407f17d4255265c2a48828293d30f58a3948",
    "set": "7e43e952578b07313ee5a06a4d8e43e1a8be69502c0fdc1a8eecee6620d1424c",
    "frozenset": "d65c4483ebf98c07903174b3222d74bb8ff26e909c6de759f8378ce18e95164b",
    "dict": "835a75ef33fa0c2721dabc9479a0b1ef652a01a9e10189c8a5563b857dc263c7",
    "path": "3b9929af893d84995abcc9d9b7a63d08bb93250170b4c809406a165c01d8bf41",
    "numbers": "f5bce43ec579e1221a535c2fa94590c37f42aac8b0f62eb821e2ba50b5cf90eb",
    "enum range slice": "37f59bb8261ec22b97c0ea5de4c805e42ef4fe8ec14573e77140d6ca67d86221",
    "dtypes": "953a154f4df7ce053bd5226cda62588b7fab9bcec2291aec3a9260ee74965f08",
    "frame": "49ff5d9feffec628a90a2914a6baa6b9d22d987412c92d02f054fb0997a938b4",
    "series": "82ed7526d9ee59d8b1b36e734ca9630154b0e3ad4990d06571f864ce9de6098f",
    "index": "35d2b7b5c2e71a96469987254e16966a05f84daeab0920fde727c0d44deaf3bb",
    "generators": "f172c0503a152418c4062023c4215e4c41121cdd33c6bbea1c411142b58eb846",
    "torch generator": "7789e49422189cacda94a690d41eefd04d3787bf759025870932e10953daded7",
    "model": "103c0f95af2c18866425a1c118117e94489c7b1145014cacb142e3726797d585",
    "dataclass": "692ec2a77efd718cebe1b273a71110dbad0f57b88fd62c4f12e49a45e40da427",
    "package object": "d5c5e7b88e0f2ba2f90ced04f19cd78ac240715fe4e1985a0ccb3a5a28e68f6c",
    "notebook object": "0edb81464fc8bafceccf0a2f83d8b4eaf6c99124be7746552d183e59a00b92e9",
    "slotted": "3d1a14b25e3a670bae1fc68fea3bf1e89d9ee238163a0354185c47082faaacac",
    "open slots": "f57a7ed8b1410da2fe0d57bb7f59c1cc0d0326f4244a1c6369d76de5e1a5dd24",
    "package objects nested": "ae6519135eb3a03526e62d1b58b8694e3d22d8e7af0edca8f88b81de20df9d99",
    "code inside": "e4f93f07c5983f817820e7bc1f21378b657870d972d966b0beb1f8a3ca9277bf",
}


def test_digests_are_stable_and_each_kind_of_value_has_its_own():
    """A digest format change changes every cache key: deliberate only (update GOLDEN with the change)."""
    values = _golden_values()
    digests = {name: importgraph.value_digest(v, "lecturekit") for name, v in values.items()}
    assert digests == GOLDEN
    assert len(set(digests.values())) == len(digests)


# --- the static import graph of a package --------------------------------------------------------

PACKAGE = {
    "__init__.py": "_EXPORTS = {'Thing': 'pkg.things'}\n",
    "things.py": "X = 1\n",
    "b.py": "",
    "a.py": "from os import path\nfrom . import b\nfrom .sub import deep\nfrom .things import X\nimport os\n",
    "sub/__init__.py": "from . import other\nfrom .. import b\n",
    "sub/deep.py": "from ..things import X\nfrom . import other\n",
    "sub/other.py": "",
    "lazy.py": "from pkg import b, Thing\n",
    "chain.py": (
        "import os\nimport pkg as p\nimport pkg.sub\n\n"
        "def f():\n    return os.path.sep, p.Thing, pkg.sub.deep.g, p.b.h\n"
    ),
    "named.py": "from pkg import sub\n\ndef f():\n    return sub.deep.g\n",
    "bare.py": "import pkg\n\nprint(pkg)\n",
    "store.py": "import pkg.b as mod\nimport pkg.things\nimport pkg.sub as s\n\nmod = 1\ns = 2\n",
}


@pytest.fixture
def package(tmp_path):
    for name, text in PACKAGE.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    return importgraph.Library(tmp_path, "pkg")


def test_the_modules_files_and_packages_of_a_library(package, tmp_path):
    names = {"pkg", "pkg.things", "pkg.b", "pkg.a", "pkg.sub", "pkg.sub.deep", "pkg.sub.other", "pkg.lazy"}
    assert package.all_modules() == names | {"pkg.chain", "pkg.bare", "pkg.store", "pkg.named"}
    assert package.file("pkg") == tmp_path / "pkg" / "__init__.py"
    assert package.file("pkg.sub.deep") == tmp_path / "pkg" / "sub" / "deep.py"
    assert package.file("pkg.nothing") is None and package.file("other") is None and package.file("pkgx") is None
    assert [package.is_package(m) for m in ("pkg", "pkg.sub", "pkg.a", "pkg.nothing", "os")] == [
        True,
        True,
        False,
        False,
        False,
    ]
    assert package.with_parents("pkg.sub.deep") == {"pkg", "pkg.sub", "pkg.sub.deep"}
    assert package.with_parents("pkg.sub.nothing") == {"pkg", "pkg.sub"}
    assert package.exports("pkg") == {"Thing": "pkg.things"}
    assert package.exports("pkg.b") == {} and package.exports("elsewhere") == {}


def test_imports_relative_absolute_lazy_and_through_attribute_chains(package):
    assert package.imports_of("pkg.a") == {"pkg", "pkg.b", "pkg.sub", "pkg.sub.deep", "pkg.things"}
    assert package.imports_of("pkg.sub") == {"pkg", "pkg.sub", "pkg.sub.other", "pkg.b"}
    assert package.imports_of("pkg.sub.deep") == {"pkg", "pkg.things", "pkg.sub", "pkg.sub.other"}
    assert package.imports_of("pkg.lazy") == {"pkg", "pkg.things", "pkg.b"}  # a re-export counts as its module
    assert package.imports_of("pkg.chain") == {"pkg", "pkg.things", "pkg.sub", "pkg.sub.deep", "pkg.b"}
    assert package.imports_of("pkg.bare") == package.all_modules()  # the package used whole: everything
    assert package.imports_of("pkg.store") == {
        "pkg",
        "pkg.b",
        "pkg.things",
        "pkg.sub",
    }  # assigning to an alias is no use
    assert package.imports_of("pkg.named") == {"pkg", "pkg.sub", "pkg.sub.deep"}
    assert package.imports_of("pkg.nothing") == frozenset()
    assert package.closure({"pkg.a"}) == {
        "pkg",
        "pkg.a",
        "pkg.b",
        "pkg.sub",
        "pkg.sub.deep",
        "pkg.sub.other",
        "pkg.things",
    }
    assert package.closure({"pkg.b", "pkg.things"}) == {"pkg.b", "pkg.things"}  # they import nothing
    assert package.circles() == []
    # without the module it is in, a relative import cannot be resolved (and is not guessed)
    assert package.direct_imports("from . import b\nfrom .things import X\n", "<cell>") == set()


def test_parse_blanks_magics_keeps_line_numbers_and_names_where_it_failed():
    tree = importgraph.parse("%matplotlib inline\n  !pip list\nimport os\n", "cell 1")
    assert [type(n).__name__ for n in tree.body] == ["Import"] and tree.body[0].lineno == 3
    with pytest.raises(ValueError, match=r"^chapter\.md, cell 4: cannot parse code to find its imports: .*line 3"):
        importgraph.parse("%time\n\nx = (\n", "chapter.md, cell 4")
    assert importgraph.parse("y = 100 % 7\n", "c").body[0].value.op.__class__.__name__ == "Mod"
    # The same text is parsed once (a key reads the same modules many times); a failure is not
    # remembered: each caller's error names its own place.
    source = "import os\nimport lecturekit.data\n"
    assert importgraph.parse(source, "a") is importgraph.parse(source, "b")
    assert importgraph.parse(source + "x = 1\n", "a") is not importgraph.parse(source, "a")
    with pytest.raises(ValueError, match=r"^chapter\.md, cell 5: "):
        importgraph.parse("%time\n\nx = (\n", "chapter.md, cell 5")


def test_file_digest_is_the_sha256_of_the_bytes(tmp_path):
    import hashlib

    (tmp_path / "f").write_bytes(b"abc")
    assert importgraph.file_digest(tmp_path / "f") == hashlib.sha256(b"abc").hexdigest()


# --- reach: every kind of object it is given, and what it must not drop ------------------------


def test_reach_takes_one_object_or_several_and_drops_none_of_them():
    import functools

    ns = _notebook(
        "class C:\n    def m(self):\n        return 1\n\n"
        "def f(x):\n    return x\n\ndef g():\n    return 2\n\ndef h():\n    return 3\n"
    )
    assert set(reach_of(ns["g"])) == {"source:g"}
    assert set(reach_of((ns["g"], ns["h"]))) == {"source:g", "source:h"}
    # each special kind last in the list (reach takes it first): what follows it is still reached
    assert {"source:g", "source:C.m", "source:C"} <= set(reach_of([ns["g"], ns["C"]().m]))
    assert {"source:g", "source:f", "source:C"} <= set(reach_of([ns["g"], functools.partial(ns["f"], ns["C"]())]))
    assert {"source:g", "source:f", "source:C"} <= set(reach_of([ns["g"], functools.partial(ns["f"], x=ns["C"]())]))
    assert set(reach_of([ns["g"], torch.nn.functional])) == {"source:g"}  # another package's module
    assert set(reach_of([ns["g"], torch.nn.functional.relu])) == {"source:g"}  # another package's function
    assert set(reach_of([ns["g"], 5])) == {"source:g"}  # a builtin value given directly: no code
    reached = reach_of([ns["g"], data])
    assert {"source:g", "module:lecturekit.data", "module:lecturekit.profile"} <= set(reached)
    for label, digest in reached.items():
        if label.startswith("module:"):
            assert digest == importgraph.file_digest(LIBRARY.file(label.split(":", 1)[1]))


def test_reach_counts_code_defined_in_a_spawned_processes_main_as_notebook_code():
    ns = _notebook("def f():\n    return 1\n")
    ns["f"].__module__ = "__mp_main__"
    assert set(reach_of(ns["f"])) == {"source:f"}


def test_library_code_counts_by_its_modules_and_what_its_closures_capture():
    from lecturekit import training

    assert set(reach_of(data.split)) == {f"module:{m}" for m in LIBRARY.closure({"lecturekit.data"})}
    inner = _notebook("class Net:\n    pass\n")["Net"]
    with_model = reach_of(training._fitter(inner(), training.TrainConfig("supervised", 1), "n"))
    assert "source:Net" in with_model


def test_class_level_data_counts_by_content_and_python_bookkeeping_does_not():
    ns = _notebook(
        "import abc\n\ndef helper():\n    return 1\n\n"
        "class Net(abc.ABC):\n    __slots__ = ('w',)\n    DIM = 4\n    TABLE = {'h': helper}\n"
        "    shortcut = staticmethod(helper)\n\n    def run(self):\n        return self.DIM\n"
    )
    reached = reach_of(ns["Net"])
    assert {k for k in reached if k.startswith("value:")} == {"value:Net.DIM", "value:Net.TABLE"}
    assert "source:helper" in reached  # held in a class-level dict and as a static method
    assert all(isinstance(v, str) and len(v) == 64 for v in reached.values())
    ns["Net"].LOCK = __import__("threading").Lock()
    with pytest.raises(importgraph.Unhashable, match=r"^Net reads 'LOCK', a _thread\.lock"):
        reach_of(ns["Net"])


def test_code_held_in_data_is_followed_however_it_is_held():
    ns = _notebook(
        "import dataclasses\n\ndef act1():\n    return 1\n\ndef act2():\n    return 2\n\n"
        "def act3():\n    return 3\n\ndef act4():\n    return 4\n\n"
        "@dataclasses.dataclass\nclass Variant:\n    fn: object\n    n: int = 1\n\n"
        "def fit():\n    return variant, nested, items, bag\n"
    )
    ns["variant"] = ns["Variant"](ns["act1"])
    ns["nested"] = [[[[[[[ns["act2"]]]]]]]]  # seven lists deep
    ns["items"] = {"k": (ns["act3"],)}
    ns["bag"] = {ns["act4"]}
    reached = reach_of(ns["fit"])
    assert {"source:act1", "source:act2", "source:act3", "source:act4", "source:Variant"} <= set(reached)
    ns["nested"] = [[[[[[[[ns["act2"]]]]]]]]]  # eight: deeper than a key is read
    with pytest.raises(importgraph.Unhashable, match="nested too deep"):
        reach_of(ns["fit"])


def test_properties_and_class_methods_of_notebook_classes_are_their_source():
    code = (
        "class Box:\n    def first(self):\n        return 0\n\n"
        "    @property\n    def size(self):\n        return {a}\n\n    @size.setter\n"
        "    def size(self, v):\n        self.v = v * {b}\n\n"
        "    @size.deleter\n    def size(self):\n        self.v = {c}\n\n"
        "    @classmethod\n    def make(cls):\n        return cls() if {d} else None\n"
    )
    base = reach_of(_notebook(code.format(a=1, b=1, c=1, d=1))["Box"])
    for change in ({"a": 2}, {"b": 2}, {"c": 2}, {"d": 2}):
        other = {"a": 1, "b": 1, "c": 1, "d": 1, **change}
        assert reach_of(_notebook(code.format(**other))["Box"]) != base, change
    box = _notebook(code.format(a=1, b=1, c=1, d=1))["Box"]
    names = [name for name, _ in importgraph._methods(box)]
    assert names == ["first", "size.get", "size.set", "size.del", "make"]


def test_captured_values_are_named_in_errors_by_their_variable():
    make = _notebook(
        "def make(lock, unused=None):\n    later = None\n\n"
        "    def fit(step=2, *, scale=lock):\n        return lock, later, step, scale\n"
        "    later = 1\n    return fit\n"
    )["make"]
    fit = make(__import__("threading").Lock())
    assert importgraph._captured_names(fit) == ["later", "lock", "step", "scale"]
    with pytest.raises(importgraph.Unhashable, match=r"make\.<locals>\.fit reads 'lock'"):
        reach_of(fit)


def test_is_code_tells_code_from_data():
    ns = _notebook("class Call:\n    def __call__(self):\n        return 1\n")
    assert importgraph.is_code(len) and importgraph.is_code(torch.nn.functional.relu)
    assert not importgraph.is_code(ns["Call"]())  # a notebook's callable object holds data
    assert not importgraph.is_code(torch.nn.Linear(1, 1))  # a model: its weights are data
    assert not importgraph.is_code(3) and not importgraph.is_code("len")


def test_an_unfilled_closure_cell_is_left_out():
    fit = _notebook("def make():\n    def fit():\n        return later\n    return fit\n    later = 1\n")["make"]()
    assert importgraph._captured(fit) == [] and importgraph._captured_names(fit) == []
    assert set(reach_of(fit)) == {"source:make.<locals>.fit"}


# --- edges found by mutation testing (make mutation) --------------------------------------------


def _deepest(wrap, leaf, limit: int = 14) -> int:
    """The most times ``wrap`` can be applied around ``leaf`` with the value still hashable."""
    value, ok = leaf, -1
    for n in range(limit):
        try:
            importgraph.value_digest(value, "lecturekit")
        except importgraph.Unhashable as err:
            assert "nested too deep" in str(err)
            return ok
        ok, value = n, wrap(value)
    raise AssertionError("no depth limit")


def _object_array(v):
    import numpy as np

    out = np.empty(1, dtype=object)
    out[0] = v
    return out


def test_values_nest_eight_containers_deep_whatever_the_containers():
    """Eight containers around a value are read; a ninth is an error -- the same limit for every kind."""
    import numpy as np

    plain = _notebook("class Box:\n    def __init__(self, v):\n        self.v = v\n")["Box"]
    leaves = {"a number": 1, "a tensor": torch.zeros(1)}
    wraps = {
        "list": lambda v: [v],
        "tuple": lambda v: (v, 0),
        "frozenset": lambda v: frozenset({v}),
        "dict value": lambda v: {"k": v},
        "object array": _object_array,
        "dataclass": Setting,
        "notebook object": plain,
        "package object": _kit,
    }
    for leaf_name, leaf in leaves.items():
        for wrap_name, wrap in wraps.items():
            # a tensor is a level of its own, and so is the Setting's tuple of tags beside the value
            expected = 8 if leaf_name == "a number" and wrap_name != "dataclass" else 7
            assert _deepest(wrap, leaf) == expected, (wrap_name, leaf_name)
    for n, ok in ((7, True), (8, False)):  # a dict whose key is n tuples deep
        key: object = 1
        for _ in range(n):
            key = (key,)
        if ok:
            importgraph.value_digest({key: 0})
        else:
            with pytest.raises(importgraph.Unhashable, match="nested too deep"):
                importgraph.value_digest({key: 0})
    assert _deepest(lambda v: [v], np.random.default_rng(0)) == 5  # its state: a dict of a dict
    assert _deepest(lambda v: [v], random_state()) == 4  # a dict holding a dict holding an array
    assert _deepest(lambda v: [v], torch.Generator()) == 6  # its state: a tensor
    assert _deepest(lambda v: [v], torch.nn.Linear(1, 1)) == 5  # its state dict: a dict of tensors


def random_state():
    import numpy as np

    return np.random.RandomState(0)


def test_library_objects_are_data_only_for_their_package():
    kit = _kit(1)
    assert importgraph.value_digest(kit, "lecturekit") != importgraph.value_digest(_kit(2), "lecturekit")
    assert not importgraph.is_code(kit, "lecturekit") and importgraph.is_code(kit)  # callable: code to others
    top = type("Top", (), {"__module__": "lecturekit"})()
    assert isinstance(importgraph.value_digest(top, "lecturekit"), str)
    for other in (type("X", (), {"__module__": "lecturekitx"})(), type("Y", (), {"__module__": "other.lecturekit"})()):
        with pytest.raises(importgraph.Unhashable):
            importgraph.value_digest(other, "lecturekit")
    spawned = type("S", (), {"__module__": "__mp_main__"})()
    spawned.w = 1
    assert isinstance(importgraph.value_digest(spawned), str)
    ns = _notebook("def fit():\n    return kit()\n", kit=kit)
    assert "value:fit.kit" in reach_of(ns["fit"])


def test_other_packages_objects_that_look_like_dtypes_or_frames_are_errors_not_guesses():
    import inspect

    import pandas as pd

    with pytest.raises(importgraph.Unhashable, match=r"^a inspect\.Parameter: not data"):
        importgraph.value_digest(inspect.Parameter("x", inspect.Parameter.POSITIONAL_ONLY))
    odd = _notebook("class Odd:\n    def __init__(self):\n        self.dtype = 'f4'\n        self.shape = (2,)\n")[
        "Odd"
    ]
    assert isinstance(importgraph.value_digest(odd()), str)  # a notebook object: by its attributes
    with pytest.raises(importgraph.Unhashable, match=r"^a pandas\.DataFrame whose cells cannot be hashed \("):
        importgraph.value_digest(pd.DataFrame({"x": [[1], [2]]}))
    assert importgraph.is_code(__import__("numpy").sin)  # a ufunc: another package's code


def test_code_in_data_is_named_the_same_in_every_process():
    import numpy as np

    a, b = np.vectorize(abs), np.vectorize(abs)
    assert importgraph.value_digest([a]) == importgraph.value_digest([b])  # not by its address
    assert importgraph.value_digest([torch.nn.functional]) != importgraph.value_digest([torch.nn.init])
    assert importgraph._code_name(torch.nn.functional) == "torch.nn.functional"
    assert importgraph._code_name(len) == "builtins.len"
    assert importgraph._code_name(a) == "numpy.vectorize"
    nameless = _notebook("def f():\n    return 1\n")["f"]
    nameless.__module__ = None
    assert importgraph._code_name(nameless) == ".f"


def test_a_broken_library_file_is_named(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "__init__.py").write_text("_EXPORTS = {\n")
    (tmp_path / "bad" / "mod.py").write_text("def (:\n")
    lib = importgraph.Library(tmp_path, "bad")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path / 'bad' / 'mod.py'))}: cannot parse"):
        lib.imports_of("bad.mod")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path / 'bad' / '__init__.py'))}: cannot parse"):
        lib.exports("bad")
    with pytest.raises(ValueError, match=r"^chapter\.md, cell 2: cannot parse"):
        LIBRARY.direct_imports("x = (", "chapter.md, cell 2")


def test_reach_does_not_drop_what_is_pending():
    from lecturekit import training

    g = _notebook("def g():\n    return 2\n")["g"]
    fit = training._fitter(torch.nn.Linear(1, 1), training.TrainConfig("supervised", 1), "n")
    assert "source:g" in reach_of([g, fit])  # a library closure taken first
    two = _notebook("def fit():\n    return (lambda: first)(), (lambda: second)()\n", first=1, second=2)["fit"]
    assert {"value:fit.first", "value:fit.second"} <= set(reach_of(two))  # sibling nested code objects
    ns = _notebook(
        "def helper():\n    return 1\n\nclass Base:\n    pass\n\n"
        "class Net(Base):\n    TABLE = {'h': helper}\n    scale = 2\n"
    )
    reached = reach_of(ns["Net"])
    assert {"source:Base", "source:helper", "value:Net.TABLE", "value:Net.scale"} <= set(reached)


def test_reach_reads_the_attribute_chains_of_every_method_with_source():
    ns = _notebook("import lecturekit as lk\n\ndef b(self):\n    return lk.transforms.rotate\n")
    nosource = {}
    exec(compile("def a(self):\n    return 1\n", "<no-source>", "exec"), nosource)
    cls = type("Net", (), {"__module__": "__main__", "a": nosource["a"], "b": ns["b"]})
    assert "module:lecturekit.transforms" in reach_of(cls)


def test_a_function_without_a_module_counts_as_notebook_code_and_compiled_code_has_no_addresses():
    bare: dict = {}
    exec(compile("def f():\n    return (lambda: 1)()\n", "<no-source>", "exec"), bare)
    again: dict = {}
    exec(compile("def f():\n    return (lambda: 1)()\n", "<no-source>", "exec"), again)
    assert bare["f"].__module__ is None or bare["f"].__module__ == "builtins"
    assert set(reach_of(bare["f"])) == {"source:f"}
    assert reach_of(bare["f"]) == reach_of(again["f"])  # the nested lambda by its content, not its address


def test_dataclass_fields_set_after_init_may_be_missing():
    ns = _notebook(
        "import dataclasses\n\ndef act():\n    return 1\n\n"
        "@dataclasses.dataclass\nclass V:\n    fn: object\n    later: int = dataclasses.field(init=False)\n\n"
        "def fit():\n    return v.fn()\n"
    )
    ns["v"] = ns["V"](ns["act"])
    assert "source:act" in reach_of(ns["fit"])


def test_library_objects_count_as_dict_keys_and_as_class_level_data():
    assert importgraph.value_digest({_kit(1): 0}, "lecturekit") != importgraph.value_digest({_kit(2): 0}, "lecturekit")
    ns = _notebook("class Net:\n    pass\n")
    ns["Net"].kit = _kit(1)
    assert "value:Net.kit" in reach_of(ns["Net"])


def test_import_graph_reading(tmp_path):
    """How bookbuild reads a chapter's imports: lazy re-exports, attribute chains, star imports."""
    lib_dir = tmp_path / "pkg"
    (lib_dir / "sub").mkdir(parents=True)
    (lib_dir / "__init__.py").write_text('_EXPORTS = {"helper": "pkg.a"}\n')
    (lib_dir / "a.py").write_text("from . import b\n")
    (lib_dir / "b.py").write_text("")
    (lib_dir / "c.py").write_text('_EXPORTS = {"Thing": "pkg.b"}\n')
    (lib_dir / "sub" / "__init__.py").write_text("")
    (lib_dir / "sub" / "d.py").write_text("from ..c import *\n")
    lib = importgraph.Library(tmp_path, "pkg")
    assert lib.closure(lib.direct_imports("import pkg as p\np.helper()", "t")) == {"pkg", "pkg.a", "pkg.b"}
    assert lib.closure(lib.direct_imports("import pkg as p\np.sub.d.f()", "t")) == {
        "pkg",
        "pkg.sub",
        "pkg.sub.d",
        "pkg.c",
    }
    assert lib.direct_imports("import numpy as np\nnp.zeros(1)", "t") == set()
    # A module's lazy re-exports resolve to the defining module, not to everything.
    assert lib.closure(lib.direct_imports("import pkg.c as c\nc.Thing()", "t")) == {"pkg", "pkg.c", "pkg.b"}
    assert lib.closure(lib.direct_imports("from pkg.c import Thing", "t")) == {"pkg", "pkg.c", "pkg.b"}
    # An alias used in a way that cannot be read statically: depend on everything.
    assert lib.direct_imports("import pkg as p\ngetattr(p, name)", "t") == lib.all_modules()
    with pytest.raises(ValueError, match="cannot parse"):
        lib.direct_imports("def (", "cell 3")
