"""How collapsed is a representation? Per-dimension spread, spectrum, effective rank, alignment/uniformity.

All functions take embeddings ``(n_samples, dim)`` (NumPy arrays or tensors) and return NumPy
values. Complete collapse (every input gets the same vector) shows as zero spread and an
effective rank of 1; dimensional collapse (the embeddings span only a subspace, Jing et al.,
2022) shows as a covariance spectrum that drops to zero after a few eigenvalues and an effective
rank well below the dimension.
"""

from __future__ import annotations

import numpy as np
import torch

from lecturekit.metrics._checks import as_matrix


def per_dim_std(z: np.ndarray | torch.Tensor) -> np.ndarray:
    """Standard deviation of each embedding dimension over the samples (population, ``ddof=0``).

    Args:
        z: ``(n, d)`` embeddings.

    Returns:
        ``(d,)`` standard deviations; all zero for a collapsed (constant) embedding.

    >>> per_dim_std(np.array([[0.0, 1.0], [2.0, 1.0]])).tolist()
    [1.0, 0.0]
    """
    return as_matrix(z).std(axis=0)


def _l2_normalize(z: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    return z / np.maximum(norm, 1e-12)  # zero rows stay zero (as F.normalize)


def normalized_std(z: np.ndarray | torch.Tensor) -> float:
    """Mean over dimensions of the standard deviation of the l2-normalized embeddings.

    The collapse monitor of SimSiam (Chen & He, 2021, Fig. 2): rows are scaled to unit length, then
    the per-dimension standard deviation is averaged. It is 0 for a collapsed embedding and about
    ``1 / sqrt(d)`` for embeddings spread isotropically around the origin (a zero-mean Gaussian).

    Args:
        z: ``(n, d)`` embeddings.

    Returns:
        A float in ``[0, 1 / sqrt(d)]`` up to sampling noise.

    >>> z = np.random.default_rng(0).normal(size=(5000, 16))
    >>> round(normalized_std(z) * 16 ** 0.5, 1)
    1.0
    """
    return float(_l2_normalize(as_matrix(z)).std(axis=0).mean())


def covariance_spectrum(z: np.ndarray | torch.Tensor) -> np.ndarray:
    """Eigenvalues of the embedding covariance matrix, largest first.

    The covariance is ``(z - mean)^T (z - mean) / n`` ``(d, d)``; plotted on a log scale, its
    spectrum shows dimensional collapse as a cliff (Jing et al., 2022, Fig. 1). Tiny negative
    values from round-off are set to 0.

    Args:
        z: ``(n, d)`` embeddings, ``n >= 2``.

    Returns:
        ``(d,)`` non-negative, non-increasing eigenvalues; they sum to the total variance.

    >>> covariance_spectrum(np.array([[1.0, 0.0], [-1.0, 0.0]])).tolist()
    [1.0, 0.0]
    """
    z = as_matrix(z, min_rows=2)
    centred = z - z.mean(axis=0)
    eig = np.linalg.eigvalsh(centred.T @ centred / len(z))[::-1]
    return np.clip(eig, 0.0, None)


def effective_rank(z: np.ndarray | torch.Tensor, eps: float = 1e-7, center: bool = False) -> float:
    """RankMe (Garrido et al., 2023): the exponential of the entropy of the normalized singular values.

    With the singular values ``s`` of ``z`` (not centred, as in the paper),
    ``p_k = s_k / sum(s) + eps`` and the result is ``exp(-sum_k p_k log p_k)``. It lies between 1
    and ``min(n, d)``: 1 for a constant embedding (one direction), about ``k`` for an embedding
    spread evenly over ``k`` directions, about ``d`` for isotropic Gaussian embeddings with
    ``n >> d``. An all-zero embedding has no direction at all; it gets 0 (its rank).

    Uncentred, a large mean shared by all embeddings counts as one dominant direction, so an
    embedding whose variation is small next to its mean scores low even if that variation is
    spread over many directions. ``center=True`` subtracts the mean first and measures only how
    many directions the variation uses (a constant embedding then scores 0).

    Args:
        z: ``(n, d)`` embeddings.
        eps: the paper's small constant, which keeps ``log`` finite.
        center: subtract the mean embedding first (not RankMe's convention).

    Returns:
        The effective rank, a float.

    >>> round(effective_rank(np.ones((10, 4))), 3)
    1.0
    """
    z = as_matrix(z)
    bound = np.abs(z).max(initial=0.0) * np.sqrt(z.size)  # bounds every singular value of z
    if center:
        z = z - z.mean(axis=0)
    s = np.linalg.svd(z, compute_uv=False)
    s = np.where(s > 1e-12 * bound, s, 0.0)  # round-off from centring is no direction
    total = s.sum()
    if total == 0:
        return 0.0
    p = s / total + eps
    return float(np.exp(-(p * np.log(p)).sum()))


def alignment(z_a: np.ndarray | torch.Tensor, z_b: np.ndarray | torch.Tensor, alpha: float = 2.0) -> float:
    """Wang & Isola's (2020) alignment: mean distance between the two views' normalized embeddings.

    ``mean_i ||f(a_i) - f(b_i)||^alpha`` with ``f`` the l2-normalized embedding (lower is better;
    0 when the views agree, which a collapsed encoder achieves trivially).

    Args:
        z_a: ``(n, d)`` embeddings of the first views.
        z_b: ``(n, d)`` embeddings of the second views (row ``i`` pairs with row ``i`` of ``z_a``).
        alpha: the exponent (2 in the paper).

    Returns:
        A float in ``[0, 2**alpha]``.

    >>> alignment(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
    2.0000000000000004
    """
    z_a, z_b = as_matrix(z_a, "z_a"), as_matrix(z_b, "z_b")
    if z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b must have the same shape (n, d); got {z_a.shape} and {z_b.shape}")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive; got {alpha}")
    diff = _l2_normalize(z_a) - _l2_normalize(z_b)
    return float((np.linalg.norm(diff, axis=1) ** alpha).mean())


def uniformity(z: np.ndarray | torch.Tensor, t: float = 2.0) -> float:
    """Wang & Isola's (2020) uniformity: ``log mean_{i<j} exp(-t ||f(z_i) - f(z_j)||^2)``.

    ``f`` is the l2-normalized embedding and the mean runs over distinct pairs (``torch.pdist``).
    Lower is more uniform on the sphere; a collapsed embedding has the maximum, 0.

    Args:
        z: ``(n, d)`` embeddings, ``n >= 2``.
        t: the temperature (2 in the paper).

    Returns:
        A float ``<= 0``.

    >>> round(uniformity(np.array([[1.0, 0.0], [-1.0, 0.0]])), 6)   # antipodal: log exp(-2 * 4)
    -8.0
    """
    f = _l2_normalize(as_matrix(z, min_rows=2))
    if t <= 0:
        raise ValueError(f"t must be positive; got {t}")
    sq_norm = (f**2).sum(axis=1)
    sq = np.clip(sq_norm[:, None] + sq_norm[None, :] - 2 * f @ f.T, 0.0, None)  # (n, n) squared distances
    iu = np.triu_indices(len(f), k=1)
    return float(np.log(np.exp(-t * sq[iu]).mean()))


def _as_probabilities(p: np.ndarray | torch.Tensor) -> np.ndarray:
    p = as_matrix(p, "p")
    if (p < -1e-9).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(
            "p must hold one probability distribution per row (non-negative, rows summing to 1); apply a softmax first"
        )
    return np.clip(p, 0.0, 1.0)


def output_entropy(p: np.ndarray | torch.Tensor) -> float:
    """Mean entropy (nats) of the per-input output distributions ``(n, k)``: ``log k`` when every output is uniform.

    With :func:`marginal_entropy` it tells DINO's two collapses apart (Caron et al., 2021):
    uniform collapse has both at ``log k``; collapse to one dimension has both near 0; a healthy
    teacher is confident per input (low) but uses many dimensions across inputs (high marginal).

    >>> round(output_entropy(np.full((3, 4), 0.25)), 4) == round(float(np.log(4)), 4)
    True
    """
    p = _as_probabilities(p)
    return float(-(p * np.log(np.maximum(p, 1e-30))).sum(axis=1).mean())


def marginal_entropy(p: np.ndarray | torch.Tensor) -> float:
    """Entropy (nats) of the mean output distribution over the inputs: 0 when all inputs pick one dimension.

    >>> marginal_entropy(np.eye(4)) == float(np.log(4))
    True
    """
    p = _as_probabilities(p).mean(axis=0)
    return float(-(p * np.log(np.maximum(p, 1e-30))).sum())


def eigenbasis_alignment(weight: np.ndarray | torch.Tensor, z: np.ndarray | torch.Tensor) -> float:
    """How far a linear predictor shares the eigenvectors of the embeddings' correlation, in [0, 1].

    Tian et al. (2021) show that the symmetric part of a BYOL/SimSiam linear predictor ``W`` aligns
    its eigenspace with that of the correlation ``F = z^T z / n`` of the embeddings it reads. This
    writes ``W_s = (W + W^T) / 2`` in ``F``'s eigenbasis ``U`` and returns the share of its squared
    Frobenius norm on the diagonal: 1 when ``W_s`` and ``F`` share eigenvectors, about ``2 / (d + 1)``
    for a random symmetric matrix (a convention of this library; the paper plots per-eigenvector
    cosines instead).

    Args:
        weight: ``(d, d)`` predictor weight.
        z: ``(n, d)`` embeddings the predictor reads.

    >>> eigenbasis_alignment(np.diag([3.0, 1.0]), np.array([[1.0, 0.0], [0.0, 2.0]]))
    1.0
    """
    w = np.asarray(weight.detach() if isinstance(weight, torch.Tensor) else weight, dtype=np.float64)
    z = as_matrix(z, min_rows=2)
    if w.ndim != 2 or w.shape != (z.shape[1], z.shape[1]):
        raise ValueError(f"weight must be (d, d) with d = {z.shape[1]} (the embeddings' dim); got {w.shape}")
    _, u = np.linalg.eigh(z.T @ z / len(z))
    a = u.T @ ((w + w.T) / 2) @ u
    total = (a**2).sum()
    return float((np.diag(a) ** 2).sum() / total) if total > 0 else 0.0


def summary(z: np.ndarray | torch.Tensor) -> dict[str, float]:
    """The collapse numbers of one embedding, for a table row.

    Returns:
        ``{"mean per-dim std", "normalized std", "effective rank", "uniformity"}``.

    >>> summary(np.ones((4, 3)))["normalized std"]
    0.0
    """
    z = as_matrix(z, min_rows=2)
    return {
        "mean per-dim std": float(per_dim_std(z).mean()),
        "normalized std": normalized_std(z),
        "effective rank": effective_rank(z),
        "uniformity": uniformity(z),
    }
