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
