import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from lecturekit.metrics import distances, pca, probes


def test_circle_has_two_equal_principal_components():
    t = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    ratio = pca.explained_variance_ratio(np.c_[np.cos(t), np.sin(t), np.zeros_like(t)])
    assert np.allclose(ratio, [0.5, 0.5, 0.0], atol=1e-12)


def test_spectrum_matches_sklearn():
    z = np.random.default_rng(0).normal(size=(50, 7)) @ np.diag([5, 4, 3, 2, 1, 0.5, 0.1])
    assert np.allclose(pca.explained_variance_ratio(z), PCA().fit(z).explained_variance_ratio_)
    assert np.allclose(np.abs(pca.project(z, 2)), np.abs(PCA(2).fit_transform(z)), atol=1e-8)


def test_constant_data_has_zero_spectrum_and_tensors_are_accepted():
    assert np.all(pca.explained_variance_ratio(torch.ones(5, 3)) == 0)


def test_cosine_similarity_known_values():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[0.0, 2.0], [2.0, 2.0], [1.0, 0.0]])
    assert np.allclose(distances.cosine_similarity(a, b), [0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="same shape"):
        distances.cosine_similarity(a, b[:2])


def test_nearest_farthest_ratio_closed_form_and_concentration():
    assert np.allclose(distances.nearest_farthest_ratio(np.array([[0.0], [1.0], [3.0]])), [1 / 3, 1 / 2, 2 / 3])
    rng = np.random.default_rng(0)
    low = distances.nearest_farthest_ratio(rng.random((200, 2))).mean()
    high = distances.nearest_farthest_ratio(rng.random((200, 1000))).mean()
    assert low < 0.05 and high > 0.7  # distances concentrate as the dimension grows


def test_probes_on_separable_and_on_random_labels():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    z = rng.normal(size=(120, 5)) + 6.0 * np.eye(5)[y]
    idx = rng.permutation(120)
    tr, te = idx[:80], idx[80:]
    assert probes.knn_accuracy(z[tr], y[tr], z[te], y[te]) == 1.0
    assert probes.linear_probe_accuracy(z[tr], y[tr], z[te], y[te]) == 1.0
    noise = rng.normal(size=(120, 5))
    assert probes.linear_probe_accuracy(noise[tr], y[tr], noise[te], y[te]) < 0.7


def test_metric_input_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"\(n_samples, dim\)"):
        pca.explained_variance_ratio(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        pca.explained_variance_ratio(np.array([[np.nan, 1.0], [1.0, 2.0]]))
    z, y = np.zeros((4, 2)), np.zeros(4)
    with pytest.raises(ValueError, match=r"y_train must be 1-D.*\(4,\)"):
        probes.knn_accuracy(z, y[:3], z, y, k=1)
    with pytest.raises(ValueError, match="k must be"):
        probes.knn_accuracy(z, y, z, y, k=10)
    with pytest.raises(ValueError, match="same dim"):
        probes.linear_probe_accuracy(z, y, np.zeros((4, 3)), y)
