"""Input checks shared by the metrics: one array layout, ``(n_samples, dim)``."""

from __future__ import annotations

import numpy as np
import torch


def as_matrix(z: np.ndarray | torch.Tensor, name: str = "z", min_rows: int = 1) -> np.ndarray:
    """Return ``z`` as a float64 ``(n, d)`` NumPy array, or raise ValueError saying what was wrong."""
    if isinstance(z, torch.Tensor):
        z = z.detach().cpu().numpy()
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, dim); got shape {z.shape}")
    if z.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows (samples); got {z.shape[0]}")
    if not np.isfinite(z).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return z


def as_labels(y: np.ndarray | torch.Tensor, n: int, name: str = "y") -> np.ndarray:
    """Return ``y`` as a 1-D NumPy array of length ``n``, or raise ValueError."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"{name} must be 1-D with one label per row ({n},); got shape {y.shape}")
    return y
