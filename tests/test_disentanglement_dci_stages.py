"""DCI's optional number of boosting stages (the disentanglement chapter uses fewer than the default)."""

import numpy as np
import pytest

from lecturekit.metrics import disentanglement as dm


@pytest.fixture(scope="module")
def mixed():
    """Three 4-valued factors, mixed by a fixed rotation, and a held-out sample."""
    rng = np.random.default_rng(3)
    f_train, f_test = rng.integers(4, size=(400, 3)), rng.integers(4, size=(200, 3))
    q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    return f_train @ q, f_train, f_test @ q, f_test


def test_n_estimators_reaches_the_trees(mixed):
    # Here, not at the top: a pytest-xdist worker that runs none of these tests (the one running the
    # kernel tests) does not import scikit-learn's ensembles while collecting (about 1.2 CPU-s).
    from sklearn.ensemble import GradientBoostingClassifier

    z_train, f_train, z_test, f_test = mixed
    imp = dm.importance_matrix(z_train, f_train, z_test, f_test, n_estimators=7)
    ref = GradientBoostingClassifier(n_estimators=7, random_state=0).fit(z_train, f_train[:, 2])
    assert np.allclose(imp.matrix[:, 2], ref.feature_importances_)
    assert imp.test_accuracy[2] == pytest.approx(np.mean(ref.predict(z_test) == f_test[:, 2]))
    # and the default is scikit-learn's (and disentanglement_lib's) 100 stages; on two two-valued
    # factors of a smaller sample (one tree per stage), so that 100 stages stay quick
    small = z_train[:100], f_train[:100, :2] % 2, z_test[:50], f_test[:50, :2] % 2
    default = dm.dci(*small)
    explicit = dm.dci(*small, n_estimators=100)
    fewer = dm.dci(*small, n_estimators=7)
    assert np.array_equal(default.importance.matrix, explicit.importance.matrix)
    assert not np.allclose(default.importance.matrix, fewer.importance.matrix)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "30"])
def test_bad_n_estimators_raise(mixed, bad):
    with pytest.raises(ValueError, match="n_estimators must be a positive integer"):
        dm.dci(*mixed, n_estimators=bad)
