"""Self-supervised losses as pure functions on embedding batches ``(n, d)``.

Two views of the same ``n`` images give ``z_a`` and ``z_b``; row ``i`` of each is a positive pair.
"""

from __future__ import annotations

import torch
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
