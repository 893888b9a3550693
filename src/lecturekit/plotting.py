"""The figures the chapters draw. Each function takes ``ax=None`` (a new figure) and returns its axes.

Captions belong in the chapter (the cell's ``mystnb: figure`` metadata), so these functions
set axis labels and legends but no titles, except panel titles in multi-panel figures.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes


def _axes(ax: Axes | None, figsize: tuple[float, float] = (5.0, 3.6)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def images(x: torch.Tensor | np.ndarray, labels: Sequence[str] | None = None, ncols: int = 10,
           axes: np.ndarray | None = None) -> np.ndarray:
    """A grid of grey images ``(n, 1, h, w)`` with optional per-image labels; returns the axes array."""
    x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)
    if x.ndim != 4:
        raise ValueError(f"images must be (n, 1, h, w); got {x.shape}")
    n = x.shape[0]
    nrows = int(np.ceil(n / ncols))
    if axes is None:
        _, axes = plt.subplots(nrows, ncols, figsize=(0.8 * ncols, 0.9 * nrows), layout="constrained", squeeze=False)
    flat = np.asarray(axes).ravel()
    for i, ax in enumerate(flat):
        ax.axis("off")
        if i < n:
            ax.imshow(x[i, 0], cmap="gray_r", vmin=0, vmax=1)
            if labels is not None:
                ax.set_title(labels[i], fontsize=7)
    return np.asarray(axes)


def curves(x: Sequence[float], ys: Mapping[str, Sequence[float]], xlabel: str, ylabel: str,
           logx: bool = False, logy: bool = False, ax: Axes | None = None, **style) -> Axes:
    """One line per entry of ``ys`` against ``x``, with markers and a legend."""
    ax = _axes(ax)
    style = {"marker": "o", "ms": 3, **style}
    for label, y in ys.items():
        ax.plot(x, y, label=label, **style)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def bars(values: Mapping[str, float], ylabel: str, ax: Axes | None = None, fmt: str = "{:.2f}") -> Axes:
    """A labelled bar per entry, its value written on top."""
    ax = _axes(ax)
    keys = list(values)
    heights = [values[k] for k in keys]
    rects = ax.bar(keys, heights, color="C0")
    ax.bar_label(rects, labels=[fmt.format(h) for h in heights], fontsize=8)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=20)
    return ax


def loop(coords: np.ndarray, color: np.ndarray, ax: Axes | None = None, connect: bool = True,
         cmap: str = "hsv", colorbar_label: str | None = None, xlabel: str = "PC1", ylabel: str = "PC2") -> Axes:
    """2-D coordinates ``(n, 2)`` coloured by ``color`` ``(n,)``; ``connect`` joins them in colour order."""
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must be (n, 2); got {coords.shape}")
    ax = _axes(ax, (3.2, 3.0))
    if connect:
        order = np.argsort(color)
        closed = np.r_[order, order[:1]]
        ax.plot(coords[closed, 0], coords[closed, 1], "-", color="0.6", lw=0.8, zorder=1)
    sc = ax.scatter(coords[:, 0], coords[:, 1], c=color, cmap=cmap, s=8, zorder=2)
    if colorbar_label is not None:
        ax.figure.colorbar(sc, ax=ax, label=colorbar_label)
    ax.set(xlabel=xlabel, ylabel=ylabel, xticks=[], yticks=[])
    return ax


def panels(n: int, ncols: int | None = None, size: float = 2.6) -> np.ndarray:
    """A row (or grid) of ``n`` square panels; returns the flat axes array."""
    ncols = ncols or n
    nrows = int(np.ceil(n / ncols))
    _, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), layout="constrained",
                           squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return axes.ravel()[:n]


def partition(codes: np.ndarray, extent: tuple[float, float, float, float], ax: Axes | None = None) -> Axes:
    """Regions of the plane named by integer ``codes`` on a grid ``(h, w)``, one colour per region."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D grid; got {codes.shape}")
    _, inverse = np.unique(codes, return_inverse=True)
    ax = _axes(ax, (3.0, 3.0))
    ax.imshow(inverse.reshape(codes.shape), origin="lower", extent=extent, cmap="tab20", interpolation="nearest")
    ax.set(xticks=[], yticks=[])
    return ax
