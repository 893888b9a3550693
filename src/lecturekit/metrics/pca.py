"""Principal-component spectra."""

from __future__ import annotations

import numpy as np
import torch

from lecturekit.metrics._checks import as_matrix


def explained_variance_ratio(z: np.ndarray | torch.Tensor, k: int | None = None) -> np.ndarray:
    """Share of the total variance along each principal axis, largest first.

    Computed from the singular values ``s`` of the centred data: ``s**2 / sum(s**2)``, the same
    as scikit-learn's ``PCA().explained_variance_ratio_``.

    Args:
        z: ``(n, d)`` samples.
        k: keep the first ``k`` ratios (default: all ``min(n, d)``).

    Returns:
        ``(k,)`` non-increasing ratios; all of them sum to 1 (0 for constant data).

    >>> t = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    >>> np.round(explained_variance_ratio(np.c_[np.cos(t), np.sin(t)]), 3).tolist()
    [0.5, 0.5]
    """
    z = as_matrix(z, min_rows=2)
    s = np.linalg.svd(z - z.mean(axis=0), compute_uv=False)
    var = s**2
    total = var.sum()
    ratio = var / total if total > 0 else np.zeros_like(var)
    return ratio if k is None else ratio[:k]


def project(z: np.ndarray | torch.Tensor, k: int = 2) -> np.ndarray:
    """Coordinates of ``z`` on its first ``k`` principal axes, ``(n, k)`` (signs as SVD gives them)."""
    z = as_matrix(z, min_rows=2)
    centred = z - z.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:k].T
