import math

import numpy as np
import pytest
import torch

from lecturekit import ebm


def quadratic(mean, var):
    """The energy of N(mean, var I): its Boltzmann density exp(-F) is that Gaussian."""
    mean = torch.as_tensor(mean)
    return lambda y: ((y - mean) ** 2).sum(1) / (2 * var)


def test_langevin_samples_a_quadratic_energy_as_its_gaussian():
    g = torch.Generator().manual_seed(0)
    mean, var = torch.tensor([1.0, -2.0]), 0.25
    y0 = torch.zeros(4000, 2)
    samples = ebm.langevin(quadratic(mean, var), y0, n_steps=300, step_size=0.01, generator=g)
    assert torch.allclose(samples.mean(0), mean, atol=0.03)
    # Unadjusted Langevin on this energy has stationary variance var / (1 - step / (2 var)) = 0.2551.
    assert torch.allclose(samples.var(0), torch.full((2,), var), rtol=0.06)


def test_langevin_is_deterministic_for_a_seed_and_leaves_its_input_alone():
    y0 = torch.zeros(10, 2)
    a = ebm.langevin(quadratic([0.0, 0.0], 1.0), y0, 5, 0.1, torch.Generator().manual_seed(3))
    b = ebm.langevin(quadratic([0.0, 0.0], 1.0), y0, 5, 0.1, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(y0, torch.zeros(10, 2))
    boxed = ebm.langevin(quadratic([5.0, 5.0], 0.01), y0, 20, 0.001, torch.Generator().manual_seed(0), box=(-1.0, 1.0))
    assert boxed.max() <= 1.0


def test_a_few_contrastive_steps_lower_data_energy_relative_to_negatives():
    g = torch.Generator().manual_seed(0)
    data, test = ebm.moons(512, seed=0), ebm.moons(256, seed=1)
    energy = ebm.energy_mlp(seed=0)
    opt = torch.optim.Adam(energy.parameters(), lr=3e-3)

    def gap():
        with torch.no_grad():
            return float(energy(ebm.uniform(512, torch.Generator().manual_seed(9))).mean() - energy(test).mean())

    before = gap()
    for _ in range(30):
        loss = ebm.contrastive_loss(energy(data), energy(ebm.uniform(512, g)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert gap() > before + 0.5
    assert ebm.separation_auroc(energy, test, ebm.uniform(512, torch.Generator().manual_seed(9))) > 0.7


def test_contrastive_loss_matches_its_formula():
    e_d, e_n = torch.tensor([0.0, -1.0]), torch.tensor([2.0, 1.0, 3.0])
    expected = -0.5 - 2.0 + 0.1 * (0.5 + 14.0 / 3.0)
    assert math.isclose(float(ebm.contrastive_loss(e_d, e_n, alpha=0.1)), expected, rel_tol=1e-6)


def test_denoising_score_matching_recovers_the_gaussian_score_scale():
    # Data N(0, I) corrupted by sigma has density N(0, (1 + sigma^2) I): the optimal quadratic
    # energy a |y|^2 / 2 has a = 1 / (1 + sigma^2).
    a = torch.nn.Parameter(torch.tensor(0.1))
    opt = torch.optim.Adam([a], lr=0.05)
    g = torch.Generator().manual_seed(0)
    sigma = 0.5
    for _ in range(300):
        y = torch.randn(1024, 2, generator=g)
        loss = ebm.denoising_score_matching(lambda v: a * (v**2).sum(1) / 2, y, sigma, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert abs(float(a.detach()) - 1 / (1 + sigma**2)) < 0.03


def test_pushing_data_down_moves_one_prototype_to_the_data_mean():
    data = ebm.moons(400, seed=0)
    energy = ebm.prototype_energy(1, torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(energy.parameters(), lr=0.05)
    for _ in range(200):
        loss = energy(data).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.allclose(energy.prototypes[0], data.mean(0), atol=0.02)


def test_prototype_energy_tends_to_the_kmeans_energy():
    protos = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    y = torch.tensor([[0.1, 0.0], [0.7, 0.2]])
    sharp = ebm.PrototypeEnergy(protos, temperature=1e-4)
    expected = torch.cdist(y, protos).min(1).values ** 2
    assert torch.allclose(sharp(y), expected, atol=1e-3)


def test_auroc_is_one_for_a_perfect_energy_and_half_for_a_flat_one():
    data, others = torch.zeros(5, 2), torch.ones(7, 2)
    assert ebm.separation_auroc(lambda y: (y**2).sum(1), data, others) == 1.0
    assert ebm.separation_auroc(lambda y: torch.zeros(len(y)), data, others) == 0.5


def test_energy_grid_rows_are_the_second_coordinate():
    axis, values = ebm.energy_grid(lambda y: y[:, 1], box=(-1.0, 1.0), resolution=3)
    assert np.allclose(values[:, 0], axis) and np.allclose(values[0], axis[0])


def test_descend_finds_two_minima_of_a_double_well_from_two_starts():
    double_well = lambda y: ((y**2 - 1) ** 2).sum(1)
    path = ebm.descend(double_well, torch.tensor([[-0.3], [0.4]]), lr=0.05, n_steps=200)
    assert path.shape == (201, 2, 1)
    assert torch.allclose(path[-1, :, 0], torch.tensor([-1.0, 1.0]), atol=1e-3)


def test_moons_and_uniform_are_deterministic_and_in_the_box():
    assert torch.equal(ebm.moons(50, seed=2), ebm.moons(50, seed=2))
    u = ebm.uniform(1000, torch.Generator().manual_seed(0))
    assert u.min() >= ebm.BOX[0] and u.max() <= ebm.BOX[1]
    m = ebm.moons(1000)
    assert m.abs().max() < ebm.BOX[1]


def test_bad_shapes_and_arguments_raise_clear_errors():
    energy = ebm.energy_mlp(seed=0)
    with pytest.raises(ValueError, match=r"\(n_samples, dim\).*got \(5,\)"):
        energy(torch.zeros(5))
    with pytest.raises(ValueError, match="2 columns"):
        energy(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="step_size must be positive"):
        ebm.langevin(energy, torch.zeros(3, 2), 5, 0.0, torch.Generator())
    with pytest.raises(ValueError, match="e_neg must be a non-empty"):
        ebm.contrastive_loss(torch.zeros(3), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="sigma must be positive"):
        ebm.denoising_score_matching(energy, torch.zeros(3, 2), -1.0, torch.Generator())
    with pytest.raises(ValueError, match="others must have 2 columns"):
        ebm.separation_auroc(energy, torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(ValueError, match="resolution"):
        ebm.energy_grid(energy, resolution=1)
    with pytest.raises(ValueError, match="box"):
        ebm.uniform(3, torch.Generator(), box=(1.0, -1.0))


def test_landscape_and_cake_plots_draw_and_check_their_inputs():
    import matplotlib.pyplot as plt

    from lecturekit import plotting

    axis, values = ebm.energy_grid(lambda y: (y**2).sum(1), resolution=20)
    ax = plotting.landscape(axis, values, ebm.moons(50))
    assert len(ax.collections) >= 2
    with pytest.raises(ValueError, match="match axis"):
        plotting.landscape(axis, values[:5])
    assert plotting.cake({"ssl": 1e6, "supervised": 10.0, "rl": 2.0}) is not None
    with pytest.raises(ValueError, match="positive"):
        plotting.log_hbars({"a": 0.0}, "bits")
    plt.close("all")
