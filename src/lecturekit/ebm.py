"""Energy-based models on small point sets: toy data, energies, negatives, objectives, landscapes.

An energy-based model (LeCun et al., 2006) assigns a scalar energy ``F(y)`` (or ``F(x, y)``) that is
low where data lives and high elsewhere. Learning shapes the landscape; inference minimizes it.
Points are ``(n, d)`` float tensors (``d = 2`` on the pages); an energy is any callable mapping
``(n, d)`` to ``(n,)``.

- data: :func:`moons`, :func:`uniform`
- energies: :class:`EnergyMLP` / :func:`energy_mlp`, :class:`PrototypeEnergy` / :func:`prototype_energy`
- negatives: :func:`langevin`
- objectives: :func:`contrastive_loss`, :func:`denoising_score_matching`
- evaluation: :func:`energy_grid`, :func:`separation_auroc`
- inference: :func:`descend`
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn

Energy = Callable[[torch.Tensor], torch.Tensor]

#: The square ``(low, high)`` that holds the centred two-moons data with a margin.
BOX: tuple[float, float] = (-2.0, 2.0)
#: Centre of scikit-learn's two moons, subtracted by :func:`moons`.
MOONS_CENTRE: tuple[float, float] = (0.5, 0.25)


def _check_points(y: torch.Tensor, name: str = "y", dim: int | None = None) -> None:
    if not isinstance(y, torch.Tensor) or y.ndim != 2:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"{name} must be a (n_samples, dim) tensor; got {got}")
    if dim is not None and y.shape[1] != dim:
        raise ValueError(f"{name} must have {dim} columns; got shape {tuple(y.shape)}")


def _check_positive(value: float, name: str) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive; got {value}")


def moons(n: int, noise: float = 0.05, seed: int = 0) -> torch.Tensor:
    """Two interleaving half circles (scikit-learn's ``make_moons``), centred at the origin.

    Args:
        n: number of points (split evenly between the moons).
        noise: standard deviation of the Gaussian noise added to each coordinate.
        seed: ``random_state`` of ``make_moons``.

    Returns:
        ``(n, 2)`` float32 points, inside :data:`BOX` for small noise.

    >>> moons(100).shape
    torch.Size([100, 2])
    """
    from sklearn.datasets import make_moons

    if n < 2:
        raise ValueError(f"n must be at least 2; got {n}")
    if noise < 0:
        raise ValueError(f"noise must be non-negative; got {noise}")
    points, _ = make_moons(n_samples=n, noise=noise, random_state=seed)
    return torch.as_tensor(points - np.asarray(MOONS_CENTRE), dtype=torch.float32)


def uniform(n: int, generator: torch.Generator, dim: int = 2, box: tuple[float, float] = BOX) -> torch.Tensor:
    """Points drawn uniformly from the cube ``box^dim``: the "everything else" of a landscape.

    >>> uniform(3, torch.Generator().manual_seed(0)).shape
    torch.Size([3, 2])
    """
    low, high = box
    if not high > low:
        raise ValueError(f"box must be (low, high) with high > low; got {box}")
    return low + (high - low) * torch.rand(n, dim, generator=generator)


class EnergyMLP(nn.Module):
    """A small multilayer perceptron with a scalar output: ``(n, d)`` -> energies ``(n,)``.

    SiLU activations keep the landscape (and its gradient, which Langevin dynamics and score
    matching need) smooth.
    """

    def __init__(self, dim: int = 2, hidden: int = 64, depth: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)
        self.dim = dim

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Energies of points ``y`` ``(n, dim)``, shape ``(n,)``."""
        _check_points(y, dim=self.dim)
        return self.net(y).squeeze(-1)


def energy_mlp(dim: int = 2, hidden: int = 64, depth: int = 2, seed: int = 0) -> EnergyMLP:
    """A freshly initialised :class:`EnergyMLP` (``dim -> hidden -> ... -> 1``), seeded without touching global RNG.

    >>> energy_mlp(seed=0)(torch.zeros(5, 2)).shape
    torch.Size([5])
    """
    if dim < 1 or hidden < 1 or depth < 1:
        raise ValueError(f"dim, hidden and depth must be positive; got {dim}, {hidden}, {depth}")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return EnergyMLP(dim, hidden, depth)


class PrototypeEnergy(nn.Module):
    """A latent-variable energy: the free energy of ``k`` prototypes.

    ``E(y, z) = ||y - w_z||^2`` for a discrete latent ``z`` in ``1..k``; marginalizing ``z`` at
    temperature ``t`` gives ``F(y) = -t log sum_z exp(-E(y, z) / t)``, which tends to the
    K-means energy ``min_z ||y - w_z||^2`` as ``t -> 0``. The architecture bounds the volume of
    low energy (at most ``k`` small bowls), so pushing data energy down cannot flatten it —
    LeCun's "architectural" family (LeCun et al., 2006; the K-means example of his lectures).
    """

    def __init__(self, prototypes: torch.Tensor, temperature: float = 0.05) -> None:
        super().__init__()
        _check_points(prototypes, "prototypes")
        _check_positive(temperature, "temperature")
        self.prototypes = nn.Parameter(prototypes.clone())
        self.temperature = temperature

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """Energies of points ``y`` ``(n, dim)``, shape ``(n,)``: a soft minimum of squared distances."""
        _check_points(y, dim=self.prototypes.shape[1])
        sq = ((y[:, None, :] - self.prototypes[None, :, :]) ** 2).sum(-1)  # (n, k)
        t = self.temperature
        return -t * torch.logsumexp(-sq / t, dim=1) + t * float(np.log(self.prototypes.shape[0]))


def prototype_energy(
    k: int, generator: torch.Generator, dim: int = 2, box: tuple[float, float] = BOX, temperature: float = 0.05
) -> PrototypeEnergy:
    """A :class:`PrototypeEnergy` with ``k`` prototypes drawn uniformly in ``box``.

    >>> prototype_energy(8, torch.Generator().manual_seed(0))(torch.zeros(3, 2)).shape
    torch.Size([3])
    """
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}")
    return PrototypeEnergy(uniform(k, generator, dim, box), temperature)


def energy_gradient(energy: Energy, y: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
    """``dF/dy`` at each point: ``(n, d)`` -> ``(n, d)``.

    >>> energy_gradient(lambda y: (y ** 2).sum(1), torch.ones(2, 2)).tolist()
    [[2.0, 2.0], [2.0, 2.0]]
    """
    _check_points(y)
    if not (create_graph and y.requires_grad):
        y = y.detach().requires_grad_(True)  # a fresh leaf; the caller's tensor is untouched
    (grad,) = torch.autograd.grad(energy(y).sum(), y, create_graph=create_graph)
    return grad


def langevin(
    energy: Energy,
    y0: torch.Tensor,
    n_steps: int,
    step_size: float,
    generator: torch.Generator,
    noise_scale: float = 1.0,
    box: tuple[float, float] | None = None,
) -> torch.Tensor:
    """Unadjusted Langevin dynamics: ``y <- y - step * dF/dy + noise_scale * sqrt(2 step) * N(0, I)``.

    With ``noise_scale = 1`` and a small step the chain samples ``p(y) ∝ exp(-F(y))`` (Welling &
    Teh, 2011, without the minibatch gradient); EBM training often uses a smaller noise scale, as
    Du & Mordatch (2019) do, which makes short chains seek low energy faster.

    Args:
        energy: maps ``(n, d)`` to ``(n,)``.
        y0: ``(n, d)`` starting points (not modified).
        n_steps: number of updates (>= 0).
        step_size: ``step`` above (> 0).
        generator: source of the Gaussian noise.
        noise_scale: multiplier of the noise (>= 0; 0 is plain gradient descent).
        box: if given, ``(low, high)`` to clamp every coordinate to after each step.

    Returns:
        ``(n, d)`` detached samples.

    >>> g = torch.Generator().manual_seed(0)
    >>> langevin(lambda y: (y ** 2).sum(1) / 2, torch.zeros(4, 2), 10, 0.1, g).shape
    torch.Size([4, 2])
    """
    _check_points(y0, "y0")
    if n_steps < 0:
        raise ValueError(f"n_steps must be non-negative; got {n_steps}")
    _check_positive(step_size, "step_size")
    if noise_scale < 0:
        raise ValueError(f"noise_scale must be non-negative; got {noise_scale}")
    y = y0.detach().clone()
    for _ in range(n_steps):
        grad = energy_gradient(energy, y)
        noise = torch.randn(y.shape, generator=generator, dtype=y.dtype)
        y = y - step_size * grad + noise_scale * (2.0 * step_size) ** 0.5 * noise
        if box is not None:
            y = y.clamp(box[0], box[1])
    return y.detach()


def contrastive_loss(e_data: torch.Tensor, e_neg: torch.Tensor, alpha: float = 0.1) -> torch.Tensor:
    """Push data energy down and negative energy up, with an L2 penalty that keeps energies finite.

    ``mean(E(data)) - mean(E(neg)) + alpha * (mean(E(data)^2) + mean(E(neg)^2))``: the contrastive
    divergence objective with the energy regularizer of Du & Mordatch (2019). Without the penalty
    (``alpha = 0``) the energies of negatives can grow without bound.

    Args:
        e_data: ``(n,)`` energies of data points.
        e_neg: ``(m,)`` energies of negatives.
        alpha: weight of the squared-energy penalty (>= 0).

    Returns:
        Scalar tensor.

    >>> float(contrastive_loss(torch.zeros(3), torch.ones(3), alpha=0.0))
    -1.0
    """
    for name, e in (("e_data", e_data), ("e_neg", e_neg)):
        if not isinstance(e, torch.Tensor) or e.ndim != 1 or e.shape[0] == 0:
            got = tuple(e.shape) if isinstance(e, torch.Tensor) else type(e).__name__
            raise ValueError(f"{name} must be a non-empty (n,) tensor of energies; got {got}")
    if alpha < 0:
        raise ValueError(f"alpha must be non-negative; got {alpha}")
    return e_data.mean() - e_neg.mean() + alpha * ((e_data**2).mean() + (e_neg**2).mean())


def denoising_score_matching(energy: Energy, y: torch.Tensor, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Denoising score matching (Vincent, 2011): the energy's gradient must point back to the data.

    Corrupt ``y~ = y + sigma * eps`` and regress the model score ``-dF/dy(y~)`` on the score of the
    corruption, ``-(y~ - y) / sigma^2``; the loss is ``sigma^2 / 2 * mean ||dF/dy(y~) - (y~ - y) / sigma^2||^2``
    (the ``sigma^2`` weight of Song & Ermon, 2019). No negatives: the objective constrains the
    shape (slope and curvature) of the energy around the data instead.

    Args:
        energy: maps ``(n, d)`` to ``(n,)``; must be differentiable twice.
        y: ``(n, d)`` data points.
        sigma: noise standard deviation (> 0).
        generator: source of the corruption noise.

    Returns:
        Scalar tensor (differentiable w.r.t. the energy's parameters).

    >>> g = torch.Generator().manual_seed(0)
    >>> denoising_score_matching(lambda y: (y ** 2).sum(1) / 2, torch.zeros(4, 2), 1.0, g).item() < 10
    True
    """
    _check_points(y)
    _check_positive(sigma, "sigma")
    noise = torch.randn(y.shape, generator=generator, dtype=y.dtype)
    y_noisy = (y.detach() + sigma * noise).requires_grad_(True)
    grad = energy_gradient(energy, y_noisy, create_graph=True)
    target = noise / sigma  # (y~ - y) / sigma^2
    return 0.5 * sigma**2 * ((grad - target) ** 2).sum(1).mean()


def energy_grid(energy: Energy, box: tuple[float, float] = BOX, resolution: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The energy on a square grid, for plotting and evaluation.

    Args:
        energy: maps ``(n, 2)`` to ``(n,)``.
        box: ``(low, high)`` of both axes.
        resolution: grid points per axis (>= 2).

    Returns:
        ``(axis, values)``: ``axis`` ``(resolution,)`` coordinates and ``values``
        ``(resolution, resolution)`` energies, row ``i`` at ``y2 = axis[i]``, column ``j`` at ``y1 = axis[j]``.

    >>> axis, values = energy_grid(lambda y: (y ** 2).sum(1), resolution=5)
    >>> values.shape, float(values[2, 2])
    ((5, 5), 0.0)
    """
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2; got {resolution}")
    low, high = box
    if not high > low:
        raise ValueError(f"box must be (low, high) with high > low; got {box}")
    axis = torch.linspace(low, high, resolution)
    y2, y1 = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([y1.reshape(-1), y2.reshape(-1)], dim=1)  # (resolution^2, 2)
    with torch.no_grad():
        values = energy(points).reshape(resolution, resolution)
    return axis.numpy(), values.numpy()


def separation_auroc(energy: Energy, data: torch.Tensor, others: torch.Tensor) -> float:
    """How well low energy picks out data: the AUROC of ``-F`` for data (positive) against ``others``.

    1.0: every data point has lower energy than every other point; 0.5: energy does not tell them
    apart (a flat landscape); below 0.5: data sits higher.

    Args:
        energy: maps ``(n, d)`` to ``(n,)``.
        data: ``(n, d)`` held-out data points.
        others: ``(m, d)`` points that are not data (e.g. :func:`uniform`).

    >>> separation_auroc(lambda y: (y ** 2).sum(1), torch.zeros(3, 2), torch.ones(3, 2))
    1.0
    """
    from sklearn.metrics import roc_auc_score

    _check_points(data, "data")
    _check_points(others, "others", dim=data.shape[1])
    with torch.no_grad():
        scores = -torch.cat([energy(data), energy(others)]).double().numpy()
    labels = np.r_[np.ones(len(data)), np.zeros(len(others))]
    return float(roc_auc_score(labels, scores))


def descend(energy: Energy, y0: torch.Tensor, lr: float, n_steps: int) -> torch.Tensor:
    """Inference by optimization: gradient descent on ``F`` from ``y0``, returning the whole path.

    Args:
        energy: maps ``(n, d)`` to ``(n,)`` (for a conditional ``F(x, y)``, close over ``x``).
        y0: ``(n, d)`` starting points.
        lr: step size (> 0).
        n_steps: number of steps (>= 1).

    Returns:
        ``(n_steps + 1, n, d)`` trajectory; its last entry approximates a local ``argmin_y F``.

    >>> path = descend(lambda y: ((y - 1) ** 2).sum(1), torch.zeros(1, 1), 0.25, 20)
    >>> round(float(path[-1, 0, 0]), 4)
    1.0
    """
    _check_points(y0, "y0")
    _check_positive(lr, "lr")
    if n_steps < 1:
        raise ValueError(f"n_steps must be at least 1; got {n_steps}")
    path = [y0.detach().clone()]
    y = path[0]
    for _ in range(n_steps):
        y = y - lr * energy_gradient(energy, y)
        path.append(y.detach())
    return torch.stack(path)
