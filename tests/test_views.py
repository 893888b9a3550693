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
