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


# --- VICReg -------------------------------------------------------------------------------------


def vicreg_reference(x, y, sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0):
    """The loss of facebookresearch/vicreg (main_vicreg.py, VICReg.forward), without the projector."""
    batch_size, num_features = x.shape
    repr_loss = torch.nn.functional.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    std_loss = torch.mean(torch.relu(1 - std_x)) / 2 + torch.mean(torch.relu(1 - std_y)) / 2
    cov_x = (x.T @ x) / (batch_size - 1)
    cov_y = (y.T @ y) / (batch_size - 1)

    def off_diagonal(m):
        n = m.shape[0]
        return m.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()

    cov_loss = off_diagonal(cov_x).pow(2).sum() / num_features + off_diagonal(cov_y).pow(2).sum() / num_features
    return sim_coeff * repr_loss + std_coeff * std_loss + cov_coeff * cov_loss


def test_vicreg_of_a_collapsed_batch_is_mu_times_0_99():
    z = torch.full((16, 8), 0.7)
    assert float(losses.vicreg(z, z)) == pytest.approx(25 * (1 - 0.01), rel=1e-6)
    assert float(losses.vicreg_variance(z, z)) == pytest.approx(0.99, rel=1e-6)
    assert float(losses.vicreg_invariance(z, z)) == 0.0
    assert float(losses.vicreg_covariance(z, z)) == 0.0


def test_vicreg_terms_known_values():
    # Two uncorrelated columns with standard deviation well above 1: no variance, no covariance cost.
    z = torch.tensor([[3.0, 3.0], [3.0, -3.0], [-3.0, 3.0], [-3.0, -3.0]])
    assert float(losses.vicreg_variance(z, z)) == 0.0
    assert float(losses.vicreg_covariance(z, z)) == 0.0
    assert float(losses.vicreg_invariance(z, z + 2.0)) == 4.0
    # Perfectly correlated columns: C = [[2, 2], [2, 2]], off-diagonal 2 * 4 / d = 4 per view.
    c = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    assert float(losses.vicreg_covariance(c, c)) == pytest.approx(8.0)


def test_vicreg_matches_the_reference_code_and_is_symmetric():
    g = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(32, 6, generator=g) * 0.5, torch.randn(32, 6, generator=g) * 2
    assert torch.allclose(losses.vicreg(z_a, z_b), vicreg_reference(z_a, z_b), atol=1e-5)
    assert torch.allclose(losses.vicreg(z_a, z_b), losses.vicreg(z_b, z_a), atol=1e-6)
    weighted = losses.vicreg(z_a, z_b, 1.0, 2.0, 3.0)
    parts = (
        losses.vicreg_invariance(z_a, z_b)
        + 2 * losses.vicreg_variance(z_a, z_b)
        + 3 * losses.vicreg_covariance(z_a, z_b)
    )
    assert torch.allclose(weighted, parts)


def test_a_few_steps_lower_vicreg():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 10, generator=g)
    noise = 0.1 * torch.randn(64, 10, generator=g)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = torch.nn.Linear(10, 8)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    with torch.no_grad():
        first = float(losses.vicreg(net(x), net(x + noise)))
    for _ in range(30):
        loss = losses.vicreg(net(x), net(x + noise))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(losses.vicreg(net(x), net(x + noise))) < 0.8 * first


def test_vicreg_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        losses.vicreg(torch.zeros(4, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="at least 2 rows"):
        losses.vicreg_variance(torch.zeros(1, 3), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="non-negative"):
        losses.vicreg(torch.zeros(4, 3), torch.zeros(4, 3), invariance_weight=-1.0)


# --- BYOL / JEPA regression ---------------------------------------------------------------------


def test_regression_loss_known_values():
    p = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert float(losses.regression_loss(p, 5 * p)) == pytest.approx(0.0, abs=1e-7)  # scale-free
    assert float(losses.regression_loss(p, -p)) == pytest.approx(4.0)
    assert float(losses.regression_loss(p, p.flip(1))) == pytest.approx(2.0)  # orthogonal
    assert float(losses.regression_loss(p, p + 1, normalize=False)) == pytest.approx(1.0)
    assert float(losses.regression_loss(p, torch.zeros(2, 2), normalize=False)) == pytest.approx(5 / 4)


def test_regression_loss_is_2_minus_2_cos_and_symmetric_in_value():
    g = torch.Generator().manual_seed(1)
    p, t = torch.randn(10, 4, generator=g), torch.randn(10, 4, generator=g)
    cos = torch.nn.functional.cosine_similarity(p, t, dim=1)
    assert torch.allclose(losses.regression_loss(p, t), (2 - 2 * cos).mean(), atol=1e-6)
    for normalize in (True, False):
        assert torch.allclose(losses.regression_loss(p, t, normalize), losses.regression_loss(t, p, normalize))


def test_regression_loss_does_not_stop_gradients_itself():
    p = torch.randn(4, 3, requires_grad=True)
    t = torch.randn(4, 3, requires_grad=True)
    losses.regression_loss(p, t).backward()
    assert t.grad is not None and t.grad.abs().sum() > 0


def test_a_few_steps_lower_the_regression_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 10, generator=g)
    target = torch.randn(32, 6, generator=g)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = torch.nn.Linear(10, 6)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for normalize in (True, False):
        with torch.no_grad():
            first = float(losses.regression_loss(net(x), target, normalize))
        for _ in range(20):
            loss = losses.regression_loss(net(x), target, normalize)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            assert float(losses.regression_loss(net(x), target, normalize)) < first - 0.05


def test_regression_loss_rejects_bad_input():
    with pytest.raises(ValueError, match="prediction and target"):
        losses.regression_loss(torch.zeros(4, 3), torch.zeros(3, 3))


# --- EMA ----------------------------------------------------------------------------------------


def _pair():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        online = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
        target = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    online(torch.randn(8, 3))  # moves the online network's batch-norm statistics
    return online, target


def test_ema_momentum_1_keeps_the_target_and_0_copies_the_online_network():
    online, target = _pair()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    online_before = {k: v.clone() for k, v in online.state_dict().items()}
    assert losses.ema_update(target, online, 1.0) is target
    for name, p in target.named_parameters():
        assert torch.equal(p, before[name])
    losses.ema_update(target, online, 0.0)
    for name, value in target.state_dict().items():
        assert torch.equal(value, online.state_dict()[name])
    for name, value in online.state_dict().items():
        assert torch.equal(value, online_before[name])  # the online network is never touched


def test_ema_is_the_weighted_average():
    online, target = _pair()
    expected = 0.9 * target[0].weight.detach() + 0.1 * online[0].weight.detach()
    losses.ema_update(target, online, 0.9)
    assert torch.allclose(target[0].weight, expected)
    assert target[0].weight.grad is None


def test_ema_rejects_bad_momentum_and_mismatched_networks():
    online, target = _pair()
    with pytest.raises(ValueError, match="momentum"):
        losses.ema_update(target, online, 1.5)
    with pytest.raises(ValueError, match="same architecture"):
        losses.ema_update(torch.nn.Linear(3, 5), torch.nn.Linear(3, 4), 0.5)


def test_ema_momentum_schedules_start_at_base_and_rise_towards_final():
    cosine = losses.ema_momentum_schedule(100)
    linear = losses.ema_momentum_schedule(100, kind="linear")
    for m in (cosine, linear):
        assert m.shape == (100,) and float(m[0]) == pytest.approx(0.996)
        assert bool((m[1:] >= m[:-1]).all()) and 0.9999 < float(m[-1]) < 1.0
    # BYOL's cosine: 1 - (1 - base)(cos(pi k / K) + 1) / 2, halfway at k = K / 2; linear is halfway too.
    assert float(cosine[50]) == pytest.approx(0.998) and float(linear[50]) == pytest.approx(0.998)
    # ... but the cosine stays near base longer at the start and near final longer at the end.
    assert float(cosine[10]) < float(linear[10]) and float(cosine[90]) > float(linear[90])
    assert float(cosine[25]) == pytest.approx(1 - 0.004 * (math.cos(math.pi / 4) + 1) / 2)
    assert torch.equal(
        losses.ema_momentum_schedule(3, base=0.9, kind="constant"), torch.full((3,), 0.9, dtype=torch.float64)
    )


def test_ema_momentum_schedule_rejects_bad_arguments():
    with pytest.raises(ValueError, match="total_steps"):
        losses.ema_momentum_schedule(0)
    with pytest.raises(ValueError, match="base <= final"):
        losses.ema_momentum_schedule(10, base=0.999, final=0.99)
    with pytest.raises(ValueError, match="unknown schedule"):
        losses.ema_momentum_schedule(10, kind="step")


# --- edges of the input checks and the defaults (found by mutation testing, make mutation) -----


def test_smallest_batches_are_accepted_and_errors_name_what_was_wrong():
    z = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(losses.info_nce(z, z.flip(0)))  # n = 2 is enough for InfoNCE
    assert torch.isfinite(losses.vicreg_covariance(z, z)) and torch.isfinite(losses.vicreg_variance(z, z))
    one = torch.ones(1, 3)
    assert float(losses.vicreg_invariance(one, one)) == 0.0  # one row is enough here
    assert float(losses.regression_loss(one, one)) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match=r"at least 2 pairs in the batch; got n=1$"):
        losses.info_nce(one, one)
    with pytest.raises(ValueError, match=r"at least 2 rows \(samples\) in the batch; got n=1$"):
        losses.vicreg_covariance(one, one)
    with pytest.raises(ValueError, match=r"^z_a and z_b must be tensors; got ndarray and Tensor$"):
        losses.vicreg_invariance(one.numpy(), one)
    with pytest.raises(ValueError, match=r"^prediction and target must be tensors; got Tensor and list$"):
        losses.regression_loss(one, [[1.0, 1.0, 1.0]])


def test_defaults_are_the_documented_ones():
    g = torch.Generator().manual_seed(1)
    z_a, z_b = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    assert torch.equal(losses.info_nce(z_a, z_b), losses.info_nce(z_a, z_b, temperature=0.1))
    assert torch.equal(losses.vicreg(z_a, z_b), losses.vicreg(z_a, z_b, 25.0, 25.0, 1.0, 1e-4))
    collapsed = torch.ones(4, 3)
    assert float(losses.vicreg(collapsed, collapsed, eps=0.01)) == pytest.approx(25 * 0.9)  # eps reaches the term


@pytest.mark.parametrize("name", ["invariance_weight", "variance_weight", "covariance_weight"])
def test_vicreg_weights_zero_or_fractional_are_fine_negative_is_named(name):
    z = torch.randn(6, 3, generator=torch.Generator().manual_seed(2))
    assert torch.isfinite(losses.vicreg(z, z + 1, **{name: 0.0}))
    assert torch.isfinite(losses.vicreg(z, z + 1, **{name: 0.5}))
    with pytest.raises(ValueError, match=rf"^{name} must be non-negative; got -1.0$"):
        losses.vicreg(z, z, **{name: -1.0})


def test_ema_mismatch_message_lists_the_differing_parameters():
    with pytest.raises(ValueError) as err:
        losses.ema_update(torch.nn.Linear(3, 5), torch.nn.Linear(3, 4), 0.5)
    assert str(err.value) == (
        "target and online must have the same architecture (parameter names and shapes); "
        "these differ (target vs online): bias: (5,) vs (4,), weight: (5, 3) vs (4, 3)"
    )
    with pytest.raises(ValueError, match=r"0\.weight: \(2, 2\) vs None, .*weight: None vs \(2, 2\)$"):
        losses.ema_update(torch.nn.Sequential(torch.nn.Linear(2, 2)), torch.nn.Linear(2, 2), 0.5)
    wide = torch.nn.Sequential(*[torch.nn.Linear(2, 3) for _ in range(3)])
    narrow = torch.nn.Sequential(*[torch.nn.Linear(2, 2) for _ in range(3)])
    with pytest.raises(ValueError) as err:
        losses.ema_update(wide, narrow, 0.5)
    assert str(err.value).count(" vs ") == 1 + 4  # the first four of six
