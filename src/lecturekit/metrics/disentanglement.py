"""Supervised disentanglement metrics: BetaVAE score, FactorVAE score, MIG and DCI.

All four need the ground-truth factors, so they apply only to data whose generating factors are
known (:mod:`lecturekit.sprites`). Conventions follow disentanglement_lib, the reference
implementation of Locatello et al. (2019), "Challenging common assumptions in the unsupervised
learning of disentangled representations", with its published metric settings, except that
arrays keep this library's layout: representations ``(n_samples, dim)``, factors
``(n_samples, n_factors)`` as integer codes. The matrices the scores are built on are returned
in the layout of the papers and of disentanglement_lib: ``(dim, n_factors)``, one row per latent.

- :func:`mutual_information_matrix`, :func:`mig` -- Chen et al. (2018): latents discretised by a
  20-bin histogram, MI in nats, each factor's gap normalised by its entropy.
- :func:`importance_matrix`, :func:`dci` -- Eastwood & Williams (2018) with gradient-boosted
  trees (scikit-learn's ``GradientBoostingClassifier``, default settings, as disentanglement_lib);
  informativeness is the held-out accuracy of those trees, averaged over factors.
- :func:`beta_vae_score` -- Higgins et al. (2017): a logistic regression predicts which factor a
  batch of pairs shares from the mean absolute difference of their representations.
- :func:`factor_vae_score` -- Kim & Mnih (2018): in a batch with one factor fixed, the latent of
  least variance (after dividing by its variance over the data) votes for that factor;
  accuracy of the majority-vote classifier.

The two batch scores need a sampler: they take a ``represent`` function mapping factor codes
``(m, n_factors)`` to representations ``(m, dim)`` (an encoder composed with the renderer, or a
table lookup, :func:`lookup`) and a dataset with the sampling methods of
:class:`lecturekit.sprites.Sprites`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from lecturekit.metrics._checks import as_matrix

Represent = Callable[[np.ndarray], np.ndarray]


class GroundTruthData(Protocol):
    """What the batch scores need from a dataset (satisfied by :class:`lecturekit.sprites.Sprites`)."""

    @property
    def factor_sizes(self) -> tuple[int, ...]:
        """Number of values of each factor."""

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` random factor codes ``(n, n_factors)``."""

    def sample_pairs(self, fixed: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Pairs of factor codes that agree on the factor ``fixed[i]`` of pair ``i``."""

    def sample_fixed_batches(self, fixed: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        """Batches of factor codes sharing the value of factor ``fixed[i]`` in batch ``i``."""


# --- input checks --------------------------------------------------------------------------------


def _as_factors(factors: np.ndarray | torch.Tensor, n: int | None = None, name: str = "factors") -> np.ndarray:
    """Integer factor codes ``(n, n_factors)`` as int64, or ValueError."""
    f = as_matrix(factors, name)
    if n is not None and f.shape[0] != n:
        raise ValueError(f"{name} must have one row per representation row ({n}); got {f.shape[0]}")
    if not np.all(f == np.round(f)):
        raise ValueError(
            f"{name} must be discrete codes (integer values, one column per factor); "
            "got non-integer values -- discretise continuous factors first"
        )
    return f.astype(np.int64)


def _codes_and_factors(z, factors, min_dim: int = 1) -> tuple[np.ndarray, np.ndarray]:
    z = as_matrix(z, "z", min_rows=2)
    if z.shape[1] < min_dim:
        raise ValueError(f"z needs at least {min_dim} dimensions; got {z.shape[1]}")
    return z, _as_factors(factors, len(z))


# --- mutual information and MIG -----------------------------------------------------------------


def histogram_discretize(z: np.ndarray | torch.Tensor, n_bins: int = 20) -> np.ndarray:
    """Discretise each latent into ``n_bins`` equal-width bins over its own range.

    disentanglement_lib's ``_histogram_discretize``: ``np.digitize(z[:, i], edges[:-1])`` with
    the edges of ``np.histogram(z[:, i], n_bins)``, so codes run from 1 to ``n_bins``.

    Args:
        z: ``(n, d)`` representations.
        n_bins: bins per latent.

    Returns:
        ``(n, d)`` int64 bin codes.

    >>> histogram_discretize(np.array([[0.0], [0.5], [1.0]]), n_bins=2).ravel()
    array([1, 2, 2])
    """
    z = as_matrix(z, "z")
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2; got {n_bins}")
    out = np.empty(z.shape, dtype=np.int64)
    for i in range(z.shape[1]):
        out[:, i] = np.digitize(z[:, i], np.histogram(z[:, i], n_bins)[1][:-1])
    return out


def factor_entropy(factors: np.ndarray | torch.Tensor) -> np.ndarray:
    """Empirical entropy ``H(v_k)`` of each factor, ``(n_factors,)``, in nats.

    >>> factor_entropy(np.array([[0], [1]])).round(4)
    array([0.6931])
    """
    from sklearn.metrics import mutual_info_score

    f = _as_factors(factors)
    return np.array([mutual_info_score(f[:, k], f[:, k]) for k in range(f.shape[1])])


def mutual_information_matrix(
    z: np.ndarray | torch.Tensor, factors: np.ndarray | torch.Tensor, n_bins: int = 20
) -> np.ndarray:
    """Mutual information between each discretised latent and each factor, ``(d, n_factors)``, nats.

    Entry ``[i, k]`` is the plug-in estimate ``I(z_i; v_k)`` (scikit-learn's
    ``mutual_info_score``) after :func:`histogram_discretize` -- disentanglement_lib's
    ``discrete_mutual_info`` in its layout, one row per latent.

    Args:
        z: ``(n, d)`` representations.
        factors: ``(n, n_factors)`` integer factor codes of the same samples.
        n_bins: histogram bins per latent (20 in disentanglement_lib).

    >>> f = np.repeat(np.arange(4), 25)[:, None]
    >>> mutual_information_matrix(f.astype(float), f).round(4)   # = H(f) = log 4
    array([[1.3863]])
    """
    from sklearn.metrics import mutual_info_score

    z, f = _codes_and_factors(z, factors)
    codes = histogram_discretize(z, n_bins)
    return np.array([[mutual_info_score(f[:, k], codes[:, i]) for k in range(f.shape[1])] for i in range(z.shape[1])])


def mig(z: np.ndarray | torch.Tensor, factors: np.ndarray | torch.Tensor, n_bins: int = 20) -> float:
    """Mutual information gap (Chen et al., 2018), as disentanglement_lib's ``discrete_mig``.

    For each factor, the gap between the largest and second-largest mutual information any
    latent has with it, divided by the factor's entropy; averaged over factors. 1 when each
    factor is captured entirely by one latent that no other latent shares; 0 when two latents
    share a factor equally, or none carries it.

    Args:
        z: ``(n, d)`` representations, ``d >= 2``.
        factors: ``(n, n_factors)`` integer factor codes (each factor must vary).
        n_bins: histogram bins per latent.

    Returns:
        MIG in [0, 1] (up to estimation noise).

    >>> f = np.stack(np.meshgrid(np.arange(4), np.arange(4)), axis=-1).reshape(-1, 2)   # each pair once
    >>> round(mig(f.astype(float), f), 3)
    1.0
    >>> f = np.random.default_rng(0).integers(4, size=(500, 2))  # sampled: the factors share a little MI
    >>> round(mig(f.astype(float), f), 3)
    0.994
    """
    z, f = _codes_and_factors(z, factors, min_dim=2)
    entropy = factor_entropy(f)
    if np.any(entropy == 0):
        raise ValueError(
            f"every factor must vary in the sample; constant factor columns: {np.flatnonzero(entropy == 0)}"
        )
    top = np.sort(mutual_information_matrix(z, f, n_bins), axis=0)[::-1]  # (d, n_factors), descending
    return float(np.mean((top[0] - top[1]) / entropy))


# --- DCI ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Importance:
    """Importance of each latent for predicting each factor, and how well it was predicted.

    Attributes:
        matrix: ``(d, n_factors)`` feature importances (each column sums to 1 unless constant).
        train_accuracy: ``(n_factors,)`` accuracy of each factor's predictor on its training set.
        test_accuracy: ``(n_factors,)`` accuracy on the held-out set.
    """

    matrix: np.ndarray
    train_accuracy: np.ndarray
    test_accuracy: np.ndarray


def importance_matrix(
    z_train: np.ndarray | torch.Tensor,
    factors_train: np.ndarray | torch.Tensor,
    z_test: np.ndarray | torch.Tensor,
    factors_test: np.ndarray | torch.Tensor,
    seed: int = 0,
    n_estimators: int = 100,
) -> Importance:
    """Gradient-boosted-tree importances of latents for factors (disentanglement_lib's ``compute_importance_gbt``).

    One ``GradientBoostingClassifier`` (scikit-learn defaults: 100 boosting stages of depth-3
    trees, learning rate 0.1) per factor, fit on ``(z_train, factors_train[:, k])``; its
    impurity-based ``feature_importances_`` form column ``k``.

    Args:
        z_train, factors_train: ``(n, d)`` representations and ``(n, n_factors)`` codes to fit on.
        z_test, factors_test: ``(m, d)`` and ``(m, n_factors)`` held out, for accuracy.
        seed: ``random_state`` of the trees (only breaks ties between equally good splits).
        n_estimators: boosting stages per factor (one tree per class and stage). 100 is
            scikit-learn's default and disentanglement_lib's setting; the cost grows linearly
            with it, and fewer stages give a less accurate predictor and coarser importances.

    >>> f = np.random.default_rng(0).integers(2, size=(100, 2))
    >>> importance_matrix(f, f, f, f).matrix.round(2)
    array([[1., 0.],
           [0., 1.]])
    >>> importance_matrix(f, f, f, f, n_estimators=5).matrix.round(2)   # fewer stages, same answer here
    array([[1., 0.],
           [0., 1.]])
    """
    from sklearn.ensemble import GradientBoostingClassifier

    if isinstance(n_estimators, bool) or not isinstance(n_estimators, (int, np.integer)) or n_estimators < 1:
        raise ValueError(f"n_estimators must be a positive integer (boosting stages); got {n_estimators!r}")
    z_train, f_train = _codes_and_factors(z_train, factors_train)
    z_test, f_test = _codes_and_factors(z_test, factors_test)
    if z_test.shape[1] != z_train.shape[1] or f_test.shape[1] != f_train.shape[1]:
        raise ValueError(
            f"train and test must have the same dims; got z {z_train.shape[1]} vs {z_test.shape[1]}, "
            f"factors {f_train.shape[1]} vs {f_test.shape[1]}"
        )
    d, k = z_train.shape[1], f_train.shape[1]
    matrix = np.zeros((d, k))
    train_acc, test_acc = np.zeros(k), np.zeros(k)
    for j in range(k):
        if len(np.unique(f_train[:, j])) < 2:
            raise ValueError(f"factor {j} takes a single value in the training sample; every factor must vary")
        model = GradientBoostingClassifier(n_estimators=int(n_estimators), random_state=seed)
        model.fit(z_train, f_train[:, j])
        matrix[:, j] = np.abs(model.feature_importances_)
        train_acc[j] = np.mean(model.predict(z_train) == f_train[:, j])
        test_acc[j] = np.mean(model.predict(z_test) == f_test[:, j])
    return Importance(matrix, train_acc, test_acc)


def _check_importance(r: np.ndarray | torch.Tensor) -> np.ndarray:
    r = as_matrix(r, "importance")
    if np.any(r < 0):
        raise ValueError("importance must be non-negative")
    return r


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
    """``1 - H_base(p / sum p)`` for each column of ``p`` (scipy.stats.entropy's normalisation)."""
    from scipy.stats import entropy

    return 1.0 - entropy(p + 1e-11, base=base, axis=0)


def dci_disentanglement(importance: np.ndarray | torch.Tensor) -> float:
    """DCI disentanglement of an importance matrix ``(d, n_factors)``.

    Each latent scores ``1 - H_K(P_i.)`` (entropy in base ``K = n_factors`` of its row,
    normalised to a distribution): 1 if it matters for one factor only. Scores are averaged
    with weights proportional to each latent's total importance (Eastwood & Williams, 2018;
    disentanglement_lib adds 1e-11 inside the entropy, as here).

    >>> round(dci_disentanglement(np.eye(3)), 6)    # 1 - 1e-9: the 1e-11 inside the entropy
    1.0
    """
    r = _check_importance(importance)
    if r.shape[1] < 2:
        raise ValueError(f"disentanglement needs at least 2 factors (columns); got {r.shape[1]}")
    per_latent = _one_minus_entropy(r.T, base=r.shape[1])
    weights = r if r.sum() > 0 else np.ones_like(r)
    return float(np.sum(per_latent * weights.sum(axis=1) / weights.sum()))


def dci_completeness(importance: np.ndarray | torch.Tensor) -> float:
    """DCI completeness of an importance matrix ``(d, n_factors)``.

    Each factor scores ``1 - H_D(P_.k)`` (entropy in base ``D = d`` of its column): 1 if one latent
    alone captures it. Averaged with weights proportional to each factor's total importance.

    >>> round(dci_completeness(np.vstack([np.eye(2), np.eye(2)])), 3)   # every factor in 2 of 4 latents
    0.5
    """
    r = _check_importance(importance)
    if r.shape[0] < 2:
        raise ValueError(f"completeness needs at least 2 latents (rows); got {r.shape[0]}")
    per_factor = _one_minus_entropy(r, base=r.shape[0])
    weights = r if r.sum() > 0 else np.ones_like(r)
    return float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))


@dataclass(frozen=True)
class DCIScore:
    """DCI scores and the importances they come from.

    Attributes:
        disentanglement: :func:`dci_disentanglement` of the importances.
        completeness: :func:`dci_completeness` of the importances.
        informativeness: held-out accuracy of the factor predictors, averaged over factors
            (disentanglement_lib's ``informativeness_test``; Eastwood & Williams report the
            corresponding error).
        importance: the :class:`Importance` behind the scores.
    """

    disentanglement: float
    completeness: float
    informativeness: float
    importance: Importance


def dci(
    z_train: np.ndarray | torch.Tensor,
    factors_train: np.ndarray | torch.Tensor,
    z_test: np.ndarray | torch.Tensor,
    factors_test: np.ndarray | torch.Tensor,
    seed: int = 0,
    n_estimators: int = 100,
) -> DCIScore:
    """Disentanglement, completeness and informativeness (Eastwood & Williams, 2018).

    Gradient-boosted-tree importances (:func:`importance_matrix`), as disentanglement_lib's
    ``compute_dci`` (which uses 10,000 training and 5,000 test samples).

    Args:
        z_train, factors_train: ``(n, d)`` and ``(n, n_factors)`` to fit the predictors on.
        z_test, factors_test: ``(m, d)`` and ``(m, n_factors)`` held out.
        seed: ``random_state`` of the trees.
        n_estimators: boosting stages per factor (:func:`importance_matrix`; 100 as
            disentanglement_lib).

    >>> f = np.random.default_rng(0).integers(2, size=(100, 2))
    >>> s = dci(f, f, f, f)
    >>> round(s.disentanglement, 2), round(s.completeness, 2), s.informativeness
    (1.0, 1.0, 1.0)
    """
    imp = importance_matrix(z_train, factors_train, z_test, factors_test, seed=seed, n_estimators=n_estimators)
    return DCIScore(dci_disentanglement(imp.matrix), dci_completeness(imp.matrix), float(imp.test_accuracy.mean()), imp)


# --- batch scores: BetaVAE and FactorVAE ------------------------------------------------------------


def lookup(z_all: np.ndarray | torch.Tensor, index_of: Callable[[np.ndarray], np.ndarray]) -> Represent:
    """A ``represent`` function that looks representations up in a table.

    Args:
        z_all: ``(n_combinations, d)`` representations of every factor combination.
        index_of: maps codes ``(..., n_factors)`` to rows of ``z_all`` (``Sprites.index_of``).

    Returns:
        ``represent(factors) -> z_all[index_of(factors)]``, shape ``(..., d)``.

    >>> from lecturekit.sprites import Sprites
    >>> ds = Sprites(); f = ds.all_factors()
    >>> np.array_equal(lookup(f, ds.index_of)(f[:3]), f[:3])
    True
    """
    table = as_matrix(z_all, "z_all")

    def represent(factors: np.ndarray) -> np.ndarray:
        return table[index_of(factors)]

    return represent


def _represent_batches(represent: Represent, factors: np.ndarray) -> np.ndarray:
    """Apply ``represent`` to codes ``(b, m, n_factors)``, returning ``(b, m, d)`` float64."""
    b, m, k = factors.shape
    z = np.asarray(represent(factors.reshape(b * m, k)), dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != b * m:
        raise ValueError(
            f"represent must map (m, n_factors) codes to (m, d) representations; got shape {z.shape} for {b * m} codes"
        )
    return z.reshape(b, m, -1)


def beta_vae_features(z_a: np.ndarray, z_b: np.ndarray) -> np.ndarray:
    """BetaVAE-score inputs: mean absolute difference over each batch of pairs, ``(n_points, d)``.

    Args:
        z_a, z_b: ``(n_points, batch_size, d)`` representations of the two members of each pair.

    >>> beta_vae_features(np.zeros((1, 2, 3)), np.ones((1, 2, 3)))
    array([[1., 1., 1.]])
    """
    z_a, z_b = np.asarray(z_a, dtype=np.float64), np.asarray(z_b, dtype=np.float64)
    if z_a.ndim != 3 or z_a.shape != z_b.shape:
        raise ValueError(f"z_a and z_b must both be (n_points, batch_size, d); got {z_a.shape} and {z_b.shape}")
    return np.abs(z_a - z_b).mean(axis=1)


def _pair_features(
    represent: Represent, data: GroundTruthData, n: int, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    fixed = rng.integers(len(data.factor_sizes), size=n)  # (n,)
    f_a, f_b = data.sample_pairs(np.repeat(fixed, batch_size), rng)  # (n * batch, k) each
    k = f_a.shape[1]
    z_a = _represent_batches(represent, f_a.reshape(n, batch_size, k))
    z_b = _represent_batches(represent, f_b.reshape(n, batch_size, k))
    return beta_vae_features(z_a, z_b), fixed


@dataclass(frozen=True)
class BatchScore:
    """Accuracy of a batch score's classifier on its training points and on fresh points.

    Attributes:
        train_accuracy: on the points the classifier was fit on.
        eval_accuracy: on newly sampled points -- the reported score.
        n_active: latents used (FactorVAE score: those not collapsed; BetaVAE score: all).
    """

    train_accuracy: float
    eval_accuracy: float
    n_active: int


def _check_batch_args(n_train: int, n_eval: int, batch_size: int) -> None:
    if n_train < 1 or n_eval < 1:
        raise ValueError(f"n_train and n_eval must be positive; got {n_train} and {n_eval}")
    if batch_size < 2:
        raise ValueError(f"batch_size must be at least 2; got {batch_size}")


def beta_vae_score(
    represent: Represent,
    data: GroundTruthData,
    n_train: int = 10_000,
    n_eval: int = 5_000,
    batch_size: int = 64,
    seed: int = 0,
) -> BatchScore:
    """BetaVAE score (Higgins et al., 2017), as disentanglement_lib's ``compute_beta_vae_sklearn``.

    Each point: pick a factor uniformly, draw ``batch_size`` pairs of factor combinations that
    agree on it, and average ``|z_a - z_b|`` over the batch (:func:`beta_vae_features`). A
    logistic regression (scikit-learn, L2, C = 1, run to convergence) learns to name the shared
    factor; the score is its accuracy on ``n_eval`` fresh points. Chance is
    ``1 / n_factors``. Defaults are disentanglement_lib's (64, 10,000, 5,000).

    Args:
        represent: maps factor codes ``(m, n_factors)`` to representations ``(m, d)``.
        data: the dataset to sample from (:class:`lecturekit.sprites.Sprites`).
        n_train, n_eval: points to fit and to score the classifier on.
        batch_size: pairs averaged per point.
        seed: seeds all sampling and the classifier.

    >>> from lecturekit.sprites import Sprites
    >>> beta_vae_score(lambda f: f.astype(float), Sprites(), 50, 50, seed=0).eval_accuracy
    1.0
    """
    from sklearn.linear_model import LogisticRegression

    _check_batch_args(n_train, n_eval, batch_size)
    rng = np.random.default_rng(seed)
    x_train, y_train = _pair_features(represent, data, n_train, batch_size, rng)
    x_eval, y_eval = _pair_features(represent, data, n_eval, batch_size, rng)
    model = LogisticRegression(random_state=seed, max_iter=5000).fit(x_train, y_train)
    return BatchScore(
        float(np.mean(model.predict(x_train) == y_train)),
        float(np.mean(model.predict(x_eval) == y_eval)),
        x_train.shape[1],
    )


def factor_vae_votes(
    z_batches: np.ndarray, fixed: np.ndarray, global_variance: np.ndarray, n_factors: int, active: np.ndarray
) -> np.ndarray:
    """Votes ``(n_factors, d)``: how often fixing factor ``k`` made latent ``i`` the least variable.

    For each batch, the variance of every active latent within the batch is divided by its
    variance over the data (Kim & Mnih's normalisation by the empirical standard deviation,
    squared) and the argmin casts one vote for the batch's fixed factor.

    Args:
        z_batches: ``(n_points, batch_size, d)`` representations; one factor fixed per batch.
        fixed: ``(n_points,)`` index of the fixed factor of each batch.
        global_variance: ``(d,)`` variance of each latent over the data (ddof 1).
        n_factors: number of factors.
        active: ``(d,)`` boolean mask of latents that may vote.

    >>> z = np.array([[[0.0, 1.0], [0.0, 2.0]]])          # latent 0 constant in the batch
    >>> factor_vae_votes(z, np.array([1]), np.ones(2), 2, np.array([True, True]))
    array([[0, 0],
           [1, 0]])
    """
    z = np.asarray(z_batches, dtype=np.float64)
    fixed = np.asarray(fixed)
    if z.ndim != 3 or fixed.shape != (z.shape[0],):
        raise ValueError(
            f"z_batches must be (n_points, batch_size, d) and fixed (n_points,); got {z.shape} and {fixed.shape}"
        )
    active = np.asarray(active, dtype=bool)
    if global_variance.shape != (z.shape[2],) or active.shape != (z.shape[2],) or not active.any():
        raise ValueError(f"global_variance and active must be ({z.shape[2]},) with at least one active latent")
    local = np.var(z, axis=1, ddof=1)  # (n_points, d)
    ratio = local[:, active] / global_variance[active]
    winner = np.flatnonzero(active)[np.argmin(ratio, axis=1)]  # (n_points,) latent index
    votes = np.zeros((n_factors, z.shape[2]), dtype=np.int64)
    np.add.at(votes, (fixed, winner), 1)
    return votes


def _fixed_batches(
    represent: Represent, data: GroundTruthData, n: int, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    fixed = rng.integers(len(data.factor_sizes), size=n)
    return _represent_batches(represent, data.sample_fixed_batches(fixed, batch_size, rng)), fixed


def factor_vae_score(
    represent: Represent,
    data: GroundTruthData,
    n_train: int = 10_000,
    n_eval: int = 5_000,
    batch_size: int = 64,
    n_variance_estimate: int = 10_000,
    prune_threshold: float = 0.05,
    seed: int = 0,
) -> BatchScore:
    """FactorVAE score (Kim & Mnih, 2018), as disentanglement_lib's ``compute_factor_vae``.

    The variance of each latent is estimated on ``n_variance_estimate`` random samples; latents
    whose standard deviation is below ``prune_threshold`` (collapsed to the prior) are ignored
    (disentanglement_lib's published setting is 0.05). Each point fixes one random factor over a
    batch and votes (:func:`factor_vae_votes`); the classifier maps each latent to the factor
    with most training votes, and the score is its accuracy on ``n_eval`` fresh points. With
    no active latent the score is 0.

    Args:
        represent: maps factor codes ``(m, n_factors)`` to representations ``(m, d)``.
        data: the dataset to sample from (:class:`lecturekit.sprites.Sprites`).
        n_train, n_eval: points to build and to score the majority-vote classifier.
        batch_size: samples per point.
        n_variance_estimate: samples for the global variances.
        prune_threshold: minimum standard deviation of an active latent.
        seed: seeds all sampling.

    >>> from lecturekit.sprites import Sprites
    >>> factor_vae_score(lambda f: f.astype(float), Sprites(), 200, 100, seed=0).eval_accuracy
    1.0
    """
    _check_batch_args(n_train, n_eval, batch_size)
    if n_variance_estimate < 2:
        raise ValueError(f"n_variance_estimate must be at least 2; got {n_variance_estimate}")
    rng = np.random.default_rng(seed)
    k = len(data.factor_sizes)
    z_global = _represent_batches(represent, data.sample_factors(n_variance_estimate, rng)[None])[0]
    global_variance = np.var(z_global, axis=0, ddof=1)  # (d,)
    active = np.sqrt(global_variance) >= prune_threshold
    if not active.any():
        return BatchScore(0.0, 0.0, 0)
    z_train, fixed_train = _fixed_batches(represent, data, n_train, batch_size, rng)
    train_votes = factor_vae_votes(z_train, fixed_train, global_variance, k, active)
    classifier = np.argmax(train_votes, axis=0)  # (d,) factor of each latent
    columns = np.arange(train_votes.shape[1])
    z_eval, fixed_eval = _fixed_batches(represent, data, n_eval, batch_size, rng)
    eval_votes = factor_vae_votes(z_eval, fixed_eval, global_variance, k, active)
    return BatchScore(
        float(train_votes[classifier, columns].sum() / train_votes.sum()),
        float(eval_votes[classifier, columns].sum() / eval_votes.sum()),
        int(active.sum()),
    )


__all__ = [
    "BatchScore",
    "DCIScore",
    "GroundTruthData",
    "Importance",
    "beta_vae_features",
    "beta_vae_score",
    "dci",
    "dci_completeness",
    "dci_disentanglement",
    "factor_entropy",
    "factor_vae_score",
    "factor_vae_votes",
    "histogram_discretize",
    "importance_matrix",
    "lookup",
    "mig",
    "mutual_information_matrix",
]
