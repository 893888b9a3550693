"""Batched geometric transforms and the augmentations of self-supervised training.

All functions take image batches ``(n, c, h, w)`` and return new tensors (inputs are never
modified). Geometry follows torchvision: angles in degrees, counter-clockwise positive;
shifts in pixels, ``dx`` to the right and ``dy`` downwards; pixels moved in from outside the
frame are zero. Each call builds one sampling grid for the whole batch, so 360 rotations of
a digit are a single ``grid_sample`` call.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _check_images(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be an image batch (n, channels, height, width); got {shape}")


def _broadcast(x: torch.Tensor, params: torch.Tensor, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair images with per-image parameters: one image with m params gives m outputs."""
    n, m = x.shape[0], params.shape[0]
    if n == m:
        return x, params
    if n == 1:
        return x.expand(m, *x.shape[1:]), params
    if m == 1:
        return x, params.expand(n, *params.shape[1:])
    raise ValueError(f"got {n} images and {m} {what}: pass one image, one {what[:-1]}, or as many of each")


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Resample ``x`` with per-image affine maps ``theta`` ``(n, 2, 3)`` (output -> input, normalized coords).

    The grid and interpolation run in float64 so that integer shifts and right angles land on
    pixel centres to within 1e-15 before the cast back.
    """
    grid = F.affine_grid(theta.to(torch.float64), list(x.shape), align_corners=False)
    out = F.grid_sample(x.to(torch.float64), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.to(x.dtype)


def rotate(x: torch.Tensor, angles: float | torch.Tensor) -> torch.Tensor:
    """Rotate images about their centre by ``angles`` degrees (counter-clockwise), bilinear.

    Args:
        x: ``(n, c, h, w)`` images.
        angles: a number or a 1-D tensor of ``m`` angles. With one image and ``m`` angles the
            result holds ``m`` rotated copies; with ``n`` of each they are paired.

    Returns:
        ``(max(n, m), c, h, w)`` rotated images. Angles that are multiples of 360 return the
        input values exactly.

    >>> x = torch.rand(1, 1, 28, 28)
    >>> rotate(x, torch.arange(360.0)).shape
    torch.Size([360, 1, 28, 28])
    """
    _check_images(x)
    angles = torch.as_tensor(angles, dtype=torch.float64).reshape(-1)
    x, angles = _broadcast(x, angles, "angles")
    h, w = x.shape[-2:]
    rad = torch.deg2rad(angles)
    cos, sin = torch.cos(rad), torch.sin(rad)
    zero = torch.zeros_like(rad)
    # Normalized coordinates stretch non-square frames; the aspect terms undo that.
    theta = torch.stack(
        [
            torch.stack([cos, -sin * h / w, zero], dim=-1),
            torch.stack([sin * w / h, cos, zero], dim=-1),
        ],
        dim=1,
    )
    out = _affine(x, theta)
    identity = torch.remainder(angles, 360.0) == 0
    return torch.where(identity[:, None, None, None], x, out)


def translate(x: torch.Tensor, shifts: torch.Tensor | tuple[float, float]) -> torch.Tensor:
    """Shift images by ``(dx, dy)`` pixels, filling with zeros.

    Args:
        x: ``(n, c, h, w)`` images.
        shifts: ``(2,)`` or ``(m, 2)`` pixel offsets ``(dx, dy)``; broadcast like :func:`rotate`.

    Returns:
        ``(max(n, m), c, h, w)`` shifted images; integer shifts move pixels exactly.

    >>> x = torch.zeros(1, 1, 5, 5); x[0, 0, 2, 2] = 1
    >>> translate(x, (1, 0))[0, 0, 2, 3].item()
    1.0
    """
    _check_images(x)
    shifts = torch.as_tensor(shifts, dtype=torch.float64)
    if shifts.ndim == 1:
        shifts = shifts.reshape(1, -1)
    if shifts.ndim != 2 or shifts.shape[1] != 2:
        raise ValueError(f"shifts must be (2,) or (m, 2) pixel offsets (dx, dy); got {tuple(shifts.shape)}")
    x, shifts = _broadcast(x, shifts, "shifts")
    h, w = x.shape[-2:]
    one, zero = torch.ones(len(shifts), dtype=torch.float64), torch.zeros(len(shifts), dtype=torch.float64)
    theta = torch.stack(
        [
            torch.stack([one, zero, -2.0 * shifts[:, 0] / w], dim=-1),
            torch.stack([zero, one, -2.0 * shifts[:, 1] / h], dim=-1),
        ],
        dim=1,
    )
    out = _affine(x, theta)
    identity = (shifts == 0).all(dim=1)
    return torch.where(identity[:, None, None, None], x, out)


def augment(
    x: torch.Tensor,
    generator: torch.Generator,
    max_angle: float = 20.0,
    scale: tuple[float, float] = (0.8, 1.1),
    max_shift: float = 3.0,
    noise: float = 0.1,
) -> torch.Tensor:
    """One random view per image: shift, rotation and zoom-crop, then Gaussian pixel noise.

    This is the SimCLR-style view generator of the ``digits-ssl`` encoder, reduced to what makes
    sense for grey digits (no colour jitter). The three are composed into one affine map per
    image, so the batch is resampled once: the image is shifted by ``(dx, dy)`` pixels, then
    rotated and zoomed about the frame's centre (so the shift turns and scales with the image).

    Args:
        x: ``(n, c, h, w)`` images in [0, 1].
        generator: the source of randomness (the caller owns the seed).
        max_angle: rotations drawn uniformly from ``[-max_angle, max_angle]`` degrees.
        scale: zoom factors drawn uniformly from this range (> 1 crops in).
        max_shift: shifts drawn uniformly from ``[-max_shift, max_shift]`` pixels per axis.
        noise: standard deviation of the additive Gaussian noise.

    Returns:
        ``(n, c, h, w)`` augmented images, clipped to [0, 1].

    >>> g = torch.Generator().manual_seed(0)
    >>> augment(torch.rand(4, 1, 28, 28), g).shape
    torch.Size([4, 1, 28, 28])
    """
    _check_images(x)
    n, _, h, w = x.shape
    u = torch.rand(n, 4, generator=generator, dtype=torch.float64)
    rad = torch.deg2rad((2 * u[:, 0] - 1) * max_angle)
    zoom = scale[0] + (scale[1] - scale[0]) * u[:, 1]
    dx, dy = (2 * u[:, 2] - 1) * max_shift, (2 * u[:, 3] - 1) * max_shift
    cos, sin = torch.cos(rad) / zoom, torch.sin(rad) / zoom
    theta = torch.stack(
        [
            torch.stack([cos, -sin * h / w, -2.0 * dx / w], dim=-1),
            torch.stack([sin * w / h, cos, -2.0 * dy / h], dim=-1),
        ],
        dim=1,
    )
    out = _affine(x, theta)
    out = out + noise * torch.randn(out.shape, generator=generator, dtype=out.dtype)
    return out.clamp(0.0, 1.0)


def angle_grid(step: float = 1.0) -> torch.Tensor:
    """Angles ``0, step, ..., < 360`` degrees as a float tensor.

    >>> angle_grid(90.0).tolist()
    [0.0, 90.0, 180.0, 270.0]
    """
    if step <= 0:
        raise ValueError(f"step must be positive; got {step}")
    return torch.arange(0.0, 360.0, step, dtype=torch.float32)[: math.ceil(360.0 / step)]


# --- Views for joint-embedding predictive architectures (JEPA chapter) -------------------------


def _check_range(value: tuple[float, float], name: str, low: float, high: float) -> None:
    if len(value) != 2 or not low <= value[0] <= value[1] <= high:
        raise ValueError(f"{name} must be a pair (min, max) with {low} <= min <= max <= {high}; got {value}")


def block_mask(
    n: int,
    size: tuple[int, int],
    generator: torch.Generator,
    n_blocks: int = 2,
    scale: tuple[float, float] = (0.1, 0.2),
    aspect: tuple[float, float] = (0.75, 1.5),
) -> torch.Tensor:
    """Random rectangular blocks to hide, I-JEPA style: ``True`` where a pixel is masked.

    Each of the ``n_blocks`` blocks per image covers a share of the image area drawn uniformly from
    ``scale`` and has a height/width ratio drawn log-uniformly from ``aspect``, at a uniformly random
    position inside the frame (Assran et al., 2023 sample their target blocks with scale
    (0.15, 0.2) and aspect (0.75, 1.5)). Blocks may overlap.

    Args:
        n: number of masks.
        size: ``(height, width)`` of the images.
        generator: the source of randomness (the caller owns the seed).
        n_blocks: blocks per image (>= 0).
        scale: range of the area share of one block, within [0, 1].
        aspect: range of height / width of one block (> 0).

    Returns:
        ``(n, 1, height, width)`` boolean mask.

    >>> g = torch.Generator().manual_seed(0)
    >>> block_mask(3, (28, 28), g).shape
    torch.Size([3, 1, 28, 28])
    """
    if n < 0 or n_blocks < 0:
        raise ValueError(f"n and n_blocks must be non-negative; got n={n}, n_blocks={n_blocks}")
    _check_range(scale, "scale", 0.0, 1.0)
    if len(aspect) != 2 or not 0 < aspect[0] <= aspect[1]:
        raise ValueError(f"aspect must be a pair (min, max) with 0 < min <= max; got {aspect}")
    h, w = size
    mask = torch.zeros(n, 1, h, w, dtype=torch.bool)
    if n == 0 or n_blocks == 0:
        return mask
    u = torch.rand(n, n_blocks, 4, generator=generator, dtype=torch.float64)
    area = (scale[0] + (scale[1] - scale[0]) * u[..., 0]) * h * w
    ratio = torch.exp(math.log(aspect[0]) + (math.log(aspect[1]) - math.log(aspect[0])) * u[..., 1])
    bh = torch.sqrt(area * ratio).round().clamp(1, h).long()  # (n, n_blocks)
    bw = torch.sqrt(area / ratio).round().clamp(1, w).long()
    top = (u[..., 2] * (h - bh + 1)).floor().long()
    left = (u[..., 3] * (w - bw + 1)).floor().long()
    rows = torch.arange(h).view(1, 1, h, 1)
    cols = torch.arange(w).view(1, 1, 1, w)
    inside = (
        (rows >= top[..., None, None])
        & (rows < (top + bh)[..., None, None])
        & (cols >= left[..., None, None])
        & (cols < (left + bw)[..., None, None])
    )  # (n, n_blocks, h, w)
    return inside.any(dim=1, keepdim=True)


def mask_blocks(
    x: torch.Tensor,
    generator: torch.Generator,
    n_blocks: int = 2,
    scale: tuple[float, float] = (0.1, 0.2),
    aspect: tuple[float, float] = (0.75, 1.5),
    fill: float = 0.0,
) -> torch.Tensor:
    """A context view: each image with random blocks (:func:`block_mask`) set to ``fill``.

    Args:
        x: ``(n, c, h, w)`` images.
        generator: the source of randomness.
        n_blocks, scale, aspect: see :func:`block_mask`.
        fill: value of the hidden pixels (0, the background of the digits).

    Returns:
        ``(n, c, h, w)`` masked copy; ``x`` is not modified.

    >>> g = torch.Generator().manual_seed(0)
    >>> float(mask_blocks(torch.ones(1, 1, 28, 28), g).min())
    0.0
    """
    _check_images(x)
    mask = block_mask(x.shape[0], tuple(x.shape[-2:]), generator, n_blocks, scale, aspect)
    return x.masked_fill(mask, fill)


def random_crop(
    x: torch.Tensor,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.6, 1.0),
    aspect: tuple[float, float] = (0.75, 4 / 3),
) -> torch.Tensor:
    """Random resized crops: a random box of each image, zoomed back to the full frame (bilinear).

    The box covers a share of the area drawn uniformly from ``scale`` with a width/height ratio
    drawn log-uniformly from ``aspect`` (torchvision's ``RandomResizedCrop`` convention, without its
    retries), clipped to lie inside the frame, at a uniformly random position.

    Args:
        x: ``(n, c, h, w)`` images.
        generator: the source of randomness.
        scale: range of the area share of the box, within (0, 1]. ``(1, 1)`` with ``aspect=(1, 1)``
            returns the images unchanged.
        aspect: range of width / height of the box (> 0).

    Returns:
        ``(n, c, h, w)`` crops.

    >>> g = torch.Generator().manual_seed(0)
    >>> x = torch.rand(2, 1, 28, 28)
    >>> torch.allclose(random_crop(x, g, scale=(1.0, 1.0), aspect=(1.0, 1.0)), x, atol=1e-6)
    True
    """
    _check_images(x)
    if len(scale) != 2 or not 0.0 < scale[0] <= scale[1] <= 1.0:
        raise ValueError(f"scale must be a pair (min, max) with 0 < min <= max <= 1; got {scale}")
    if len(aspect) != 2 or not 0 < aspect[0] <= aspect[1]:
        raise ValueError(f"aspect must be a pair (min, max) with 0 < min <= max; got {aspect}")
    n = x.shape[0]
    u = torch.rand(n, 4, generator=generator, dtype=torch.float64)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    ratio = torch.exp(math.log(aspect[0]) + (math.log(aspect[1]) - math.log(aspect[0])) * u[:, 1])
    # Box sides as fractions of the frame, clipped to fit inside it.
    bw = torch.sqrt(area * ratio).clamp(max=1.0)
    bh = torch.sqrt(area / ratio).clamp(max=1.0)
    # Box centre in normalized coordinates [-1, 1], keeping the box inside the frame.
    cx = (2 * u[:, 2] - 1) * (1 - bw)
    cy = (2 * u[:, 3] - 1) * (1 - bh)
    zero = torch.zeros_like(bw)
    theta = torch.stack(
        [
            torch.stack([bw, zero, cx], dim=-1),
            torch.stack([zero, bh, cy], dim=-1),
        ],
        dim=1,
    )
    return _affine(x, theta)


def colour_jitter(
    x: torch.Tensor,
    generator: torch.Generator,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
) -> torch.Tensor:
    """Random brightness, contrast and saturation changes, one draw of each per image.

    SimCLR's colour distortion without the hue shift (Chen et al., 2020, `chen2020simclr`): each factor is drawn
    uniformly from ``[1 - s, 1 + s]``; brightness scales the pixels, contrast blends each image
    with its mean grey level, saturation blends each pixel with its grey value (torchvision's
    ``ColorJitter`` conventions, applied in that fixed order).

    Args:
        x: ``(n, 3, h, w)`` colour images in [0, 1].
        generator: the source of randomness.
        brightness, contrast, saturation: strengths in [0, 1); 0 leaves that property unchanged.

    Returns:
        ``(n, 3, h, w)`` images, clipped to [0, 1]; ``x`` is not modified.

    >>> x = torch.rand(2, 3, 8, 8)
    >>> torch.equal(colour_jitter(x, torch.Generator().manual_seed(0), 0.0, 0.0, 0.0), x)
    True
    """
    _check_images(x)
    if x.shape[1] != 3:
        raise ValueError(f"colour_jitter needs RGB images (n, 3, h, w); got {tuple(x.shape)}")
    for name, s in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        if not 0.0 <= s < 1.0:
            raise ValueError(f"{name} must be in [0, 1); got {s}")
    n = x.shape[0]
    u = torch.rand(n, 3, 1, 1, 1, generator=generator, dtype=x.dtype)
    b, c, s = (1 + strength * (2 * u[:, i] - 1) for i, strength in enumerate((brightness, contrast, saturation)))
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype).view(1, 3, 1, 1)
    out = (x * b).clamp(0.0, 1.0)
    grey = (out * weights).sum(1, keepdim=True)  # (n, 1, h, w)
    out = (c * out + (1 - c) * grey.mean(dim=(2, 3), keepdim=True)).clamp(0.0, 1.0)
    grey = (out * weights).sum(1, keepdim=True)
    return (s * out + (1 - s) * grey).clamp(0.0, 1.0)


def random_flip(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``.

    Args:
        x: ``(n, c, h, w)`` images.
        generator: the source of randomness.
        p: probability of a flip, in [0, 1].

    Returns:
        ``(n, c, h, w)`` images; ``x`` is not modified.

    >>> x = torch.arange(4.0).view(1, 1, 1, 4)
    >>> random_flip(x, torch.Generator().manual_seed(0), p=1.0).flatten().tolist()
    [3.0, 2.0, 1.0, 0.0]
    """
    _check_images(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1]; got {p}")
    flip = torch.rand(x.shape[0], generator=generator) < p
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
