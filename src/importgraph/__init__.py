"""The static import graph of a Python package, read with :mod:`ast` (no import is executed).

Shared by the book's build (which modules a chapter's code depends on) and by the library's
weight cache (which modules a training run depends on), so both derive their keys from code the
same way instead of keeping file lists by hand.

Recognised: ``import pkg``, ``from pkg.x import y``, relative imports, lazy re-exports declared as
an ``_EXPORTS = {name: module}`` literal, and attribute chains on an imported package
(``lk.metrics.pca.project`` depends on ``pkg.metrics.pca``). A package name used in a way that
cannot be resolved statically (passed to a function, ``getattr`` with a computed name) makes the
code depend on the whole package: conservative, never stale.
"""

from __future__ import annotations

import ast
import enum
import functools
import hashlib
import inspect
import numbers
import random
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

__all__ = ["Library", "Unhashable", "file_digest", "is_code", "parse", "reach", "value_digest"]


def parse(source: str, where: str) -> ast.Module:
    """Parse ``source`` (IPython magics blanked); a syntax error names ``where``.

    The tree is shared with every other caller that parses the same text (see :func:`_parse`):
    read it, do not modify it.
    """
    try:
        return _parse(source)
    except SyntaxError as err:
        raise ValueError(f"{where}: cannot parse code to find its imports: {err}") from err


@functools.lru_cache(maxsize=512)
def _parse(source: str) -> ast.Module:
    """The tree of ``source``, remembered for the rest of the process.

    A process that computes several keys (a chapter training a few models, a build planning every
    chapter, a test suite) reads the same modules again and again; parsing was most of the time a
    key took.
    """
    # IPython magics and shell escapes are not Python; blank them, keep line numbers.
    cleaned = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    return ast.parse(cleaned)


@dataclass
class Library:
    """The static import graph of one package under ``root`` (the folder that holds it)."""

    root: Path
    package: str
    _imports: dict[str, frozenset[str]] = field(default_factory=dict)
    _exports: dict[str, dict[str, str]] = field(default_factory=dict)

    def file(self, module: str) -> Path | None:
        """The source file of ``module`` if it is part of the package, else None."""
        if module != self.package and not module.startswith(self.package + "."):
            return None
        base = self.root.joinpath(*module.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def is_package(self, module: str) -> bool:
        """Whether ``module`` is a package (an ``__init__.py``) of this library."""
        f = self.file(module)
        return f is not None and f.name == "__init__.py"

    def all_modules(self) -> set[str]:
        """Every module of the package, by dotted name."""
        top = self.root / self.package
        mods = set()
        for f in top.rglob("*.py"):
            rel = f.relative_to(self.root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            mods.add(".".join(parts))
        return mods

    def exports(self, module: str) -> dict[str, str]:
        """Names a module re-exports lazily: its ``_EXPORTS = {name: module}`` literal, if any (memoized)."""
        if module not in self._exports:
            self._exports[module] = self._read_exports(module)
        return self._exports[module]

    def _read_exports(self, module: str) -> dict[str, str]:
        f = self.file(module)
        if f is None:
            return {}
        for node in parse(f.read_text(), str(f)).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets
            ):
                return dict(ast.literal_eval(node.value))
        return {}

    def with_parents(self, module: str) -> set[str]:
        """A module and the packages Python executes to import it."""
        parts = module.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts) + 1) if self.file(".".join(parts[:i]))}

    def direct_imports(self, source: str, where: str, current: str | None = None) -> set[str]:
        """Library modules that ``source`` imports (``current``: its own module, for relative imports)."""
        tree = parse(source, where)
        found: set[str] = set()
        aliases: dict[str, str] = {}  # local name -> library module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if self.file(a.name):
                        found |= self.with_parents(a.name)
                        aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level and current:
                    pkg = current.split(".") if self.is_package(current) else current.split(".")[:-1]
                    pkg = pkg[: len(pkg) - (node.level - 1)]
                    base = ".".join(pkg + ([base] if base else []))
                if not self.file(base):
                    continue
                found |= self.with_parents(base)
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if self.file(sub):
                        found |= self.with_parents(sub)
                        aliases[a.asname or a.name] = sub
                    elif a.name in self.exports(base):
                        found |= self.with_parents(self.exports(base)[a.name])
        found |= self.attribute_uses(tree, aliases)
        return found

    def attribute_uses(self, tree: ast.Module, aliases: dict[str, str]) -> set[str]:
        """Modules reached by attribute chains on ``aliases`` (local name -> package module) in ``tree``."""
        found: set[str] = set()
        if not aliases:
            return found
        resolved_names: set[int] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            chain, inner = [], node
            while isinstance(inner, ast.Attribute):
                chain.append(inner.attr)
                inner = inner.value
            if not (isinstance(inner, ast.Name) and inner.id in aliases):
                continue
            resolved_names.add(id(inner))
            module = aliases[inner.id]
            for attr in reversed(chain):
                if self.file(f"{module}.{attr}"):
                    module = f"{module}.{attr}"
                    continue
                target = self.exports(module).get(attr)
                if target:
                    module = target
                break
            found |= self.with_parents(module)
        # A bare use of an alias (not the base of an attribute, not its own import): unresolvable.
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in aliases and id(node) not in resolved_names:
                if isinstance(node.ctx, ast.Load) and self.is_package(aliases[node.id]):
                    return self.all_modules()
        return found

    def imports_of(self, module: str) -> frozenset[str]:
        """The package modules ``module`` imports directly (memoized)."""
        if module not in self._imports:
            f = self.file(module)
            self._imports[module] = frozenset(self.direct_imports(f.read_text(), str(f), module)) if f else frozenset()
        return self._imports[module]

    def circles(self) -> list[list[str]]:
        """The import circles of the package: each set of modules that import one another, sorted.

        An import inside a function counts (it still runs, and still ties the modules together); a
        module's import of the packages above it does not (Python runs those first, whatever the code).

        >>> Library(Path(__file__).parents[1], "importgraph").circles()
        []
        """
        found: set[frozenset[str]] = set()
        for module in sorted(self.all_modules()):
            above = self.with_parents(module) - {module}
            reached = self.closure(set(self.imports_of(module) - above - {module}))
            if module in reached:  # the modules on a way back to ``module``
                found.add(frozenset(m for m in reached if module in self.closure(set(self.imports_of(m)) - {m})))
        return sorted(sorted(circle) for circle in found)

    def closure(self, modules: set[str]) -> set[str]:
        """Modules reachable from ``modules`` through the import graph (including them)."""
        seen, todo = set(), list(modules)
        while todo:
            m = todo.pop()
            if m in seen:
                continue
            seen.add(m)
            todo.extend(self.imports_of(m) - seen)
        return seen


def file_digest(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source(obj: Any) -> str:
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):
        # No source on disk (a class defined in a notebook cell): hash what Python compiled.
        if isinstance(obj, types.FunctionType):
            return _compiled(obj.__code__)
        if isinstance(obj, type):
            return repr(sorted((name, _source(fn)) for name, fn in _methods(obj)))
        raise


def _compiled(code: types.CodeType) -> str:
    """What Python compiled, nested code objects (lambdas, comprehensions) included, without addresses."""
    consts = tuple(_compiled(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return repr((code.co_code, consts, code.co_names))


def reach(objects: Any, library: Library) -> dict[str, str]:
    """What running ``objects`` depends on, as ``{label: sha256}``; the basis of code-derived cache keys.

    ``objects`` is one object or a sequence of them: functions (lambdas and closures included),
    classes, modules or instances. Whatever belongs to ``library``'s package counts as its module
    plus that module's static import closure (``"module:<name>"``). A function or class defined
    outside any installed module -- in a notebook cell -- counts as its own source
    (``"source:<qualified name>"``), and so does everything it reaches in turn: the globals it
    names, its closure cells and default values, and the package modules its attribute chains
    touch (``lk.transforms.rotate`` on an alias bound to the package). Objects from other installed
    packages are left out (their versions belong in the key separately).

    >>> lib = Library(Path(__file__).parents[1], "importgraph")
    >>> sorted(reach(file_digest, lib))
    ['module:importgraph']
    """
    found: dict[str, str] = {}
    modules: set[str] = set()
    seen: set[int] = set()
    todo = list(objects) if isinstance(objects, (list, tuple)) else [objects]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, types.ModuleType):
            if library.file(obj.__name__):
                modules.add(obj.__name__)
            continue
        if isinstance(obj, types.MethodType):
            todo += [obj.__func__, obj.__self__]
            continue
        if isinstance(obj, functools.partial):
            todo += [obj.func, *obj.args, *obj.keywords.values()]
            continue
        if not isinstance(obj, (types.FunctionType, type)):
            if isinstance(type(obj).__module__, str) and type(obj).__module__ not in ("builtins",):
                todo.append(type(obj))
            continue
        module = getattr(obj, "__module__", None) or ""
        if library.file(module):
            modules.add(module)
            if isinstance(obj, types.FunctionType):  # what a closure captured (a model, a config)
                todo += _captured(obj)
            continue
        if module and module not in ("__main__", "__mp_main__"):
            continue  # an installed package other than the library
        source = _source(obj)
        found[f"source:{obj.__qualname__}"] = hashlib.sha256(source.encode()).hexdigest()
        if isinstance(obj, type):
            todo += obj.__bases__  # a base class defined in the notebook is code this class runs
            for name, value in sorted(vars(obj).items()):  # class-level data (``DIM = 64``)
                if name.startswith("__") or name == "_abc_impl" or isinstance(value, _DESCRIPTORS):
                    continue  # Python's bookkeeping, and the slots' descriptors (the instances hold their data)
                if not is_code(value, library.package):
                    found[f"value:{obj.__qualname__}.{name}"] = _digest_of(obj.__qualname__, name, value, library)
                    todo += _code_inside(value)
        for fn in _functions(obj):
            names: set[str] = set()
            codes = [fn.__code__]
            while codes:
                code = codes.pop()
                names.update(code.co_names)
                codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
            named = {n: fn.__globals__[n] for n in sorted(names) if n in fn.__globals__}
            captured = _captured(fn)
            todo += [*named.values(), *captured]
            # The data notebook code reads counts by content: a changed global tensor, split or
            # setting gives another key, even though no source changed.
            values = [*named.items(), *((f"<captured {i}>", v) for i, v in enumerate(captured))]
            shown = [*named, *_captured_names(fn)]
            for (label, value), what in zip(values, shown, strict=True):
                digest = _digest_of(fn.__qualname__, what, value, library)
                if digest is not None:
                    found[f"value:{fn.__qualname__}.{label}"] = digest
                todo += _code_inside(value)
            aliases = {
                n: v.__name__
                for n, v in fn.__globals__.items()
                if isinstance(v, types.ModuleType) and library.file(v.__name__)
            }
            try:
                tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
            except (OSError, TypeError, SyntaxError):
                continue
            modules |= library.attribute_uses(tree, aliases)
    for m in library.closure(modules):
        found[f"module:{m}"] = file_digest(library.file(m))
    return dict(sorted(found.items()))


_SCALARS = (type(None), bool, int, float, complex, str, bytes)
# Plain callables: code, not data. ``reach`` follows those it can read; an installed package's
# callables are that package's code, which its version in the key stands for.
_CODE = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
    functools.partial,
    type,
    staticmethod,
    classmethod,
    property,
)


_DESCRIPTORS = (types.MemberDescriptorType, types.GetSetDescriptorType)


class Unhashable(TypeError):
    """A value that is neither code nor data whose content :func:`value_digest` can read."""


def is_code(value: Any, package: str = "") -> bool:
    """Whether ``value`` is code: a function, class, module, method, or another package's callable.

    A callable with a state dict (a model), or an instance of ``package``'s or a notebook's
    classes, is data.

    >>> is_code(len), is_code(Path), is_code([len])
    (True, True, False)
    """
    if isinstance(value, _CODE):
        return True
    return callable(value) and not callable(getattr(value, "state_dict", None)) and not _own_class(type(value), package)


def value_digest(value: Any, package: str = "", depth: int = 8) -> str | None:
    """SHA-256 (hex) of a data value's content; None for code (:func:`is_code`, which :func:`reach` follows).

    Data, each by its content (the same content gives the same digest in every process):

    - ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``; any other number
      (``Fraction``, ``Decimal``), ``Enum`` member, ``range`` and ``slice`` by its ``repr``;
    - NumPy arrays and scalars and torch tensors: dtype, shape and bytes; NumPy and torch dtypes
      and torch devices by their name;
    - tuples, lists, dicts and sets of data (code inside them counts by its qualified name; reach
      follows it);
    - pandas ``DataFrame``, ``Series`` and ``Index``: values, index, column names and dtypes;
    - random generators (``numpy.random.Generator``/``RandomState``, ``torch.Generator``,
      ``random.Random``): their state, so the next numbers they draw are in the key;
    - objects with a ``state_dict`` (a model's weights and buffers);
    - dataclass instances, and instances of classes defined in ``package`` or in a notebook
      (``__main__``): their attributes;
    - a ``pathlib`` path by its string, **not** the file's content: code that reads a file passes
      what it read, or a digest of it, or declares the file as data of the build.

    Anything else (a generator, an open file, a lock, another package's object without a state
    dict) raises :class:`Unhashable`: leaving it out of a key would let the key miss a change.

    >>> value_digest((1, "a")) == value_digest((1, "a")) != value_digest((1, "b"))
    True
    >>> value_digest(print) is None
    True
    >>> value_digest(x for x in "ab")
    Traceback (most recent call last):
    importgraph.Unhashable: a builtins.generator: not data whose content can be hashed
    """
    if is_code(value, package):
        return None
    h = hashlib.sha256()
    _feed(h, value, package, depth)
    return h.hexdigest()


def _code_name(value: Any) -> str:
    """A name for code held in data that is the same on every machine and in every process."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(getattr(value, "__qualname__", None), str):
        return f"{getattr(value, '__module__', None) or ''}.{value.__qualname__}"
    return f"{type(value).__module__}.{type(value).__qualname__}"  # a callable object: its class


def _own_class(kind: type, package: str) -> bool:
    """Whether ``kind`` is defined in ``package`` or in a notebook (its instances count by their attributes)."""
    module = getattr(kind, "__module__", None) or ""
    return module in ("__main__", "__mp_main__") or bool(
        package and (module == package or module.startswith(f"{package}."))
    )


def _feed(h: Any, value: Any, package: str, depth: int) -> None:
    """Add ``value``'s content to ``h``; raise :class:`Unhashable` for what has none that can be read."""
    kind = type(value)
    name = f"{kind.__module__}.{kind.__qualname__}"
    h.update(f"<{name}>".encode())
    if isinstance(value, _SCALARS):
        h.update(repr(value).encode())
        return
    if depth <= 0:
        raise Unhashable(f"a {name} nested too deep to hash (a structure that contains itself?)")
    if is_code(value, package):  # inside a container: by its name (reach follows it)
        h.update(_code_name(value).encode())
        return
    module = kind.__module__ or ""
    if module.startswith("torch") and hasattr(value, "detach") and hasattr(value, "shape"):
        import torch  # already imported: the value is a tensor

        if value.layout != torch.strided:
            raise Unhashable(f"a {value.layout} tensor: pass it dense (``.to_dense()``)")
        t = value.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy() if t.numel() else b"")  # the bytes, not a copy
        return
    if module.startswith("numpy") and hasattr(value, "tobytes") and hasattr(value, "dtype"):
        if value.dtype.kind == "O":  # an array of pointers: its elements are the content
            h.update(f"{getattr(value, 'shape', ())}".encode())
            for v in value.ravel() if hasattr(value, "ravel") else [value.item()]:
                _feed(h, v, package, depth - 1)
            return
        h.update(f"{value.dtype.str}{getattr(value, 'shape', ())}".encode())
        h.update(value.tobytes())
        return
    if isinstance(value, (tuple, list)):
        h.update(f"{len(value)}".encode())
        for v in value:
            _feed(h, v, package, depth - 1)
        return
    if isinstance(value, (set, frozenset)):
        parts = []
        for v in value:
            one = hashlib.sha256()
            _feed(one, v, package, depth - 1)
            parts.append(one.hexdigest())
        h.update("".join(sorted(parts)).encode())
        return
    if isinstance(value, dict):
        h.update(f"{len(value)}".encode())
        for k, v in sorted(value.items(), key=lambda kv: repr(kv[0])):
            _feed(h, k, package, depth - 1)
            _feed(h, v, package, depth - 1)
        return
    if isinstance(value, PurePath):
        h.update(str(value).encode())
        return
    numpy_dtype = module.startswith("numpy") and hasattr(value, "itemsize") and hasattr(value, "kind")
    if isinstance(value, (numbers.Number, enum.Enum, range, slice)) or name in _BY_NAME or numpy_dtype:
        h.update(repr(value).encode())
        return
    if module.startswith("pandas") and hasattr(value, "dtypes" if hasattr(value, "columns") else "dtype"):
        import pandas as pd  # already imported: the value is a pandas object

        frame = value.to_frame() if isinstance(value, (pd.Series, pd.Index)) else value
        h.update(repr([list(map(str, frame.columns)), list(map(str, frame.dtypes))]).encode())
        try:
            h.update(pd.util.hash_pandas_object(frame, index=not isinstance(value, pd.Index)).to_numpy().tobytes())
        except TypeError as err:  # cells pandas cannot hash (lists, dicts)
            raise Unhashable(f"a {name} whose cells cannot be hashed ({err})") from None
        return
    state = _generator_state(value)
    if state is not None:
        _feed(h, state, package, depth - 1)
        return
    if callable(getattr(value, "state_dict", None)):
        _feed(h, dict(value.state_dict()), package, depth - 1)
        return
    if hasattr(kind, "__dataclass_fields__") or _own_class(kind, package):
        fields = (
            list(kind.__dataclass_fields__)
            if hasattr(kind, "__dataclass_fields__")
            else sorted({*getattr(value, "__dict__", {}), *_slots(kind)})
        )
        for f in fields:
            if hasattr(value, f):
                h.update(f.encode())
                _feed(h, getattr(value, f), package, depth - 1)
        return
    raise Unhashable(f"a {name}: not data whose content can be hashed")


# Values that are their name: ``torch.float32``, ``torch.device("cpu")`` (NumPy's dtypes are recognised above).
_BY_NAME = {"torch.dtype", "torch.device"}


def _generator_state(value: Any) -> Any:
    """The state of a random generator (what it will draw next), or None for anything else."""
    module = type(value).__module__ or ""
    if module.startswith("numpy.random") and hasattr(value, "bit_generator"):
        return value.bit_generator.state
    if module.startswith("numpy.random") and hasattr(value, "get_state"):
        return value.get_state(legacy=False)
    if module.startswith("torch") and type(value).__name__ == "Generator":
        return value.get_state()
    if isinstance(value, random.Random):
        return value.getstate()
    return None


def _slots(kind: type) -> list[str]:
    """The ``__slots__`` names of ``kind`` and its bases."""
    names: list[str] = []
    for k in kind.__mro__:
        slots = k.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    return [n for n in names if n not in ("__dict__", "__weakref__")]


def _digest_of(owner: str, name: str, value: Any, library: Library) -> str | None:
    """:func:`value_digest` of what ``owner`` reads under ``name``; an error that names both if it cannot be hashed."""
    try:
        return value_digest(value, library.package)
    except Unhashable as err:
        raise Unhashable(
            f"{owner} reads {name!r}, {err}. A key that left it out would miss its changes: pass what "
            f"matters about it in `config` (numbers, strings, tuples, arrays), or create it inside {owner}"
        ) from None


def _functions(obj: Any) -> list[types.FunctionType]:
    """The functions a function or class is made of: itself, or its own methods and accessors."""
    if isinstance(obj, types.FunctionType):
        return [obj]
    return [fn for _, fn in _methods(obj)]


def _methods(cls: type) -> list[tuple[str, types.FunctionType]]:
    """``(name, function)`` of a class's own methods, static and class methods and property accessors."""
    out = []
    for name, v in vars(cls).items():
        if isinstance(v, (staticmethod, classmethod)):
            v = v.__func__
        if isinstance(v, property):
            accessors = (("get", v.fget), ("set", v.fset), ("del", v.fdel))
            out += [(f"{name}.{a}", f) for a, f in accessors if isinstance(f, types.FunctionType)]
        elif isinstance(v, types.FunctionType):
            out.append((name, v))
    return out


def _code_inside(value: Any, depth: int = 8) -> list[Any]:
    """Functions and classes held in a container of data (a dict of activations, a list of models' classes)."""
    if depth <= 0:
        return []
    if isinstance(value, (types.FunctionType, type, functools.partial, types.MethodType)):
        return [value]
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, (tuple, list, set, frozenset)):
        items = list(value)
    elif hasattr(type(value), "__dataclass_fields__"):
        items = [getattr(value, f, None) for f in type(value).__dataclass_fields__]
    else:
        return []
    return [code for item in items for code in _code_inside(item, depth - 1)]


def _captured_names(fn: types.FunctionType) -> list[str]:
    """Names of what :func:`_captured` returns, in its order, for messages."""
    code = fn.__code__
    cells = [name for name, cell in zip(code.co_freevars, fn.__closure__ or (), strict=False) if _filled(cell)]
    positional = code.co_varnames[: code.co_argcount][
        len(code.co_varnames[: code.co_argcount]) - len(fn.__defaults__ or ()) :
    ]
    return cells + list(positional) + list(fn.__kwdefaults__ or {})


def _captured(fn: types.FunctionType) -> list[Any]:
    """A function's closure cells and default values."""
    cells = [cell.cell_contents for cell in (fn.__closure__ or ()) if _filled(cell)]
    return cells + list(fn.__defaults__ or ()) + list((fn.__kwdefaults__ or {}).values())


def _filled(cell: types.CellType) -> bool:
    try:
        _ = cell.cell_contents  # raises ValueError for an empty cell
    except ValueError:
        return False
    return True
