"""Self-supervised losses as pure functions on embedding batches ``(n, d)``, and the EMA update.

Two views of the same ``n`` images give ``z_a`` and ``z_b``; row ``i`` of each is a positive pair.
The losses never detach anything: where a method stops gradients (BYOL, SimSiam, JEPA), the
training loop does it, visibly. The three families of collapse prevention each have one entry:

- contrastive: :func:`info_nce` (SimCLR's NT-Xent);
- regularized: :func:`vicreg` and its terms :func:`vicreg_invariance`, :func:`vicreg_variance`,
  :func:`vicreg_covariance`;
- architectural: :func:`regression_loss` (BYOL / JEPA), used with a predictor, a stop-gradient
  and a target network kept by :func:`ema_update` (momentum per step from
  :func:`ema_momentum_schedule`); DINO's self-distillation, :func:`dino_loss`, with its running
  centre :func:`dino_center`; DirectPred's predictor set from the embeddings' correlation,
  :func:`directpred_weight`;
- Bengio et al.'s regularized autoencoders: :func:`contractive_penalty` (CAE) and the masking
  corruption of a denoising autoencoder, :func:`mask_noise`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _check_pair(z_a: torch.Tensor, z_b: torch.Tensor) -> None:
    if z_a.ndim != 2 or z_a.shape != z_b.shape:
        raise ValueError(
            f"z_a and z_b must both be (n, d) with the same shape; got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    if z_a.shape[0] < 2:
        raise ValueError(f"a contrastive loss needs at least 2 pairs in the batch; got n={z_a.shape[0]}")


def info_nce(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR's NT-Xent loss (Chen et al., 2020), symmetric over the two views.

    Embeddings are l2-normalized; each of the ``2n`` embeddings is classified against the other
    ``2n - 1`` by cosine similarity / ``temperature``, its positive being the other view of the same
    image (so ``2n - 2`` negatives, as in SimCLR's reference implementation). The loss is the mean
    cross-entropy; its minimum is 0 and, for embeddings that carry no information, it is
    ``log(2n - 1)``.

    Args:
        z_a: ``(n, d)`` embeddings of the first views.
        z_b: ``(n, d)`` embeddings of the second views.
        temperature: softmax temperature (> 0).

    Returns:
        Scalar tensor.

    >>> z = torch.eye(4)
    >>> round(float(info_nce(z, z, temperature=0.05)), 4)
    0.0
    """
    _check_pair(z_a, z_b)
    if temperature <= 0:
        raise ValueError(f"temperature must be positive; got {temperature}")
    n = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b], dim=0), dim=1)  # (2n, d)
    logits = z @ z.T / temperature  # (2n, 2n)
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def _check_same(
    z_a: torch.Tensor, z_b: torch.Tensor, names: tuple[str, str] = ("z_a", "z_b"), min_rows: int = 1
) -> None:
    if not isinstance(z_a, torch.Tensor) or not isinstance(z_b, torch.Tensor):
        raise ValueError(
            f"{names[0]} and {names[1]} must be tensors; got {type(z_a).__name__} and {type(z_b).__name__}"
        )
    if z_a.ndim != 2 or z_a.shape != z_b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must both be (n, d) with the same shape; "
            f"got {tuple(z_a.shape)} and {tuple(z_b.shape)}"
        )
    if z_a.shape[0] < min_rows:
        raise ValueError(f"this loss needs at least {min_rows} rows (samples) in the batch; got n={z_a.shape[0]}")


def vicreg_invariance(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """VICReg's invariance term: the mean squared error between the two views' embeddings.

    ``mean((z_a - z_b) ** 2)`` over all ``n * d`` entries, as ``F.mse_loss`` in the reference code
    (Bardes et al., 2022). Symmetric; 0 when the views agree.

    Args:
        z_a: ``(n, d)`` embeddings of the first views.
        z_b: ``(n, d)`` embeddings of the second views.

    Returns:
        Scalar tensor.

    >>> float(vicreg_invariance(torch.zeros(2, 3), torch.ones(2, 3)))
    1.0
    """
    _check_same(z_a, z_b)
    return F.mse_loss(z_a, z_b)


def _std_hinge(z: torch.Tensor, eps: float) -> torch.Tensor:
    std = torch.sqrt(z.var(dim=0) + eps)  # (d,), unbiased variance as in the reference code
    return F.relu(1.0 - std).mean()


def vicreg_variance(z_a: torch.Tensor, z_b: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """VICReg's variance term: a hinge keeping every dimension's standard deviation at or above 1.

    For each view, ``mean_j relu(1 - sqrt(Var(z[:, j]) + eps))`` with the unbiased variance over the
    batch; the term is the average of the two views' values (the reference implementation's
    ``/ 2``). It is ``1 - sqrt(eps)`` (0.99) for a collapsed batch and 0 once every dimension has
    standard deviation at least 1.

    Args:
        z_a: ``(n, d)`` embeddings of the first views, ``n >= 2``.
        z_b: ``(n, d)`` embeddings of the second views.
        eps: added to the variance before the square root (numerical stability, 1e-4 in the paper).

    Returns:
        Scalar tensor.

    >>> round(float(vicreg_variance(torch.ones(4, 3), torch.ones(4, 3))), 4)
    0.99
    """
    _check_same(z_a, z_b, min_rows=2)
    return (_std_hinge(z_a, eps) + _std_hinge(z_b, eps)) / 2


def _off_diagonal_cov(z: torch.Tensor) -> torch.Tensor:
    n, d = z.shape
    centred = z - z.mean(dim=0)
    cov = centred.T @ centred / (n - 1)  # (d, d)
    off = cov - torch.diag(torch.diagonal(cov))
    return off.pow(2).sum() / d


def vicreg_covariance(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """VICReg's covariance term: squared off-diagonal covariances, divided by the dimension.

    For each view, the batch covariance ``C = (z - mean)^T (z - mean) / (n - 1)`` ``(d, d)`` and
    ``sum_{i != j} C_ij^2 / d``; the term is the *sum* over the two views, as in the reference code.
    It decorrelates dimensions, which fights dimensional collapse.

    Args:
        z_a: ``(n, d)`` embeddings of the first views, ``n >= 2``.
        z_b: ``(n, d)`` embeddings of the second views.

    Returns:
        Scalar tensor.

    >>> z = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])   # two perfectly correlated dimensions
    >>> float(vicreg_covariance(z, z))   # C = [[2, 2], [2, 2]]: 2 * (2**2 + 2**2) / 2
    8.0
    """
    _check_same(z_a, z_b, min_rows=2)
    return _off_diagonal_cov(z_a) + _off_diagonal_cov(z_b)


def vicreg(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    invariance_weight: float = 25.0,
    variance_weight: float = 25.0,
    covariance_weight: float = 1.0,
    eps: float = 1e-4,
) -> torch.Tensor:
    """VICReg's loss (Bardes et al., 2022): invariance + variance + covariance, weighted.

    ``λ * vicreg_invariance + μ * vicreg_variance + ν * vicreg_covariance`` with the paper's
    defaults λ = 25, μ = 25, ν = 1 and the reference implementation's conventions (see the three
    term functions). Symmetric in the two views. A collapsed batch costs ``μ * (1 - sqrt(eps))``
    (24.75 with the defaults).

    Args:
        z_a: ``(n, d)`` embeddings of the first views, ``n >= 2`` (in the paper, the expander's output).
        z_b: ``(n, d)`` embeddings of the second views.
        invariance_weight: λ.
        variance_weight: μ.
        covariance_weight: ν.
        eps: see :func:`vicreg_variance`.

    Returns:
        Scalar tensor.

    >>> round(float(vicreg(torch.ones(4, 3), torch.ones(4, 3))), 2)
    24.75
    """
    for name, w in (
        ("invariance_weight", invariance_weight),
        ("variance_weight", variance_weight),
        ("covariance_weight", covariance_weight),
    ):
        if w < 0:
            raise ValueError(f"{name} must be non-negative; got {w}")
    return (
        invariance_weight * vicreg_invariance(z_a, z_b)
        + variance_weight * vicreg_variance(z_a, z_b, eps)
        + covariance_weight * vicreg_covariance(z_a, z_b)
    )


def regression_loss(prediction: torch.Tensor, target: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """The BYOL / JEPA loss: how far a predicted embedding is from the target embedding.

    With ``normalize=True`` (BYOL, Grill et al., 2020; SimSiam uses the negative cosine, the same up
    to an affine map), both are l2-normalized per row and the loss is the batch mean of
    ``||p/|p| - t/|t|||^2 = 2 - 2 cos(p, t)``, in [0, 4]. With ``normalize=False`` it is the plain
    mean squared error over all entries, the L2 distance in representation space of I-JEPA
    (Assran et al., 2023); V-JEPA uses an L1 distance instead.

    Nothing is detached here: stopping the gradient on the target (BYOL, SimSiam, I-JEPA) is the
    caller's ``target.detach()``. The value is symmetric in its two arguments; the gradient is not,
    once the target is detached. BYOL symmetrizes by also predicting the first view from the second.

    Args:
        prediction: ``(n, d)`` predictor outputs for the context views.
        target: ``(n, d)`` embeddings of the target views.
        normalize: cosine form (True) or plain mean squared error (False).

    Returns:
        Scalar tensor.

    >>> p = torch.tensor([[1.0, 0.0]]); t = torch.tensor([[0.0, 3.0]])
    >>> float(regression_loss(p, t)), float(regression_loss(p, -p))
    (2.0, 4.0)
    """
    _check_same(prediction, target, ("prediction", "target"))
    if not normalize:
        return F.mse_loss(prediction, target)
    p, t = F.normalize(prediction, dim=1), F.normalize(target, dim=1)
    return (2.0 - 2.0 * (p * t).sum(dim=1)).mean()


def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> nn.Module:
    """Move a target network towards the online one: ``θ_target ← m θ_target + (1 - m) θ_online``.

    The exponential moving average of BYOL (Grill et al., 2020), MoCo's momentum encoder, DINO's
    teacher and I-JEPA's target encoder. Parameters are averaged; buffers (batch-norm statistics)
    are copied from the online network. Runs without gradients; ``online`` is not modified,
    ``target`` is updated in place and returned.

    Args:
        target: the target network (same architecture as ``online``).
        online: the network trained by gradient descent.
        momentum: ``m`` in [0, 1]; 1 leaves the target unchanged, 0 copies the online network.

    Returns:
        ``target``.

    Raises:
        ValueError: momentum outside [0, 1], or the two networks' parameters do not match.

    >>> online, target = nn.Linear(2, 2), nn.Linear(2, 2)
    >>> torch.equal(ema_update(target, online, 0.0).weight, online.weight)
    True
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1]; got {momentum}")
    t_params, o_params = dict(target.named_parameters()), dict(online.named_parameters())
    t_shapes = {k: tuple(v.shape) for k, v in t_params.items()}
    o_shapes = {k: tuple(v.shape) for k, v in o_params.items()}
    if t_shapes != o_shapes:
        differ = sorted(k for k in t_shapes.keys() | o_shapes.keys() if t_shapes.get(k) != o_shapes.get(k))
        raise ValueError(
            "target and online must have the same architecture (parameter names and shapes); "
            "these differ (target vs online): "
            + ", ".join(f"{k}: {t_shapes.get(k)} vs {o_shapes.get(k)}" for k in differ[:4])
        )
    with torch.no_grad():
        for name, p_t in t_params.items():
            p_t.mul_(momentum).add_(o_params[name].detach(), alpha=1.0 - momentum)
        o_buffers = dict(online.named_buffers())
        for name, b_t in target.named_buffers():
            if name in o_buffers:
                b_t.copy_(o_buffers[name])
    return target


def ema_momentum_schedule(
    total_steps: int, base: float = 0.996, final: float = 1.0, kind: str = "cosine"
) -> torch.Tensor:
    """The momentum of the target network at each of ``total_steps`` updates, from ``base`` to ``final``.

    ``kind="cosine"`` is BYOL's schedule (Grill et al., 2020, Sec. 3.2 and the reference code's
    ``target_ema``): ``m_k = final - (final - base) (cos(pi k / K) + 1) / 2`` for step ``k`` of
    ``K = total_steps``. ``kind="linear"`` is I-JEPA's (Assran et al., 2023, reference code
    ``ema: [0.996, 1.0]``): ``m_k = base + (final - base) k / K``. Both start at ``base`` (0.996
    in both papers) and approach ``final`` (1) at the end of training. ``kind="constant"`` keeps
    ``base`` throughout.

    Args:
        total_steps: number of EMA updates (optimizer steps) in the whole run, ``K >= 1``.
        base: momentum of the first update, in [0, 1].
        final: momentum reached at step ``K``, in [base, 1].
        kind: ``"cosine"``, ``"linear"`` or ``"constant"``.

    Returns:
        ``(total_steps,)`` float64 momenta for steps ``k = 0 .. K - 1``, non-decreasing.

    >>> ema_momentum_schedule(4, kind="cosine").tolist()[0], ema_momentum_schedule(4, kind="linear").tolist()[2]
    (0.996, 0.998)
    """
    if int(total_steps) != total_steps or total_steps < 1:
        raise ValueError(f"total_steps must be a positive integer; got {total_steps!r}")
    if not 0.0 <= base <= final <= 1.0:
        raise ValueError(f"need 0 <= base <= final <= 1; got base={base}, final={final}")
    k = torch.arange(int(total_steps), dtype=torch.float64)
    if kind == "cosine":
        return final - (final - base) * (torch.cos(torch.pi * k / total_steps) + 1.0) / 2.0
    if kind == "linear":
        return base + (final - base) * k / total_steps
    if kind == "constant":
        return torch.full_like(k, base)
    raise ValueError(f"unknown schedule kind {kind!r}; use 'cosine', 'linear' or 'constant'")


def dino_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    center: torch.Tensor,
    student_temperature: float = 0.1,
    teacher_temperature: float = 0.04,
) -> torch.Tensor:
    """DINO's self-distillation loss (Caron et al., 2021, `caron2021dino`): cross-entropy from teacher to student.

    ``H(P_t, P_s) = -sum_k P_t[k] log P_s[k]``, averaged over the batch, with
    ``P_t = softmax((teacher_logits - center) / teacher_temperature)`` (centring, then sharpening
    by a low temperature) and ``P_s = softmax(student_logits / student_temperature)``. Defaults are
    the paper's (student 0.1, teacher 0.04 at the start of its warm-up). The teacher's
    probabilities are computed without gradient, as in the reference code; the caller pairs the
    views (DINO sums over every student view and every other teacher view).

    Args:
        student_logits: ``(n, k)`` student outputs for one view.
        teacher_logits: ``(n, k)`` teacher outputs for the other view of the same images.
        center: ``(k,)`` running mean of the teacher's outputs (:func:`dino_center`); zeros turn
            centring off.
        student_temperature, teacher_temperature: positive softmax temperatures.

    Returns:
        Scalar loss; ``log k`` when both distributions are uniform.

    >>> round(float(dino_loss(torch.zeros(2, 4), torch.zeros(2, 4), torch.zeros(4))), 4)  # log 4
    1.3863
    """
    _check_pair(student_logits, teacher_logits)
    if center.shape != (student_logits.shape[1],):
        raise ValueError(
            f"center must be ({student_logits.shape[1]},), one value per output; got {tuple(center.shape)}"
        )
    if student_temperature <= 0 or teacher_temperature <= 0:
        raise ValueError(f"temperatures must be positive; got {student_temperature} and {teacher_temperature}")
    p_teacher = F.softmax((teacher_logits.detach() - center) / teacher_temperature, dim=-1)
    return -(p_teacher * F.log_softmax(student_logits / student_temperature, dim=-1)).sum(dim=-1).mean()


def dino_center(center: torch.Tensor, teacher_logits: torch.Tensor, momentum: float = 0.9) -> torch.Tensor:
    """DINO's centre update: ``momentum * center + (1 - momentum) * mean(teacher_logits)`` (a new tensor).

    Caron et al. (2021) keep this running mean of the teacher's outputs over batches (momentum 0.9
    in the reference code) and subtract it before the teacher's softmax, so that no output
    dimension can dominate for every input.

    Args:
        center: ``(k,)`` current centre.
        teacher_logits: ``(n, k)`` teacher outputs of the batch (all views).
        momentum: in [0, 1].

    >>> dino_center(torch.zeros(2), torch.tensor([[1.0, 3.0]]), momentum=0.5).tolist()
    [0.5, 1.5]
    """
    if teacher_logits.ndim != 2 or center.shape != (teacher_logits.shape[1],):
        raise ValueError(
            "teacher_logits must be (n, k) and center (k,); "
            f"got {tuple(teacher_logits.shape)} and {tuple(center.shape)}"
        )
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1]; got {momentum}")
    return momentum * center + (1 - momentum) * teacher_logits.detach().mean(dim=0)


def directpred_weight(correlation: torch.Tensor, eps: float = 0.1) -> torch.Tensor:
    """DirectPred's linear predictor (Tian et al., 2021, `tian2021directpred`), set from the correlation, not trained.

    With the eigendecomposition ``F = U diag(s) U^T`` of the embeddings' correlation
    ``F = E[z z^T]``, the predictor is ``W = U diag(p) U^T`` with ``p_j = sqrt(s_j / max s) + eps``:
    it shares ``F``'s eigenvectors by construction, the state a trained linear predictor drifts
    towards in the paper's analysis. Negative eigenvalues (estimation noise) count as 0.

    Args:
        correlation: ``(d, d)`` symmetric correlation matrix (e.g. a running mean of ``z.T @ z / n``).
        eps: added to every eigenvalue of the predictor, so that weak directions still pass.

    Returns:
        ``(d, d)`` symmetric predictor weight (use as ``nn.Linear(d, d, bias=False).weight``).

    >>> directpred_weight(torch.diag(torch.tensor([4.0, 1.0]))).diag().tolist()
    [1.100000023841858, 0.6000000238418579]
    """
    if correlation.ndim != 2 or correlation.shape[0] != correlation.shape[1]:
        raise ValueError(f"correlation must be a square (d, d) matrix; got {tuple(correlation.shape)}")
    if eps < 0:
        raise ValueError(f"eps must be non-negative; got {eps}")
    s, u = torch.linalg.eigh((correlation + correlation.T) / 2)
    s = s.clamp(min=0)
    p = (s / s.max().clamp(min=1e-12)).sqrt() + eps
    return u @ torch.diag(p) @ u.T


def contractive_penalty(h: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The contractive autoencoder's penalty (Rifai et al., 2011, `rifai2011contractive`) for a sigmoid layer.

    For ``h = sigmoid(x W^T + b)`` the Jacobian of ``h`` with respect to ``x`` has the closed-form
    squared Frobenius norm ``sum_j (h_j (1 - h_j))^2 sum_i W_ji^2`` per input (the paper's Eq. for
    sigmoid units); this returns its mean over the batch. It is small when the code barely moves
    under small changes of the input, in every direction.

    Args:
        h: ``(n, k)`` sigmoid activations of the layer.
        weight: ``(k, d)`` the layer's weight (``nn.Linear(d, k).weight``).

    Returns:
        Scalar penalty, differentiable in ``h`` and ``weight``.

    >>> float(contractive_penalty(torch.full((1, 2), 0.5), torch.ones(2, 3)))
    0.375
    """
    if h.ndim != 2 or weight.ndim != 2 or weight.shape[0] != h.shape[1]:
        raise ValueError(
            f"h must be (n, k) and weight (k, d) with the same k; got {tuple(h.shape)} and {tuple(weight.shape)}"
        )
    return ((h * (1 - h)) ** 2 @ (weight**2).sum(dim=1)).mean()


def mask_noise(x: torch.Tensor, generator: torch.Generator, p: float = 0.3) -> torch.Tensor:
    """A denoising autoencoder's masking corruption (Vincent et al., 2008, `vincent2008dae`): zero a share ``p``.

    Each entry of ``x`` is set to 0 independently with probability ``p``; the autoencoder is then
    trained to reconstruct the clean ``x`` from the corrupted copy.

    Args:
        x: any-shape tensor (a batch of images).
        generator: the source of randomness.
        p: probability of zeroing an entry, in [0, 1).

    Returns:
        Corrupted copy of ``x``; ``x`` is not modified.

    >>> mask_noise(torch.ones(2, 4), torch.Generator().manual_seed(0), p=0.0).sum().item()
    8.0
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be in [0, 1); got {p}")
    keep = torch.rand(x.shape, generator=generator) >= p
    return x * keep
