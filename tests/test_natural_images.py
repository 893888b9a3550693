"""Natural-image patches, colour augmentations and instance retrieval (data, transforms, metrics.distances)."""

import numpy as np
import pytest
import torch

from lecturekit import data, transforms
from lecturekit.metrics import distances


def test_photos_are_two_rgb_images_in_unit_range():
    x = data.photos()
    assert x.shape == (2, 3, 427, 640) and x.dtype == torch.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.std()) > 0.1


def test_patches_are_exact_crops_inside_their_band():
    images = torch.arange(2 * 1 * 10 * 20, dtype=torch.float32).view(2, 1, 10, 20)
    x, source = data.patches(images, 50, 4, torch.Generator().manual_seed(0), columns=(0.5, 1.0))
    assert x.shape == (50, 1, 4, 4) and source.shape == (50,)
    for patch, s in zip(x, source, strict=True):
        # pixel values encode (image, row, column): recover the top-left corner and compare
        value = int(patch[0, 0, 0])
        s_, rest = divmod(value, 200)
        top, left = divmod(rest, 20)
        assert s_ == int(s) and left >= 10 and left + 4 <= 20
        assert torch.equal(patch, images[s, :, top : top + 4, left : left + 4])


def test_patches_are_deterministic_and_check_their_arguments():
    images = torch.rand(2, 3, 20, 30)
    a = data.patches(images, 5, 8, torch.Generator().manual_seed(3))[0]
    b = data.patches(images, 5, 8, torch.Generator().manual_seed(3))[0]
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="does not fit"):
        data.patches(images, 5, 8, torch.Generator(), columns=(0.0, 0.2))
    with pytest.raises(ValueError, match="columns"):
        data.patches(images, 5, 8, torch.Generator(), columns=(0.5, 0.5))
    with pytest.raises(ValueError, match=r"\(m, c, h, w\)"):
        data.patches(images[0], 5, 8, torch.Generator())


def test_colour_jitter_changes_colours_but_keeps_grey_images_grey_and_range():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(8, 3, 6, 6)
    out = transforms.colour_jitter(x, g)
    assert out.shape == x.shape and not torch.allclose(out, x)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    grey = torch.rand(4, 1, 6, 6).expand(4, 3, 6, 6)
    out = transforms.colour_jitter(grey, g)
    assert torch.allclose(out[:, 0], out[:, 1], atol=1e-6) and torch.allclose(out[:, 1], out[:, 2], atol=1e-6)
    with pytest.raises(ValueError, match="RGB"):
        transforms.colour_jitter(torch.rand(2, 1, 4, 4), g)
    with pytest.raises(ValueError, match="brightness"):
        transforms.colour_jitter(x, g, brightness=1.5)


def test_brightness_alone_scales_every_pixel_of_an_image_by_one_factor():
    x = torch.rand(3, 3, 5, 5) * 0.5  # room to brighten without clipping
    out = transforms.colour_jitter(x, torch.Generator().manual_seed(1), brightness=0.4, contrast=0.0, saturation=0.0)
    ratio = out / x
    for r in ratio:
        assert torch.allclose(r, r.flatten()[0].expand_as(r), atol=1e-5)
        assert 0.6 - 1e-6 <= float(r.flatten()[0]) <= 1.4 + 1e-6


def test_random_flip_flips_about_half_and_only_left_right():
    x = torch.rand(400, 1, 3, 5)
    out = transforms.random_flip(x, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x, strict=True)])
    assert bool((flipped | kept).all()) and 150 < int(flipped.sum()) < 250
    assert torch.equal(transforms.random_flip(x, torch.Generator(), p=0.0), x)
    with pytest.raises(ValueError, match="p must be"):
        transforms.random_flip(x, torch.Generator(), p=2.0)


def test_retrieval_accuracy_closed_form_cases():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 8))
    assert distances.retrieval_accuracy(z, z) == 1.0
    assert distances.retrieval_accuracy(z, z, metric="euclidean") == 1.0
    # a constant representation ties everything: no hit, not a perfect score
    assert distances.retrieval_accuracy(np.ones((10, 3)), np.ones((10, 3))) == 0.0
    # gallery shuffled by a derangement: the own item is never nearest, but top-50 always holds it
    shifted = np.roll(z, 1, axis=0)
    assert distances.retrieval_accuracy(z, shifted) < 0.2
    assert distances.retrieval_accuracy(z, shifted, k=50) == 1.0


def test_retrieval_accuracy_matches_a_brute_force_count():
    rng = np.random.default_rng(1)
    q, g = rng.normal(size=(30, 5)), rng.normal(size=(30, 5))
    d = ((q[:, None] - g[None]) ** 2).sum(-1)
    expected = np.mean([np.sum(d[i] <= d[i, i]) - 1 < 3 for i in range(30)])
    assert distances.retrieval_accuracy(q, g, k=3, metric="euclidean") == pytest.approx(expected)


def test_retrieval_accuracy_rejects_bad_input():
    z = np.zeros((4, 2))
    with pytest.raises(ValueError, match="row i matching row i"):
        distances.retrieval_accuracy(z, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="k must be"):
        distances.retrieval_accuracy(z, z, k=5)
    with pytest.raises(ValueError, match="unknown metric"):
        distances.retrieval_accuracy(z, z, metric="manhattan")
