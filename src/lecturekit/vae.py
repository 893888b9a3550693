"""A small variational autoencoder and the terms of its loss, as pure functions.

The model (Kingma & Welling, 2014) has a Gaussian encoder ``q(z | x) = N(mu(x), diag sigma^2(x))``,
a standard normal prior ``p(z) = N(0, I)`` and a Bernoulli decoder ``p(x | z)`` over pixels. The
negative evidence lower bound (ELBO) of one image is

    reconstruction + KL = -E_q[log p(x | z)] + KL(q(z | x) || p(z)),

and the beta-VAE (Higgins et al., 2017) weighs the KL term by ``beta``: ``beta > 1`` presses the
posterior towards the factorised prior, which was proposed to encourage disentanglement, at the
cost of reconstruction. The representation of an image is the posterior mean ``mu(x)``, as in
disentanglement_lib. Chapters write the training loop themselves from these parts.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    """Fully connected VAE for ``(n, 1, size, size)`` images in [0, 1].

    Encoder ``pixels -> hidden -> hidden/2 -> (mu, logvar)``, decoder the mirror image ending in
    pixel logits. ``forward`` returns the posterior mean ``(n, latent_dim)``, the representation.

    >>> model = VAE(image_size=32, latent_dim=10)
    >>> model(torch.zeros(4, 1, 32, 32)).shape
    torch.Size([4, 10])
    """

    def __init__(self, image_size: int = 32, latent_dim: int = 10, hidden: int = 256) -> None:
        super().__init__()
        if image_size < 1 or latent_dim < 1 or hidden < 2:
            raise ValueError(
                f"image_size, latent_dim must be >= 1 and hidden >= 2; got {image_size}, {latent_dim}, {hidden}"
            )
        self.image_size, self.latent_dim = image_size, latent_dim
        n_pixels = image_size * image_size
        self.encoder = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_pixels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden // 2),
            nn.ReLU(),
            nn.Linear(hidden // 2, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden // 2),
            nn.ReLU(),
            nn.Linear(hidden // 2, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_pixels),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(mu, logvar)``, each ``(n, latent_dim)``, of images ``(n, 1, s, s)``."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, self.image_size, self.image_size):
            raise ValueError(f"x must be images (n, 1, {self.image_size}, {self.image_size}); got {tuple(x.shape)}")
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits ``(n, 1, s, s)`` of latents ``(n, latent_dim)``; ``sigmoid`` gives the image."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be (n, {self.latent_dim}); got {tuple(z.shape)}")
        return self.decoder(z).view(-1, 1, self.image_size, self.image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The representation of ``x`` ``(n, 1, H, W)``: the posterior means, ``(n, latent_dim)``."""
        return self.encode(x)[0]


def seeded(seed: int = 0, **kwargs) -> VAE:
    """A :class:`VAE` whose initial weights depend only on ``seed`` (global RNG left untouched).

    >>> torch.equal(seeded(3).decoder[0].weight, seeded(3).decoder[0].weight)
    True
    """
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return VAE(**kwargs)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """A posterior sample ``z = mu + exp(logvar / 2) * noise`` ``(n, d)``, differentiable in mu and logvar.

    ``noise`` ``(n, d)`` is standard normal, drawn by the caller (with its own generator).

    >>> reparameterize(torch.zeros(1, 2), torch.zeros(1, 2), torch.ones(1, 2))
    tensor([[1., 1.]])
    """
    if not (mu.shape == logvar.shape == noise.shape):
        raise ValueError(
            f"mu, logvar and noise must have the same shape; got {tuple(mu.shape)}, "
            f"{tuple(logvar.shape)}, {tuple(noise.shape)}"
        )
    return mu + torch.exp(0.5 * logvar) * noise


def gaussian_kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, exp(logvar)) || N(0, 1))`` per latent, ``(n, d)``, in nats (closed form).

    >>> gaussian_kl_per_dim(torch.zeros(1, 3), torch.zeros(1, 3))
    tensor([[0., 0., 0.]])
    """
    if mu.shape != logvar.shape or mu.ndim != 2:
        raise ValueError(f"mu and logvar must both be (n, d); got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(q(z | x) || N(0, I))`` per image, ``(n,)``: :func:`gaussian_kl_per_dim` summed over latents."""
    return gaussian_kl_per_dim(mu, logvar).sum(dim=1)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Reconstruction term ``-log p(x | z)`` per image, ``(n,)``, in nats.

    Pixel-wise binary cross-entropy (pixels in [0, 1] as Bernoulli means), summed over pixels.

    >>> round(float(bernoulli_nll(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))), 4)  # 4 log 2
    2.7726
    """
    if logits.shape != x.shape:
        raise ValueError(f"logits and x must have the same shape; got {tuple(logits.shape)} and {tuple(x.shape)}")
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


def beta_vae_loss(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
) -> torch.Tensor:
    """Batch mean of ``reconstruction + beta * KL``; ``beta = 1`` is the negative ELBO.

    Args:
        logits: ``(n, 1, s, s)`` decoder output for a posterior sample of each image.
        x: ``(n, 1, s, s)`` the images.
        mu: ``(n, d)`` posterior means.
        logvar: ``(n, d)`` posterior log-variances.
        beta: weight of the KL term (Higgins et al., 2017); must be non-negative.

    >>> z = torch.zeros(2, 4)
    >>> round(float(beta_vae_loss(torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2), z, z, beta=4.0)), 4)
    2.7726
    """
    if beta < 0:
        raise ValueError(f"beta must be non-negative; got {beta}")
    return (bernoulli_nll(logits, x) + beta * gaussian_kl(mu, logvar)).mean()


__all__ = ["VAE", "bernoulli_nll", "beta_vae_loss", "gaussian_kl", "gaussian_kl_per_dim", "reparameterize", "seeded"]
