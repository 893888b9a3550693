import math

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


# --- geometry, on non-square frames --------------------------------------------------------------
# A "coordinate image" holds each pixel's own column in channel 0 and row in channel 1. Bilinear
# resampling reproduces a linear function exactly, so wherever a transform samples inside the
# frame, its output is the (column, row) it sampled from: the transform's geometry, read off.

H, W = 12, 20


def coordinate_image(h=H, w=W, scale=1.0):
    rows, cols = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    return torch.stack([cols, rows])[None] * scale  # (1, 2, h, w)


def assert_samples_from(out, source_x, source_y, h=H, w=W, scale=1.0, min_inside=40):
    """``out`` (2, h, w) of a coordinate image holds ``source`` wherever the source lies in the frame."""
    inside = (source_x >= 0) & (source_x <= w - 1) & (source_y >= 0) & (source_y <= h - 1)
    assert inside.sum() >= min_inside  # enough pixels to check
    assert torch.allclose(out[0][inside], scale * source_x[inside], atol=1e-9)
    assert torch.allclose(out[1][inside], scale * source_y[inside], atol=1e-9)


def pixel_grid(h=H, w=W):
    rows, cols = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    return cols - (w - 1) / 2, rows - (h - 1) / 2  # offsets from the centre


@pytest.mark.parametrize("angle", [30.0, -75.0, 90.0, 200.0])
def test_rotate_turns_non_square_images_counter_clockwise_about_the_centre(angle):
    out = transforms.rotate(coordinate_image(), angle)[0]
    x, y = pixel_grid()
    t = torch.deg2rad(torch.tensor(angle, dtype=torch.float64))
    # Counter-clockwise on screen (rows grow downwards): the output at offset p samples R(t) p.
    source_x = (W - 1) / 2 + torch.cos(t) * x - torch.sin(t) * y
    source_y = (H - 1) / 2 + torch.sin(t) * x + torch.cos(t) * y
    assert_samples_from(out, source_x, source_y, min_inside=20)


def test_rotation_by_a_right_angle_moves_a_pixel_to_the_expected_place():
    x = torch.zeros(1, 1, 5, 9)
    x[0, 0, 2, 6] = 1.0  # two columns right of the centre (2, 4)
    out = transforms.rotate(x, 90.0)[0, 0]
    assert out[0, 4] == pytest.approx(1.0, abs=1e-6)  # now two rows above it
    assert out.sum() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("shift", [(2.0, -3.0), (-1.5, 0.25), (0.0, 4.0)])
def test_translate_moves_non_square_images_by_dx_right_and_dy_down(shift):
    out = transforms.translate(coordinate_image(), shift)[0]
    x, y = pixel_grid()
    assert_samples_from(out, x + (W - 1) / 2 - shift[0], y + (H - 1) / 2 - shift[1])


def _draws(seed, n):
    """The uniform draws ``augment`` makes first: angle, zoom, dx, dy per image."""
    return torch.rand(n, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_augment_rotation_is_rotate_by_the_drawn_angle_in_degrees():
    x = data.digits().x[:6]
    out = transforms.augment(
        x, torch.Generator().manual_seed(7), max_angle=40.0, scale=(1.0, 1.0), max_shift=0.0, noise=0.0
    )
    angles = (2 * _draws(7, 6)[:, 0] - 1) * 40.0
    assert angles.abs().max() > 10  # real rotations
    assert torch.allclose(out, transforms.rotate(x, angles), atol=1e-6)


def test_augment_shift_is_translate_by_the_drawn_pixels():
    x = data.digits().x[:6]
    out = transforms.augment(
        x, torch.Generator().manual_seed(8), max_angle=0.0, scale=(1.0, 1.0), max_shift=3.0, noise=0.0
    )
    u = _draws(8, 6)
    shifts = torch.stack([(2 * u[:, 2] - 1) * 3.0, (2 * u[:, 3] - 1) * 3.0], dim=1)
    assert torch.allclose(out, transforms.translate(x, shifts), atol=1e-6)


def test_augment_composes_shift_rotation_and_zoom_on_non_square_images():
    # Ramps in [0, 1] (augment clips to that range); four views of one coordinate image.
    scale = 1.0 / 32
    x = coordinate_image(scale=scale).expand(4, -1, -1, -1)
    out = transforms.augment(
        x, torch.Generator().manual_seed(9), max_angle=30.0, scale=(1.2, 1.6), max_shift=2.0, noise=0.0
    )
    u = _draws(9, 4)
    t = torch.deg2rad((2 * u[:, 0] - 1) * 30.0)
    zoom = 1.2 + 0.4 * u[:, 1]
    dx, dy = (2 * u[:, 2] - 1) * 2.0, (2 * u[:, 3] - 1) * 2.0
    x_off, y_off = pixel_grid()
    for i in range(4):
        # The image is shifted by (dx, dy), then rotated counter-clockwise and zoomed in about the centre.
        source_x = (W - 1) / 2 + (torch.cos(t[i]) * x_off - torch.sin(t[i]) * y_off) / zoom[i] - dx[i]
        source_y = (H - 1) / 2 + (torch.sin(t[i]) * x_off + torch.cos(t[i]) * y_off) / zoom[i] - dy[i]
        assert_samples_from(out[i], source_x, source_y, scale=scale)


def test_augment_noise_is_gaussian_with_the_given_std():
    x = torch.full((64, 1, 16, 16), 0.5)
    out = transforms.augment(
        x, torch.Generator().manual_seed(10), max_angle=0.0, scale=(1.0, 1.0), max_shift=0.0, noise=0.05
    )
    residual = out - 0.5  # far from the clipping bounds at 0 and 1
    inner = residual[..., 1:-1, 1:-1]
    assert float(inner.mean()) == pytest.approx(0.0, abs=0.002)
    assert float(inner.std()) == pytest.approx(0.05, rel=0.03)


def test_augment_defaults_and_its_noise_draws():
    x = data.digits().x[:4].to(torch.float64)
    default = transforms.augment(x, torch.Generator().manual_seed(11))
    explicit = transforms.augment(
        x, torch.Generator().manual_seed(11), max_angle=20.0, scale=(0.8, 1.1), max_shift=3.0, noise=0.1
    )
    assert torch.equal(default, explicit)
    # The noise is the generator's next float64 normal draws, added after the geometry, then clipped.
    g = torch.Generator().manual_seed(12)
    clean = transforms.augment(x, torch.Generator().manual_seed(12), noise=0.0)
    torch.rand(4, 4, generator=g, dtype=torch.float64)  # the geometry draws
    expected = (clean + 0.1 * torch.randn(clean.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    assert default.dtype == torch.float64
    assert torch.equal(transforms.augment(x, torch.Generator().manual_seed(12)), expected)


def test_translate_mismatch_error_names_the_shifts():
    x = torch.zeros(3, 1, 4, 4)
    with pytest.raises(ValueError, match=r"^got 3 images and 2 shifts: pass one image, one shift, or as many of each$"):
        transforms.translate(x, torch.zeros(2, 2))


def test_one_angle_or_shift_applies_to_every_image():
    x = data.digits().x[:3]
    together = transforms.rotate(x, 30.0)
    shifted = transforms.translate(x, torch.tensor([[1.5, -2.0]]))
    for i in range(3):
        assert torch.equal(together[i], transforms.rotate(x[i : i + 1], 30.0)[0])
        assert torch.equal(shifted[i], transforms.translate(x[i : i + 1], (1.5, -2.0))[0])


def test_image_batch_errors_say_what_was_passed():
    with pytest.raises(ValueError, match=r"^x must be an image batch \(n, channels, height, width\); got \(28, 28\)$"):
        transforms.rotate(torch.zeros(28, 28), 10.0)
    with pytest.raises(ValueError, match=r"^x must be an image batch .*; got list$"):
        transforms.translate([[0.0]], (1, 0))


def test_integer_shifts_given_as_python_ints_move_non_square_pixels_exactly():
    # float64 images keep the resampling's own error (below 1e-15) visible: it must stay that small.
    x = torch.rand(2, 1, 7, 11, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    out = transforms.translate(x, (3, -2))
    expected = torch.zeros_like(x)
    expected[..., :-2, 3:] = x[..., 2:, :-3]
    assert torch.allclose(out, expected, rtol=0, atol=1e-14)


def test_angle_grid_steps_and_its_error():
    assert transforms.angle_grid(90.0).tolist() == [0.0, 90.0, 180.0, 270.0]
    grid = transforms.angle_grid(7.0)
    assert grid.dtype == torch.float32 and len(grid) == 52 and grid[-1] == 357.0
    assert len(transforms.angle_grid()) == 360
    for step in (0.0, -1.0):
        with pytest.raises(ValueError, match=rf"^step must be positive; got {step}$"):
            transforms.angle_grid(step)


@pytest.mark.parametrize(
    "scale, aspect",
    [((0.3, 0.6), (0.5, 2.0)), ((0.9, 1.0), (1.5, 2.0)), ((0.9, 1.0), (0.5, 0.6)), ((0.2, 0.2), (1.0, 1.0))],
)
def test_random_crop_samples_the_drawn_box_zoomed_to_the_frame(scale, aspect):
    n = 4
    out = transforms.random_crop(
        coordinate_image().expand(n, -1, -1, -1), torch.Generator().manual_seed(14), scale=scale, aspect=aspect
    )
    u = torch.rand(n, 4, generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]  # share of the frame's area
    ratio = torch.exp(math.log(aspect[0]) + (math.log(aspect[1]) - math.log(aspect[0])) * u[:, 1])  # width / height
    box_w = torch.sqrt(area * ratio).clamp(max=1.0)  # sides as fractions of the frame, clipped to it
    box_h = torch.sqrt(area / ratio).clamp(max=1.0)
    x_off, y_off = pixel_grid()
    for i in range(n):
        # The box's centre is uniform over the places that keep it inside the frame (in pixels).
        centre_x = (W - 1) / 2 + (2 * u[i, 2] - 1) * (1 - box_w[i]) * W / 2
        centre_y = (H - 1) / 2 + (2 * u[i, 3] - 1) * (1 - box_h[i]) * H / 2
        source_x, source_y = centre_x + box_w[i] * x_off, centre_y + box_h[i] * y_off
        assert_samples_from(out[i], source_x, source_y)
    with pytest.raises(ValueError, match=r"^scale must be a pair \(min, max\) with 0 < min <= max <= 1"):
        transforms.random_crop(coordinate_image(), torch.Generator(), scale=(0.5, 1.5))
    for bad in ((2.0, 1.0), (0.0, 1.0), (1.0,)):
        with pytest.raises(ValueError, match=r"^aspect must be a pair \(min, max\) with 0 < min <= max"):
            transforms.random_crop(coordinate_image(), torch.Generator(), aspect=bad)
