"""Every helper of lecturekit.plotting: it draws what it is given, where it is told, and rejects bad shapes."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba

from lecturekit import plotting


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_images_grid_shows_each_image_with_its_label_and_hides_spare_axes():
    x = torch.rand(5, 1, 6, 4)
    axes = plotting.images(x, labels=list("abcde"), ncols=3)
    assert axes.shape == (2, 3)
    flat = axes.ravel()
    for i in range(5):
        shown = flat[i].images[0]
        assert np.array_equal(shown.get_array(), x[i, 0].numpy())
        assert shown.get_clim() == (0, 1) and flat[i].get_title() == "abcde"[i]
    assert not flat[5].images and not flat[5].axison
    given = plt.subplots(1, 5, squeeze=False)[1]
    assert plotting.images(np.zeros((2, 1, 3, 3)), axes=given) is not None and len(given[0, 1].images) == 1
    with pytest.raises(ValueError, match=r"\(n, 1, h, w\)"):
        plotting.images(np.zeros((3, 8, 8)))


def test_curves_draw_one_line_per_entry_on_the_requested_scales():
    _, ax = plt.subplots()
    out = plotting.curves(
        [1, 2, 3], {"a": [0.1, 0.2, 0.4], "b": [1, 2, 3]}, "x", "y", logx=True, logy=True, ax=ax, ls="--"
    )
    assert out is ax and len(ax.lines) == 2
    assert np.array_equal(ax.lines[0].get_ydata(), [0.1, 0.2, 0.4]) and ax.lines[1].get_label() == "b"
    assert ax.lines[0].get_linestyle() == "--" and ax.lines[0].get_marker() == "o"
    assert (ax.get_xscale(), ax.get_yscale(), ax.get_xlabel(), ax.get_ylabel()) == ("log", "log", "x", "y")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    lin = plotting.curves([1, 2], {"a": [1, 2]}, "x", "y")
    assert lin is not ax and (lin.get_xscale(), lin.get_yscale()) == ("linear", "linear")


def test_loop_colours_points_and_closes_the_loop_in_colour_order():
    t = np.array([0.3, 0.1, 0.2])
    coords = np.array([[3.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    ax = plotting.loop(coords, t, colorbar_label="angle")
    scatter = ax.collections[0]
    assert np.array_equal(scatter.get_offsets(), coords) and np.array_equal(scatter.get_array(), t)
    assert np.array_equal(ax.lines[0].get_xdata(), [1.0, 2.0, 3.0, 1.0])  # sorted by colour, closed
    assert len(ax.figure.axes) == 2  # the colour bar
    assert ax.get_xlabel() == "PC1" and ax.get_ylabel() == "PC2"
    assert not plotting.loop(coords, t, connect=False, xlabel="u").lines
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plotting.loop(np.zeros((5, 3)), np.zeros(5))


def test_panels_returns_n_axes_and_hides_the_rest_of_the_grid():
    axes = plotting.panels(5, ncols=3)
    assert len(axes) == 5
    all_axes = axes[0].figure.axes
    assert len(all_axes) == 6 and not all_axes[5].axison
    assert len(plotting.panels(3)) == 3 and len(plotting.panels(3)[0].figure.axes) == 3


def test_partition_gives_each_region_its_own_colour():
    codes = np.array([[7, 7, 3], [3, 9, 9]])
    ax = plotting.partition(codes, (0, 3, 0, 2))
    shown = ax.images[0]
    assert np.array_equal(shown.get_array(), [[1, 1, 0], [0, 2, 2]])  # ranks of the codes
    assert shown.get_extent() == [0, 3, 0, 2] and shown.origin == "lower"
    with pytest.raises(ValueError, match="2-D grid"):
        plotting.partition(np.zeros(4), (0, 1, 0, 1))


def test_cake_layers_grow_with_log_bits_and_the_cherry_sits_on_top():
    ax = plotting.cake({"self-supervised": 1e6, "supervised": 1e2, "reinforcement": 1.0})
    rects = [p for p in ax.patches if isinstance(p, plt.Rectangle)]
    circles = [p for p in ax.patches if isinstance(p, plt.Circle)]
    assert [r.get_height() for r in rects] == pytest.approx([7.0, 3.0])  # 1 + log10(bits)
    assert rects[1].get_y() == pytest.approx(7.0) and rects[1].get_width() < rects[0].get_width()
    assert len(circles) == 1 and circles[0].get_radius() == pytest.approx(0.5)
    assert circles[0].center[1] == pytest.approx(10.5)
    assert "1e+06 bits" in ax.texts[0].get_text()
    for bad in ({"a": 1.0}, {"a": 1.0, "b": 0.0}):
        with pytest.raises(ValueError, match="at least two positive"):
            plotting.cake(bad)


def test_log_hbars_draw_the_first_entry_on_top_with_its_value():
    ax = plotting.log_hbars({"a": 10.0, "b": 1000.0}, "bits", colors=["red", "blue"], fmt="{:.0f}")
    bars = ax.patches
    assert [b.get_width() for b in bars] == [1000.0, 10.0]  # drawn bottom-up: b, then a
    assert bars[1].get_y() > bars[0].get_y()
    assert bars[1].get_facecolor() == to_rgba("red")
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "bits"
    assert sorted(t.get_text() for t in ax.texts) == ["10", "1000"]
    with pytest.raises(ValueError, match="positive"):
        plotting.log_hbars({"a": 0.0}, "x")


def test_landscape_draws_ranked_contours_and_the_data():
    axis = np.linspace(-1, 1, 9)
    values = np.add.outer(axis, axis**3)
    points = torch.tensor([[0.0, 0.5], [0.2, -0.1]])
    ax = plotting.landscape(axis, values, points, levels=4)
    contour = ax.collections[0]
    assert len(contour.levels) == 5 and contour.levels[0] == values.min() and contour.levels[-1] == values.max()
    assert np.array_equal(ax.collections[-1].get_offsets(), points.numpy())
    flat = plotting.landscape(axis, np.zeros((9, 9)))  # a flat landscape still draws
    assert flat.collections
    with pytest.raises(ValueError, match=r"\(9, 9\)"):
        plotting.landscape(axis, np.zeros((9, 8)))


def test_factor_heatmap_writes_every_value_in_its_cell():
    m = np.array([[0.0, 1.0, 0.5], [2.0, 0.25, 0.0]])
    ax = plotting.factor_heatmap(m, ["f1", "f2"], ["z1", "z2", "z3"], fmt="{:.1f}")
    assert np.array_equal(ax.images[0].get_array(), m) and ax.images[0].get_clim() == (0.0, 2.0)
    texts = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert ((1, 0), "1.0") in texts and ((0, 1), "2.0") in texts and len(texts) == 6
    white = [t.get_text() for t in ax.texts if t.get_color() == "white"]
    assert white == ["2.0"]  # only values above 0.6 * max
    assert [t.get_text() for t in ax.get_yticklabels()] == ["f1", "f2"]
    assert plotting.factor_heatmap(np.zeros((1, 1)), ["a"], ["b"]).images[0].get_clim() == (0.0, 1.0)
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        plotting.factor_heatmap(m, ["f1", "f2"], ["z1", "z2"])


def test_image_rows_label_each_row_and_column():
    x = torch.rand(2, 3, 1, 5, 5)
    axes = plotting.image_rows(x, ["top", "bottom"], col_labels=["a", "b", "c"])
    assert axes.shape == (2, 3)
    assert np.array_equal(axes[1, 2].images[0].get_array(), x[1, 2, 0].numpy())
    assert axes[1, 0].get_ylabel() == "bottom" and axes[1, 1].get_ylabel() == ""
    assert axes[0, 2].get_title() == "c" and axes[1, 2].get_title() == ""
    with pytest.raises(ValueError, match="with 3 rows"):
        plotting.image_rows(x, ["a", "b", "c"])


def test_band_curves_shade_mean_plus_minus_spread_in_the_line_colour():
    ax = plotting.band_curves([0, 1, 2], {"a": [1.0, 2.0, 3.0]}, {"a": [0.5, 0.0, 1.0]}, "x", "y")
    line, band = ax.lines[0], ax.collections[0]
    assert np.array_equal(line.get_ydata(), [1.0, 2.0, 3.0])
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(0.5) and ys.max() == pytest.approx(4.0)
    assert to_rgba(band.get_facecolor()[0])[:3] == to_rgba(line.get_color())[:3]
    with pytest.raises(ValueError, match="same labels"):
        plotting.band_curves([0, 1], {"a": [1, 2]}, {"b": [1, 2]}, "x", "y")
    with pytest.raises(ValueError, match="2 values each"):
        plotting.band_curves([0, 1], {"a": [1, 2]}, {"a": [1, 2, 3]}, "x", "y")


def test_heatmaps_one_titled_panel_per_map_with_a_shared_scale():
    maps = {"image": torch.ones(4, 4), "diff": np.full((4, 6), np.nan)}
    axes = plotting.heatmaps(maps, vmin=-1, vmax=1, cell_grid=True)
    assert [ax.get_title() for ax in axes] == ["image", "diff"]
    assert axes[0].images[0].get_clim() == (-1, 1)
    assert np.array_equal(axes[1].get_xticks(minor=True), np.arange(-0.5, 6, 1.0))  # the cell borders
    plain = plotting.heatmaps({"a": np.eye(3)})
    assert len(plain[0].get_xticks(minor=True)) == 0
    assert plain[0].images[0].get_clim() == (0.0, 1.0)  # its own scale
    given = plotting.panels(3)
    assert plotting.heatmaps({"a": np.zeros((2, 2))}, axes=given)[0] is given[0]
    with pytest.raises(ValueError, match="2-D"):
        plotting.heatmaps({"a": np.zeros(3)})
    with pytest.raises(ValueError, match="need as many axes"):
        plotting.heatmaps({"a": np.zeros((2, 2)), "b": np.zeros((2, 2))}, axes=given[:1])


def test_spectra_draw_shares_above_the_floor_and_skip_empty_spectra():
    ax = plotting.spectra({"a": np.array([3.0, 1.0, 0.0]), "zero": np.zeros(3), "b": np.array([1.0, 1.0])})
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    assert np.allclose(ax.lines[0].get_ydata(), [0.75, 0.25]) and np.array_equal(ax.lines[0].get_xdata(), [1, 2])
    assert ax.lines[1].get_color() == "C2"  # colours follow the entries


def test_seed_dots_draws_a_dot_per_seed_and_a_mean_per_slot_and_rejects_bad_input():
    values = {"a": {"u": [1.0, 3.0], "v": [2.0]}, "b": {"v": [5.0, 6.0, 7.0], "u": [4.0, 4.0]}}
    _, ax = plt.subplots()
    out = plotting.seed_dots(values, "score", ax=ax, reference=0.5)
    assert out is ax and [t.get_text() for t in ax.get_xticklabels()] == ["u", "v"]  # the first group's order
    a, b = (c.get_offsets() for c in ax.collections)
    assert a[:, 1].tolist() == [1.0, 3.0, 2.0] and b[:, 1].tolist() == [4.0, 4.0, 5.0, 6.0, 7.0]
    assert (a[:2, 0] < 0).all() and (b[:2, 0] > 0).all() and a[0, 0] < a[1, 0]  # side by side, seeds apart
    means = [line for line in ax.lines if line.get_marker() == "_"]
    assert [m.get_ydata().tolist() for m in means] == [[2.0, 2.0], [4.0, 6.0]]
    assert [line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == ":"] == [0.5]
    assert ax.get_ylabel() == "score" and [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert all(t.get_fontsize() >= 9 for t in ax.get_legend().get_texts())
    h = plotting.seed_dots({"only": {"p": [0.1, 0.2], "q": [10.0]}}, "norm", horizontal=True, log=True)
    assert h.get_legend() is None and h.get_xscale() == "log" and h.get_xlabel() == "norm"
    assert [t.get_text() for t in h.get_yticklabels()] == ["p", "q"] and h.get_ylim()[0] > h.get_ylim()[1]
    assert h.collections[0].get_offsets()[:, 0].tolist() == [0.1, 0.2, 10.0]
    assert h.lines[0].get_marker() == "|" and h.lines[0].get_xdata().tolist() == pytest.approx([0.15, 10.0])
    narrow = plotting.seed_dots({"only": {"p": [1.2, 1.5], "q": [9.0]}}, "rank", horizontal=True, log=True)
    narrow.figure.canvas.draw()
    shown = [t.get_text() for t in narrow.get_xticklabels() if t.get_text()]
    assert "2" in shown and "5" in shown and not any(t.get_text() for t in narrow.xaxis.get_minorticklabels())
    with pytest.raises(ValueError, match="same categories"):
        plotting.seed_dots({"a": {"u": [1]}, "b": {"w": [1]}}, "y")
    with pytest.raises(ValueError, match="at least one value"):
        plotting.seed_dots({"a": {"u": []}}, "y")
    with pytest.raises(ValueError, match="positive"):
        plotting.seed_dots({"a": {"u": [0.0, 1.0]}}, "y", log=True)
    with pytest.raises(ValueError, match="finite"):
        plotting.seed_dots({"a": {"u": [np.nan]}}, "y")
    with pytest.raises(ValueError, match="empty"):
        plotting.seed_dots({}, "y")
