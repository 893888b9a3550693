import numpy as np
import pytest
import torch

from lecturekit.metrics import collapse


def test_constant_embedding_has_effective_rank_1_and_zero_spread():
    z = np.tile(np.array([[0.3, -1.0, 2.0, 0.5]]), (100, 1))
    assert collapse.effective_rank(z) == pytest.approx(1.0, abs=1e-4)
    assert np.allclose(collapse.per_dim_std(z), 0.0, atol=1e-12)
    assert collapse.normalized_std(z) == pytest.approx(0.0, abs=1e-12)
    assert np.allclose(collapse.covariance_spectrum(z), 0.0)
    assert collapse.uniformity(z) == pytest.approx(0.0, abs=1e-12)


def test_all_zero_embedding_has_rank_0_and_no_spread():
    z = np.zeros((50, 8))
    assert collapse.effective_rank(z) == 0.0
    assert collapse.normalized_std(z) == 0.0
    assert collapse.uniformity(z) == 0.0


def test_isotropic_gaussian_has_full_effective_rank_and_std_one_over_sqrt_d():
    d = 16
    z = np.random.default_rng(0).normal(size=(20000, d))
    assert d - 0.5 < collapse.effective_rank(z) <= d
    assert collapse.normalized_std(z) == pytest.approx(1 / np.sqrt(d), rel=0.02)
    assert np.allclose(collapse.per_dim_std(z), 1.0, atol=0.03)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_rank_k_embedding_has_effective_rank_close_to_k(k):
    rng = np.random.default_rng(k)
    basis = np.linalg.qr(rng.normal(size=(32, k)))[0].T  # (k, 32) orthonormal rows
    z = rng.normal(size=(20000, k)) @ basis  # (n, 32), rank k, isotropic inside
    assert collapse.effective_rank(z) == pytest.approx(k, abs=0.15)
    spectrum = collapse.covariance_spectrum(z)
    assert np.all(spectrum[k:] < 1e-10) and np.all(spectrum[:k] > 0.9)


def test_effective_rank_matches_the_rankme_formula():
    z = torch.randn(300, 20, generator=torch.Generator().manual_seed(0)) * torch.linspace(0.1, 3, 20)
    s = torch.linalg.svdvals(z.double())
    p = s / s.sum() + 1e-7
    expected = torch.exp(-(p * p.log()).sum()).item()
    assert collapse.effective_rank(z) == pytest.approx(expected, rel=1e-10)


def test_covariance_spectrum_matches_numpy_and_sums_to_the_total_variance():
    z = np.random.default_rng(1).normal(size=(200, 6)) * np.array([3.0, 2, 1, 0.5, 0.1, 0.0])
    spectrum = collapse.covariance_spectrum(z)
    assert np.allclose(spectrum, np.sort(np.linalg.eigvalsh(np.cov(z.T, bias=True)))[::-1].clip(0), atol=1e-12)
    assert spectrum.sum() == pytest.approx(z.var(axis=0).sum())
    assert np.all(np.diff(spectrum) <= 1e-12)


def test_alignment_and_uniformity_match_wang_and_isola():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 5, generator=g), torch.randn(64, 5, generator=g)
    fx, fy = torch.nn.functional.normalize(x, dim=1), torch.nn.functional.normalize(y, dim=1)
    # The reference code of Wang & Isola (2020).
    align = (fx - fy).norm(p=2, dim=1).pow(2).mean().item()
    unif = torch.pdist(fx, p=2).pow(2).mul(-2).exp().mean().log().item()
    assert collapse.alignment(x, y) == pytest.approx(align, rel=1e-5)
    assert collapse.uniformity(x) == pytest.approx(unif, rel=1e-5)
    assert collapse.alignment(x, 3 * x) == pytest.approx(0.0, abs=1e-12)


def test_summary_reports_every_number():
    """Each entry has the value worked out by hand for four points on the axes (not recomputed by the code)."""
    z = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    row = collapse.summary(z)
    assert list(row) == ["mean per-dim std", "normalized std", "effective rank", "uniformity"]
    assert all(type(v) is float for v in row.values())
    # population std per dimension: sqrt(2/4) and sqrt(8/4)
    assert row["mean per-dim std"] == pytest.approx((np.sqrt(0.5) + np.sqrt(2.0)) / 2, rel=1e-12)
    # unit rows +-e1, +-e2: each dimension takes 1, -1, 0, 0
    assert row["normalized std"] == pytest.approx(np.sqrt(0.5), rel=1e-12)
    # singular values sqrt(2), sqrt(8): p = (1/3, 2/3), exp(entropy) = 3 / 2**(2/3)
    assert row["effective rank"] == pytest.approx(3 / 2 ** (2 / 3), rel=1e-6)
    # six pairs: two antipodal (squared distance 4), four orthogonal (2)
    assert row["uniformity"] == pytest.approx(np.log((2 * np.exp(-8) + 4 * np.exp(-4)) / 6), rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 rows"):
        collapse.summary(np.zeros((1, 4)))


def test_per_dim_std_is_the_population_std():
    # Three samples 0, 2, 4: population std sqrt(8/3) = 1.633, sample std (ddof=1) 2.
    z = np.array([[0.0, 1.0, -1.0], [2.0, 1.0, 1.0], [4.0, 1.0, -1.0]])
    assert np.allclose(collapse.per_dim_std(z), [np.sqrt(8 / 3), 0.0, np.sqrt(8 / 9)], atol=1e-15)
    assert collapse.per_dim_std(torch.tensor([[0.0], [2.0]])).tolist() == [1.0]


def test_normalized_std_scales_rows_to_unit_length_first():
    # Rows (3, 0) and (0, 5) normalize to (1, 0) and (0, 1): each dimension has std 0.5.
    assert collapse.normalized_std(np.array([[3.0, 0.0], [0.0, 5.0]])) == pytest.approx(0.5, abs=1e-15)
    # The same direction at different lengths is collapsed for the monitor.
    assert collapse.normalized_std(np.array([[1.0, 1.0], [2.0, 2.0], [7.0, 7.0]])) == pytest.approx(0.0, abs=1e-15)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="2-D"):
        collapse.effective_rank(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        collapse.per_dim_std(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="same shape"):
        collapse.alignment(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        collapse.covariance_spectrum(np.zeros((1, 3)))


def test_centred_effective_rank_ignores_a_shared_offset():
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(5000, 8)) * 0.01  # varies over 8 directions
    offset = np.full((1, 8), 1.0)  # one large shared mean
    z = spread + offset
    assert collapse.effective_rank(z) < 1.5  # RankMe sees one dominant direction
    assert collapse.effective_rank(z, center=True) > 7.5  # the variation uses all eight
    assert collapse.effective_rank(np.tile(offset, (10, 1)), center=True) == 0.0


def test_alignment_and_uniformity_parameters_and_errors():
    a, b = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])  # distance sqrt(2) on the circle
    assert collapse.alignment(a, b, alpha=1.0) == pytest.approx(np.sqrt(2))
    assert collapse.alignment(a, b, alpha=0.5) == pytest.approx(2**0.25)
    for alpha in (0.0, -1.0):
        with pytest.raises(ValueError, match=rf"^alpha must be positive; got {alpha}$"):
            collapse.alignment(a, b, alpha=alpha)
    for name, call in (
        ("z_a", lambda bad: collapse.alignment(bad, a)),
        ("z_b", lambda bad: collapse.alignment(a, bad)),
    ):
        with pytest.raises(ValueError, match=rf"^{name} must be a 2-D array"):
            call(np.zeros(2))
    antipodal = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert collapse.uniformity(antipodal, t=1.0) == pytest.approx(-4.0)
    assert collapse.uniformity(antipodal, t=0.5) == pytest.approx(-2.0)
    for t in (0.0, -2.0):
        with pytest.raises(ValueError, match=rf"^t must be positive; got {t}$"):
            collapse.uniformity(antipodal, t=t)
    with pytest.raises(ValueError, match="at least 2 rows"):
        collapse.uniformity(np.ones((1, 2)))
    assert collapse.uniformity(np.ones((2, 2))) == 0.0  # two rows suffice


def test_uniformity_of_a_collapsed_embedding_is_exactly_zero():
    # Round-off makes some squared distances of identical rows slightly negative; they are clipped.
    z = np.tile(np.array([[0.3, -1.0, 2.0, 0.5]]), (5, 1))
    assert collapse.uniformity(z) == 0.0


def test_covariance_spectrum_clips_round_off_below_zero():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 8))  # rank 3 in 8 dimensions
    c = z - z.mean(axis=0)
    assert np.linalg.eigvalsh(c.T @ c / 50).min() < 0  # round-off goes negative here
    assert np.all(collapse.covariance_spectrum(z) >= 0.0)


def test_effective_rank_is_scale_free_and_ignores_centring_round_off():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(10, 4))
    for scale in (1e-13, 1e13):  # no absolute threshold
        assert collapse.effective_rank(scale * z) == pytest.approx(collapse.effective_rank(z), rel=1e-9)
    # 1,000 copies of one row: centring leaves round-off of about 1e-9 singular value, no direction.
    constant = np.tile(rng.normal(size=(1, 8)) * 1e3, (1000, 1))
    assert np.linalg.svd(constant - constant.mean(axis=0), compute_uv=False).max() > 1e-10
    assert collapse.effective_rank(constant, center=True) == 0.0
    assert collapse.effective_rank(np.zeros((3, 0))) == 0.0  # no dimensions at all


def test_centring_removes_each_dimensions_own_mean():
    rng = np.random.default_rng(2)
    spread = rng.normal(size=(5000, 4)) * 0.01
    offsets = np.array([[1.0, -3.0, 5.0, 0.5]])  # a different mean per dimension
    assert collapse.effective_rank(spread + offsets, center=True) == pytest.approx(
        collapse.effective_rank(spread - spread.mean(axis=0), center=False), rel=1e-6
    )
    assert collapse.effective_rank(spread + offsets, center=True) > 3.9
