"""Metrics on representations, all taking ``(n_samples, dim)`` arrays or tensors.

- :mod:`lecturekit.metrics.pca`       -- explained-variance spectra
- :mod:`lecturekit.metrics.distances` -- cosine similarity, nearest/farthest distance ratio
- :mod:`lecturekit.metrics.probes`    -- k-NN and linear-probe accuracy on a held-out split
- :mod:`lecturekit.metrics.collapse`  -- per-dimension spread, covariance spectrum, effective rank (RankMe),
  alignment/uniformity
- :mod:`lecturekit.metrics.disentanglement` -- BetaVAE, FactorVAE, MIG, DCI (disentanglement_lib conventions)
- :mod:`lecturekit.metrics.invariance` -- invariance scores, feature-map shift-equivariance error,
  linear equivariance R^2

Submodules load on first use, like the package above.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("collapse", "disentanglement", "distances", "invariance", "pca", "probes")

__all__ = list(_SUBMODULES)


def __getattr__(name: str) -> Any:
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'lecturekit.metrics' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return __all__
