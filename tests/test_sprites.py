import numpy as np
import pytest
import torch

from lecturekit.sprites import FACTOR_NAMES, SHAPES, Sprites

DS = Sprites()


@pytest.fixture(scope="module")
def everything():
    factors = DS.all_factors()
    return factors, DS.render(factors)


def _centre_of_mass(x):
    """(n, 2) column and row of the centre of mass of images (n, 1, s, s)."""
    grid = torch.arange(x.shape[-1], dtype=torch.float32)
    mass = x.sum(dim=(1, 2, 3))
    return torch.stack([(x.sum(dim=(1, 2)) * grid).sum(1) / mass, (x.sum(dim=(1, 3)) * grid).sum(1) / mass], 1)


def test_factor_grid_and_index_round_trip():
    factors = DS.all_factors()
    assert DS.factor_names == FACTOR_NAMES and DS.factor_sizes == (3, 4, 5, 6, 6)
    assert factors.shape == (DS.n_combinations, 5) == (2160, 5)
    assert len(np.unique(factors, axis=0)) == len(factors)
    assert np.array_equal(DS.index_of(factors), np.arange(len(factors)))
    assert DS.index_of(factors[:6].reshape(2, 3, 5)).shape == (2, 3)


def test_every_combination_is_a_distinct_image_inside_the_frame(everything):
    _, x = everything
    assert x.shape == (2160, 1, 32, 32) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert len(np.unique(x.flatten(1).numpy(), axis=0)) == 2160
    # shapes never touch the border, so whole-pixel shifts move them without clipping
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)
    assert float(border.max()) == 0.0


def test_render_is_deterministic_and_matches_the_full_table(everything):
    factors, x = everything
    pick = np.array([5, 999, 2159, 5])
    again = DS.render(factors[pick])
    assert torch.equal(again, x[pick]) and torch.equal(again[0], again[3])


def test_positions_move_the_centre_by_whole_pixel_steps(everything):
    factors, x = everything
    base = np.array([1, 3, 2, 0, 0])
    rows = [DS.index_of(np.array([[*base[:3], i, 2]]))[0] for i in range(6)]
    cols = [DS.index_of(np.array([[*base[:3], 2, i]]))[0] for i in range(6)]
    com_x = _centre_of_mass(x[rows])[:, 0]
    com_y = _centre_of_mass(x[cols])[:, 1]
    assert torch.allclose(com_x.diff(), torch.full((5,), float(DS.position_step)), atol=1e-4)
    assert torch.allclose(com_y.diff(), torch.full((5,), float(DS.position_step)), atol=1e-4)  # y runs downwards
    assert np.allclose(DS.values(factors[rows])["x"], [-7.5, -4.5, -1.5, 1.5, 4.5, 7.5])


def test_scale_grows_the_area_and_rotation_turns_the_shape(everything):
    factors, x = everything
    area = x.sum(dim=(1, 2, 3))
    for shape in range(3):
        by_scale = [area[(factors[:, 0] == shape) & (factors[:, 1] == s)].mean() for s in range(4)]
        assert all(a < b for a, b in zip(by_scale, by_scale[1:], strict=False))
        rot = [x[DS.index_of(np.array([[shape, 3, r, 2, 2]]))[0]] for r in range(5)]
        assert all(not torch.equal(rot[0], other) for other in rot[1:])
    assert list(DS.values(factors[:1])["shape"]) == [SHAPES[0]]


def test_sampling_is_seeded_uniform_and_in_range():
    a = DS.sample_factors(6000, np.random.default_rng(3))
    b = DS.sample_factors(6000, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.dtype == np.int64
    for j, k in enumerate(DS.factor_sizes):
        counts = np.bincount(a[:, j], minlength=k)
        assert len(counts) == k and counts.min() > 0.8 * 6000 / k


def test_pairs_share_exactly_the_fixed_factor():
    fixed = np.random.default_rng(0).integers(5, size=4000)
    a, b = DS.sample_pairs(fixed, np.random.default_rng(1))
    rows = np.arange(len(fixed))
    assert np.array_equal(a[rows, fixed], b[rows, fixed])
    other = (fixed + 1) % 5
    assert np.mean(a[rows, other] == b[rows, other]) < 0.5  # the others were drawn independently


def test_fixed_batches_hold_one_factor_constant():
    fixed = np.array([0, 2, 4, 4])
    f = DS.sample_fixed_batches(fixed, 64, np.random.default_rng(0))
    assert f.shape == (4, 64, 5)
    for i, j in enumerate(fixed):
        assert len(np.unique(f[i, :, j])) == 1
        assert len(np.unique(f[i, :, (j + 1) % 5])) > 1


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((3, 4), dtype=int), "shape"),
        (np.zeros(5, dtype=int), "shape"),
        (np.array([[0, 0, 0, 0, 6]]), "0 .. size - 1"),
        (np.array([[-1, 0, 0, 0, 0]]), "0 .. size - 1"),
        (np.array([[0.5, 0, 0, 0, 0]]), "integer"),
    ],
)
def test_bad_factor_codes_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        DS.render(bad)


def test_bad_sampler_arguments_are_rejected():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="fixed factor indices"):
        DS.sample_pairs(np.array([5]), rng)
    with pytest.raises(ValueError, match="1-D integer"):
        DS.sample_fixed_batches(np.array([[0]]), 8, rng)
    with pytest.raises(ValueError, match="batch_size"):
        DS.sample_fixed_batches(np.array([0]), 1, rng)
    with pytest.raises(ValueError, match="size"):
        Sprites(size=8)
