import math

import pytest
import torch

from lecturekit import data, transforms


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_block_mask_shape_and_area_within_the_requested_scale():
    mask = transforms.block_mask(200, (28, 28), gen(), n_blocks=1, scale=(0.1, 0.2))
    assert mask.shape == (200, 1, 28, 28) and mask.dtype == torch.bool
    share = mask.float().mean(dim=(1, 2, 3))
    assert share.min() > 0.07 and share.max() < 0.24  # rounding to whole pixels widens the range a little
    assert share.std() > 0.01  # areas vary


def test_block_masks_are_rectangles_and_reproducible():
    mask = transforms.block_mask(20, (28, 28), gen(3), n_blocks=1)
    for m in mask[:, 0]:
        rows, cols = m.any(dim=1), m.any(dim=0)
        assert m.sum() == rows.sum() * cols.sum()  # the masked set fills its bounding box
    assert torch.equal(mask, transforms.block_mask(20, (28, 28), gen(3), n_blocks=1))
    assert not transforms.block_mask(5, (28, 28), gen(), n_blocks=0).any()


def test_mask_blocks_hides_only_the_blocks_and_leaves_the_input_alone():
    x = data.digits().x[:16]
    before = x.clone()
    out = transforms.mask_blocks(x, gen(1), fill=0.5)
    mask = transforms.block_mask(16, (28, 28), gen(1))
    assert torch.equal(x, before)
    assert torch.all(out[mask] == 0.5)
    assert torch.equal(out[~mask], x[~mask])


def test_random_crop_full_box_is_the_identity_and_a_quarter_box_zooms_twice():
    x = torch.rand(4, 1, 28, 28, generator=gen())
    assert torch.allclose(transforms.random_crop(x, gen(), scale=(1.0, 1.0), aspect=(1.0, 1.0)), x, atol=1e-6)
    ramp = torch.linspace(0, 1, 28).expand(1, 1, 28, 28).contiguous()
    out = transforms.random_crop(ramp.expand(8, 1, 28, 28), gen(), scale=(0.25, 0.25), aspect=(1.0, 1.0))
    span = out[:, 0, 14, :].max(dim=1).values - out[:, 0, 14, :].min(dim=1).values
    assert torch.allclose(span, torch.full((8,), 0.5), atol=0.05)  # half the ramp fills the frame


def test_random_crop_is_reproducible_and_checks_its_arguments():
    x = data.digits().x[:4]
    assert torch.equal(transforms.random_crop(x, gen(5)), transforms.random_crop(x, gen(5)))
    with pytest.raises(ValueError, match="scale"):
        transforms.random_crop(x, gen(), scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="aspect"):
        transforms.block_mask(2, (28, 28), gen(), aspect=(2.0, 1.0))
    with pytest.raises(ValueError, match="image batch"):
        transforms.mask_blocks(x[0], gen())


# --- edges found by mutation testing (make mutation) ----------------------------------------------


def _reference_block_mask(n, size, seed, n_blocks, scale, aspect):
    """block_mask as its docstring states it, block by block, from the generator's float64 draws."""
    h, w = size
    u = torch.rand(n, n_blocks, 4, generator=gen(seed), dtype=torch.float64).tolist()
    mask = torch.zeros(n, 1, h, w, dtype=torch.bool)
    for i in range(n):
        for a_share, a_ratio, a_top, a_left in u[i]:
            area = (scale[0] + (scale[1] - scale[0]) * a_share) * h * w  # uniform share of the area
            ratio = math.exp(math.log(aspect[0]) + (math.log(aspect[1]) - math.log(aspect[0])) * a_ratio)
            bh = min(max(round(math.sqrt(area * ratio)), 1), h)  # height / width = ratio, whole pixels
            bw = min(max(round(math.sqrt(area / ratio)), 1), w)
            top, left = math.floor(a_top * (h - bh + 1)), math.floor(a_left * (w - bw + 1))  # any place inside
            mask[i, 0, top : top + bh, left : left + bw] = True
    return mask


@pytest.mark.parametrize(
    "n, size, n_blocks, scale, aspect",
    [
        (1, (9, 14), 1, (0.1, 0.2), (0.75, 1.5)),
        (12, (9, 14), 3, (0.05, 0.3), (0.5, 2.0)),
        (12, (10, 6), 2, (0.0, 0.002), (1.0, 1.0)),  # blocks under a pixel still hide one pixel
        (12, (6, 20), 1, (0.9, 1.0), (3.0, 4.0)),  # taller than the frame: clipped to its height
    ],
)
def test_block_mask_places_each_block_as_documented(n, size, n_blocks, scale, aspect):
    for seed in range(3):
        mask = transforms.block_mask(n, size, gen(seed), n_blocks=n_blocks, scale=scale, aspect=aspect)
        assert mask.dtype == torch.bool
        assert torch.equal(mask, _reference_block_mask(n, size, seed, n_blocks, scale, aspect))


def test_block_mask_edge_counts_and_arguments():
    assert transforms.block_mask(0, (5, 7), gen()).shape == (0, 1, 5, 7)
    empty = transforms.block_mask(3, (5, 7), gen(), n_blocks=0)
    assert empty.shape == (3, 1, 5, 7) and empty.dtype == torch.bool and not empty.any()
    x = torch.rand(3, 1, 5, 7, generator=gen(9))
    assert torch.equal(transforms.mask_blocks(x, gen(), n_blocks=0), x)  # nothing hidden
    for n, n_blocks in ((-1, 2), (2, -1)):
        with pytest.raises(ValueError, match=rf"^n and n_blocks must be non-negative; got n={n}, n_blocks={n_blocks}$"):
            transforms.block_mask(n, (5, 7), gen(), n_blocks=n_blocks)
    for scale in ((0.3, 0.2), (-0.1, 0.2), (0.5, 1.5), (0.1,)):
        with pytest.raises(ValueError, match=r"^scale must be a pair \(min, max\) with 0.0 <= min <= max <= 1.0"):
            transforms.block_mask(2, (5, 7), gen(), scale=scale)
    for aspect in ((2.0, 1.0), (0.0, 1.0), (1.0,)):
        with pytest.raises(ValueError, match=r"^aspect must be a pair \(min, max\) with 0 < min <= max"):
            transforms.block_mask(2, (5, 7), gen(), aspect=aspect)
    # The closed ends of the ranges are allowed.
    for scale, aspect in (((0.0, 0.1), (1.0, 1.0)), ((0.2, 0.2), (0.5, 0.5)), ((0.5, 1.0), (1.0, 2.0))):
        assert transforms.block_mask(2, (5, 7), gen(), scale=scale, aspect=aspect).any()


def test_mask_blocks_passes_its_block_arguments_and_fills_with_zero_by_default():
    x = torch.rand(6, 2, 9, 14, generator=gen(7)) + 1.0  # no pixel is 0 before masking
    options = {"n_blocks": 3, "scale": (0.05, 0.3), "aspect": (0.5, 2.0)}
    mask = transforms.block_mask(6, (9, 14), gen(8), **options)
    assert torch.equal(transforms.mask_blocks(x, gen(8), **options), x.masked_fill(mask, 0.0))
