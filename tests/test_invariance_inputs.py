"""Edges of lecturekit.metrics.invariance found by mutation testing (make mutation): what each
function does at its boundaries (one or two rows, zero vectors, partial masks, borders) and the
argument its errors name."""

import numpy as np
import pytest
import torch

from lecturekit.metrics import invariance as inv


def test_invariance_score_edges():
    assert inv.invariance_score([[1.0, 0.0]], [[2.0, 0.0]]).tolist() == [1.0]  # one pair is enough
    # A zero row against a different row scores 0; identical rows (zero or not) score 1.
    assert inv.invariance_score(
        [[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]
    ).tolist() == [
        0.0,
        1.0,
        1.0,
    ]
    centre = torch.tensor([1.0, 1.0], requires_grad=True)  # straight from a model
    assert inv.invariance_score([[2.0, 1.0]], [[0.0, 1.0]], centre).tolist() == [-1.0]
    with pytest.raises(
        ValueError,
        match=r"^z and z_t must have the same shape \(n_samples, dim\), one row per input and its "
        r"transformed copy; got \(2, 2\) and \(3, 2\)$",
    ):
        inv.invariance_score(np.zeros((2, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"^z contains NaN"):
        inv.invariance_score([[np.nan, 0.0]], [[0.0, 0.0]])
    with pytest.raises(ValueError, match=r"^z_t contains NaN"):
        inv.invariance_score([[0.0, 0.0]], [[np.nan, 0.0]])


def test_random_pairs_follow_a_random_order_each_row_meeting_the_next():
    z = np.random.default_rng(1).normal(size=(7, 3))
    for seed in (0, 3):
        order = np.random.default_rng(seed).permutation(7)
        partner = {int(order[i]): int(order[(i + 1) % 7]) for i in range(7)}
        expected = [inv.invariance_score(z[i : i + 1], z[partner[i] : partner[i] + 1])[0] for i in range(7)]
        assert np.allclose(inv.random_pair_similarity(z, seed=seed), expected)
    assert np.array_equal(inv.random_pair_similarity(z), inv.random_pair_similarity(z, seed=0))
    centre = z.mean(axis=0)
    shifted = inv.random_pair_similarity(z, center=centre)
    assert np.allclose(shifted, inv.random_pair_similarity(z - centre))
    assert inv.random_pair_similarity([[1.0, 0.0], [0.0, 1.0]]).tolist() == [0.0, 0.0]  # two rows suffice
    with pytest.raises(ValueError, match=r"^z needs at least 2 rows \(samples\); got 1$"):
        inv.random_pair_similarity([[1.0, 0.0]])


def test_feature_map_helpers_take_arrays_and_name_their_arguments():
    out = inv.shift_map(np.ones((1, 1, 3, 3), dtype=np.float32), (1, 0))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    assert torch.allclose(out[0, 0], torch.tensor([[0.0, 1.0, 1.0]] * 3, dtype=torch.float64), atol=1e-12)
    with pytest.raises(
        ValueError, match=r"^fmap must be a feature-map batch \(n, channels, height, width\); got \(3, 3\)$"
    ):
        inv.shift_map(torch.zeros(3, 3), (1, 0))
    ok = torch.zeros(1, 1, 2, 3)
    with pytest.raises(ValueError, match=r"^fmap_shifted must be a feature-map batch"):
        inv.shift_equivariance_error(ok, torch.zeros(2, 3), (1, 0))
    with pytest.raises(ValueError, match=r"^fmap must be a feature-map batch"):
        inv.shift_equivariance_error(torch.zeros(2, 3), ok, (1, 0))
    with pytest.raises(
        ValueError, match=r"^fmap and fmap_shifted must have the same shape; got \(1, 1, 2, 3\) and \(1, 1, 3, 2\)$"
    ):
        inv.shift_equivariance_error(ok, torch.zeros(1, 1, 3, 2), (1, 0))
    mask = np.ones((2, 3), bool)
    with pytest.raises(ValueError, match=r"^target must be a feature-map batch"):
        inv.masked_relative_error(torch.zeros(2, 3), ok, mask)
    with pytest.raises(ValueError, match=r"^prediction must be a feature-map batch"):
        inv.masked_relative_error(ok, torch.zeros(2, 3), mask)
    with pytest.raises(
        ValueError, match=r"^target and prediction must have the same shape; got \(1, 1, 2, 3\) and \(1, 2, 2, 3\)$"
    ):
        inv.masked_relative_error(ok, torch.zeros(1, 2, 2, 3), mask)
    with pytest.raises(ValueError, match=r"^mask must be a boolean \(2, 3\) array; got float64 \(2, 3\)$"):
        inv.masked_relative_error(ok, ok, np.ones((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"^mask selects no cells: the shift \(plus border\) leaves no overlap between the two maps$",
    ):
        inv.masked_relative_error(ok, ok, np.zeros((2, 3), bool))


def test_masked_relative_error_reads_only_the_masked_cells_at_any_scale():
    target = 0.1 * torch.tensor([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    prediction = 0.1 * torch.tensor([[1.0, 2.0], [3.0, 0.0]]).reshape(1, 1, 2, 2)
    mask = np.array([[False, True], [True, True]])
    assert inv.masked_relative_error(target, prediction, mask)[0] == pytest.approx(4 / np.sqrt(29))
    zero = torch.zeros(2, 1, 2, 2)
    other = torch.zeros(2, 1, 2, 2)
    other[1, 0, 1, 1] = 1.0
    assert inv.masked_relative_error(zero, other, mask).tolist() == [0.0, np.inf]  # 0 if both are 0, else inf


def test_overlap_mask_border_applies_to_the_source_too():
    edge = [0] * 6
    assert inv.overlap_mask(3, 6, (-1, 0), border=1).astype(int).tolist() == [edge, [0, 1, 1, 1, 0, 0], edge]
    assert inv.overlap_mask(3, 6, (1, 0), border=1).astype(int).tolist() == [edge, [0, 0, 1, 1, 1, 0], edge]


def test_shift_equivariance_error_scores_edges_unless_a_border_is_dropped():
    fmap = torch.rand(1, 1, 5, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 1.0
    shifted = inv.shift_map(fmap, (1, 0))
    assert inv.shift_equivariance_error(fmap, shifted, (1, 0)).tolist() == [0.0]
    shifted[0, 0, 0, 3] += 1.0  # an edge cell inside the overlap
    assert inv.shift_equivariance_error(fmap, shifted, (1, 0))[0] > 0  # no border by default
    assert inv.shift_equivariance_error(fmap, shifted, (1, 0), border=1).tolist() == [0.0]
    assert inv.shift_equivariance_error(fmap, shifted, (4, 0), stride=4, border=1).tolist() == [0.0]


def test_fit_and_r2_on_two_rows_their_defaults_and_errors():
    w, b = inv.fit_linear_map([[0.0], [1.0]], [[1.0], [3.0]], ridge=0.0)  # two rows determine a line
    assert np.allclose(w, [[2.0]]) and np.allclose(b, [1.0])
    assert inv.r2_score([[0.0], [1.0]], [[0.0], [1.0]]) == 1.0
    rng = np.random.default_rng(2)
    z = rng.normal(size=(30, 3))
    z_t = z @ rng.normal(size=(3, 3)) + 0.3 * rng.normal(size=(30, 3))
    for got, explicit in zip(inv.fit_linear_map(z, z_t), inv.fit_linear_map(z, z_t, ridge=1e-3), strict=True):
        assert np.array_equal(got, explicit)
    weights, bias = inv.fit_linear_map(z[:20], z_t[:20], ridge=5.0)
    expected = inv.r2_score(z_t[20:], z[20:] @ weights + bias)
    assert inv.linear_equivariance_r2(z[:20], z_t[:20], z[20:], z_t[20:], ridge=5.0) == pytest.approx(expected)
    assert inv.linear_equivariance_r2(z[:20], z_t[:20], z[20:], z_t[20:]) == inv.linear_equivariance_r2(
        z[:20], z_t[:20], z[20:], z_t[20:], ridge=1e-3
    )
    two = np.array([[0.0], [1.0]])
    assert inv.linear_equivariance_r2(two, 2 * two, two, 2 * two, ridge=0.0) == pytest.approx(1.0)
    one, bad = np.ones((1, 1)), np.array([[np.nan], [1.0]])
    for call, message in [
        (lambda: inv.fit_linear_map(one, one), r"^z needs at least 2 rows"),
        (lambda: inv.fit_linear_map(two, one), r"^z_t needs at least 2 rows"),
        (lambda: inv.fit_linear_map(two, two, ridge=-1.0), r"^ridge must be >= 0; got -1.0$"),
        (lambda: inv.r2_score(one, one), r"^target needs at least 2 rows"),
        (lambda: inv.r2_score(two, bad), r"^prediction contains NaN"),
        (lambda: inv.r2_score(np.ones((2, 1)), two), r"^target has zero variance; R\^2 is undefined$"),
        (lambda: inv.linear_equivariance_r2(one, one, two, two), r"^z_train needs at least 2 rows"),
        (lambda: inv.linear_equivariance_r2(two, bad, two, two), r"^z_t_train contains NaN"),
        (lambda: inv.linear_equivariance_r2(two, two, one, one), r"^z_test needs at least 2 rows"),
        (lambda: inv.linear_equivariance_r2(two, two, two, bad), r"^z_t_test contains NaN"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
