"""How many bits a training signal carries: label bits, and compression bounds on observations.

A label from ``k`` classes carries at most ``log2(k)`` bits. An observation carries at most what a
lossless compressor needs to store it: the compressed size is an upper bound on its information
content (its Kolmogorov complexity, up to the compressor's constant), so compression measures
"how much there is to predict" from real data. Compressors here write raw streams, without the
container headers of ``.gz``/``.xz`` files, so small inputs are not charged for a file format.
"""

from __future__ import annotations

import bz2
import lzma
import math
import zlib

import numpy as np
import torch

#: The lossless compressors of Python's standard library that the bounds can use.
CODECS: tuple[str, ...] = ("zlib", "bz2", "lzma")


def label_bits(n_classes: int) -> float:
    """The most information one label from ``n_classes`` classes can carry: ``log2(n_classes)`` bits.

    >>> label_bits(1024)
    10.0
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer; got {n_classes!r}")
    return math.log2(int(n_classes))


def raw_bits(n_values: int, levels: int) -> float:
    """Bits to store ``n_values`` values of ``levels`` levels each with no compression: ``n log2(levels)``.

    >>> raw_bits(64, 16)
    256.0
    """
    if n_values < 0 or levels < 1:
        raise ValueError(f"n_values must be >= 0 and levels >= 1; got {n_values} and {levels}")
    return n_values * math.log2(levels)


def to_uint8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Images with values in [0, 1] as uint8 (0..255, rounded), the way they would be stored.

    >>> to_uint8(np.array([0.0, 0.5, 1.0])).tolist()
    [0, 128, 255]
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)
    if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
        raise ValueError(f"values must lie in [0, 1]; got range [{arr.min():.3g}, {arr.max():.3g}]")
    return np.round(arr * 255.0).astype(np.uint8)


def _lzma_filters(n_bytes: int) -> list[dict]:
    # Preset 9 reserves a 64 MiB dictionary (about 700 MB of memory per call); a dictionary larger
    # than the input changes nothing in the output, so size it to the input (LZMA2's minimum is 4 KiB).
    dict_size = max(1 << 12, min(n_bytes, 1 << 26))
    return [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": dict_size}]


def compress(data: bytes, codec: str = "lzma") -> bytes:
    """Losslessly compress ``data`` into a raw stream (no file header) at the codec's strongest setting.

    ``zlib``: raw DEFLATE, level 9. ``bz2``: level 9 (its 4-byte header is part of the stream).
    ``lzma``: raw LZMA2, preset 9 extreme.

    >>> len(compress(bytes(1000), "zlib")) < 20
    True
    """
    if codec == "zlib":
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush()
    if codec == "bz2":
        return bz2.compress(data, 9)
    if codec == "lzma":
        return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_lzma_filters(len(data)))
    raise ValueError(f"unknown codec {codec!r}; use one of {', '.join(CODECS)}")


def decompress(data: bytes, codec: str = "lzma") -> bytes:
    """Invert :func:`compress`.

    >>> decompress(compress(b"abc", "lzma"), "lzma")
    b'abc'
    """
    if codec == "zlib":
        return zlib.decompress(data, -15)
    if codec == "bz2":
        return bz2.decompress(data)
    if codec == "lzma":
        return lzma.decompress(data, format=lzma.FORMAT_RAW, filters=_lzma_filters(1 << 26))
    raise ValueError(f"unknown codec {codec!r}; use one of {', '.join(CODECS)}")


def _check_samples(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != np.uint8 or x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty uint8 array (n_samples, ...); got dtype {x.dtype}, shape {x.shape}")
    return np.ascontiguousarray(x)


def bits_each(x: np.ndarray, codec: str = "lzma") -> np.ndarray:
    """Compressed size of every sample on its own, in bits: an upper bound on each one's information.

    Args:
        x: ``(n_samples, ...)`` uint8 samples (images, frames).
        codec: one of :data:`CODECS`.

    Returns:
        ``(n_samples,)`` bits.

    >>> bits_each(np.zeros((2, 8, 8), dtype=np.uint8), "zlib").shape
    (2,)
    """
    x = _check_samples(x)
    return np.array([8 * len(compress(sample.tobytes(), codec)) for sample in x], dtype=float)


def bits_together(x: np.ndarray, codec: str = "lzma") -> float:
    """Compressed size of all samples in one stream, in bits per sample.

    In one stream the compressor can reuse what earlier samples contained, so this bounds the
    information a sample adds *given the ones before it* (for a video: given the past frames).
    Compare with :func:`bits_each`.

    Args:
        x: ``(n_samples, ...)`` uint8 samples, in stream order.
        codec: one of :data:`CODECS`.

    >>> frames = np.zeros((10, 8, 8), dtype=np.uint8)
    >>> bool(bits_together(frames, "zlib") < bits_each(frames, "zlib").mean())
    True
    """
    x = _check_samples(x)
    return 8 * len(compress(x.tobytes(), codec)) / x.shape[0]
