"""Image datasets, all as ``(n, 1, 28, 28)`` float tensors in [0, 1] with integer labels.

- :func:`digits` -- scikit-learn's bundled handwritten digits (1,797 real scans, 8x8, 16 grey
  levels), upsampled to MNIST's geometry. Ships with scikit-learn: no download, the ``lite`` default.
- :func:`mnist` -- MNIST through torchvision, only where its files are present or the ``full``
  profile may download them.
- :func:`split` -- a deterministic, stratified train/test split.
- :func:`photos` and :func:`patches` -- the two colour photographs scikit-learn ships
  (``load_sample_images``) and random square patches cut from them, ``(n, 3, size, size)``:
  natural images for the chapters that ask where pixel nearness fails.
- ``Sprites`` -- the dSprites-like dataset with known factors, defined in :mod:`lecturekit.sprites`
  and reachable here; it loads on first use, so chapters that use only the digits do not depend
  on it.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lecturekit import profile as _profile


@dataclass(frozen=True)
class ImageSet:
    """Images and labels.

    Attributes:
        x: ``(n, 1, 28, 28)`` float32 images in [0, 1].
        y: ``(n,)`` int64 class labels.
        name: where the images come from (shown on the pages).
    """

    x: torch.Tensor
    y: torch.Tensor
    name: str

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.shape[1] != 1:
            raise ValueError(f"ImageSet.x must be (n, 1, H, W); got {tuple(self.x.shape)}")
        if self.y.shape != (self.x.shape[0],):
            raise ValueError(f"ImageSet.y must be ({self.x.shape[0]},); got {tuple(self.y.shape)}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, index: torch.Tensor | np.ndarray) -> ImageSet:
        """The images at ``index`` (a 1-D index array), as a new ImageSet."""
        index = torch.as_tensor(index, dtype=torch.long)
        return ImageSet(self.x[index], self.y[index], self.name)


@functools.lru_cache(maxsize=1)
def _digit_scans() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 scans and their labels, read once per process (read-only arrays).

    ``load_digits`` parses its compressed CSV file on every call; a chapter or a test asks for the
    digits many times. :func:`digits` copies what it returns, so no caller can change these.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    for array in (bunch.images, bunch.target):
        array.flags.writeable = False
    return bunch.images, bunch.target


def digits(size: int = 28) -> ImageSet:
    """scikit-learn's handwritten digits, placed like MNIST digits.

    Each 8x8 scan (grey levels 0..16) is scaled to [0, 1], upsampled bilinearly to a
    ``20/28 * size`` square and padded with zeros to ``size x size``, the way MNIST centres
    a 20x20 digit in a 28x28 frame; the border leaves room for rotations.

    Args:
        size: output side length in pixels (at least 8).

    Returns:
        ImageSet with x ``(1797, 1, size, size)`` and y ``(1797,)``.

    >>> ds = digits()
    >>> tuple(ds.x.shape), int(ds.y.max())
    ((1797, 1, 28, 28), 9)
    """
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels; got {size}")
    images, target = _digit_scans()
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 16.0  # (n, 1, 8, 8)
    inner = max(8, round(size * 20 / 28))
    x = F.interpolate(x, size=(inner, inner), mode="bilinear", align_corners=False)
    before = (size - inner) // 2
    x = F.pad(x, (before, size - inner - before, before, size - inner - before))
    return ImageSet(
        x.clamp_(0.0, 1.0).contiguous(),
        torch.tensor(target, dtype=torch.long),
        "scikit-learn digits (8x8 scans upsampled to 28x28)",
    )


def mnist(root: str | Path | None = None, train: bool = False, download: bool | None = None) -> ImageSet:
    """MNIST through torchvision's ``MNIST`` class.

    Args:
        root: folder holding ``MNIST/raw``; default ``<cache>/data`` (see :func:`lecturekit.profile.cache_dir`).
        train: the 60,000 training images if True, else the 10,000 test images.
        download: may torchvision download missing files? Default: only in the ``full`` profile
            (:func:`lecturekit.profile.downloads_allowed`).

    In a stand-in run (``LECTUREKIT_STANDIN=1``, see :mod:`lecturekit.standin`) the files are
    the stand-in's, and its name says so.

    Raises:
        FileNotFoundError: the files are missing and this run may not download; the message
            names the folder and the command that fetches them.
        RuntimeError: the folder holds stand-in files but this is not a stand-in run.

    >>> mnist("/nonexistent", download=False)  # doctest: +SKIP
    Traceback (most recent call last):
    FileNotFoundError: MNIST files not found under /nonexistent/MNIST/raw ...
    """
    from torchvision.datasets import MNIST

    root = Path(root) if root is not None else _profile.cache_dir() / "data"
    if download is None:
        download = _profile.downloads_allowed()
    raw = root / "MNIST" / "raw"
    marker = _profile.check_standin(raw, "MNIST files")
    # torchvision checks all four files whichever split is asked for.
    needed = [raw / f"{s}-{kind}-idx{d}-ubyte" for s in ("train", "t10k") for kind, d in (("images", 3), ("labels", 1))]
    missing = [p for p in needed if not p.exists()]
    if missing and not download:
        raise FileNotFoundError(
            f"MNIST files not found under {raw} (missing: {', '.join(p.name for p in missing)}), "
            "and this run may not download. Fetch them once on a machine with network access:\n"
            "    LECTUREKIT_PROFILE=full python -c "
            f"\"import lecturekit as lk; lk.data.mnist('{root}', download=True)\"\n"
            "or copy the MNIST/raw folder there, or use the lite profile (LECTUREKIT_PROFILE=lite)."
        )
    ds = MNIST(str(root), train=train, download=bool(download))
    x = (ds.data.to(torch.float32) / 255.0).unsqueeze(1).contiguous()
    name = f"MNIST {'train' if train else 'test'} (28x28)"
    if marker is not None:
        name = f"STAND-IN for {name}: {len(x)} bundled digits, numbers meaningless"
    return ImageSet(x, ds.targets.to(torch.long), name)


def for_profile(profile: str | None = None) -> ImageSet:
    """The dataset a chapter uses in a profile: :func:`digits` in ``lite``, MNIST test in ``full``.

    >>> for_profile("lite").name.startswith("scikit-learn digits")
    True
    """
    return digits() if _profile.active(profile) == "lite" else mnist(train=False)


def split(ds: ImageSet, test_fraction: float = 0.25, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """Deterministic stratified train/test split.

    Args:
        ds: the images to split.
        test_fraction: share of each class held out, in (0, 1).
        seed: seed of the permutation.

    Returns:
        ``(train, test)`` ImageSets; together they hold every image exactly once.

    >>> train, test = split(digits())
    >>> len(train) + len(test)
    1797
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}")
    from sklearn.model_selection import train_test_split

    index = np.arange(len(ds))
    train_idx, test_idx = train_test_split(index, test_size=test_fraction, random_state=seed, stratify=ds.y.numpy())
    return ds.subset(np.sort(train_idx)), ds.subset(np.sort(test_idx))


def photos() -> torch.Tensor:
    """scikit-learn's two sample photographs (a temple in China, a flower), ``(2, 3, 427, 640)`` in [0, 1].

    They ship with scikit-learn (``sklearn.datasets.load_sample_images``, which needs Pillow): no
    download, so every profile has them.

    >>> tuple(photos().shape)
    (2, 3, 427, 640)
    """
    from sklearn.datasets import load_sample_images

    images = np.stack(load_sample_images().images)  # (2, 427, 640, 3) uint8
    return torch.as_tensor(images, dtype=torch.float32).permute(0, 3, 1, 2).contiguous() / 255.0


def patches(
    images: torch.Tensor,
    n: int,
    size: int,
    generator: torch.Generator,
    columns: tuple[float, float] = (0.0, 1.0),
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random square patches of ``images``, and which image each came from.

    Each patch picks an image uniformly, then a top-left corner uniformly among the positions
    whose whole patch lies inside the image and inside the band of ``columns`` (fractions of the
    width), so two bands that do not overlap give disjoint training and held-out patches.

    Args:
        images: ``(m, c, h, w)`` images.
        n: number of patches.
        size: side of each patch in pixels.
        generator: the source of randomness (the caller owns the seed).
        columns: ``(start, stop)`` fractions of the width the patches must lie in, ``0 <= start < stop <= 1``.

    Returns:
        ``(n, c, size, size)`` patches (copies) and ``(n,)`` int64 image indices.

    >>> x, source = patches(torch.rand(2, 3, 40, 60), 5, 16, torch.Generator().manual_seed(0))
    >>> tuple(x.shape), tuple(source.shape)
    ((5, 3, 16, 16), (5,))
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a (m, c, h, w) tensor; got {shape}")
    if n < 1 or size < 1:
        raise ValueError(f"n and size must be positive; got n={n}, size={size}")
    if len(columns) != 2 or not 0.0 <= columns[0] < columns[1] <= 1.0:
        raise ValueError(f"columns must be (start, stop) with 0 <= start < stop <= 1; got {columns}")
    m, _, h, w = images.shape
    lo, hi = round(columns[0] * w), round(columns[1] * w) - size  # first and last left edge
    if size > h or hi < lo:
        raise ValueError(
            f"a {size}-pixel patch does not fit in the band {columns} of {h}x{w} images; "
            "use smaller patches or a wider band"
        )
    source = torch.randint(m, (n,), generator=generator)
    top = torch.randint(h - size + 1, (n,), generator=generator)
    left = torch.randint(lo, hi + 1, (n,), generator=generator)
    out = torch.stack([images[s, :, t : t + size, c : c + size] for s, t, c in zip(source, top, left, strict=True)])
    return out.contiguous(), source


# Names defined elsewhere and re-exported lazily (read statically by the book's build).
_EXPORTS = {"Sprites": "lecturekit.sprites"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lecturekit.data' has no attribute {name!r}")
