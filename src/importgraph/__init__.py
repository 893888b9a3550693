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
import functools
import hashlib
import inspect
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Library", "file_digest", "parse", "reach", "value_digest"]


def parse(source: str, where: str) -> ast.Module:
    """Parse ``source`` (IPython magics blanked); a syntax error names ``where``."""
    # IPython magics and shell escapes are not Python; blank them, keep line numbers.
    cleaned = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        return ast.parse(cleaned)
    except SyntaxError as err:
        raise ValueError(f"{where}: cannot parse code to find its imports: {err}") from err


@dataclass
class Library:
    """The static import graph of one package under ``root`` (the folder that holds it)."""

    root: Path
    package: str
    _imports: dict[str, frozenset[str]] = field(default_factory=dict)

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
        """Names a module re-exports lazily: its ``_EXPORTS = {name: module}`` literal, if any."""
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
            code = obj.__code__
            return repr((code.co_code, code.co_consts, code.co_names))
        if isinstance(obj, type):
            return repr(sorted((k, _source(v)) for k, v in vars(obj).items() if isinstance(v, types.FunctionType)))
        raise


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
        functions = (
            [obj]
            if isinstance(obj, types.FunctionType)
            else [v for v in vars(obj).values() if isinstance(v, types.FunctionType)]
        )
        for fn in functions:
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
            for label, value in values:
                digest = value_digest(value, library.package)
                if digest is not None:
                    found[f"value:{fn.__qualname__}.{label}"] = digest
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


def value_digest(value: Any, package: str = "", depth: int = 6) -> str | None:
    """SHA-256 (hex) of a data value's content, or None for what is not data (code, handles, unknowns).

    Data: ``None``, numbers, strings and bytes; NumPy arrays and torch tensors (dtype, shape and
    bytes); tuples, lists, dicts and sets of data; dataclass instances and instances of ``package``'s
    classes (their attributes); objects with a ``state_dict`` (a model's weights). Functions, classes
    and modules are code (:func:`reach` follows them); anything else gives None. Deterministic: the
    same content gives the same digest in every process.

    >>> value_digest((1, "a")) == value_digest((1, "a")) != value_digest((1, "b"))
    True
    >>> value_digest(print) is None
    True
    """
    h = hashlib.sha256()
    try:
        return h.hexdigest() if _feed(h, value, package, depth) else None
    except Exception:  # noqa: BLE001 -- content that cannot be read (a sparse tensor...) is not data here
        return None


def _feed(h: Any, value: Any, package: str, depth: int) -> bool:
    """Add ``value``'s content to ``h``; False (nothing usable added) for what is not data."""
    kind = type(value)
    h.update(f"<{kind.__module__}.{kind.__qualname__}>".encode())
    if isinstance(value, _SCALARS):
        h.update(repr(value).encode())
        return True
    if depth <= 0 or isinstance(value, (types.FunctionType, types.ModuleType, type)):
        return False
    module = kind.__module__ or ""
    if module.startswith("torch") and hasattr(value, "detach") and hasattr(value, "shape"):
        import torch  # already imported: the value is a tensor

        t = value.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy() if t.numel() else b"")  # the bytes, not a copy
        return True
    if module.startswith("numpy") and hasattr(value, "tobytes") and hasattr(value, "dtype"):
        if value.dtype.kind == "O":  # an array of pointers
            return False
        h.update(f"{value.dtype.str}{getattr(value, 'shape', ())}".encode())
        h.update(value.tobytes())
        return True
    if isinstance(value, (tuple, list)):
        return all([_feed(h, v, package, depth - 1) for v in value]) or not value
    if isinstance(value, (set, frozenset)):
        parts = sorted(value_digest(v, package, depth - 1) or "" for v in value)
        h.update("".join(parts).encode())
        return all(parts) or not value
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: repr(kv[0]))
        return all([_feed(h, k, package, depth - 1) and _feed(h, v, package, depth - 1) for k, v in items]) or not value
    if callable(getattr(value, "state_dict", None)):
        return _feed(h, dict(value.state_dict()), package, depth - 1)
    is_dataclass = hasattr(kind, "__dataclass_fields__")
    if is_dataclass or (package and (module == package or module.startswith(package + "."))):
        fields = list(kind.__dataclass_fields__) if is_dataclass else sorted(getattr(value, "__dict__", {}))
        return all([_feed(h, getattr(value, f), package, depth - 1) for f in fields]) and bool(fields)
    return False


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
