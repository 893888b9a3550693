"""A dSprites-like dataset with known, independent factors, drawn procedurally (no download).

Each image is one white shape on a black 32x32 frame. Five factors of variation generate it,
each on a small grid of values, and every combination occurs exactly once:

========  ======  ==========================================================
factor    values  meaning
========  ======  ==========================================================
shape     3       square, ellipse, heart (as in dSprites)
scale     4       size, 0.5 to 1.0 of the largest
rotation  5       0 to 60 degrees, counter-clockwise; below 90 degrees so that
                  no value repeats another for the square (4-fold symmetric)
x         6       horizontal position of the centre, left to right
y         6       vertical position of the centre, top to bottom
========  ======  ==========================================================

Factors are carried as integer *codes* ``(n, 5)`` (column ``j`` in ``0 .. size_j - 1``);
:meth:`Sprites.values` turns them into physical values. Rendering is deterministic (anti-aliased
by supersampling), and all randomness goes through an explicit ``numpy.random.Generator``. The
sampling methods follow disentanglement_lib's ``GroundTruthData`` (Locatello et al., 2019):
factors are drawn independently and uniformly, and the metrics' pair and batch samplers are
provided here as :meth:`Sprites.sample_pairs` and :meth:`Sprites.sample_fixed_batches`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

FACTOR_NAMES: tuple[str, ...] = ("shape", "scale", "rotation", "x", "y")
SHAPES: tuple[str, ...] = ("square", "ellipse", "heart")


def _inside(shape: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Boolean mask of points ``(u, v)`` (shape frame, unit size, v upwards) inside the shape."""
    if shape == 0:  # square of half-side 0.8: about the area of the other two
        return (u.abs() <= 0.8) & (v.abs() <= 0.8)
    if shape == 1:  # ellipse with semi-axes 1 and 0.5
        return u**2 + (v / 0.5) ** 2 <= 1.0
    # heart: (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, shrunk to fit the unit disc and centred
    x, y = u * 1.15, v * 1.15 + 0.12
    return (x**2 + y**2 - 1.0) ** 3 - x**2 * y**3 <= 0.0


@dataclass(frozen=True)
class Sprites:
    """The dataset: its factor grids, a renderer and the samplers the metrics need.

    Attributes:
        size: image side in pixels.
        supersample: sub-pixels per pixel side used for anti-aliasing.

    >>> ds = Sprites()
    >>> ds.factor_sizes, ds.n_combinations
    ((3, 4, 5, 6, 6), 2160)
    >>> ds.render(ds.sample_factors(2, np.random.default_rng(0))).shape
    torch.Size([2, 1, 32, 32])
    """

    size: int = 32
    supersample: int = 4

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels; got {self.size}")
        if self.supersample < 1:
            raise ValueError(f"supersample must be at least 1; got {self.supersample}")

    # --- the factor grids -------------------------------------------------------------------
    @property
    def factor_names(self) -> tuple[str, ...]:
        """Names of the factors, in column order."""
        return FACTOR_NAMES

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        """Number of values of each factor, in column order."""
        return (len(SHAPES), 4, 5, 6, 6)

    @property
    def n_factors(self) -> int:
        """How many factors each sprite has (5)."""
        return len(FACTOR_NAMES)

    @property
    def n_combinations(self) -> int:
        """How many distinct images there are (the product of the factor sizes)."""
        return int(np.prod(self.factor_sizes))

    def values(self, factors: np.ndarray) -> dict[str, np.ndarray]:
        """Physical values of factor codes ``(n, 5)``.

        Returns:
            A dict of ``(n,)`` arrays: ``shape`` (names), ``scale`` (relative size in [0.5, 1]),
            ``rotation`` (degrees counter-clockwise), ``x`` (centre in pixels right of the frame
            centre) and ``y`` (centre in pixels below it).
        """
        f = self._check_factors(factors)
        grid = self._grid()
        return {
            "shape": np.asarray(SHAPES)[f[:, 0]],
            **{name: grid[name][f[:, j]] for j, name in enumerate(FACTOR_NAMES) if j > 0},
        }

    def all_factors(self) -> np.ndarray:
        """Every combination of factor codes once, ``(n_combinations, 5)``, last factor fastest.

        Row ``i`` is the combination with :meth:`index_of` equal to ``i``.
        """
        grids = np.meshgrid(*[np.arange(k) for k in self.factor_sizes], indexing="ij")
        return np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)

    def index_of(self, factors: np.ndarray) -> np.ndarray:
        """Row of each factor combination ``(..., 5)`` in :meth:`all_factors`, shape ``(...)``.

        Lets a representation computed once on all images be looked up for any sample.
        """
        f = self._check_factors(factors, allow_batches=True)
        return np.ravel_multi_index(tuple(np.moveaxis(f, -1, 0)), self.factor_sizes)

    # --- sampling (factors independent and uniform, as disentanglement_lib) ------------------
    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` independent, uniformly drawn factor combinations, ``(n, 5)`` int64 codes."""
        if n < 0:
            raise ValueError(f"n must be non-negative; got {n}")
        return np.stack([rng.integers(k, size=n) for k in self.factor_sizes], axis=1).astype(np.int64)

    def sample_pairs(self, fixed: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Pairs of factor combinations that share one factor (the BetaVAE score's input).

        Args:
            fixed: ``(n,)`` index of the factor held equal in each pair.
            rng: source of randomness.

        Returns:
            ``(factors_a, factors_b)``, each ``(n, 5)``: drawn independently, then
            ``factors_b[i, fixed[i]] = factors_a[i, fixed[i]]``.
        """
        fixed = self._check_fixed(fixed)
        a = self.sample_factors(len(fixed), rng)
        b = self.sample_factors(len(fixed), rng)
        rows = np.arange(len(fixed))
        b[rows, fixed] = a[rows, fixed]
        return a, b

    def sample_fixed_batches(self, fixed: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Batches in which one factor has one value (the FactorVAE score's input).

        Args:
            fixed: ``(n_batches,)`` index of the factor held fixed in each batch.
            batch_size: combinations per batch.
            rng: source of randomness.

        Returns:
            ``(n_batches, batch_size, 5)`` codes; in batch ``i`` factor ``fixed[i]`` takes the
            value of the batch's first (random) sample, the others vary freely.
        """
        fixed = self._check_fixed(fixed)
        if batch_size < 2:
            raise ValueError(f"batch_size must be at least 2; got {batch_size}")
        f = self.sample_factors(len(fixed) * batch_size, rng).reshape(len(fixed), batch_size, -1)
        rows = np.arange(len(fixed))
        f[rows, :, fixed] = f[rows, 0, fixed][:, None]
        return f

    # --- rendering ----------------------------------------------------------------------------
    def _templates(self, codes: np.ndarray) -> torch.Tensor:
        """Images ``(m, 1, size, size)`` of (shape, scale, rotation) codes ``(m, 3)`` at position (0, 0)."""
        s, k = self.size, self.supersample
        grid = self._grid()
        # sub-pixel centres in pixels from the frame centre, y pointing up: (s*k,)
        t = (torch.arange(s * k, dtype=torch.float64) + 0.5) / k - s / 2
        gy, gx = torch.meshgrid(-t, t, indexing="ij")  # (s*k, s*k)
        dx, dy = gx - grid["x"][0], gy + grid["y"][0]  # centre of position code 0
        out = torch.empty(len(codes), 1, s, s, dtype=torch.float32)
        for i, (shape, scale, rotation) in enumerate(codes):
            r = grid["scale"][scale] * self.size * 0.2  # half-width in pixels
            a = math.radians(grid["rotation"][rotation])
            # rotate the sampling points by -angle: the shape turns counter-clockwise by +angle
            u = (math.cos(a) * dx + math.sin(a) * dy) / r
            v = (-math.sin(a) * dx + math.cos(a) * dy) / r
            mask = _inside(int(shape), u, v).to(torch.float32)
            out[i, 0] = mask.reshape(s, k, s, k).mean(dim=(1, 3))  # share of sub-pixels inside
        return out

    def render(self, factors: np.ndarray) -> torch.Tensor:
        """Draw the images of factor codes ``(n, 5)``: ``(n, 1, size, size)`` float32 in [0, 1].

        Each pixel is the share of its ``supersample**2`` sub-pixels inside the shape, so edges
        are anti-aliased and small rotations stay visible. Positions are whole-pixel steps, so
        each (shape, scale, rotation) is drawn once and shifted. Deterministic.
        """
        f = self._check_factors(factors)
        if len(f) == 0:
            return torch.zeros(0, 1, self.size, self.size)
        appearance, which = np.unique(f[:, :3], axis=0, return_inverse=True)
        templates = self._templates(appearance)  # (m, 1, s, s)
        # shift each template by whole pixels: out[i, :, r, c] = template[:, r - dy, c - dx]; the
        # shapes never reach the border, so wrapping around (the modulo) brings in only zeros
        s, step = self.size, self.position_step
        pixels = torch.arange(s)
        rows = (pixels[None, :] - torch.as_tensor(f[:, 4] * step)[:, None]) % s  # (n, s)
        cols = (pixels[None, :] - torch.as_tensor(f[:, 3] * step)[:, None]) % s  # (n, s)
        pick = torch.as_tensor(which.reshape(-1))[:, None, None]
        return templates[:, 0][pick, rows[:, :, None], cols[:, None, :]].unsqueeze(1).contiguous()

    @property
    def position_step(self) -> int:
        """Pixels between neighbouring position values."""
        return max(1, round(self.size * 3 / 32))

    def _grid(self) -> dict[str, np.ndarray]:
        """The value of each code of each continuous factor."""
        n_pos = self.factor_sizes[3]
        pos = (np.arange(n_pos) - (n_pos - 1) / 2) * self.position_step  # pixels from centre
        return {
            "scale": np.linspace(0.5, 1.0, self.factor_sizes[1]),
            "rotation": np.linspace(0.0, 60.0, self.factor_sizes[2]),
            "x": pos,
            "y": pos,
        }

    # --- checks -------------------------------------------------------------------------------
    def _check_factors(self, factors: np.ndarray, allow_batches: bool = False) -> np.ndarray:
        f = np.asarray(factors.detach().cpu() if isinstance(factors, torch.Tensor) else factors)
        ok_ndim = f.ndim >= 2 if allow_batches else f.ndim == 2
        if not ok_ndim or f.shape[-1] != self.n_factors:
            want = "(..., 5)" if allow_batches else "(n, 5)"
            raise ValueError(
                f"factors must be integer codes of shape {want} "
                f"(columns {', '.join(FACTOR_NAMES)}); got shape {f.shape}"
            )
        if not np.issubdtype(f.dtype, np.integer):
            if not np.all(np.equal(np.mod(f, 1), 0)):
                raise ValueError(f"factors must be integer codes; got non-integer values of dtype {f.dtype}")
            f = f.astype(np.int64)
        sizes = np.asarray(self.factor_sizes)
        if f.size and (np.any(f < 0) or np.any(f >= sizes)):
            raise ValueError(
                f"factor codes must lie in 0 .. size - 1 for sizes {self.factor_sizes}; "
                f"got minimum {f.reshape(-1, 5).min(0)} and maximum {f.reshape(-1, 5).max(0)}"
            )
        return f.astype(np.int64, copy=False)

    def _check_fixed(self, fixed: np.ndarray) -> np.ndarray:
        fixed = np.asarray(fixed)
        if fixed.ndim != 1 or not np.issubdtype(fixed.dtype, np.integer):
            raise ValueError(
                f"fixed must be a 1-D integer array of factor indices; got shape {fixed.shape} and dtype {fixed.dtype}"
            )
        if fixed.size and (fixed.min() < 0 or fixed.max() >= self.n_factors):
            raise ValueError(
                f"fixed factor indices must lie in 0 .. {self.n_factors - 1}; got {fixed.min()} .. {fixed.max()}"
            )
        return fixed


__all__ = ["FACTOR_NAMES", "SHAPES", "Sprites"]
