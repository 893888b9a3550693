"""Chapter setup: seeding, thread limits, the glue helper and the "How this page was produced" values.

Every chapter of the book starts with :func:`setup` and states its provenance with
:func:`provenance`; numbers reach the prose through :func:`glue`. Keeping them here means the
chapters share one definition of each instead of five drifting copies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from lecturekit import profile as _profile

#: How many significant digits a glued float keeps. BLAS may change the last bits of a float
#: between machines, and the prose never shows more than a few digits.
GLUE_DIGITS = 10


def setup(seed: int = 0, threads: int = 1) -> np.random.Generator:
    """Prepare a chapter's kernel: seed torch once, limit threads, set table display and figure output.

    One thread for torch and for NumPy's BLAS (through threadpoolctl): the chapters' models are
    small, so it costs little, and reductions then run in a fixed order, so a rebuild -- or a
    reader running the notebook by hand -- prints the book's exact digits. In a notebook, figures
    are shown through :func:`lecturekit.plotting.install_png_formatter` (their PNG records the
    smallest font used). Call it once, in the chapter's first cell; the library itself never
    seeds global state.

    Args:
        seed: seeds torch's global generator and the returned NumPy generator.
        threads: intra-op threads for torch and the BLAS libraries.

    Returns:
        ``np.random.default_rng(seed)``, the chapter's NumPy generator.

    >>> rng = setup(0)
    >>> torch.get_num_threads()
    1
    """
    if threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    import pandas as pd
    from threadpoolctl import threadpool_limits

    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    threadpool_limits(threads)
    pd.set_option("display.precision", 3)
    from lecturekit.plotting import install_png_formatter

    install_png_formatter()  # figures carry their smallest font, for the site's readability check
    return np.random.default_rng(seed)


def plain(value: Any) -> Any:
    """``value`` as a plain Python value for the prose: NumPy/torch scalars unwrapped, floats rounded.

    Floats keep :data:`GLUE_DIGITS` significant digits.

    >>> plain(np.float32(0.5)), plain(np.int64(3)), plain(1 / 3)
    (0.5, 3, 0.3333333333)
    """
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float):
        return float(f"{value:.{GLUE_DIGITS}g}")
    return value


def glue(key: str, value: Any) -> Any:
    """Glue ``value`` under ``key`` for the prose's glue roles (not displayed); returns it.

    In the book's build myst-nb stores the value in the cell's outputs. Where myst-nb is not
    installed (a reader running the chapter's notebook in Colab) there is no prose to fill, and
    the value is only returned.
    """
    value = plain(value)
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return value
    _glue(key, value, display=False)
    return value


def provenance(
    dataset: str, n_images: int | None = None, encoders: Iterable[str] | None = None, profile: str | None = None
) -> dict[str, Any]:
    """Glue the values of a page's "How this page was produced" note, and return them.

    Keys: ``profile``, ``dataset``, ``torch_version``, and when given ``n_images`` and
    ``encoder_names`` (comma-separated).
    """
    values: dict[str, Any] = {
        "profile": _profile.active(profile),
        "dataset": dataset,
        "torch_version": torch.__version__.split("+")[0],
    }
    if n_images is not None:
        values["n_images"] = int(n_images)
    if encoders is not None:
        values["encoder_names"] = ", ".join(encoders)
    for key, value in values.items():
        glue(key, value)
    return values


#: The book's one convention for a value measured over several seeds (or label draws), stated
#: once on the landing page; :func:`spread` and :func:`spread_table` implement it.
SPREAD_CONVENTION = (
    "mean ± sample standard deviation (ddof = 1) over the n runs named with the table, the "
    "spread rounded to 2 significant digits and the mean to the same decimal place"
)


def mean_spread(values: Any) -> tuple[float, float, int]:
    """``(mean, sample std with ddof=1, n)`` of a 1-D sequence of runs; the std is NaN when n == 1.

    >>> mean_spread([1.0, 2.0, 3.0])
    (2.0, 1.0, 3)
    """
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        raise ValueError("mean_spread needs at least one value (one per seed); got none")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan"), int(v.size)


def _decimals(spread: float) -> int:
    """Decimal places that keep two significant digits of ``spread`` (never fewer than 0)."""
    return max(0, 1 - int(np.floor(np.log10(abs(spread)))))


def spread(values: Any, percent: bool = False, decimals: int | None = None) -> str:
    """``values`` (one per run) as ``"mean ± std"`` text, by :data:`SPREAD_CONVENTION`.

    Args:
        values: one number per seed (or label draw); a single value prints alone.
        percent: values are fractions, printed in percent (``"91.2% ± 1.4%"``).
        decimals: decimal places when the spread cannot set them (one run, or a zero spread).

    >>> spread([0.12, 0.1205, 0.1193]), spread([25.0, 26.5, 27.0]), spread([0.9, 0.92, 0.91], percent=True)
    ('0.11993 ± 0.00060', '26.2 ± 1.0', '91.0% ± 1.0%')
    """
    mean, std, n = mean_spread(values)
    scale, unit = (100.0, "%") if percent else (1.0, "")
    mean, std = mean * scale, std * scale
    if n > 1 and np.isfinite(std) and std > 0:
        places = _decimals(std)
        return f"{mean:.{places}f}{unit} ± {std:.{places}f}{unit}"
    places = 2 if decimals is None else decimals
    text = f"{mean:.{places}f}{unit}"
    return text if n == 1 else f"{text} ± {0:.{places}f}{unit}"


def exceeds_spread(low: Any, high: Any) -> bool:
    """Whether ``high``'s runs lie above ``low``'s by more than the spread: the book's bar for a comparison.

    True when the two "mean ± std" intervals of :data:`SPREAD_CONVENTION` do not overlap, i.e.
    ``mean(high) - mean(low) > std(low) + std(high)`` (sample stds; a single run counts as std 0).

    >>> exceeds_spread([0.80, 0.82, 0.81], [0.90, 0.91, 0.92]), exceeds_spread([0.80, 0.90], [0.85, 0.95])
    (True, False)
    """
    (m_low, s_low, _), (m_high, s_high, _) = mean_spread(low), mean_spread(high)
    s_low, s_high = (0.0 if not np.isfinite(s) else s for s in (s_low, s_high))
    return bool(m_high - m_low > s_low + s_high)


def spread_table(columns: dict[str, dict[str, Any]], percent: Iterable[str] = ()) -> Any:
    """``{column: {row: values over runs}}`` as a table of :func:`spread` strings.

    Rows with a single run (an encoder without random weights) print the mean alone, with as many
    decimals as the column's other rows use at most, so a column keeps one number format.

    >>> spread_table({"acc": {"a": [0.9, 0.92, 0.91], "b": [0.5]}}, percent=["acc"])["acc"].tolist()
    ['91.0% ± 1.0%', '50.0%']
    """
    import pandas as pd

    percent = set(percent)
    out = {}
    for col, rows in columns.items():
        pct = col in percent
        scale = 100.0 if pct else 1.0
        places = [_decimals(s * scale) for s in (mean_spread(v)[1] for v in rows.values()) if np.isfinite(s) and s > 0]
        fallback = max(places) if places else None
        out[col] = {row: spread(v, percent=pct, decimals=fallback) for row, v in rows.items()}
    return pd.DataFrame(out)
