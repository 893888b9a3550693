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


def retrieval_accuracy(
    queries: np.ndarray | torch.Tensor, gallery: np.ndarray | torch.Tensor, k: int = 1, metric: str = "cosine"
) -> float:
    """Instance retrieval: the share of queries whose own gallery item is among their ``k`` nearest.

    Query ``i`` and gallery item ``i`` are two views of one instance (an augmented crop and its
    source patch); every other gallery item is a distractor. This is the instance-discrimination
    task that contrastive learning trains on (Wu et al., 2018, `wu2018instance`), read out as top-``k``
    accuracy. A tie with the true item counts against it (the true item must be strictly nearer
    than all but ``k - 1`` others), so a constant representation scores 0, not 1.

    Args:
        queries: ``(n, d)`` embeddings of the queries.
        gallery: ``(n, d)`` embeddings of the gallery, row ``i`` the match of query ``i``.
        k: how many nearest gallery items count as a hit.
        metric: ``"cosine"`` or ``"euclidean"``.

    Returns:
        Top-``k`` accuracy in [0, 1].

    >>> retrieval_accuracy(np.eye(3), np.eye(3) + 0.1)
    1.0
    """
    q, g = as_matrix(queries, "queries"), as_matrix(gallery, "gallery")
    if q.shape != g.shape:
        raise ValueError(f"queries and gallery must both be (n, d), row i matching row i; got {q.shape} and {g.shape}")
    if not 1 <= k <= len(g):
        raise ValueError(f"k must be between 1 and the gallery size {len(g)}; got {k}")
    if metric == "cosine":
        qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        gn = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        dist = 1.0 - qn @ gn.T
    elif metric == "euclidean":
        dist = pairwise_distances(q, g)
    else:
        raise ValueError(f"unknown metric {metric!r}; use 'cosine' or 'euclidean'")
    own = np.diag(dist)[:, None]
    closer_or_tied = (dist <= own).sum(axis=1) - 1  # other items at least as near as the true one
    return float(np.mean(closer_or_tied < k))
