import numpy as np
import pytest
import torch

from lecturekit.metrics import distances, pca, probes


def test_circle_has_two_equal_principal_components():
    t = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    ratio = pca.explained_variance_ratio(np.c_[np.cos(t), np.sin(t), np.zeros_like(t)])
    assert np.allclose(ratio, [0.5, 0.5, 0.0], atol=1e-12)


def test_spectrum_matches_sklearn():
    from sklearn.decomposition import PCA  # here: collecting this file does not import scikit-learn

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


# --- the k argument of the PCA helpers ----------------------------------------------------------


def test_explained_variance_ratio_keeps_the_first_k():
    z = np.random.default_rng(1).normal(size=(60, 6)) @ np.diag([6.0, 5, 4, 3, 2, 1])
    full = pca.explained_variance_ratio(z)
    assert np.all(np.diff(full) < 0)  # distinct ratios, so a wrong slice shows
    for k in (1, 2, 4, 6):
        assert np.array_equal(pca.explained_variance_ratio(z, k), full[:k])
    assert full.sum() == pytest.approx(1.0)
    assert pca.explained_variance_ratio(z[:4]).shape == (4,)  # min(n, d) ratios when n < d


def test_project_onto_the_first_k_axes_matches_sklearn():
    from sklearn.decomposition import PCA

    z = np.random.default_rng(2).normal(size=(40, 7)) @ np.diag([7.0, 6, 5, 4, 3, 2, 1]) + 3.0
    for k in (1, 3, 5):
        coords = pca.project(z, k)
        assert coords.shape == (40, k)
        assert np.allclose(np.abs(coords), np.abs(PCA(k).fit_transform(z)), atol=1e-8)
    assert np.allclose(pca.project(z, 2).mean(axis=0), 0.0)  # coordinates of the centred data
    assert pca.project(z).shape == (40, 2)


# --- probes -------------------------------------------------------------------------------------


def test_knn_scores_the_held_out_split_not_the_training_one():
    # Every held-out point sits next to a training point of the other class: held-out accuracy 0,
    # training accuracy would be 1.
    z_train, y_train = np.array([[0.0], [10.0]]), np.array([0, 1])
    z_test, y_test = np.array([[1.0], [9.0]]), np.array([1, 0])
    assert probes.knn_accuracy(z_train, y_train, z_test, y_test, k=1, metric="euclidean") == 0.0
    # On pure noise, held-out accuracy is chance; the 1-NN's training accuracy would be 1.
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(600, 8)), rng.integers(3, size=600)
    for k in (1, 5):
        acc = probes.knn_accuracy(z[:300], y[:300], z[300:], y[300:], k=k)
        assert abs(acc - 1 / 3) < 0.1


def test_knn_ties_go_to_the_nearest_neighbours_class():
    # issue 12: two neighbours, one vote each; the nearest (label 1) wins, not the smallest label.
    for metric in ("euclidean", "cosine"):
        assert probes.knn_accuracy([[1.0], [2.0]], [1, 0], [[0.0]], [1], k=2, metric=metric) == 1.0
    # 2-2 tie between labels 7 and 3 with a 9 in between; the nearest point is a 7.
    z_train = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    y_train = np.array([7, 3, 9, 3, 7])
    assert probes.knn_accuracy(z_train, y_train, [[0.0]], [7], k=5, metric="euclidean") == 1.0
    # A tie between classes that excludes the nearest neighbour's: the tied class met first wins.
    y_train = np.array([5, 3, 9, 9, 3])  # 5 has one vote; 3 and 9 two each, 3 nearer
    assert probes.knn_accuracy(z_train, y_train, [[0.0]], [3], k=5, metric="euclidean") == 1.0
    # Equal distances count in training order.
    assert probes.knn_accuracy([[1.0], [-1.0]], [4, 2], [[0.0]], [4], k=2, metric="euclidean") == 1.0


def _knn_reference(z_train, y_train, z_test, k):
    """The documented rule, one query at a time (Euclidean)."""
    out = []
    for q in z_test:
        d = np.linalg.norm(z_train - q, axis=1)
        order = np.argsort(d, kind="stable")[:k]
        labels = list(y_train[order])
        counts = {c: labels.count(c) for c in labels}
        best = max(counts.values())
        out.append(next(c for c in labels if counts[c] == best))
    return np.array(out)


def test_knn_matches_the_documented_rule_and_sklearn_when_there_is_no_tie():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(3)
    z_train, y_train = rng.normal(size=(200, 3)), rng.integers(4, size=200)
    z_test = rng.normal(size=(150, 3))
    for k in (1, 2, 4, 6):
        pred = _knn_reference(z_train, y_train, z_test, k)
        for c in range(4):  # score against every constant labelling: recovers each prediction
            acc = probes.knn_accuracy(z_train, y_train, z_test, np.full(150, c), k=k, metric="euclidean")
            assert acc == pytest.approx(np.mean(pred == c))
        assert probes.knn_accuracy(z_train, y_train, z_test, pred, k=k, metric="euclidean") == 1.0
    sk = KNeighborsClassifier(n_neighbors=1, algorithm="brute", metric="cosine").fit(z_train, y_train)
    assert probes.knn_accuracy(z_train, y_train, z_test, sk.predict(z_test), k=1) == 1.0


def test_knn_metric_is_used():
    # Cosine ignores the length; Euclidean does not.
    z_train, y_train = np.array([[1.0, 0.0], [0.0, 10.0]]), np.array([0, 1])
    z_test, y_test = np.array([[0.1, 1.0]]), np.array([1])
    assert probes.knn_accuracy(z_train, y_train, z_test, y_test, k=1, metric="cosine") == 1.0
    assert probes.knn_accuracy(z_train, y_train, z_test, y_test, k=1, metric="euclidean") == 0.0
    assert probes.knn_accuracy(z_train, y_train, z_test, y_test, k=1) == 1.0  # cosine by default
    with pytest.raises(ValueError, match="metric must be"):
        probes.knn_accuracy(z_train, y_train, z_test, y_test, k=1, metric="manhattan")


def test_linear_probe_standardizes_badly_scaled_features():
    # The label lives in a feature of scale 1e-3 next to a noise feature of scale 1. Standardized,
    # the probe reads it perfectly; on the raw scale the L2 penalty (C = 1) leaves it near chance.
    rng = np.random.default_rng(4)
    y = rng.integers(2, size=400)
    z = np.c_[(2.0 * y - 1 + 0.1 * rng.normal(size=400)) * 1e-3, rng.normal(size=400)]
    assert probes.linear_probe_accuracy(z[:200], y[:200], z[200:], y[200:]) == 1.0
    # Scaling a feature changes nothing after standardization.
    w = z * np.array([1e4, 1e-2])
    assert probes.linear_probe_accuracy(w[:200], y[:200], w[200:], y[200:]) == 1.0


def test_linear_probe_uses_the_training_statistics_and_the_regularization():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(5)
    y = rng.integers(3, size=300)
    z = rng.normal(size=(300, 6)) + 0.8 * np.eye(6)[y] * np.array([1, 3, 10, 0.1, 1, 1])
    tr, te = slice(0, 150), slice(150, None)
    for c in (1e-3, 1.0):
        scaler = StandardScaler().fit(z[tr])
        ref = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(z[tr]), y[tr])
        expected = np.mean(ref.predict(scaler.transform(z[te])) == y[te])
        assert probes.linear_probe_accuracy(z[tr], y[tr], z[te], y[te], c=c) == pytest.approx(expected)
    # The held-out split is scored, not the training one: a probe on noise is near chance.
    noise = rng.normal(size=(300, 40))
    assert probes.linear_probe_accuracy(noise[tr], y[tr], noise[te], y[te]) < 0.5


# --- edges found by mutation testing (make mutation) ----------------------------------------------


def test_distance_errors_name_the_argument_at_fault():
    ok = np.zeros((3, 2))
    for call, name in (
        (lambda bad: distances.cosine_similarity(bad, ok), "a"),
        (lambda bad: distances.cosine_similarity(ok, bad), "b"),
        (lambda bad: distances.pairwise_distances(bad, ok), "queries"),
        (lambda bad: distances.pairwise_distances(ok, bad), "points"),
    ):
        with pytest.raises(ValueError, match=rf"^{name} must be a 2-D array"):
            call(np.zeros(3))
    with pytest.raises(ValueError, match=r"^queries and points must have the same dim; got 2 and 3$"):
        distances.pairwise_distances(ok, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"^queries needs at least 3 rows"):
        distances.nearest_farthest_ratio(np.zeros((2, 2)))


def test_cosine_similarity_of_short_vectors_and_ratios_against_given_points():
    assert np.allclose(distances.cosine_similarity([[0.1, 0.0], [0.0, 0.3]], [[0.2, 0.0], [0.0, -0.5]]), [1.0, -1.0])
    queries, points = np.array([[0.0], [10.0]]), np.array([[1.0], [2.0], [4.0]])
    assert np.allclose(distances.nearest_farthest_ratio(queries, points), [1 / 4, 6 / 9])
    assert np.allclose(distances.pairwise_distances(queries, points), [[1, 2, 4], [9, 8, 6]])
    # Every point on the query: nearest and farthest are both 0, and the ratio is 1 by convention.
    with np.errstate(all="raise"):
        assert distances.nearest_farthest_ratio([[1.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]).tolist() == [1.0]


def test_pca_needs_two_samples():
    with pytest.raises(ValueError, match="at least 2 rows"):
        pca.explained_variance_ratio(np.ones((1, 3)))
    with pytest.raises(ValueError, match="at least 2 rows"):
        pca.project(np.ones((1, 3)))


def test_knn_votes_with_five_neighbours_by_default():
    # Labels by distance 0 0 1 1 1 0: five neighbours vote 1 (3 to 2); six would tie 3-3 and pick 0.
    z_train = np.arange(1.0, 7.0)[:, None]
    y_train = np.array([0, 0, 1, 1, 1, 0])
    assert probes.knn_accuracy(z_train, y_train, [[0.0]], [1], metric="euclidean") == 1.0
    assert probes.knn_accuracy(z_train, y_train, [[0.0]], [1], k=6, metric="euclidean") == 0.0


def test_explained_variance_ratio_of_small_and_constant_data():
    z = np.random.default_rng(6).normal(size=(30, 3)) * 1e-3  # total variance far below 1
    assert pca.explained_variance_ratio(z).sum() == pytest.approx(1.0)
    ratio = pca.explained_variance_ratio(np.ones((5, 3)))
    assert ratio.shape == (3,) and ratio.dtype == np.float64 and np.all(ratio == 0.0)


def test_probe_errors_name_the_split_at_fault():
    z, y = np.zeros((4, 2)), np.zeros(4)
    for probe in (probes.knn_accuracy, probes.linear_probe_accuracy):
        with pytest.raises(ValueError, match=r"^z_train must be a 2-D array"):
            probe(np.zeros(4), y, z, y)
        with pytest.raises(ValueError, match=r"^z_test contains NaN"):
            probe(z, y, np.full((4, 2), np.nan), y)
        with pytest.raises(ValueError, match=r"^y_test must be 1-D with one label per row \(4,\); got shape \(3,\)"):
            probe(z, y, z, y[:3])


def test_linear_probe_regularization_defaults_to_c_1():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    # On these data C = 1 and C = 2 score differently, so the default is pinned down.
    rng = np.random.default_rng(5)
    y = rng.integers(3, size=300)
    z = rng.normal(size=(300, 6)) + 0.8 * np.eye(6)[y] * np.array([1, 3, 10, 0.1, 1, 1])
    tr, te = slice(0, 150), slice(150, None)
    scaler = StandardScaler().fit(z[tr])

    def reference(c):
        model = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(z[tr]), y[tr])
        return np.mean(model.predict(scaler.transform(z[te])) == y[te])

    assert reference(1.0) != reference(2.0)
    assert probes.linear_probe_accuracy(z[tr], y[tr], z[te], y[te]) == pytest.approx(reference(1.0))


def test_input_checks_convert_tensors_and_name_the_default_argument():
    from lecturekit.metrics import _checks

    labels = _checks.as_labels(torch.tensor([2, 0, 1]), 3)
    assert isinstance(labels, np.ndarray) and labels.tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match=r"^y must be 1-D with one label per row \(3,\); got shape \(2,\)$"):
        _checks.as_labels([0, 1], 3)
    z = _checks.as_matrix(torch.ones(2, 3, dtype=torch.float32))
    assert z.dtype == np.float64 and z.shape == (2, 3)
    with pytest.raises(ValueError, match=r"^z needs at least 2 rows \(samples\); got 1$"):
        pca.explained_variance_ratio(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"^z must be a 2-D array"):
        _checks.as_matrix(np.zeros(3))


def test_pairwise_distances_never_take_the_root_of_a_rounding_error_below_zero():
    """|q|^2 + |p|^2 - 2 q.p rounds below 0 for a point and itself; the distance is then 0, not NaN."""
    x = np.random.default_rng(0).random((20, 5)) + 1.0
    raw = (x**2).sum(1)[:, None] + (x**2).sum(1)[None, :] - 2.0 * x @ x.T
    assert (np.diag(raw) < 0).any()  # the case this test is about occurs here
    d = distances.pairwise_distances(x, x)
    assert np.isfinite(d).all() and (d >= 0).all()
    assert np.allclose(np.diag(d), 0.0, atol=1e-6)
