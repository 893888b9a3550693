import pytest
import torch

from lecturekit import data, transforms


@pytest.fixture(scope="module")
def digit():
    return data.digits().x[:1]


def test_rotation_is_exact_at_0_and_360(digit):
    out = transforms.rotate(digit, torch.tensor([0.0, 360.0, -360.0, 720.0]))
    for i in range(4):
        assert torch.equal(out[i], digit[0])


def test_360_angles_in_one_call_and_right_angles_match_rot90(digit):
    out = transforms.rotate(digit, transforms.angle_grid(1.0))
    assert out.shape == (360, 1, 28, 28)
    # Counter-clockwise, like torch.rot90 with k=1 over (h, w).
    assert torch.allclose(out[90], torch.rot90(digit[0], 1, dims=(1, 2)), atol=1e-6)
    assert torch.allclose(out[180], torch.rot90(digit[0], 2, dims=(1, 2)), atol=1e-6)


def test_rotation_pairs_images_with_angles(digit):
    x = data.digits().x[:3]
    out = transforms.rotate(x, torch.tensor([0.0, 90.0, 0.0]))
    assert torch.equal(out[0], x[0]) and torch.equal(out[2], x[2])
    with pytest.raises(ValueError, match="3 images and 2 angles"):
        transforms.rotate(x, torch.tensor([1.0, 2.0]))


def test_integer_translation_moves_pixels_exactly(digit):
    out = transforms.translate(digit, (2, -3))
    expected = torch.zeros_like(digit)
    expected[..., :-3, 2:] = digit[..., 3:, :-2]  # dy=-3 moves up, dx=2 moves right
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(transforms.translate(digit, (0, 0)), digit)


def test_translate_batches_and_checks_shapes(digit):
    shifts = torch.tensor([[float(k), 0.0] for k in range(9)])
    assert transforms.translate(digit, shifts).shape == (9, 1, 28, 28)
    with pytest.raises(ValueError, match=r"\(m, 2\)"):
        transforms.translate(digit, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="image batch"):
        transforms.rotate(digit[0], 10.0)


def test_inputs_are_not_modified(digit):
    before = digit.clone()
    transforms.rotate(digit, 33.0)
    transforms.augment(digit, torch.Generator().manual_seed(0))
    assert torch.equal(digit, before)


def test_augment_is_deterministic_in_its_generator_and_random_across_draws(digit):
    x = digit.expand(8, -1, -1, -1)
    a = transforms.augment(x, torch.Generator().manual_seed(1))
    b = transforms.augment(x, torch.Generator().manual_seed(1))
    c = transforms.augment(x, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # each image gets its own view
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
