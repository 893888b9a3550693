import math

import pytest
import torch

from lecturekit import losses


def test_info_nce_is_log_2n_minus_1_when_embeddings_are_uninformative():
    z = torch.ones(8, 4)
    assert math.isclose(float(losses.info_nce(z, z)), math.log(2 * 8 - 1), rel_tol=1e-6)


def test_info_nce_is_zero_for_perfect_orthogonal_pairs():
    z = torch.eye(6)
    assert float(losses.info_nce(z, z, temperature=0.01)) < 1e-6


def test_info_nce_matches_a_direct_formula_and_is_symmetric():
    g = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    t = 0.3
    z = torch.nn.functional.normalize(torch.cat([z_a, z_b]), dim=1)
    sim = z @ z.T / t
    n = 5
    terms = []
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        others = [sim[i, j] for j in range(2 * n) if j != i]
        terms.append(-(sim[i, pos] - torch.logsumexp(torch.stack(others), 0)))
    expected = torch.stack(terms).mean()
    assert torch.allclose(losses.info_nce(z_a, z_b, t), expected, atol=1e-6)
    assert torch.allclose(losses.info_nce(z_a, z_b, t), losses.info_nce(z_b, z_a, t), atol=1e-6)


def test_a_few_steps_lower_info_nce():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 10, generator=g)
    noise = 0.1 * torch.randn(32, 10, generator=g)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = torch.nn.Linear(10, 8)
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    with torch.no_grad():
        first = float(losses.info_nce(net(x), net(x + noise)))
    for _ in range(20):
        loss = losses.info_nce(net(x), net(x + noise))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(losses.info_nce(net(x), net(x + noise))) < first - 0.1


def test_info_nce_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        losses.info_nce(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="at least 2 pairs"):
        losses.info_nce(torch.zeros(1, 3), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="temperature"):
        losses.info_nce(torch.zeros(4, 3), torch.zeros(4, 3), temperature=0)
