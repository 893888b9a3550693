"""Edges of lecturekit.metrics.disentanglement found by mutation testing (make mutation): exact
tiny cases, the documented defaults, and each input check's own message."""

import inspect

import numpy as np
import pytest

from lecturekit.metrics import disentanglement as dm
from lecturekit.sprites import Sprites

DS = Sprites()


def test_lookup_error_names_the_table():
    with pytest.raises(ValueError, match=r"^z_all must be a 2-D array \(n_samples, dim\); got shape \(3,\)$"):
        dm.lookup(np.zeros(3), lambda f: f)


def test_defaults_are_disentanglement_libs_published_settings():
    """64 pairs or samples per point, 10,000 training and 5,000 evaluation points, 10,000 samples
    for the FactorVAE variances and a 0.05 pruning threshold, 20 histogram bins, 100 boosting
    stages; seed 0."""

    def defaults(fn):
        return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}

    batch = {"n_train": 10_000, "n_eval": 5_000, "batch_size": 64, "seed": 0}
    assert defaults(dm.beta_vae_score) == batch
    assert defaults(dm.factor_vae_score) == {**batch, "n_variance_estimate": 10_000, "prune_threshold": 0.05}
    for fn in (dm.histogram_discretize, dm.mutual_information_matrix, dm.mig):
        assert defaults(fn) == {"n_bins": 20}, fn.__name__
    for fn in (dm.importance_matrix, dm.dci):
        assert defaults(fn) == {"seed": 0, "n_estimators": 100}, fn.__name__


class SpyData:
    """Five 2-valued factors; records what the batch scores ask for and answers with zeros."""

    factor_sizes = (2, 2, 2, 2, 2)

    def __init__(self):
        self.calls = []

    def sample_factors(self, n, rng):
        self.calls.append(("factors", n))
        return np.zeros((n, 5), dtype=int)

    def sample_pairs(self, fixed, rng):
        self.calls.append(("pairs", fixed.copy()))
        return np.zeros((len(fixed), 5), dtype=int), np.zeros((len(fixed), 5), dtype=int)

    def sample_fixed_batches(self, fixed, batch_size, rng):
        self.calls.append(("batches", fixed.copy(), batch_size))
        return np.zeros((len(fixed), batch_size, 5), dtype=int)


def test_batch_score_defaults_are_the_sizes_sampled():
    """By default 10,000 training and 5,000 evaluation points of 64 pairs (samples) each, the
    factors drawn from seed 0, and 10,000 samples for the FactorVAE variances."""
    rng = np.random.default_rng(0)
    fixed_train = rng.integers(5, size=10_000)
    spy = SpyData()
    dm.beta_vae_score(lambda f: np.c_[f[:, :1], np.arange(len(f)) % 3].astype(float), spy)
    (kind_a, pairs_train), (kind_b, pairs_eval) = spy.calls
    assert kind_a == kind_b == "pairs"
    assert np.array_equal(pairs_train, np.repeat(fixed_train, 64))
    assert len(pairs_eval) == 5_000 * 64
    spy = SpyData()

    def represent(f):
        return np.c_[np.arange(len(f)) % 3, np.arange(len(f)) % 5].astype(float)  # varies within each batch

    dm.factor_vae_score(represent, spy)
    (kind, n_var), (_, fixed_train, size_train), (_, fixed_eval, size_eval) = spy.calls
    assert (kind, n_var, size_train, size_eval) == ("factors", 10_000, 64, 64)
    assert len(fixed_train) == 10_000 and len(fixed_eval) == 5_000
    assert np.array_equal(fixed_train, np.random.default_rng(0).integers(5, size=10_000))  # seed 0


def test_beta_vae_score_reports_both_accuracies_and_every_latent():
    assert dm.beta_vae_score(lambda f: f.astype(float), DS, 60, 40) == dm.BatchScore(1.0, 1.0, 5)
    noise = np.random.default_rng(0)
    s = dm.beta_vae_score(lambda f: noise.normal(size=(len(f), 3)), DS, 60, 40)
    assert s.n_active == 3 and 0.0 < s.eval_accuracy < s.train_accuracy < 1.0  # it fits its own noise


def test_beta_vae_features_check_their_inputs():
    message = r"^z_a and z_b must both be \(n_points, batch_size, d\); got \(2, 3, 4\) and \(2, 3, 5\)$"
    with pytest.raises(ValueError, match=message):
        dm.beta_vae_features(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match=r"got \(2, 3\) and \(2, 3\)$"):  # same shape, but not 3-D
        dm.beta_vae_features(np.zeros((2, 3)), np.zeros((2, 3)))


def test_factor_vae_votes_exact_tiny_cases():
    # A batch of two: latent 1 varies less (relative to its global variance) and votes for factor 1.
    z = np.array([[[1.0, 0.0], [3.0, 0.5]]])
    votes = dm.factor_vae_votes(z, np.array([1]), np.ones(2), 2, np.array([True, True]))
    assert np.array_equal(votes, [[0, 0], [0, 1]]) and votes.dtype.kind == "i"  # counts
    # The mask may come as 0/1 integers: latent 0 is inactive, so latent 1 wins although it varies more.
    assert np.array_equal(dm.factor_vae_votes(z, np.array([0]), np.ones(2), 2, np.array([0, 1])), [[0, 1], [0, 0]])
    # float32 codes (what encoders return) are compared in float64: in float32 the variance of
    # latent 0 (two neighbouring floats) rounds to twice its value and latent 1 would win.
    a = np.float32(1.0)
    z32 = np.array([[[a, 0.0], [np.nextafter(a, np.float32(2.0)), 2**-22.75]]], dtype=np.float32)
    assert np.array_equal(
        dm.factor_vae_votes(z32, np.array([0]), np.ones(2), 2, np.array([True, True])), [[1, 0], [0, 0]]
    )


def test_factor_vae_votes_check_their_inputs():
    z, fixed, var, active = np.zeros((3, 4, 2)), np.zeros(3, dtype=int), np.ones(2), np.array([True, True])
    shapes = r"^z_batches must be \(n_points, batch_size, d\) and fixed \(n_points,\); got \(3, 4, 2\) and \(2,\)$"
    with pytest.raises(ValueError, match=shapes):
        dm.factor_vae_votes(z, fixed[:2], var, 2, active)
    with pytest.raises(ValueError, match=r"got \(4, 2\) and \(4,\)$"):
        dm.factor_vae_votes(z[0], fixed[:1].repeat(4), var, 2, active)
    mask = r"^global_variance and active must be \(2,\) with at least one active latent$"
    with pytest.raises(ValueError, match=mask):
        dm.factor_vae_votes(z, fixed, np.ones(3), 2, active)  # wrong variance shape only
    with pytest.raises(ValueError, match=mask):
        dm.factor_vae_votes(z, fixed, var, 2, np.array([True, True, False]))  # wrong mask shape only
    with pytest.raises(ValueError, match=mask):
        dm.factor_vae_votes(z, fixed, var, 2, np.array([False, False]))  # no active latent


def test_batch_score_sizes_at_their_smallest_are_accepted_and_below_are_errors():
    def identity(f):
        return f.astype(float)

    s = dm.factor_vae_score(identity, DS, 1, 1, batch_size=2, n_variance_estimate=2)  # each at its minimum
    assert 0 <= s.n_active <= 5 and s.eval_accuracy in (0.0, 1.0)
    for n_train, n_eval in ((0, 1), (1, 0)):
        with pytest.raises(ValueError, match=rf"^n_train and n_eval must be positive; got {n_train} and {n_eval}$"):
            dm.factor_vae_score(identity, DS, n_train, n_eval)
    with pytest.raises(ValueError, match=r"^batch_size must be at least 2; got 1$"):
        dm.factor_vae_score(identity, DS, 1, 1, batch_size=1)
    with pytest.raises(ValueError, match=r"^n_variance_estimate must be at least 2; got 1$"):
        dm.factor_vae_score(identity, DS, 1, 1, n_variance_estimate=1)


def test_factor_vae_score_reports_both_accuracies():
    assert dm.factor_vae_score(lambda f: f.astype(float), DS, 60, 40) == dm.BatchScore(1.0, 1.0, 5)


def test_factor_vae_prunes_at_exactly_the_threshold_with_the_sample_std():
    # The 4 codes of the variance estimate get designed representations: column j is
    # scale[j] * (0, 0, 0, 2), whose sample standard deviation (ddof 1) is scale[j] -- exactly 1.0
    # for the first. A latent whose standard deviation equals the threshold stays active.
    scale = np.array([1.0, 0.5, 2.0, 0.9])
    designed = np.array([[0.0], [0.0], [0.0], [2.0]]) * scale
    assert np.sqrt(np.var(designed, axis=0, ddof=1))[0] == 1.0

    def represent(f):
        return designed if len(f) == 4 else f[:, :4].astype(float)  # batches hold 64 codes or more

    s = dm.factor_vae_score(represent, DS, 5, 5, n_variance_estimate=4, prune_threshold=1.0)
    assert s.n_active == 2  # scales 1.0 and 2.0 (with ddof 0: only 2.0; with ddof 2: 0.9 as well)


def test_represent_of_the_wrong_shape_is_named():
    message = r"^represent must map \(m, n_factors\) codes to \(m, d\) representations; got shape \(20,\) for 20 codes$"
    with pytest.raises(ValueError, match=message):
        dm.factor_vae_score(lambda f: f[:, 0].astype(float), DS, 10, 10, n_variance_estimate=20)


def test_dci_seed_reaches_the_trees():
    # Two copies of each latent: which copy a tree splits on is decided by random_state.
    f = np.random.default_rng(0).integers(2, size=(60, 2))
    z = np.hstack([f, f]).astype(float)
    imp = {seed: dm.importance_matrix(z, f, z, f, seed=seed, n_estimators=5).matrix for seed in (0, 1)}
    assert not np.allclose(imp[0], imp[1])
    assert np.array_equal(dm.dci(z, f, z, f, seed=1, n_estimators=5).importance.matrix, imp[1])
    assert np.array_equal(dm.dci(z, f, z, f, n_estimators=5).importance.matrix, imp[0])  # seed 0 by default


def test_dci_weights_are_relative_importances():
    # Weights proportional to each latent's (each factor's) total importance: scaling the matrix
    # changes nothing, also when its entries sum to less than 1.
    r = np.array([[0.5, 0.0, 0.1], [0.1, 0.1, 0.0], [0.0, 0.05, 0.3]])
    for fn in (dm.dci_disentanglement, dm.dci_completeness):
        assert fn(r / 10) == pytest.approx(fn(r), abs=1e-8)
        assert fn(r / 10) != pytest.approx(fn(np.ones_like(r)), abs=0.01)


def test_importance_checks_name_the_matrix():
    with pytest.raises(ValueError, match=r"^importance must be a 2-D array \(n_samples, dim\); got shape \(3,\)$"):
        dm.dci_disentanglement(np.ones(3))
    with pytest.raises(ValueError, match=r"^disentanglement needs at least 2 factors \(columns\); got 1$"):
        dm.dci_disentanglement(np.ones((3, 1)))
    with pytest.raises(ValueError, match=r"^completeness needs at least 2 latents \(rows\); got 1$"):
        dm.dci_completeness(np.ones((1, 3)))


def test_histogram_codes_are_integers_from_one_and_two_bins_is_the_least():
    ramp = np.linspace(0.0, 1.0, 100)[:, None]
    assert dm.histogram_discretize(ramp).max() == 20  # 20 bins by default
    codes = dm.histogram_discretize(np.array([[0.0, 4.0], [0.5, 3.0], [1.0, 2.0]]), n_bins=2)
    assert codes.dtype == np.int64 and np.array_equal(codes, [[1, 2], [2, 2], [2, 1]])
    with pytest.raises(ValueError, match=r"^n_bins must be at least 2; got 1$"):
        dm.histogram_discretize(np.zeros((3, 2)), n_bins=1)
    with pytest.raises(ValueError, match=r"^z must be a 2-D array \(n_samples, dim\); got shape \(3,\)$"):
        dm.histogram_discretize(np.zeros(3))


def test_mig_names_the_constant_factors():
    f = np.c_[np.arange(10) % 2, np.zeros(10), np.arange(10) % 3, np.ones(10)].astype(int)
    with pytest.raises(ValueError, match=r"^every factor must vary in the sample; constant factor columns: \[1 3\]$"):
        dm.mig(f.astype(float), f)


def test_all_zero_importances_score_zero():
    """No latent predicts anything (constant trees): both scores are 0, not NaN."""
    for fn in (dm.dci_disentanglement, dm.dci_completeness):
        assert fn(np.zeros((3, 2))) == pytest.approx(0.0, abs=1e-9)


def test_float32_representations_are_pruned_by_their_float64_std():
    # Latent 0 of the variance sample takes two neighbouring float32 values (1 and 1 + 2**-23):
    # its standard deviation is 2**-24 (6.0e-8), but computed in float32 the mean rounds to 1 and
    # it comes out as 6.9e-8. With a threshold between the two, only latent 1 stays active.
    a = np.float32(1.0)
    designed = np.array([[a, 0], [a, 0], [a, 0], [np.nextafter(a, np.float32(2.0)), 2]], dtype=np.float32)

    def represent(f):
        return designed if len(f) == 4 else f[:, :2].astype(np.float32)

    assert dm.factor_vae_score(represent, DS, 5, 5, n_variance_estimate=4, prune_threshold=6.4e-8).n_active == 1


def test_factor_checks_name_the_factors():
    z = np.zeros((10, 2))
    with pytest.raises(ValueError, match=r"^factors must have one row per representation row \(10\); got 9$"):
        dm.mig(z, np.zeros((9, 3), dtype=int))
    message = (
        r"^factors must be discrete codes \(integer values, one column per factor\); "
        r"got non-integer values -- discretise continuous factors first$"
    )
    with pytest.raises(ValueError, match=message):
        dm.mig(z, np.full((10, 3), 0.5))
    with pytest.raises(ValueError, match=r"^factors must be a 2-D array \(n_samples, dim\); got shape \(10,\)$"):
        dm.mig(z, np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match=r"^z must be a 2-D array \(n_samples, dim\); got shape \(10,\)$"):
        dm.mig(np.zeros(10), np.zeros((10, 1), dtype=int))
    with pytest.raises(ValueError, match=r"^z needs at least 2 rows \(samples\); got 1$"):
        dm.mutual_information_matrix(np.zeros((1, 1)), np.zeros((1, 1), dtype=int))


def test_smallest_inputs_each_score_accepts():
    # Two samples, one latent: the MI matrix (one latent is enough there) is log 2.
    mi = dm.mutual_information_matrix(np.array([[0.0], [1.0]]), np.array([[0], [1]]))
    assert mi == pytest.approx(np.array([[np.log(2)]]))
    # MIG from two latents, each factor pair once: exactly 1.
    f = np.stack(np.meshgrid(np.arange(4), np.arange(4)), axis=-1).reshape(-1, 2)
    assert dm.mig(f.astype(float), f) == pytest.approx(1.0)
    # One boosting stage is a valid predictor.
    imp = dm.importance_matrix(f.astype(float), f, f.astype(float), f, n_estimators=1)
    assert imp.matrix.shape == (2, 2) and np.allclose(imp.matrix.sum(axis=0), 1.0)


def test_a_factor_constant_in_the_training_sample_is_named():
    f = np.c_[np.arange(8) % 2, np.zeros(8, dtype=int)]
    with pytest.raises(
        ValueError, match=r"^factor 1 takes a single value in the training sample; every factor must vary$"
    ):
        dm.importance_matrix(f.astype(float), f, f.astype(float), f, n_estimators=1)
