"""Cached results and their keys: what took minutes to compute is computed once per key.

A chapter hands :func:`result` a name, a config and the function that computes the result
(training a model, scoring a representation); the result is saved on disk under a key that hashes
the config and everything the function runs and reads (:func:`key`), and later runs load it.
The key is derived from the code, never listed by hand: ``importgraph.reach`` follows the function
to the library modules it can run, to the source of notebook code it calls, and to the content of
the data that code reads (tensors, arrays, settings). Editing any of those, or the config, computes
anew; editing anything else does not.

The training loops behind the registry's encoders (:mod:`lecturekit.training`) cache their
weights here too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import torch

import importgraph
from lecturekit import profile as _profile
from lecturekit import progress

T = TypeVar("T")


@lru_cache(maxsize=1)
def _library() -> importgraph.Library:
    return importgraph.Library(Path(__file__).resolve().parents[1], "lecturekit")


def key(config: Any, compute: Any) -> str:
    """16 hex digits that change when the config, the code, the torch version or the thread count change.

    The code is derived, never listed: ``importgraph.reach`` follows ``compute`` (a function,
    lambda or closure; or any object whose code matters) to every ``lecturekit`` module it can run
    -- with their static import closure -- and, for code defined in a notebook cell, to the source
    of every function it calls and the content of the globals and captured values it reads.

    Args:
        config: anything with a deterministic ``repr`` (a frozen dataclass, a dict of settings).
        compute: what produces the cached result.

    >>> len(key({"seed": 0}, lambda: torch.zeros(2)))
    16
    """
    h = hashlib.sha256(repr(config).encode())
    h.update(torch.__version__.split("+")[0].encode())
    # CPU reductions split differently across threads, so weights trained with another thread
    # count differ in their last bits; such weights are kept apart rather than mixed.
    h.update(f"threads={torch.get_num_threads()}".encode())
    h.update(json.dumps(importgraph.reach(compute, _library()), sort_keys=True).encode())
    return h.hexdigest()[:16]


def file(name: str, config: Any, compute: Any) -> Path:
    """Where the result named ``name`` for ``config``, produced by ``compute``, is cached."""
    return _profile.cache_dir() / "weights" / f"{name}-{key(config, compute)}.pt"


def result(name: str, config: Any, compute: Callable[[], T]) -> T:
    """Return ``compute()``'s result, from the on-disk cache when it holds one for this key.

    The key (:func:`key`) covers ``config`` and the code ``compute`` runs, so a chapter passes its
    training function and never a list of files or a digest of its inputs. The result (tensors,
    state dicts, lists and dicts of them, numbers) is saved with ``torch.save`` under :func:`file`.
    A cache file that cannot be read (a run killed while writing, a foreign file) is reported and
    recomputed, never used; files are written to a temporary name and renamed, so a half-written
    file never takes the final name.

    >>> result("demo", ("demo", 1), lambda: {"x": torch.zeros(2)})["x"].shape
    torch.Size([2])
    """
    path = file(name, config, compute)
    cached = _load(path, name)
    if cached is not None:
        return cached
    # Chapters execute side by side: the first kernel that needs this result computes it while
    # any other one waits for it here, instead of computing the same thing twice.
    with _exclusive(path.with_name(path.name + ".lock")):
        cached = _load(path, name)
        if cached is not None:
            return cached
        progress.report(f"{name}: computing ({config}), result will be cached at {path}")
        computed = compute()
        with _profile.atomic_file(path) as tmp:
            torch.save(computed, tmp)
    return computed


def _load(path: Path, name: str) -> Any:
    """The cached result at ``path``, or None when there is none or it cannot be read."""
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- any unreadable cache file is recomputed, never used
        progress.report(f"{name}: cache file {path} unreadable ({err}); recomputing")
        return None


@contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on the file ``lock`` (created if needed) for the block.

    The lock is released when the block ends or the process dies; where the platform has no
    ``fcntl`` (Windows) the block runs unlocked, which costs at most a duplicate computation.
    """
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover -- not POSIX
        yield
        return
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
