"""How much of a label a simple reader can take from a representation: k-NN and linear probes.

Both fit on a training split and report accuracy on a held-out split, the way SSL papers report
"k-NN" and "linear probe" numbers (DINO: Caron et al., 2021; DINOv2: Oquab et al., 2023).
"""

from __future__ import annotations

import numpy as np
import torch

from lecturekit.metrics._checks import as_labels, as_matrix


def _prepare(z_train, y_train, z_test, y_test):
    z_train, z_test = as_matrix(z_train, "z_train"), as_matrix(z_test, "z_test")
    if z_train.shape[1] != z_test.shape[1]:
        raise ValueError(f"z_train and z_test must have the same dim; got {z_train.shape[1]} and {z_test.shape[1]}")
    return (z_train, as_labels(y_train, len(z_train), "y_train"), z_test, as_labels(y_test, len(z_test), "y_test"))


def knn_accuracy(
    z_train: np.ndarray | torch.Tensor,
    y_train: np.ndarray | torch.Tensor,
    z_test: np.ndarray | torch.Tensor,
    y_test: np.ndarray | torch.Tensor,
    k: int = 5,
    metric: str = "cosine",
) -> float:
    """Held-out accuracy of a k-nearest-neighbour majority vote.

    Each test point takes the class most common among its ``k`` nearest training points. A tie
    between classes goes to the tied class whose nearest member is closest, so to the nearest
    neighbour's class whenever that class is among the tied ones (scikit-learn's uniform vote
    would give it to the smallest label instead). Training points at equal distance count in
    training order.

    Args:
        z_train, y_train: ``(n, d)`` embeddings and ``(n,)`` labels to vote with.
        z_test, y_test: ``(m, d)`` embeddings and ``(m,)`` labels to score.
        k: neighbours per vote.
        metric: ``"cosine"`` (as DINO's k-NN eval) or ``"euclidean"``.

    Returns:
        Accuracy in [0, 1].

    >>> z = np.array([[0.0, 1], [0, 2], [1, 0], [2, 0]]); y = np.array([0, 0, 1, 1])
    >>> knn_accuracy(z, y, z, y, k=1)
    1.0
    >>> knn_accuracy([[1.0], [2.0]], [1, 0], [[0.0]], [1], k=2, metric="euclidean")   # a 1-1 tie
    1.0
    """
    from sklearn.neighbors import NearestNeighbors

    z_train, y_train, z_test, y_test = _prepare(z_train, y_train, z_test, y_test)
    if not 1 <= k <= len(z_train):
        raise ValueError(f"k must be in [1, n_train={len(z_train)}]; got {k}")
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean'; got {metric!r}")
    dist, idx = NearestNeighbors(n_neighbors=k, metric=metric, algorithm="brute").fit(z_train).kneighbors(z_test)
    order = np.lexsort((idx, dist))  # each row by distance, then training order
    idx = np.take_along_axis(idx, order, axis=1)  # (m, k), nearest first
    classes, codes = np.unique(y_train, return_inverse=True)
    votes = codes[idx]  # (m, k) class codes of the neighbours
    rows = np.arange(len(z_test))[:, None]
    counts = np.zeros((len(z_test), len(classes)), dtype=np.int64)
    np.add.at(counts, (rows, votes), 1)
    first = np.full_like(counts, k)  # rank of each class's nearest member
    np.minimum.at(first, (rows, votes), np.arange(k))
    predicted = classes[np.argmax(counts * (k + 1) - first, axis=1)]
    return float((predicted == y_test).mean())


def linear_probe_accuracy(
    z_train: np.ndarray | torch.Tensor,
    y_train: np.ndarray | torch.Tensor,
    z_test: np.ndarray | torch.Tensor,
    y_test: np.ndarray | torch.Tensor,
    c: float = 1.0,
) -> float:
    """Held-out accuracy of a multinomial logistic regression on standardized embeddings.

    Features are standardized with the training split's mean and std, then an L2-regularized
    (inverse strength ``c``) logistic regression is fit with L-BFGS (deterministic).

    >>> z = np.array([[0.0, 1], [0, 2], [1, 0], [2, 0]]); y = np.array([0, 0, 1, 1])
    >>> linear_probe_accuracy(z, y, z, y)
    1.0
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    z_train, y_train, z_test, y_test = _prepare(z_train, y_train, z_test, y_test)
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    clf.fit(z_train, y_train)
    return float((clf.predict(z_test) == y_test).mean())
