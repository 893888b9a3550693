"""Figures made for the column: the smallest text a figure draws, recorded in its PNG, and every
lecturekit plotting helper readable (>= 9 CSS px) at the desktop page's 672-px column."""

import io
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from lecturekit import plotting

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
from check_site import FONT_KEY, MIN_TEXT_PX, png_text  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def shown_text_px(fig) -> tuple[float | None, int]:
    """(smallest text in CSS px or None without text, natural width) of ``fig`` shown at most column-wide."""
    data = plotting.png_with_text_record(fig)
    record = png_text(data)
    natural = Image.open(io.BytesIO(data)).size[0]
    shown = min(natural, plotting.COLUMN_PX)
    if FONT_KEY not in record:
        return None, natural
    return plotting.text_px(float(record[FONT_KEY]), float(record["lecturekit:dpi"]), natural, shown), natural


def test_smallest_text_counts_only_text_that_is_drawn():
    fig, (a, b) = plt.subplots(1, 2)
    a.set_title("title", fontsize=11)
    a.tick_params(labelsize=9)
    b.text(0.5, 0.5, "hidden", fontsize=3, visible=False)
    b.text(0.5, 0.5, "", fontsize=2)
    b.set_xticks([0.5], ["tiny tick"], fontsize=4)
    b.axis("off")  # its tick labels (4 pt) are not drawn
    assert plotting.smallest_text(fig) == (9.0, a.get_xticklabels()[0].get_text())
    b.axis("on")
    assert plotting.smallest_text(fig) == (4.0, "tiny tick")
    empty = plt.figure()
    assert plotting.smallest_text(empty) is None


def test_png_records_font_and_dpi_and_both_parsers_agree():
    fig, ax = plt.subplots(figsize=(3, 2), dpi=80)
    ax.set_title("label", fontsize=7.5)
    ax.set_xticks([])
    ax.set_yticks([])
    data = plotting.png_with_text_record(fig)
    record = png_text(data)
    assert record["lecturekit:min-font-pt"] == "7.5" and record["lecturekit:dpi"] == "80"
    assert record["lecturekit:min-font-text"] == "label"
    pillow = Image.open(io.BytesIO(data)).info
    assert {k: pillow[k] for k in record} == record
    assert png_text(b"GIF89a...") == {}


def test_text_px_scales_with_dpi_and_the_shown_width():
    assert plotting.text_px(7.2, 100, 672, 672) == pytest.approx(10.0)
    assert plotting.text_px(7.2, 200, 1344, 672) == pytest.approx(10.0)  # a 2x PNG shown at half size
    assert plotting.text_px(7.2, 100, 1000, 500) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="positive"):
        plotting.text_px(7, 100, 0, 672)


def test_a_wide_figure_with_small_text_fails_the_column_check():
    # The check can fail: a 10-inch, 7-pt figure shrinks to 672 px and its text to 6.5 px.
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.set_title("small", fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])
    px, natural = shown_text_px(fig)
    assert natural > plotting.COLUMN_PX and px < MIN_TEXT_PX


def test_install_png_formatter_is_a_no_op_outside_ipython():
    assert plotting.install_png_formatter() is False


rng = np.random.default_rng(0)
grid = np.linspace(-1, 1, 12)


def _many_panels():
    axes = plotting.panels(4, ncols=4)
    for i, ax in enumerate(axes):
        plotting.loop(rng.normal(size=(30, 2)), np.arange(30.0), ax=ax).set_title(f"space {i}", fontsize=9)
    return axes[0].figure


HELPERS = {
    "images, 12 labelled columns": lambda: plotting.images(
        torch.rand(12, 1, 8, 8), [f"{a}°" for a in range(0, 360, 30)], ncols=12
    ).flat[0],
    "curves": lambda: plotting.curves([1, 2, 3], {"a": [1, 2, 3], "b": [2, 3, 1]}, "x", "y"),
    "loop with a colour bar": lambda: plotting.loop(rng.normal(size=(20, 2)), np.arange(20.0), colorbar_label="angle"),
    "panels(4, ncols=4) of loops": lambda: _many_panels().axes[0],
    "partition": lambda: plotting.partition(rng.integers(0, 5, (10, 10)), (0, 1, 0, 1)),
    "cake": lambda: plotting.cake({"self-supervised": 1e6, "supervised": 10.0, "reinforcement": 1.0}),
    "log_hbars": lambda: plotting.log_hbars({"reward": 1.0, "label": 10.0, "photo": 1e6}, "bits"),
    "landscape": lambda: plotting.landscape(grid, np.add.outer(grid, grid) ** 2),
    "factor_heatmap, 10 latents": lambda: plotting.factor_heatmap(
        rng.random((5, 10)), list("abcde"), [f"z{j}" for j in range(10)]
    ),
    "image_rows, 12 columns": lambda: plotting.image_rows(
        torch.rand(3, 12, 1, 8, 8), ["row a", "row b", "row c"], [str(j) for j in range(12)]
    ).flat[0],
    "band_curves": lambda: plotting.band_curves([0, 1], {"m": [1, 2]}, {"m": [0.1, 0.2]}, "x", "y"),
    "heatmaps, five maps": lambda: plotting.heatmaps({f"map {i}": rng.random((7, 7)) for i in range(5)})[0],
    "spectra": lambda: plotting.spectra({"a": np.array([3.0, 2.0, 1.0]), "b": np.array([1.0, 1.0, 1.0])}),
}


WITHOUT_TEXT = {"partition", "landscape"}  # pictures only: no ticks, no labels


@pytest.mark.parametrize("name", list(HELPERS))
def test_every_helper_is_readable_in_the_column(name):
    ax = HELPERS[name]()
    px, natural = shown_text_px(ax.figure)
    if name in WITHOUT_TEXT:
        assert px is None
        return
    assert px is not None and px >= MIN_TEXT_PX, (
        f"{name}: smallest text {px:.1f} px at the column ({natural} px wide PNG)"
    )
