"""The training loops behind the trained ``lite`` encoders, and their on-disk weight cache.

Chapters that *teach* a training loop write it out themselves; these loops only produce the
encoders that the registry serves (:mod:`lecturekit.encoders`). Each run is deterministic
for a given config (own generator, forked global RNG) and its weights are cached under a key
that hashes the config and the source of every module that shapes the weights, so editing the
training code, the architecture, the data pipeline, the config or the seed trains anew, and
nothing else does.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from lecturekit import data, losses, progress, transforms
from lecturekit import profile as _profile


@dataclass(frozen=True)
class TrainConfig:
    """What a training run depends on.

    Attributes:
        method: ``"supervised"`` (cross-entropy on the labels) or ``"simclr"`` (InfoNCE between
            two augmented views, no labels).
        epochs: passes over the training split.
        batch_size: images per step.
        lr: Adam learning rate.
        temperature: InfoNCE temperature (simclr only).
        max_angle: largest rotation of the augmentations, in degrees (simclr only).
        seed: seeds initialisation, shuffling and augmentations.
    """

    method: str
    epochs: int
    batch_size: int = 256
    lr: float = 2e-3
    temperature: float = 0.2
    max_angle: float = 20.0
    seed: int = 0


def _source_files() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [here / name for name in ("training.py", "encoders.py", "losses.py", "transforms.py", "data.py")]


def cache_key(config: TrainConfig) -> str:
    """16 hex digits that change when the config, seed or training source code change.

    >>> len(cache_key(TrainConfig("simclr", epochs=1)))
    16
    """
    h = hashlib.sha256(repr(sorted(asdict(config).items())).encode())
    h.update(torch.__version__.split("+")[0].encode())
    for path in _source_files():
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def weights_path(name: str, config: TrainConfig) -> Path:
    """Where the weights of encoder ``name`` trained with ``config`` are cached."""
    return _profile.cache_dir() / "weights" / f"{name}-{cache_key(config)}.pt"


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train(backbone: nn.Module, config: TrainConfig, name: str) -> nn.Module:
    """Train ``backbone`` (images -> ``(n, d)``) on the digits' training split in place, and return it.

    ``supervised`` adds a linear head over the 10 classes; ``simclr`` adds a 2-layer projector
    (Chen et al., 2020) and minimizes :func:`lecturekit.losses.info_nce` between two views from
    :func:`lecturekit.transforms.augment`. Heads are discarded: the backbone's output is the
    representation.
    """
    train_set, _ = data.split(data.digits())
    g = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        dim = backbone(train_set.x[:2]).shape[1]
        if config.method == "supervised":
            head = nn.Linear(dim, 10)
        elif config.method == "simclr":
            head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 64))
        else:
            raise ValueError(f"unknown training method {config.method!r}; use 'supervised' or 'simclr'")
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=config.lr)
    backbone.train()
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
            total += float(loss.detach()) * len(idx)
        progress.report(f"{name}: epoch {epoch + 1}/{config.epochs}, loss {total / len(train_set):.4f}")
    return backbone.eval()


def cached(backbone: nn.Module, config: TrainConfig, name: str) -> nn.Module:
    """Load ``backbone``'s weights from the cache, or train and cache them.

    A cache file that cannot be read (a run killed while writing, a foreign file) is reported and
    replaced by a fresh training run; files are written to a temporary name and renamed, so a
    half-written file never takes the final name.
    """
    path = weights_path(name, config)
    if path.exists():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            backbone.load_state_dict(state)
            return backbone.eval()
        except Exception as err:  # noqa: BLE001 -- any unreadable cache file is retrained, never used
            progress.report(f"{name}: cached weights at {path} unreadable ({err}); retraining")
    progress.report(f"{name}: training ({config}), weights will be cached at {path}")
    train(backbone, config, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(backbone.state_dict(), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return backbone
