"""Similarities and distance statistics."""

from __future__ import annotations

import numpy as np
import torch

from lecturekit.metrics._checks import as_matrix


def cosine_similarity(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """Row-wise cosine similarity of two ``(n, d)`` arrays, ``(n,)``; a zero row gives 0.

    >>> cosine_similarity(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])).round(4).tolist()
    [0.7071]
    """
    a, b = as_matrix(a, "a"), as_matrix(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = (a * b).sum(axis=1)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)


def pairwise_distances(queries: np.ndarray | torch.Tensor, points: np.ndarray | torch.Tensor) -> np.ndarray:
    """Euclidean distances ``(n_queries, n_points)``."""
    q, p = as_matrix(queries, "queries"), as_matrix(points, "points")
    if q.shape[1] != p.shape[1]:
        raise ValueError(f"queries and points must have the same dim; got {q.shape[1]} and {p.shape[1]}")
    sq = (q**2).sum(1)[:, None] + (p**2).sum(1)[None, :] - 2.0 * q @ p.T
    return np.sqrt(np.maximum(sq, 0.0))


def nearest_farthest_ratio(
    queries: np.ndarray | torch.Tensor, points: np.ndarray | torch.Tensor | None = None
) -> np.ndarray:
    """For each query, distance to its nearest point divided by distance to its farthest point.

    Near 0: "near" means something. Near 1: every point is about as far as every other, the
    curse of dimensionality (Beyer et al., 1999). With ``points=None`` each query is compared
    with the other queries (itself excluded).

    Args:
        queries: ``(n, d)``.
        points: ``(m, d)`` reference points, or None.

    Returns:
        ``(n,)`` ratios in [0, 1].

    >>> nearest_farthest_ratio(np.array([[0.0], [1.0], [3.0]])).round(3).tolist()
    [0.333, 0.5, 0.667]
    """
    if points is None:
        q = as_matrix(queries, "queries", min_rows=3)
        dist = pairwise_distances(q, q)
        np.fill_diagonal(dist, np.nan)
    else:
        dist = pairwise_distances(queries, points)
    far = np.nanmax(dist, axis=1)
    near = np.nanmin(dist, axis=1)
    return np.divide(near, far, out=np.ones_like(near), where=far > 0)
