"""The training loops behind the trained ``lite`` encoders.

Chapters that *teach* a training loop write it out themselves; these loops only produce the
encoders that the registry serves (:mod:`lecturekit.encoders`). Each run is deterministic
for a given config (own generator, forked global RNG) and its weights are cached
(:func:`lecturekit.cache.result`) under a key that hashes the config and the code the run
executes, derived from the import graph, so editing the training code, the architecture, the
data pipeline, the config or the seed trains anew, and nothing else does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from lecturekit import cache, data, losses, progress, transforms


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
        max_angle: largest rotation of the augmentations, in degrees (simclr, and supervised
            with ``augment``).
        augment: supervised only: each step sees one view per image from
            :func:`lecturekit.transforms.augment` instead of the image itself -- the view
            distribution simclr contrasts, so the two differ only in the objective (simclr always
            augments; setting it there is an error).
        seed: seeds the heads, shuffling and augmentations (the backbone arrives initialised).
    """

    method: str
    epochs: int
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.0
    temperature: float = 0.2
    max_angle: float = 20.0
    augment: bool = False
    seed: int = 0


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if len(batches) > 1 and len(batches[-1]) == 1:  # batch normalisation needs two images per batch
        batches[-2:] = [torch.cat(batches[-2:])]
    return batches


def train(backbone: nn.Module, config: TrainConfig, name: str) -> nn.Module:
    """Train ``backbone`` (images -> ``(n, d)``) on the digits' training split in place, and return it.

    ``supervised`` adds a linear head over the 10 classes (with ``augment``, each batch is
    replaced by one :func:`lecturekit.transforms.augment` view per image); ``simclr`` adds SimCLR's 2-layer
    projector with batch normalisation (Chen et al., 2020) and minimizes
    :func:`lecturekit.losses.info_nce` between two views from :func:`lecturekit.transforms.augment`.
    Heads are discarded: the backbone's output is the representation. The optimiser is AdamW with
    a one-cycle learning-rate schedule (Smith & Topin, 2019; ``torch.optim.lr_scheduler.OneCycleLR``).
    """
    if config.method not in ("supervised", "simclr"):
        raise ValueError(f"unknown training method {config.method!r}; use 'supervised' or 'simclr'")
    if config.augment and config.method != "supervised":
        raise ValueError("augment=True applies to method='supervised' only; simclr always trains on augmented views")
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
                if config.augment:
                    x = transforms.augment(x, g, max_angle=config.max_angle)
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


def cached(backbone: nn.Module, config: TrainConfig, name: str) -> nn.Module:
    """Load ``backbone``'s trained weights from the cache, or train it (:func:`train`) and cache them.

    The key covers the config, this module and everything it imports, and the module that
    defines ``backbone``'s class (the architecture).
    """
    backbone.load_state_dict(cache.result(name, config, _fitter(backbone, config, name)))
    return backbone.eval()
