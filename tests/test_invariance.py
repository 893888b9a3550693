import numpy as np
import pytest
import torch

from lecturekit import transforms
from lecturekit.metrics import invariance


@pytest.fixture(scope="module")
def blobs():
    """Eight random non-negative 12x12 'images' with a zero frame of 3 pixels, (8, 2, 12, 12)."""
    x = torch.zeros(8, 2, 12, 12, dtype=torch.float64)
    x[..., 3:9, 3:9] = torch.rand(8, 2, 6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return x


def test_an_encoder_that_ignores_its_input_is_perfectly_invariant():
    x = np.random.default_rng(0).normal(size=(20, 5))
    constant = lambda v: np.tile([0.5, -1.0, 2.0], (len(v), 1))  # noqa: E731 -- g(x) = c for every x
    z, z_t = constant(x), constant(-3 * x + 1)
    assert np.array_equal(invariance.invariance_score(z, z_t), np.ones(20))
    # Centred on its own mean, every embedding is the zero vector: still identical, still 1.
    assert np.array_equal(invariance.invariance_score(z, z_t, center=z.mean(0)), np.ones(20))


def test_invariance_score_matches_the_cosine_formula_and_sign_flips():
    rng = np.random.default_rng(1)
    z, z_t, c = rng.normal(size=(30, 4)), rng.normal(size=(30, 4)), rng.normal(size=4)
    a, b = z - c, z_t - c
    expected = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert np.allclose(invariance.invariance_score(z, z_t, center=c), expected)
    assert np.allclose(invariance.invariance_score(z, -z), -1.0)
    assert np.allclose(invariance.invariance_score(torch.as_tensor(z), torch.as_tensor(3 * z)), 1.0)


def test_random_pairs_never_meet_themselves_and_are_deterministic():
    z = np.eye(6)  # every row orthogonal to every other row
    assert np.array_equal(invariance.random_pair_similarity(z, seed=3), np.zeros(6))
    z = np.random.default_rng(0).normal(size=(50, 8))
    s1, s2 = invariance.random_pair_similarity(z, seed=5), invariance.random_pair_similarity(z, seed=5)
    assert np.array_equal(s1, s2) and np.all(s1 < 1.0)


def test_identity_encoder_under_circular_shift_is_equivariant_with_the_same_shift(blobs):
    rolled = torch.roll(blobs, shifts=(2, -3), dims=(2, 3))  # dy = 2 down, dx = -3 left
    err = invariance.shift_equivariance_error(blobs, rolled, (-3, 2))
    assert np.allclose(err, 0.0, atol=1e-12)
    # The same maps are far from invariant: assuming they did not move is badly wrong.
    mask = invariance.overlap_mask(12, 12, (-3, 2))
    assert np.all(invariance.masked_relative_error(rolled, blobs, mask) > 0.5)
    # And the wrong T' (another shift) is not equivariance either.
    assert np.all(invariance.shift_equivariance_error(blobs, rolled, (-2, 2)) > 0.1)


def test_strided_map_is_equivariant_to_multiples_of_its_stride_only(blobs):
    feature_map = lambda x: torch.nn.functional.avg_pool2d(x, 2)  # noqa: E731 -- stride 2, (n, 2, 6, 6)
    f = feature_map(blobs)
    for shift, exact in [((2, 0), True), ((0, -4), True), ((1, 0), False)]:
        err = invariance.shift_equivariance_error(f, feature_map(transforms.translate(blobs, shift)), shift, stride=2)
        assert np.allclose(err, 0.0, atol=1e-12) == exact, shift


def test_overlap_mask_keeps_cells_whose_source_is_inside():
    assert invariance.overlap_mask(1, 5, (2, 0))[0].tolist() == [False, False, True, True, True]
    assert invariance.overlap_mask(1, 5, (-0.5, 0))[0].tolist() == [True, True, True, True, False]
    assert invariance.overlap_mask(3, 5, (1, 0), border=1).astype(int).tolist() == [[0] * 5, [0, 0, 1, 1, 0], [0] * 5]
    assert invariance.overlap_mask(3, 1, (0, 1)).ravel().tolist() == [False, True, True]
    with pytest.raises(ValueError, match="border must be >= 0"):
        invariance.overlap_mask(3, 3, (0, 0), border=-1)


def test_a_random_orthogonal_map_is_recovered_with_r2_one():
    rng = np.random.default_rng(0)
    q = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    z = rng.normal(size=(300, 16)) * np.linspace(0.5, 3.0, 16)
    z_t = z @ q.T + 2.0  # g(Tx) = Q g(x) + b
    weights, bias = invariance.fit_linear_map(z[:200], z_t[:200], ridge=0.0)
    assert np.allclose(weights.T, q, atol=1e-10) and np.allclose(bias, 2.0)
    assert invariance.linear_equivariance_r2(z[:200], z_t[:200], z[200:], z_t[200:], ridge=1e-6) > 0.9999
    # Invariance (T' = identity) is a poor prediction of the same pairs.
    assert invariance.r2_score(z_t[200:], z[200:]) < 0.5


def test_ridge_and_r2_match_scikit_learn():
    # scikit-learn here, not at the top: a pytest-xdist worker that runs none of these tests does not
    # import it while collecting (about 1 CPU-s).
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score as sk_r2

    rng = np.random.default_rng(2)
    z, z_t = rng.normal(size=(80, 6)), rng.normal(size=(80, 3))
    ridge = 0.1
    weights, bias = invariance.fit_linear_map(z, z_t, ridge=ridge)
    zc = z - z.mean(0)
    reference = Ridge(alpha=ridge * np.trace(zc.T @ zc) / 6).fit(z, z_t)
    assert np.allclose(weights, reference.coef_.T) and np.allclose(bias, reference.intercept_)
    pred = z @ weights + bias
    assert np.isclose(invariance.r2_score(z_t, pred), sk_r2(z_t, pred, multioutput="variance_weighted"))


def test_unrelated_targets_give_r2_near_zero_on_held_out_pairs():
    rng = np.random.default_rng(3)
    z, z_t = rng.normal(size=(400, 5)), rng.normal(size=(400, 5))
    assert abs(invariance.linear_equivariance_r2(z[:300], z_t[:300], z[300:], z_t[300:])) < 0.1


def test_errors_say_what_was_expected(blobs):
    with pytest.raises(ValueError, match=r"same shape \(n_samples, dim\)"):
        invariance.invariance_score(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"center must be a \(2,\) vector"):
        invariance.invariance_score(np.ones((3, 2)), np.ones((3, 2)), center=np.zeros(3))
    with pytest.raises(ValueError, match=r"feature-map batch \(n, channels, height, width\)"):
        invariance.shift_equivariance_error(np.zeros((3, 4)), np.zeros((3, 4)), (1, 0))
    with pytest.raises(ValueError, match="no overlap"):
        invariance.shift_equivariance_error(blobs, blobs, (12, 0))
    with pytest.raises(ValueError, match="stride must be"):
        invariance.shift_equivariance_error(blobs, blobs, (1, 0), stride=0)
    with pytest.raises(ValueError, match="one row per pair"):
        invariance.fit_linear_map(np.zeros((4, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="zero variance"):
        invariance.r2_score(np.ones((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="same dim"):
        invariance.linear_equivariance_r2(np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 3)), np.ones((4, 3)))
