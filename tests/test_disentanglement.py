import numpy as np
import pytest
import torch

from lecturekit.metrics import disentanglement as dm
from lecturekit.metrics import probes
from lecturekit.sprites import Sprites

DS = Sprites()
SIZES = np.array(DS.factor_sizes)
MEAN, STD = (SIZES - 1) / 2, np.sqrt((SIZES**2 - 1) / 12)  # of a uniform code 0 .. size - 1
ROTATION = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 5)))[0]


def identity(f):
    return f.astype(float)


def rotated(f):
    return ((f - MEAN) / STD) @ ROTATION


def noise_fn(seed=0):
    rng = np.random.default_rng(seed)
    return lambda f: rng.normal(size=(len(f), 5))  # fresh noise: independent of the factors


def duplicated(f):
    return np.hstack([f, f]).astype(float)


@pytest.fixture(scope="module")
def samples():
    """Four 4-valued factors, a training and a held-out sample (small, so the trees are quick)."""
    rng = np.random.default_rng(1)
    return rng.integers(4, size=(600, 4)), rng.integers(4, size=(300, 4))


HADAMARD = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0


def _rot4(f, q=HADAMARD):
    """Standardised codes turned by an orthogonal q (default: the one that mixes all factors equally)."""
    return ((f - 1.5) / np.sqrt(1.25)) @ q


# --- analytic cases --------------------------------------------------------------------------


def test_identity_scores_one_on_everything(samples):
    train, test = samples
    s = dm.dci(train, train, test, test, n_estimators=5)  # a code that is the factors needs few stages
    assert s.disentanglement > 0.99 and s.completeness > 0.99 and s.informativeness == 1.0
    assert dm.mig(train, train) > 0.98
    assert dm.beta_vae_score(identity, DS, 300, 200).eval_accuracy == 1.0
    assert dm.factor_vae_score(identity, DS, 300, 200).eval_accuracy == 1.0


def test_rotation_keeps_information_but_not_disentanglement(samples):
    train, test = samples
    ident = dm.dci(train, train, test, test, n_estimators=5)
    rot = dm.dci(_rot4(train), train, _rot4(test), test, n_estimators=20)  # 20 stages read a rotated code
    assert rot.informativeness > 0.8  # the trees still read the factors
    probe = [probes.linear_probe_accuracy(_rot4(train), train[:, k], _rot4(test), test[:, k]) for k in range(4)]
    assert min(probe) > 0.95  # so does a linear probe
    assert rot.disentanglement < ident.disentanglement - 0.3
    assert dm.mig(_rot4(train), train) < 0.1 < 0.9 < dm.mig(train, train)
    random_q = np.linalg.qr(np.random.default_rng(2).normal(size=(4, 4)))[0]
    assert dm.mig(_rot4(train, random_q), train) < dm.mig(train, train) - 0.2
    assert (
        dm.factor_vae_score(rotated, DS, 300, 200).eval_accuracy
        < dm.factor_vae_score(identity, DS, 300, 200).eval_accuracy
    )


def test_noise_scores_near_zero_or_chance(samples):
    train, test = samples
    rng = np.random.default_rng(3)
    z_train, z_test = rng.normal(size=(600, 4)), rng.normal(size=(300, 4))
    s = dm.dci(z_train, train, z_test, test, n_estimators=10)
    assert s.disentanglement < 0.15 and s.completeness < 0.15
    assert s.informativeness < 0.4  # chance is 0.25
    assert s.importance.train_accuracy.mean() > 0.45  # the trees fit the noise: only held-out accuracy tells
    assert dm.mig(z_train, train) < 0.05
    assert dm.beta_vae_score(noise_fn(), DS, 300, 300).eval_accuracy < 0.35  # chance is 0.2
    assert dm.factor_vae_score(noise_fn(), DS, 300, 300).eval_accuracy < 0.35


def test_duplicated_latents_lower_completeness_and_mig(samples):
    train, test = samples
    dup = np.hstack([train, train])
    s = dm.dci(dup, train, np.hstack([test, test]), test, n_estimators=5)
    assert s.completeness < 0.85 and s.disentanglement > 0.95  # each latent still serves one factor
    assert dm.mig(dup, train) < 0.05  # two latents tie for every factor
    assert dm.factor_vae_score(duplicated, DS, 300, 200).n_active == 10


def test_closed_form_importance_matrices():
    assert dm.dci_disentanglement(np.eye(4)) == pytest.approx(1.0)
    assert dm.dci_completeness(np.eye(4)) == pytest.approx(1.0)
    assert dm.dci_disentanglement(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-9)
    assert dm.dci_completeness(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-9)
    assert dm.dci_completeness(np.vstack([np.eye(2), np.eye(2)])) == pytest.approx(0.5)  # log 2 / log 4
    assert dm.dci_disentanglement(np.zeros((3, 2))) == pytest.approx(0.0, abs=1e-9)
    assert dm.factor_entropy(np.repeat(np.arange(4), 5)[:, None]) == pytest.approx([np.log(4)])


# --- parity with independent reference formulas -------------------------------------------------


def _reference_mi(z, f, n_bins=20):
    """Plug-in MI from joint counts, with equal-width bins computed by hand."""
    out = np.zeros((z.shape[1], f.shape[1]))
    for i in range(z.shape[1]):
        lo, hi = z[:, i].min(), z[:, i].max()
        codes = np.clip(np.floor((z[:, i] - lo) / (hi - lo) * n_bins), 0, n_bins - 1).astype(int)
        for k in range(f.shape[1]):
            joint = np.zeros((n_bins, f[:, k].max() + 1))
            np.add.at(joint, (codes, f[:, k]), 1.0)
            p = joint / joint.sum()
            outer = p.sum(1, keepdims=True) * p.sum(0, keepdims=True)
            nz = p > 0
            out[i, k] = np.sum(p[nz] * np.log(p[nz] / outer[nz]))
    return out


def test_mutual_information_and_mig_match_a_hand_computation():
    rng = np.random.default_rng(4)
    f = rng.integers(5, size=(2000, 3))
    z = np.c_[f[:, 0] + 0.3 * rng.normal(size=2000), f[:, 1] + f[:, 2] + rng.normal(size=2000), rng.normal(size=2000)]
    mi = dm.mutual_information_matrix(z, f)
    ref = _reference_mi(z, f)
    assert mi.shape == (3, 3) and np.allclose(mi, ref, atol=1e-12)
    h = dm.factor_entropy(f)
    top = np.sort(ref, axis=0)[::-1]
    assert dm.mig(z, f) == pytest.approx(np.mean((top[0] - top[1]) / h), abs=1e-12)


def test_n_bins_reaches_the_histogram():
    rng = np.random.default_rng(7)
    f = rng.integers(5, size=(500, 2))
    z = f + 0.4 * rng.normal(size=(500, 2))
    ref = _reference_mi(z, f, n_bins=5)
    assert np.allclose(dm.mutual_information_matrix(z, f, n_bins=5), ref, atol=1e-12)
    top = np.sort(ref, axis=0)[::-1]
    assert dm.mig(z, f, n_bins=5) == pytest.approx(np.mean((top[0] - top[1]) / dm.factor_entropy(f)), abs=1e-12)
    assert dm.mig(z, f, n_bins=5) != pytest.approx(dm.mig(z, f), abs=1e-3)  # the default, 20 bins, differs


def test_dci_matches_the_entropy_formulas():
    r = np.random.default_rng(5).random((6, 4))
    p_rows = r / r.sum(1, keepdims=True)
    d_ref = np.sum((1 + np.sum(p_rows * np.log(p_rows), 1) / np.log(4)) * r.sum(1) / r.sum())
    p_cols = r / r.sum(0, keepdims=True)
    c_ref = np.sum((1 + np.sum(p_cols * np.log(p_cols), 0) / np.log(6)) * r.sum(0) / r.sum())
    assert dm.dci_disentanglement(r) == pytest.approx(d_ref, abs=1e-8)
    assert dm.dci_completeness(r) == pytest.approx(c_ref, abs=1e-8)


def test_importances_are_gradient_boosting_feature_importances(samples):
    from sklearn.ensemble import GradientBoostingClassifier

    # scikit-learn's defaults (100 stages) on two-valued factors (one tree per stage), so it stays quick
    train, test = samples
    z, f, f_test = _rot4(train), train[:, :2] % 2, test[:, :2] % 2
    imp = dm.importance_matrix(z, f, _rot4(test), f_test, seed=0)
    ref = GradientBoostingClassifier(random_state=0).fit(z, f[:, 1])
    assert np.allclose(imp.matrix[:, 1], ref.feature_importances_)
    assert imp.train_accuracy[1] == pytest.approx(np.mean(ref.predict(z) == f[:, 1]))
    assert imp.test_accuracy[1] == pytest.approx(np.mean(ref.predict(_rot4(test)) == f_test[:, 1]))


def test_batch_score_cores_match_loops():
    rng = np.random.default_rng(6)
    z_a, z_b = rng.normal(size=(7, 5, 3)), rng.normal(size=(7, 5, 3))
    loop = np.array([np.mean(np.abs(z_a[i] - z_b[i]), axis=0) for i in range(7)])
    assert np.allclose(dm.beta_vae_features(z_a, z_b), loop)

    z, fixed = rng.normal(size=(50, 8, 4)), rng.integers(3, size=50)
    var, active = rng.random(4) + 0.5, np.array([True, False, True, True])
    votes = np.zeros((3, 4), dtype=int)
    for i in range(50):  # disentanglement_lib's loop
        local = np.var(z[i], axis=0, ddof=1)
        votes[fixed[i], np.flatnonzero(active)[np.argmin(local[active] / var[active])]] += 1
    assert np.array_equal(dm.factor_vae_votes(z, fixed, var, 3, active), votes)


# --- determinism, tensors and errors ------------------------------------------------------------


def test_scores_are_deterministic_and_accept_tensors(samples):
    train, _ = samples
    z = _rot4(train)
    assert dm.mig(torch.as_tensor(z), torch.as_tensor(train)) == dm.mig(z, train)
    a = dm.beta_vae_score(rotated, DS, 200, 100, seed=3)
    b = dm.beta_vae_score(rotated, DS, 200, 100, seed=3)
    assert a == b
    assert dm.factor_vae_score(rotated, DS, 200, 100, seed=3) == dm.factor_vae_score(rotated, DS, 200, 100, seed=3)


def test_lookup_and_collapsed_representations():
    f = DS.all_factors()
    represent = dm.lookup(f, DS.index_of)
    some = DS.sample_factors(10, np.random.default_rng(0))
    assert np.array_equal(represent(some), some)
    constant = dm.factor_vae_score(lambda c: np.zeros((len(c), 3)), DS, 50, 50)
    assert constant == dm.BatchScore(0.0, 0.0, 0)


def test_bad_inputs_raise(samples):
    train, test = samples
    with pytest.raises(ValueError, match="one row per"):
        dm.mig(train[:10], train[:9])
    with pytest.raises(ValueError, match="integer values"):
        dm.mig(train, train + 0.5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        dm.mig(train[:, :1], train)
    with pytest.raises(ValueError, match="must vary"):
        dm.mig(train, np.c_[train[:, 0], np.zeros(len(train))])
    with pytest.raises(ValueError, match="2-D"):
        dm.mutual_information_matrix(train[:, 0], train)
    with pytest.raises(ValueError, match="same dims"):
        dm.dci(train, train, test[:, :2], test)
    with pytest.raises(ValueError, match="non-negative"):
        dm.dci_completeness(-np.eye(2))
    with pytest.raises(ValueError, match="batch_size"):
        dm.beta_vae_score(identity, DS, 10, 10, batch_size=1)
    with pytest.raises(ValueError, match=r"\(m, d\)"):
        dm.beta_vae_score(lambda f: f[:, 0].astype(float), DS, 10, 10)


def test_factor_vae_prunes_latents_by_their_standard_deviation():
    # Standardized codes scaled to standard deviations 0.5, 0.1, 0.02, 1 and 0.2. disentanglement_lib
    # prunes a latent when its *standard deviation* is below the threshold (0.05): four stay active.
    # Comparing the variance (0.25, 0.01, 0.0004, 1, 0.04) instead would keep only two.
    scales = np.array([0.5, 0.1, 0.02, 1.0, 0.2])

    def scaled(f):
        return (f - MEAN) / STD * scales

    assert dm.factor_vae_score(scaled, DS, 50, 50).n_active == 4
    assert dm.factor_vae_score(scaled, DS, 50, 50, prune_threshold=0.15).n_active == 3
    assert dm.factor_vae_score(scaled, DS, 50, 50, prune_threshold=0.0).n_active == 5
    # Pruning is scale-aware but the vote is not: the active latents still name their factors.
    kept = dm.factor_vae_score(scaled, DS, 300, 200, prune_threshold=0.01)
    assert kept.n_active == 5 and kept.eval_accuracy == 1.0
