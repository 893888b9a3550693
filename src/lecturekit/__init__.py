"""lecturekit: data, encoders, metrics and plots for the self-supervised learning course book.

Submodules, one concept each:

- :mod:`lecturekit.profile`    -- the ``lite``/``full`` execution profile and the cache folder
- :mod:`lecturekit.data`       -- image datasets (bundled digits, MNIST)
- :mod:`lecturekit.transforms` -- batched geometric transforms and SSL augmentations
- :mod:`lecturekit.losses`     -- self-supervised losses
- :mod:`lecturekit.training`   -- the small training loops behind the cached encoders
- :mod:`lecturekit.encoders`   -- the encoder registry and :func:`~lecturekit.encoders.embed`
- :mod:`lecturekit.metrics`    -- PCA spectra, distances, probes
- :mod:`lecturekit.plotting`   -- the figures the chapters draw
- :mod:`lecturekit.progress`   -- the one progress helper (silent unless asked)
"""

from lecturekit import (
    data,
    encoders,
    losses,
    metrics,
    plotting,
    profile,
    progress,
    training,
    transforms,
)
from lecturekit.encoders import embed

__all__ = [
    "data",
    "embed",
    "encoders",
    "losses",
    "metrics",
    "plotting",
    "profile",
    "progress",
    "training",
    "transforms",
]
