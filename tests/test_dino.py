"""DINO's loss, centre and the output entropies that tell its two collapses apart."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lecturekit import losses
from lecturekit.metrics import collapse


def test_dino_loss_matches_the_cross_entropy_formula():
    g = torch.Generator().manual_seed(0)
    s, t, c = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g), torch.randn(7, generator=g)
    p_t = torch.exp((t - c) / 0.04) / torch.exp((t - c) / 0.04).sum(1, keepdim=True)
    expected = -(p_t * torch.log(torch.exp(s / 0.1) / torch.exp(s / 0.1).sum(1, keepdim=True))).sum(1).mean()
    assert torch.allclose(losses.dino_loss(s, t, c), expected, atol=1e-5)


def test_dino_loss_sends_no_gradient_to_the_teacher_and_a_step_lowers_it():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(8, 5, generator=g, requires_grad=True)
    t = torch.randn(8, 5, generator=g, requires_grad=True)
    loss = losses.dino_loss(s, t, torch.zeros(5))
    loss.backward()
    assert t.grad is None and s.grad is not None
    with torch.no_grad():
        lower = losses.dino_loss(s - 0.05 * s.grad, t, torch.zeros(5))
    assert lower < loss


def test_centring_removes_a_dimension_every_input_prefers():
    t = torch.zeros(6, 3)
    t[:, 0] = 5.0  # every input prefers dimension 0
    uncentred = F.softmax(t / 0.04, dim=-1)
    center = t.mean(0)
    centred = F.softmax((t - center) / 0.04, dim=-1)
    assert collapse.marginal_entropy(uncentred) < 1e-6
    assert collapse.output_entropy(centred) == pytest.approx(math.log(3), abs=1e-6)


def test_dino_center_is_an_ema_and_checks_shapes():
    c = losses.dino_center(torch.ones(3), torch.zeros(4, 3), momentum=0.9)
    assert torch.allclose(c, torch.full((3,), 0.9))
    with pytest.raises(ValueError, match=r"\(n, k\)"):
        losses.dino_center(torch.ones(2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="momentum"):
        losses.dino_center(torch.ones(3), torch.zeros(4, 3), momentum=1.5)
    with pytest.raises(ValueError, match="center must be"):
        losses.dino_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(4))
    with pytest.raises(ValueError, match="temperatures"):
        losses.dino_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(3), teacher_temperature=0.0)


def test_entropies_of_the_two_collapses_and_a_healthy_output():
    k = 8
    uniform = np.full((20, k), 1 / k)
    one_dim = np.zeros((20, k))
    one_dim[:, 3] = 1.0
    healthy = np.eye(k)[np.arange(24) % k]  # confident, every dimension used
    assert collapse.output_entropy(uniform) == pytest.approx(np.log(k))
    assert collapse.marginal_entropy(uniform) == pytest.approx(np.log(k))
    assert collapse.output_entropy(one_dim) == pytest.approx(0.0, abs=1e-9)
    assert collapse.marginal_entropy(one_dim) == pytest.approx(0.0, abs=1e-9)
    assert collapse.output_entropy(healthy) == pytest.approx(0.0, abs=1e-9)
    assert collapse.marginal_entropy(healthy) == pytest.approx(np.log(k))
    with pytest.raises(ValueError, match="softmax"):
        collapse.output_entropy(np.ones((2, 3)))


def test_directpred_weight_shares_the_eigenvectors_and_follows_the_formula():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200, 6, generator=g) @ torch.randn(6, 6, generator=g)
    corr = z.T @ z / len(z)
    w = losses.directpred_weight(corr, eps=0.1)
    assert torch.allclose(w, w.T, atol=1e-5)
    s, u = torch.linalg.eigh(corr)
    assert torch.allclose(u.T @ w @ u, torch.diag((s / s.max()).sqrt() + 0.1), atol=1e-4)
    assert collapse.eigenbasis_alignment(w, z) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="square"):
        losses.directpred_weight(torch.zeros(2, 3))


def test_eigenbasis_alignment_of_random_matrices_is_low():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    scores = [collapse.eigenbasis_alignment(rng.normal(size=(16, 16)), z) for _ in range(20)]
    assert np.mean(scores) == pytest.approx(2 / 17, abs=0.05)
    with pytest.raises(ValueError, match=r"\(d, d\)"):
        collapse.eigenbasis_alignment(np.eye(3), z)
