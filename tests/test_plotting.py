import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lecturekit import plotting


def test_each_plot_returns_its_axes_and_draws_on_a_given_one():
    _, ax = plt.subplots()
    assert plotting.curves([1, 2], {"a": [0.1, 0.2]}, "x", "y", ax=ax) is ax
    assert len(ax.lines) == 1
    assert plotting.bars({"a": 1.0, "b": 2.0}, "acc").patches
    t = np.linspace(0, 1, 10)
    assert plotting.loop(np.c_[t, t], t).collections
    assert plotting.images(torch.zeros(3, 1, 8, 8), ncols=3).shape == (1, 3)
    assert plotting.partition(np.arange(4).reshape(2, 2), (0, 1, 0, 1)).images
    assert len(plotting.panels(3)) == 3
    plt.close("all")


def test_plot_inputs_are_checked():
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plotting.loop(np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match=r"\(n, 1, h, w\)"):
        plotting.images(np.zeros((3, 8, 8)))
