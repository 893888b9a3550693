"""The figures the chapters draw. Each function takes ``ax=None`` (a new figure) and returns its axes.

Captions belong in the chapter (the cell's ``mystnb: figure`` metadata), so these functions
set axis labels and legends but no titles, except panel titles in multi-panel figures.

Figures are made for the page's text column: :data:`COLUMN_IN` inches at the notebook's
:data:`DPI` fill the 672-px column of the desktop page at their natural size, so a font of
``pt`` points shows ``pt * DPI / 72`` CSS pixels tall. A wider figure is shrunk to the column and
its text with it. :func:`smallest_text` finds the smallest font any drawn text uses;
:func:`install_png_formatter` (called by :func:`lecturekit.book.setup`) writes it, with the dpi,
into every figure's PNG, and the site check (``tools/check_site.py``) computes each figure's
smallest text in CSS pixels from it and the size the figure is shown at: at least
:data:`MIN_TEXT_PX`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: The desktop page's text column (sphinx-book-theme at a 1280-px viewport), in CSS pixels.
COLUMN_PX = 672
#: Dots per inch of the figures a chapter shows (matplotlib's and the inline backend's default).
DPI = 100
#: A figure this wide (inches, at :data:`DPI`) fills the column at its natural size.
COLUMN_IN = COLUMN_PX / DPI
#: The smallest text a figure may show on the desktop page, in CSS pixels.
MIN_TEXT_PX = 9.0
#: PNG text keys of the record :func:`png_with_text_record` writes.
RECORD_KEYS = ("lecturekit:min-font-pt", "lecturekit:dpi", "lecturekit:min-font-text")


def smallest_text(fig: Figure) -> tuple[float, str] | None:
    """``(points, text)`` of the smallest font any text of ``fig`` is drawn with; None without text.

    The figure is drawn once with a renderer that records every ``draw_text`` call, so only
    text that is really drawn counts: tick labels of hidden axes, empty strings and invisible
    artists do not. Mathtext counts at its base size (its super- and subscripts are 70 % of it).

    >>> fig, ax = plt.subplots()
    >>> _ = ax.set_title("small", fontsize=6); _ = ax.set_xticks([])
    >>> smallest_text(fig)
    (6.0, 'small')
    """
    from matplotlib.backends.backend_agg import RendererAgg

    seen: list[tuple[float, str]] = []

    class Recording(RendererAgg):
        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
            if s.strip():
                seen.append((float(prop.get_size_in_points()), s))
            return super().draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

        def draw_tex(self, gc, x, y, s, prop, angle, *, mtext=None):
            if s.strip():
                seen.append((float(prop.get_size_in_points()), s))
            return super().draw_tex(gc, x, y, s, prop, angle, mtext=mtext)

    fig.draw(Recording(max(1, int(fig.bbox.width)), max(1, int(fig.bbox.height)), fig.dpi))
    return min(seen, key=lambda t: t[0]) if seen else None


def text_px(font_pt: float, dpi: float, natural_px: float, shown_px: float) -> float:
    """CSS pixels a ``font_pt`` font of a PNG saved at ``dpi`` is tall when the image is shown scaled.

    ``natural_px``: the PNG's width; ``shown_px``: the width the page shows it at.

    >>> round(text_px(7, 100, 1000, 672), 2)  # a 10-inch figure shrunk to the column
    6.53
    """
    if natural_px <= 0 or dpi <= 0:
        raise ValueError(f"natural_px and dpi must be positive; got {natural_px}, {dpi}")
    return font_pt * dpi / 72 * shown_px / natural_px


def png_with_text_record(fig: Figure, dpi: float | None = None, **kwargs) -> bytes:
    """``fig`` as PNG bytes (tight bounding box) carrying its smallest font and dpi as PNG text.

    The keys are :data:`RECORD_KEYS`; ``kwargs`` go to ``savefig``.
    """
    import io

    dpi = float(dpi or fig.dpi)
    small = smallest_text(fig)
    record = {"lecturekit:dpi": f"{dpi:g}"}
    if small is not None:
        record["lecturekit:min-font-pt"] = f"{small[0]:g}"
        record["lecturekit:min-font-text"] = small[1][:60].encode("latin-1", "replace").decode("latin-1")
    buffer = io.BytesIO()
    options = {"bbox_inches": "tight", "facecolor": fig.get_facecolor(), "edgecolor": fig.get_edgecolor()}
    fig.canvas.print_figure(buffer, format="png", dpi=dpi, metadata=record, **{**options, **kwargs})
    return buffer.getvalue()


def install_png_formatter() -> bool:
    """Show every figure of the running IPython kernel through :func:`png_with_text_record`.

    Returns False (and does nothing) outside IPython. The inline backend is loaded first, so
    that its own one-time formatter setup cannot replace this one later.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    import base64

    plt.get_backend()
    plt.close(plt.figure())  # loads the backend module now (matplotlib loads it on the first figure)
    formatter = shell.display_formatter.formatters["image/png"]

    def show(fig: Figure) -> str | None:
        if not fig.axes and not fig.lines:  # as IPython does: an empty figure shows nothing
            return None
        return base64.b64encode(png_with_text_record(fig)).decode("ascii")

    formatter.for_type(Figure, show)
    return True


def _axes(ax: Axes | None, figsize: tuple[float, float] = (5.0, 3.6)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def images(
    x: torch.Tensor | np.ndarray, labels: Sequence[str] | None = None, ncols: int = 10, axes: np.ndarray | None = None
) -> np.ndarray:
    """A grid of grey images ``(n, 1, h, w)`` with optional per-image labels; returns the axes array."""
    x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)
    if x.ndim != 4:
        raise ValueError(f"images must be (n, 1, h, w); got {x.shape}")
    n = x.shape[0]
    nrows = int(np.ceil(n / ncols))
    if axes is None:
        side = min(0.8, COLUMN_IN / ncols)  # the grid fits the column
        _, axes = plt.subplots(
            nrows, ncols, figsize=(side * ncols, (side + 0.1) * nrows), layout="constrained", squeeze=False
        )
    flat = np.asarray(axes).ravel()
    for i, ax in enumerate(flat):
        ax.axis("off")
        if i < n:
            ax.imshow(x[i, 0], cmap="gray_r", vmin=0, vmax=1)
            if labels is not None:
                ax.set_title(labels[i], fontsize=7)
    return np.asarray(axes)


def curves(
    x: Sequence[float],
    ys: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    ax: Axes | None = None,
    **style,
) -> Axes:
    """One line per entry of ``ys`` against ``x``, with markers and a legend."""
    ax = _axes(ax)
    style = {"marker": "o", "ms": 3, **style}
    for label, y in ys.items():
        ax.plot(x, y, label=label, **style)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def loop(
    coords: np.ndarray,
    color: np.ndarray,
    ax: Axes | None = None,
    connect: bool = True,
    cmap: str = "hsv",
    colorbar_label: str | None = None,
    xlabel: str = "PC1",
    ylabel: str = "PC2",
) -> Axes:
    """2-D coordinates ``(n, 2)`` coloured by ``color`` ``(n,)``; ``connect`` joins them in colour order."""
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must be (n, 2); got {coords.shape}")
    ax = _axes(ax, (3.2, 3.0))
    if connect:
        order = np.argsort(color)
        closed = np.r_[order, order[:1]]
        ax.plot(coords[closed, 0], coords[closed, 1], "-", color="0.6", lw=0.8, zorder=1)
    sc = ax.scatter(coords[:, 0], coords[:, 1], c=color, cmap=cmap, s=8, zorder=2)
    if colorbar_label is not None:
        ax.figure.colorbar(sc, ax=ax, label=colorbar_label)
    ax.set(xlabel=xlabel, ylabel=ylabel, xticks=[], yticks=[])
    return ax


def panels(n: int, ncols: int | None = None, size: float = 2.6) -> np.ndarray:
    """A row (or grid) of ``n`` square panels, at most :data:`COLUMN_IN` wide; returns the flat axes array.

    ``size`` is a panel's side in inches; panels shrink when ``ncols`` of them would not fit the column.
    """
    ncols = ncols or n
    nrows = int(np.ceil(n / ncols))
    size = min(size, COLUMN_IN / ncols)
    _, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.3), layout="constrained", squeeze=False
    )
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return axes.ravel()[:n]


def partition(codes: np.ndarray, extent: tuple[float, float, float, float], ax: Axes | None = None) -> Axes:
    """Regions of the plane named by integer ``codes`` on a grid ``(h, w)``, one colour per region."""
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"codes must be a 2-D grid; got {codes.shape}")
    _, inverse = np.unique(codes, return_inverse=True)
    ax = _axes(ax, (3.0, 3.0))
    ax.imshow(inverse.reshape(codes.shape), origin="lower", extent=extent, cmap="tab20", interpolation="nearest")
    ax.set(xticks=[], yticks=[])
    return ax


def cake(layers: Mapping[str, float], ax: Axes | None = None) -> Axes:
    """LeCun's cake drawn from data: one layer per entry, bottom to top, the last one a cherry.

    Each layer's thickness is proportional to ``log10`` of its bits per sample (plus one, so a
    single bit still shows); widths shrink upwards like a cake. ``layers`` maps a label to bits.
    """
    if len(layers) < 2 or any(v <= 0 for v in layers.values()):
        raise ValueError(f"layers must hold at least two positive bit counts; got {dict(layers)}")
    ax = _axes(ax, (4.2, 4.0))
    names = list(layers)
    height = {k: 1.0 + np.log10(layers[k]) for k in names}
    y, width = 0.0, 6.0
    colours = ["#c8a27a", "#f4f0e6", "#c0392b"]
    for i, name in enumerate(names[:-1]):
        h = height[name]
        ax.add_patch(plt.Rectangle((-width / 2, y), width, h, facecolor=colours[min(i, 1)], edgecolor="0.3"))
        ax.text(width / 2 + 0.3, y + h / 2, f"{name}\n{layers[name]:.3g} bits", va="center", fontsize=8)
        y += h
        width *= 0.8
    top = names[-1]
    r = height[top] / 2
    ax.add_patch(plt.Circle((0, y + r), r, facecolor=colours[2], edgecolor="0.3"))
    ax.text(r + 0.4, y + r, f"{top}\n{layers[top]:.3g} bits", va="center", fontsize=8)
    ax.set(xlim=(-3.5, 8.5), ylim=(-0.2, y + 2 * r + 0.4), aspect="equal")
    ax.axis("off")
    return ax


def log_hbars(
    values: Mapping[str, float],
    xlabel: str,
    ax: Axes | None = None,
    fmt: str = "{:.3g}",
    colors: Sequence[str] | None = None,
) -> Axes:
    """Horizontal bars on a logarithmic axis, first entry on top, each value written at its bar's end."""
    if any(v <= 0 for v in values.values()):
        raise ValueError(f"log-scale bars need positive values; got {dict(values)}")
    ax = _axes(ax, (5.5, 0.45 * len(values) + 1.0))
    keys = list(values)[::-1]
    colors = list(colors)[::-1] if colors is not None else ["C0"] * len(keys)
    rects = ax.barh(keys, [values[k] for k in keys], color=colors)
    ax.bar_label(rects, labels=[fmt.format(values[k]) for k in keys], fontsize=8, padding=2)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_xlim(right=max(values.values()) * 30)
    ax.grid(alpha=0.3, axis="x")
    return ax


def landscape(
    axis: np.ndarray,
    values: np.ndarray,
    points: np.ndarray | torch.Tensor | None = None,
    ax: Axes | None = None,
    levels: int = 20,
) -> Axes:
    """Filled contours of an energy on a square grid (from ``lecturekit.ebm.energy_grid``), data on top.

    Colours are ranked per panel (quantile levels), so a landscape shows its shape whatever its
    energy scale; a flat landscape shows its (tiny) residual variations.
    """
    values = np.asarray(values)
    if values.ndim != 2 or values.shape != (len(axis), len(axis)):
        raise ValueError(f"values must be ({len(axis)}, {len(axis)}) to match axis; got {values.shape}")
    ax = _axes(ax, (3.0, 3.0))
    from matplotlib.colors import BoundaryNorm

    bounds = np.unique(np.quantile(values, np.linspace(0, 1, levels + 1)))
    if len(bounds) < 2:
        bounds = np.array([values.min() - 1e-9, values.max() + 1e-9])
    ax.contourf(axis, axis, values, levels=bounds, cmap="viridis", norm=BoundaryNorm(bounds, 256))  # ranked colours
    if points is not None:
        pts = np.asarray(points.detach() if isinstance(points, torch.Tensor) else points)
        ax.scatter(pts[:, 0], pts[:, 1], s=1.5, c="white", alpha=0.6, linewidths=0)
    ax.set(xticks=[], yticks=[], aspect="equal")
    return ax


# --- Disentanglement chapter -----------------------------------------------------------------------


def factor_heatmap(
    matrix: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    ax: Axes | None = None,
    vmax: float | None = None,
    fmt: str = "{:.2f}",
    cmap: str = "Blues",
) -> Axes:
    """A matrix ``(rows, cols)`` as a heatmap with every value written in its cell.

    Used for mutual-information and importance matrices (factors as rows, latents as columns).
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"matrix must be ({len(row_labels)}, {len(col_labels)}) to match the labels; got {matrix.shape}"
        )
    ax = _axes(ax, (0.45 * len(col_labels) + 1.6, 0.4 * len(row_labels) + 0.9))
    top = float(matrix.max()) if vmax is None else vmax
    ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=top if top > 0 else 1.0, aspect="auto")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            fmt.format(value),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if top > 0 and value > 0.6 * top else "black",
        )
    ax.set_xticks(range(len(col_labels)), col_labels, fontsize=8)
    ax.set_yticks(range(len(row_labels)), row_labels, fontsize=8)
    return ax


def image_rows(
    x: torch.Tensor | np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str] | None = None, size: float = 0.7
) -> np.ndarray:
    """Grey images ``(rows, cols, 1, h, w)`` as a grid, a label left of each row; returns the axes."""
    x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)
    if x.ndim != 5 or x.shape[0] != len(row_labels):
        raise ValueError(f"x must be (rows, cols, 1, h, w) with {len(row_labels)} rows; got {x.shape}")
    rows, cols = x.shape[:2]
    size = min(size, (COLUMN_IN - 0.9) / cols)  # the grid fits the column
    _, axes = plt.subplots(
        rows,
        cols,
        figsize=(size * cols + 0.9, size * rows + 0.2),
        squeeze=False,
        gridspec_kw={"wspace": 0.05, "hspace": 0.05},
    )
    for (i, j), ax in np.ndenumerate(axes):
        ax.imshow(x[i, j, 0], cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
        if j == 0:
            ax.set_ylabel(row_labels[i], rotation=0, ha="right", va="center", fontsize=8)
        if i == 0 and col_labels is not None:
            ax.set_title(col_labels[j], fontsize=7)
    return axes


def band_curves(
    x: Sequence[float],
    means: Mapping[str, Sequence[float]],
    spreads: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    ax: Axes | None = None,
    band_alpha: float = 0.12,
    **style,
) -> Axes:
    """Like :func:`curves`, each line drawn with a shaded band ``mean - spread .. mean + spread``.

    ``means`` and ``spreads`` map the same labels to sequences as long as ``x`` (e.g. mean and
    standard deviation over inputs, per transformation magnitude); ``band_alpha`` is the bands'
    opacity.
    """
    if set(means) != set(spreads):
        raise ValueError(f"means and spreads need the same labels; got {sorted(means)} and {sorted(spreads)}")
    ax = curves(x, means, xlabel, ylabel, ax=ax, **style)
    for line, label in zip(ax.get_lines()[-len(means) :], means, strict=False):
        m, s = np.asarray(means[label], dtype=float), np.asarray(spreads[label], dtype=float)
        if m.shape != (len(x),) or s.shape != (len(x),):
            raise ValueError(f"{label!r}: mean and spread must have {len(x)} values each; got {m.shape} and {s.shape}")
        ax.fill_between(x, m - s, m + s, color=line.get_color(), alpha=band_alpha, linewidth=0)
    return ax


def heatmaps(
    maps: Mapping[str, np.ndarray | torch.Tensor],
    axes: Sequence[Axes] | np.ndarray | None = None,
    cmap: str | plt.Colormap = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    cell_grid: bool = False,
) -> np.ndarray:
    """A row of 2-D arrays (images, feature-map channels, differences), one titled panel each.

    ``vmin``/``vmax`` fix one colour scale for every panel (default: each panel its own); NaN
    cells show the colormap's "bad" colour; ``cell_grid`` draws thin lines between cells, to count
    shifts on a coarse feature map. Returns the axes array.
    """
    arrays = {
        k: np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v, dtype=float) for k, v in maps.items()
    }
    bad = {k: a.shape for k, a in arrays.items() if a.ndim != 2}
    if bad:
        raise ValueError(f"every map must be a 2-D (height, width) array; got {bad}")
    axes = panels(len(arrays), size=2.0) if axes is None else np.asarray(axes).ravel()
    if len(axes) < len(arrays):
        raise ValueError(f"{len(arrays)} maps need as many axes; got {len(axes)}")
    for ax, (title, a) in zip(axes, arrays.items(), strict=False):
        ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.set(xticks=[], yticks=[])
        if cell_grid:
            h, w = a.shape
            ax.set_xticks(np.arange(-0.5, w, 1.0), minor=True)
            ax.set_yticks(np.arange(-0.5, h, 1.0), minor=True)
            ax.grid(which="minor", color="w", lw=0.4, alpha=0.5)
            ax.tick_params(which="minor", length=0)
    return axes


def spectra(values: Mapping[str, np.ndarray], ax: Axes | None = None, floor: float = 1e-12) -> Axes:
    """Eigenvalue spectra as shares of their total, largest first, on a log scale (one line per entry).

    Shares below ``floor`` (and spectra whose total is 0) are not drawn: a log axis has no zero.
    """
    ax = _axes(ax, (5.0, 3.4))
    for i, (label, eig) in enumerate(values.items()):
        eig = np.asarray(eig, dtype=float)
        total = eig.sum()
        if total <= 0:
            continue
        share = eig / total
        keep = share > floor
        ax.plot(np.arange(1, len(eig) + 1)[keep], share[keep], color=f"C{i}", lw=1.4, label=label)
    ax.set(xlabel="eigenvalue rank", ylabel="share of the variance", yscale="log")
    ax.legend(frameon=False, fontsize=7)
    ax.grid(alpha=0.3)
    return ax


def seed_dots(
    values: Mapping[str, Mapping[str, Sequence[float]]],
    label: str,
    ax: Axes | None = None,
    horizontal: bool = False,
    log: bool = False,
    reference: float | None = None,
) -> Axes:
    """Results over seeds as one dot per seed and a bar at their mean: a slot per category, groups side by side.

    ``values`` maps a group (a method, a design: one colour, one legend entry) to a mapping from
    category (a factor, a metric: one slot along the axis) to that group's values, one per seed.
    Every group names the same categories; the first group's order is kept. ``label`` names the
    value axis; ``horizontal`` lists the categories top to bottom instead of left to right; ``log``
    makes the value axis logarithmic (labelled 1, 2, 5 per decade when the values span two decades
    or less); ``reference`` draws a dotted line at that value (chance, a
    bound). The legend (two groups or more) sits above the axes, clear of the dots.

    >>> ax = seed_dots({"SimCLR": {"5-NN": [0.91, 0.93], "probe": [0.9, 0.92]},
    ...                 "rotation": {"5-NN": [0.85, 0.86], "probe": [0.8, 0.83]}}, "accuracy")
    >>> [t.get_text() for t in ax.get_legend().get_texts()], [t.get_text() for t in ax.get_xticklabels()]
    (['SimCLR', 'rotation'], ['5-NN', 'probe'])
    >>> ax.collections[1].get_offsets()[:, 1].tolist()    # the rotation group's dots, slot by slot
    [0.85, 0.86, 0.8, 0.83]
    """
    if not values:
        raise ValueError("values is empty: pass {group: {category: [one value per seed]}}")
    groups = list(values)
    categories = list(values[groups[0]])
    for group in groups:
        if set(values[group]) != set(categories):
            raise ValueError(
                f"every group must name the same categories; {group!r} has {sorted(values[group])}, "
                f"{groups[0]!r} has {sorted(categories)}"
            )
    data = {(g, c): np.asarray(values[g][c], dtype=float).ravel() for g in groups for c in categories}
    empty = [key for key, v in data.items() if v.size == 0]
    if empty:
        raise ValueError(f"each (group, category) needs at least one value; none for {empty}")
    bad = [key for key, v in data.items() if not np.isfinite(v).all() or (log and (v <= 0).any())]
    if bad:
        need = "finite, positive values (log=True)" if log else "finite values"
        raise ValueError(f"seed_dots needs {need}; not so for {bad}")
    ax = _axes(ax)
    slot = 0.8 / len(groups)
    for i, group in enumerate(groups):
        centres = np.arange(len(categories)) + (i - (len(groups) - 1) / 2) * slot
        pos, val = [], []
        for centre, category in zip(centres, categories, strict=True):
            v = data[group, category]
            pos.extend(centre + np.linspace(-0.25, 0.25, len(v)) * slot if len(v) > 1 else [centre])
            val.extend(v)
        means = [data[group, c].mean() for c in categories]
        xy = (val, pos) if horizontal else (pos, val)
        ax.scatter(*xy, s=22, color=f"C{i}", alpha=0.85, linewidths=0, label=group, zorder=3)
        mean_xy = (means, centres) if horizontal else (centres, means)
        ax.plot(*mean_xy, ls="none", marker="|" if horizontal else "_", ms=14, mew=2, color=f"C{i}", zorder=2)
    ticks = np.arange(len(categories))
    if horizontal:
        ax.set_yticks(ticks, categories)
        ax.set_ylim(len(categories) - 0.5, -0.5)  # the first category on top
        ax.set_xlabel(label)
        ax.set_xscale("log" if log else "linear")
        ax.grid(alpha=0.3, axis="x")
    else:
        ax.set_xticks(ticks, categories)
        ax.set_xlim(-0.5, len(categories) - 0.5)
        ax.set_ylabel(label)
        ax.set_yscale("log" if log else "linear")
        ax.grid(alpha=0.3, axis="y")
    value_axis = ax.xaxis if horizontal else ax.yaxis  # after set_*scale, which resets the tickers
    if log and np.log10(max(v.max() for v in data.values()) / min(v.min() for v in data.values())) <= 2:
        # Within two decades the default minor labels (2x10^0, 3x10^0, ...) collide: label 1, 2, 5 per decade.
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        value_axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        value_axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        value_axis.set_minor_formatter(NullFormatter())
    if reference is not None:
        (ax.axvline if horizontal else ax.axhline)(reference, color="0.4", ls=":", lw=1, zorder=1)
    if len(groups) > 1:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=min(len(groups), 3), frameon=False, fontsize=9)
    return ax
