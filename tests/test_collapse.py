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
    z = rng.normal(size=(20000, k)) @ basis              # (n, 32), rank k, isotropic inside
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
    spread = rng.normal(size=(5000, 8)) * 0.01                # varies over 8 directions
    offset = np.full((1, 8), 1.0)                              # one large shared mean
    z = spread + offset
    assert collapse.effective_rank(z) < 1.5                    # RankMe sees one dominant direction
    assert collapse.effective_rank(z, center=True) > 7.5       # the variation uses all eight
    assert collapse.effective_rank(np.tile(offset, (10, 1)), center=True) == 0.0
