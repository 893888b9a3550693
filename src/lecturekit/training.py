"""The training loops behind the trained ``lite`` encoders, and their on-disk weight cache.

Chapters that *teach* a training loop write it out themselves; these loops only produce the
encoders that the registry serves (:mod:`lecturekit.encoders`). Each run is deterministic
for a given config (own generator, forked global RNG) and its weights are cached under a key
that hashes the config and the code the run executes, derived from the import graph
(:func:`cache_key`), so editing the training code, the architecture, the data pipeline, the
config or the seed trains anew, and nothing else does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.nn as nn
import torch.nn.functional as F

import importgraph
from lecturekit import data, losses, progress, transforms
from lecturekit import profile as _profile

T = TypeVar("T")


@dataclass(frozen=True)
class TrainConfig:
    """What a training run depends on.

    Attributes:
        method: ``"supervised"`` (cross-entropy on the labels) or ``"simclr"`` (InfoNCE between
            two augmented views, no labels).
        epochs: passes over the training split.
        batch_size: images per step.
        lr: peak learning rate of AdamW under a one-cycle schedule (warm-up over the first 20 %
            of the steps, then cosine decay), which trains a small CNN in a few epochs.
        weight_decay: AdamW's decoupled weight decay.
        temperature: InfoNCE temperature (simclr only).
        max_angle: largest rotation of the augmentations, in degrees (simclr only).
        seed: seeds the heads, shuffling and augmentations (the backbone arrives initialised).
    """

    method: str
    epochs: int
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.0
    temperature: float = 0.2
    max_angle: float = 20.0
    seed: int = 0


@lru_cache(maxsize=1)
def _library() -> importgraph.Library:
    return importgraph.Library(Path(__file__).resolve().parents[1], "lecturekit")


def cache_key(config: Any, compute: Any) -> str:
    """16 hex digits that change when the config, the code, the torch version or the thread count change.

    The code is derived, never listed: ``importgraph.reach`` follows ``compute`` (a function,
    lambda or closure; or any object whose code matters) to every ``lecturekit`` module it can run
    -- with their static import closure -- and, for code defined in a notebook cell, to the source
    of every function it calls. Editing any of those changes the key; editing anything else does not.

    Args:
        config: anything with a deterministic ``repr`` (a frozen dataclass).
        compute: what produces the cached result.

    >>> len(cache_key(TrainConfig("simclr", epochs=1), train))
    16
    """
    h = hashlib.sha256(repr(config).encode())
    h.update(torch.__version__.split("+")[0].encode())
    # CPU reductions split differently across threads, so weights trained with another thread
    # count differ in their last bits; such weights are kept apart rather than mixed.
    h.update(f"threads={torch.get_num_threads()}".encode())
    h.update(json.dumps(importgraph.reach(compute, _library()), sort_keys=True).encode())
    return h.hexdigest()[:16]


def weights_path(name: str, config: Any, compute: Any) -> Path:
    """Where the result named ``name`` for ``config``, produced by ``compute``, is cached."""
    return _profile.cache_dir() / "weights" / f"{name}-{cache_key(config, compute)}.pt"


def cached_result(name: str, config: Any, compute: Callable[[], T]) -> T:
    """Return ``compute()``'s result, from the on-disk cache when it holds one for this key.

    The key (:func:`cache_key`) covers ``config`` and the code ``compute`` runs, so a chapter
    passes its training function and never a list of files. The result (tensors, state dicts,
    lists and dicts of them) is saved with ``torch.save`` under :func:`weights_path`. A cache file
    that cannot be read (a run killed while writing, a foreign file) is reported and recomputed,
    never used; files are written to a temporary name and renamed, so a half-written file never
    takes the final name.

    >>> cached_result("demo", ("demo", 1), lambda: {"x": torch.zeros(2)})["x"].shape
    torch.Size([2])
    """
    path = weights_path(name, config, compute)
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
        result = compute()
        with _profile.atomic_file(path) as tmp:
            torch.save(result, tmp)
    return result


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


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:  # batch normalisation needs two images per batch
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def train(backbone: nn.Module, config: TrainConfig, name: str) -> nn.Module:
    """Train ``backbone`` (images -> ``(n, d)``) on the digits' training split in place, and return it.

    ``supervised`` adds a linear head over the 10 classes; ``simclr`` adds SimCLR's 2-layer
    projector with batch normalisation (Chen et al., 2020) and minimizes
    :func:`lecturekit.losses.info_nce` between two views from :func:`lecturekit.transforms.augment`.
    Heads are discarded: the backbone's output is the representation. The optimiser is AdamW with
    a one-cycle learning-rate schedule (Smith & Topin, 2019; ``torch.optim.lr_scheduler.OneCycleLR``).
    """
    if config.method not in ("supervised", "simclr"):
        raise ValueError(f"unknown training method {config.method!r}; use 'supervised' or 'simclr'")
    if config.epochs < 1 or config.batch_size < 2:
        raise ValueError(
            f"need epochs >= 1 and batch_size >= 2 (batch normalisation); got {config.epochs}, {config.batch_size}"
        )
    train_set, _ = data.split(data.digits())
    g = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        with torch.no_grad():
            dim = backbone.eval()(train_set.x[:2]).shape[1]
        if config.method == "supervised":
            head = nn.Linear(dim, 10)
        else:
            head = nn.Sequential(nn.Linear(dim, dim), nn.BatchNorm1d(dim), nn.ReLU(), nn.Linear(dim, 64))
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * -(-len(train_set) // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps, pct_start=0.2)
    backbone.train()
    head.train()
    for epoch in range(config.epochs):
        total = 0.0
        for idx in _batches(len(train_set), config.batch_size, g):
            x = train_set.x[idx]
            if config.method == "supervised":
                loss = F.cross_entropy(head(backbone(x)), train_set.y[idx])
            else:
                x_a = transforms.augment(x, g, max_angle=config.max_angle)
                x_b = transforms.augment(x, g, max_angle=config.max_angle)
                loss = losses.info_nce(head(backbone(x_a)), head(backbone(x_b)), config.temperature)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            total += float(loss.detach()) * len(idx)
        progress.report(f"{name}: epoch {epoch + 1}/{config.epochs}, loss {total / len(train_set):.4f}")
    return backbone.eval()


def _fitter(backbone: nn.Module, config: TrainConfig, name: str) -> Callable[[], dict[str, torch.Tensor]]:
    def fit() -> dict[str, torch.Tensor]:
        return train(backbone, config, name).state_dict()

    return fit


def cached_path(backbone: nn.Module, config: TrainConfig, name: str) -> Path:
    """Where :func:`cached` keeps the weights of ``backbone`` trained with ``config``."""
    return weights_path(name, config, _fitter(backbone, config, name))


def cached(backbone: nn.Module, config: TrainConfig, name: str) -> nn.Module:
    """Load ``backbone``'s trained weights from the cache, or train it (:func:`train`) and cache them.

    The key covers the config, this module and everything it imports, and the module that
    defines ``backbone``'s class (the architecture).
    """
    backbone.load_state_dict(cached_result(name, config, _fitter(backbone, config, name)))
    return backbone.eval()
