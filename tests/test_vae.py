import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from lecturekit import vae
from lecturekit.sprites import Sprites


def test_shapes_and_representation_is_the_posterior_mean():
    model = vae.seeded(0, image_size=32, latent_dim=6, hidden=32)
    x = torch.rand(5, 1, 32, 32)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 6)
    assert model.decode(mu).shape == (5, 1, 32, 32)
    assert torch.equal(model(x), mu)


def test_seeded_models_are_identical_and_leave_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = vae.seeded(7, hidden=16), vae.seeded(7, hidden=16)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=False))
    assert not torch.equal(vae.seeded(8, hidden=16).decoder[0].weight, a.decoder[0].weight)


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    assert torch.allclose(vae.gaussian_kl_per_dim(mu, logvar), expected, atol=1e-6)
    assert torch.allclose(vae.gaussian_kl(mu, logvar), expected.sum(1), atol=1e-5)
    assert torch.all(vae.gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)) == 0)


def test_reconstruction_matches_bernoulli_log_likelihood():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 1, 4, 4, generator=g)
    x = torch.randint(0, 2, (3, 1, 4, 4), generator=g).float()
    expected = -Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(vae.bernoulli_nll(logits, x), expected, atol=1e-5)
    assert math.isclose(
        float(vae.bernoulli_nll(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))), 4 * math.log(2), rel_tol=1e-6
    )


def test_loss_is_reconstruction_plus_beta_kl():
    g = torch.Generator().manual_seed(2)
    logits, x = torch.randn(2, 1, 3, 3, generator=g), torch.rand(2, 1, 3, 3, generator=g)
    mu, logvar = torch.randn(2, 4, generator=g), torch.randn(2, 4, generator=g)
    for beta in (0.0, 1.0, 4.0):
        expected = (vae.bernoulli_nll(logits, x) + beta * vae.gaussian_kl(mu, logvar)).mean()
        assert torch.allclose(vae.beta_vae_loss(logits, x, mu, logvar, beta), expected)
    z = vae.reparameterize(mu, logvar, torch.ones_like(mu))
    assert torch.allclose(z, mu + (0.5 * logvar).exp())


def test_a_few_steps_lower_the_loss_on_sprites():
    ds = Sprites()
    x = ds.render(ds.sample_factors(128, np.random.default_rng(0)))
    model = vae.seeded(0, latent_dim=4, hidden=64)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(0)

    def loss(noise):
        mu, logvar = model.encode(x)
        return vae.beta_vae_loss(model.decode(vae.reparameterize(mu, logvar, noise)), x, mu, logvar, beta=4.0)

    fixed_noise = torch.randn(128, 4, generator=g)
    with torch.no_grad():
        before = float(loss(fixed_noise))
    for _ in range(30):
        step_loss = loss(torch.randn(128, 4, generator=g))
        opt.zero_grad()
        step_loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(loss(fixed_noise)) < 0.7 * before


def test_bad_inputs_raise():
    model = vae.seeded(0, latent_dim=3, hidden=8)
    with pytest.raises(ValueError, match=r"\(n, 1, 32, 32\)"):
        model.encode(torch.zeros(2, 32, 32))
    with pytest.raises(ValueError, match=r"\(n, 3\)"):
        model.decode(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="same shape"):
        vae.reparameterize(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="same shape"):
        vae.bernoulli_nll(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 3, 3))
    with pytest.raises(ValueError, match="non-negative"):
        vae.beta_vae_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.zeros(1, 2), torch.zeros(1, 2), -1.0)
    with pytest.raises(ValueError, match="latent_dim"):
        vae.VAE(latent_dim=0)
