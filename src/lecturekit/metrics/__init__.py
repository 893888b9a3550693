"""Metrics on representations, all taking ``(n_samples, dim)`` arrays or tensors.

- :mod:`lecturekit.metrics.pca`       -- explained-variance spectra
- :mod:`lecturekit.metrics.distances` -- cosine similarity, nearest/farthest distance ratio
- :mod:`lecturekit.metrics.probes`    -- k-NN and linear-probe accuracy on a held-out split
"""

from lecturekit.metrics import distances, pca, probes

__all__ = ["distances", "pca", "probes"]
