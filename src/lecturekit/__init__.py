"""lecturekit: data, encoders, metrics and plots for the self-supervised learning course book.

Submodules, one concept each:

- :mod:`lecturekit.book`       -- chapter setup: seeding, thread limits, glue, provenance
- :mod:`lecturekit.profile`    -- the ``lite``/``full`` execution profile, stand-in runs, the cache folder
- :mod:`lecturekit.data`       -- image datasets (bundled digits, MNIST)
- :mod:`lecturekit.transforms` -- batched geometric transforms and SSL augmentations
- :mod:`lecturekit.losses`     -- self-supervised losses (InfoNCE, VICReg, BYOL/JEPA regression), EMA update
- :mod:`lecturekit.cache`      -- cached results (trained weights, slow scores) under code-derived keys
- :mod:`lecturekit.training`   -- the small training loops behind the cached encoders
- :mod:`lecturekit.encoders`   -- the encoder registry and :func:`~lecturekit.encoders.embed`
- :mod:`lecturekit.metrics`    -- PCA spectra, distances, probes, invariance, disentanglement, collapse
- :mod:`lecturekit.plotting`   -- the figures the chapters draw
- :mod:`lecturekit.progress`   -- the one progress helper (silent unless asked)
- :mod:`lecturekit.ebm`        -- toy energy-based models: energies, Langevin negatives, objectives, landscapes
- :mod:`lecturekit.information` -- label bits and compression bounds on observations
- :mod:`lecturekit.sprites`    -- procedurally drawn sprites with known factors (dSprites-like)
- :mod:`lecturekit.vae`        -- a small VAE and its loss terms (ELBO, beta-VAE)
- :mod:`lecturekit.download`   -- download-and-verify of the full profile's data and weights

Submodules load on first use (``lk.encoders`` imports :mod:`lecturekit.encoders`), so
``import lecturekit as lk`` is cheap and a chapter depends only on the modules it touches; the
book's build uses that to re-execute only the chapters a library edit can affect.
"""

from __future__ import annotations

import importlib
from typing import Any

# Re-exported names and the module that defines each (read statically by the book build).
_EXPORTS = {"embed": "lecturekit.encoders"}

_SUBMODULES = (
    "book",
    "cache",
    "data",
    "download",
    "ebm",
    "information",
    "encoders",
    "losses",
    "metrics",
    "plotting",
    "profile",
    "progress",
    "sprites",
    "training",
    "transforms",
    "vae",
)

__all__ = sorted([*_SUBMODULES, *_EXPORTS])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module 'lecturekit' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return __all__
