"""Invariance and equivariance of a representation under a transformation ``T`` of the input.

Three measurements, each a pure function of embeddings or feature maps already computed:

- :func:`invariance_score` -- how little ``g(Tx)`` moves away from ``g(x)`` (cosine similarity,
  optionally after removing the mean embedding, which ReLU features otherwise dominate);
  :func:`random_pair_similarity` gives the same number for two *unrelated* inputs, the floor
  to read it against.
- :func:`shift_equivariance_error` -- for a convolutional feature map ``(n, c, h, w)`` with
  total stride ``s``: does shifting the input by ``k`` pixels shift the map by ``k / s`` cells?
  Built from :func:`shift_map` (the predicted map), :func:`overlap_mask` (the cells where the
  prediction is defined) and :func:`masked_relative_error`.
- :func:`linear_equivariance_r2` -- is there a *linear* map ``T'`` with ``g(Tx) ~ T' g(x)``?
  Fit by closed-form ridge regression on one split (:func:`fit_linear_map`), scored by R^2 on
  held-out pairs (:func:`r2_score`). This follows Lenc & Vedaldi (2015), "Understanding image
  representations by measuring their equivariance and equivalence", who fit such maps to CNN
  features; here the map is affine (a bias is fitted too) and regularized by ridge.

Embeddings use the ``(n_samples, dim)`` layout everywhere; row ``i`` of ``z_t`` must be the
embedding of the transformed copy of the input behind row ``i`` of ``z``.
"""

from __future__ import annotations

import numpy as np
import torch

from lecturekit import transforms
from lecturekit.metrics._checks import as_matrix


def _pair(
    z: np.ndarray | torch.Tensor,
    z_t: np.ndarray | torch.Tensor,
    names: tuple[str, str] = ("z", "z_t"),
    min_rows: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_matrix(z, names[0], min_rows), as_matrix(z_t, names[1], min_rows)
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape (n_samples, dim), one row per "
            f"input and its transformed copy; got {a.shape} and {b.shape}"
        )
    return a, b


def invariance_score(
    z: np.ndarray | torch.Tensor,
    z_t: np.ndarray | torch.Tensor,
    center: np.ndarray | torch.Tensor | None = None,
) -> np.ndarray:
    """Per-input cosine similarity between ``g(x)`` and ``g(Tx)``; 1 means invariant.

    ReLU features are all non-negative and share a large common part, so the raw cosine of two
    *unrelated* inputs is already close to 1. Passing ``center`` (usually the mean embedding of
    untransformed data) measures the cosine of the deviations from it instead, a correlation:
    about 0 for unrelated inputs, 1 for an invariant representation.

    Convention for zero vectors: identical rows score 1 (``g(Tx) = g(x)`` is invariance, whatever
    the norm), a zero row against a different row scores 0.

    Args:
        z: ``(n, d)`` embeddings of the inputs ``x``.
        z_t: ``(n, d)`` embeddings of the transformed inputs ``Tx``, row for row.
        center: optional ``(d,)`` vector subtracted from both before the cosine.

    Returns:
        ``(n,)`` similarities in [-1, 1].

    >>> z = np.array([[1.0, 2.0], [3.0, 1.0]])
    >>> invariance_score(z, z).tolist()
    [1.0, 1.0]
    """
    a, b = _pair(z, z_t)
    if center is not None:
        c = np.asarray(center.detach().cpu() if isinstance(center, torch.Tensor) else center, dtype=np.float64)
        if c.shape != (a.shape[1],):
            raise ValueError(f"center must be a ({a.shape[1]},) vector, one value per embedding dim; got {c.shape}")
        a, b = a - c, b - c
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = (a * b).sum(axis=1)
    same = (a == b).all(axis=1)
    score = np.divide(dots, norms, out=same.astype(np.float64), where=norms > 0)
    score[same] = 1.0  # exact, not 1 - 2e-16 from rounding
    return score


def random_pair_similarity(
    z: np.ndarray | torch.Tensor,
    center: np.ndarray | torch.Tensor | None = None,
    seed: int = 0,
) -> np.ndarray:
    """The :func:`invariance_score` of each input against a different, randomly chosen input.

    The floor against which invariance is read: a transformation that moves ``g(x)`` as far as
    replacing ``x`` by an unrelated input scores about this. Row ``i`` is paired with row
    ``pi(i)`` for a random cyclic derangement (a random order, each row paired with the next),
    so no row meets itself.

    Args:
        z: ``(n, d)`` embeddings, ``n >= 2``.
        center: as in :func:`invariance_score`.
        seed: seed of the pairing.

    Returns:
        ``(n,)`` similarities.

    >>> random_pair_similarity(np.eye(3)).tolist()
    [0.0, 0.0, 0.0]
    """
    a = as_matrix(z, "z", min_rows=2)
    order = np.random.default_rng(seed).permutation(len(a))
    partner = np.empty_like(order)
    partner[order] = np.roll(order, -1)
    return invariance_score(a, a[partner], center)


def _as_maps(fmap: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(fmap, torch.Tensor):
        fmap = torch.as_tensor(np.asarray(fmap))
    if fmap.ndim != 4:
        raise ValueError(f"{name} must be a feature-map batch (n, channels, height, width); got {tuple(fmap.shape)}")
    return fmap.detach().cpu().to(torch.float64)


def shift_map(fmap: np.ndarray | torch.Tensor, cell_shift: tuple[float, float]) -> torch.Tensor:
    """Shift feature maps by ``(dx, dy)`` cells: the prediction ``T' g(x)`` of an equivariant map.

    Integer shifts move cells exactly; fractional ones (an input shift that is not a multiple of
    the stride) interpolate bilinearly between the two nearest integer shifts, the best linear
    guess on the grid. Cells moved in from outside are zero (see :func:`overlap_mask`).

    Args:
        fmap: ``(n, c, h, w)`` feature maps.
        cell_shift: ``(dx, dy)`` in cells, ``dx`` to the right, ``dy`` downwards.

    Returns:
        ``(n, c, h, w)`` float64 tensor.

    >>> m = torch.zeros(1, 1, 3, 3); m[0, 0, 1, 1] = 1
    >>> shift_map(m, (1, 0))[0, 0, 1, 2].item()
    1.0
    """
    return transforms.translate(_as_maps(fmap, "fmap"), tuple(float(s) for s in cell_shift))


def overlap_mask(height: int, width: int, cell_shift: tuple[float, float], border: int = 0) -> np.ndarray:
    """Cells of a shifted ``(height, width)`` map whose content comes from inside the original map.

    A cell at column ``j`` of the shifted map comes from column ``j - dx`` of the original; it is
    kept when that source lies inside the frame (both neighbours, for fractional shifts), so
    content that entered from outside is never scored. ``border`` also drops that many cells
    along every edge of *both* maps: there the convolutions saw zero padding, which an input
    shift moves in a way no shift of the map can reproduce.

    Args:
        height, width: map size in cells.
        cell_shift: ``(dx, dy)`` in cells.
        border: cells dropped along each frame edge, ``>= 0``.

    Returns:
        ``(height, width)`` boolean mask.

    >>> overlap_mask(1, 4, (1, 0)).astype(int).tolist()
    [[0, 1, 1, 1]]
    """
    if border < 0:
        raise ValueError(f"border must be >= 0 cells; got {border}")
    dx, dy = float(cell_shift[0]), float(cell_shift[1])

    def keep(n: int, d: float) -> np.ndarray:
        j = np.arange(n, dtype=np.float64)
        src = j - d
        inside = (j >= border) & (j <= n - 1 - border)
        return inside & (np.floor(src) >= border) & (np.ceil(src) <= n - 1 - border)

    return keep(height, dy)[:, None] & keep(width, dx)[None, :]


def masked_relative_error(
    target: np.ndarray | torch.Tensor,
    prediction: np.ndarray | torch.Tensor,
    mask: np.ndarray,
) -> np.ndarray:
    """Per-sample ``||target - prediction|| / ||target||`` over the masked cells and all channels.

    Args:
        target: ``(n, c, h, w)`` maps that were observed.
        prediction: ``(n, c, h, w)`` maps that were predicted.
        mask: ``(h, w)`` boolean, the cells to score (at least one).

    Returns:
        ``(n,)`` relative errors; 0 when both are zero on the mask, ``inf`` when only the target is.

    >>> t = torch.ones(1, 2, 2, 2)
    >>> masked_relative_error(t, 0.5 * t, np.ones((2, 2), bool)).tolist()
    [0.5]
    """
    t, p = _as_maps(target, "target"), _as_maps(prediction, "prediction")
    if t.shape != p.shape:
        raise ValueError(f"target and prediction must have the same shape; got {tuple(t.shape)} and {tuple(p.shape)}")
    mask = np.asarray(mask)
    if mask.shape != tuple(t.shape[-2:]) or mask.dtype != bool:
        raise ValueError(f"mask must be a boolean {tuple(t.shape[-2:])} array; got {mask.dtype} {mask.shape}")
    if not mask.any():
        raise ValueError("mask selects no cells: the shift (plus border) leaves no overlap between the two maps")
    m = torch.as_tensor(mask)
    num = (t - p)[..., m].flatten(1).norm(dim=1).numpy()
    den = t[..., m].flatten(1).norm(dim=1).numpy()
    out = np.where(num == 0, 0.0, np.inf)
    return np.divide(num, den, out=out, where=den > 0)


def shift_equivariance_error(
    fmap: np.ndarray | torch.Tensor,
    fmap_shifted: np.ndarray | torch.Tensor,
    shift: tuple[float, float],
    stride: int = 1,
    border: int = 0,
) -> np.ndarray:
    """How far a feature map is from shifting by ``shift / stride`` cells when its input shifts.

    For an input shifted by ``(dx, dy)`` pixels, an exactly shift-equivariant map with total
    stride ``s`` moves by ``(dx / s, dy / s)`` cells. This returns the relative error between the
    observed map of the shifted input and the shifted map of the original (:func:`shift_map`),
    over the cells where the prediction is defined (:func:`overlap_mask`). Shifts that are
    multiples of the stride move the grid by whole cells; others are compared with the bilinear
    interpolation between the two nearest whole-cell shifts -- strided pooling is not equivariant
    to those (Azulay & Weiss, 2019; Zhang, 2019), and the error says by how much.

    Args:
        fmap: ``(n, c, h, w)`` maps of the inputs ``x``.
        fmap_shifted: ``(n, c, h, w)`` maps of the inputs shifted by ``shift``.
        shift: ``(dx, dy)`` of the *input*, in pixels (``dx`` right, ``dy`` down).
        stride: pixels per map cell (4 for :class:`lecturekit.encoders.SmallCNN`).
        border: cells dropped along each frame edge, see :func:`overlap_mask`.

    Returns:
        ``(n,)`` relative errors, 0 for an exactly equivariant map.

    >>> x = torch.zeros(1, 1, 6, 6); x[0, 0, 2, 2] = 1
    >>> shift_equivariance_error(x, torch.roll(x, 1, dims=3), (1, 0)).round(12).tolist()
    [0.0]
    """
    if stride < 1:
        raise ValueError(f"stride must be a positive number of pixels per cell; got {stride}")
    f, f_t = _as_maps(fmap, "fmap"), _as_maps(fmap_shifted, "fmap_shifted")
    if f.shape != f_t.shape:
        raise ValueError(f"fmap and fmap_shifted must have the same shape; got {tuple(f.shape)} and {tuple(f_t.shape)}")
    cells = (float(shift[0]) / stride, float(shift[1]) / stride)
    mask = overlap_mask(f.shape[-2], f.shape[-1], cells, border)
    return masked_relative_error(f_t, shift_map(f, cells), mask)


def fit_linear_map(
    z: np.ndarray | torch.Tensor,
    z_t: np.ndarray | torch.Tensor,
    ridge: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form ridge regression of ``z_t`` on ``z``: ``z_t ~ z @ weights + bias``.

    In column-vector notation ``g(Tx) ~ T' g(x) + b`` with ``T' = weights.T``. The penalty is
    ``ridge`` times the mean variance of ``z``'s dims (times ``n``), so the same ``ridge`` means
    the same thing for pixels and for features of any scale; the bias is not penalized (the
    data are centred first), as in scikit-learn's ``Ridge``.

    Args:
        z: ``(n, d)`` embeddings of the inputs.
        z_t: ``(n, d_t)`` embeddings of the transformed inputs, row for row.
        ridge: relative strength of the penalty, ``>= 0`` (0 is least squares; needs full rank).

    Returns:
        ``(weights (d, d_t), bias (d_t,))``.

    >>> z = np.random.default_rng(0).normal(size=(50, 2))
    >>> w, b = fit_linear_map(z, z @ np.array([[0.0, 1.0], [-1.0, 0.0]]) + 3.0, ridge=0.0)
    >>> (np.round(w, 6) + 0.0).tolist(), np.round(b, 6).tolist()  # + 0.0 turns -0.0 into 0.0
    ([[0.0, 1.0], [-1.0, 0.0]], [3.0, 3.0])
    """
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0; got {ridge}")
    a = as_matrix(z, "z", min_rows=2)
    b = as_matrix(z_t, "z_t", min_rows=2)
    if len(a) != len(b):
        raise ValueError(f"z and z_t must have one row per pair; got {len(a)} and {len(b)} rows")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    ac, bc = a - mean_a, b - mean_b
    gram = ac.T @ ac  # (d, d)
    penalty = ridge * np.trace(gram) / a.shape[1]
    weights = np.linalg.solve(gram + penalty * np.eye(a.shape[1]), ac.T @ bc)  # (d, d_t)
    return weights, mean_b - mean_a @ weights


def r2_score(target: np.ndarray | torch.Tensor, prediction: np.ndarray | torch.Tensor) -> float:
    """Coefficient of determination pooled over dims: ``1 - SS_res / SS_tot``.

    ``SS_tot`` is the squared distance of ``target`` to its own mean, summed over all dims,
    which is scikit-learn's ``r2_score(..., multioutput="variance_weighted")``. 1 is a perfect
    prediction, 0 is as good as predicting the mean, negative is worse.

    >>> r2_score(np.array([[1.0], [2.0], [3.0]]), np.array([[1.0], [2.0], [4.0]]))
    0.5
    """
    t, p = _pair(target, prediction, ("target", "prediction"), min_rows=2)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum()
    ss_res = ((t - p) ** 2).sum()
    if ss_tot == 0:
        raise ValueError("target has zero variance; R^2 is undefined")
    return float(1.0 - ss_res / ss_tot)


def linear_equivariance_r2(
    z_train: np.ndarray | torch.Tensor,
    z_t_train: np.ndarray | torch.Tensor,
    z_test: np.ndarray | torch.Tensor,
    z_t_test: np.ndarray | torch.Tensor,
    ridge: float = 1e-3,
) -> float:
    """Held-out R^2 of the best linear ``T'`` (fitted on train pairs) predicting ``g(Tx)`` from ``g(x)``.

    Near 1: the representation is (linearly) equivariant to ``T`` -- the transformation moves it,
    but predictably. Compare with ``r2_score(z_t_test, z_test)``, the R^2 of ``T' = identity``,
    which is what invariance would predict.

    Args:
        z_train, z_t_train: ``(n, d)`` training pairs ``g(x)``, ``g(Tx)``.
        z_test, z_t_test: ``(m, d)`` held-out pairs (other inputs, same ``T``).
        ridge: see :func:`fit_linear_map`.

    Returns:
        R^2 on the held-out pairs.

    >>> rng = np.random.default_rng(0); q = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    >>> z = rng.normal(size=(60, 4))
    >>> round(linear_equivariance_r2(z[:40], z[:40] @ q.T, z[40:], z[40:] @ q.T, ridge=0.0), 6)
    1.0
    """
    a, a_t = _pair(z_train, z_t_train, ("z_train", "z_t_train"), min_rows=2)
    b, b_t = _pair(z_test, z_t_test, ("z_test", "z_t_test"), min_rows=2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"train and test embeddings must have the same dim; got {a.shape[1]} and {b.shape[1]}")
    weights, bias = fit_linear_map(a, a_t, ridge)
    return r2_score(b_t, b @ weights + bias)
