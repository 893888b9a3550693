"""The encoder registry: ``names()``, ``load(name)``, ``describe()`` and :func:`embed`.

Every encoder maps images ``(n, 1, 28, 28)`` in [0, 1] to embeddings ``(n, d)``.

``lite`` profile (offline, CPU):

- ``pixels`` -- the 784 raw pixel values.
- ``random-cnn`` -- :class:`SmallCNN` with its random initial weights, untrained.
- ``digits-supervised`` -- the same CNN trained with cross-entropy on the digits' labels.
- ``digits-ssl`` -- the same CNN trained without labels, SimCLR-style (InfoNCE between two
  views made by rotation, zoom-crop, shift and noise).

A control, listed only by ``names(controls=True)``:

- ``digits-supervised-aug`` -- ``digits-supervised``'s recipe trained on ``digits-ssl``'s
  augmented views instead of the clean digits. It separates what the augmentations give from what
  the self-supervised objective gives. Controls are left out of the default listing so that a
  chapter sweeping the registry does not gain a row it never discusses.

The CNNs take a ``seed`` (``load("digits-ssl", seed=1)``): it seeds the initial weights and,
for the trained ones, the training run, whose weights are cached per seed.

``full`` profile (adds, may download):

- ``resnet18-imagenet`` -- torchvision's ResNet18 (ImageNet-1k, supervised), penultimate layer, 512-d.
- ``dinov2-vits14`` -- DINOv2 ViT-S/14 (self-supervised), CLS token after the final norm, 384-d:
  Meta's checkpoint loaded into timm's implementation of the architecture (no torch.hub code).

Pretrained files are looked up in torch's hub folder (``$TORCH_HOME/hub``, see
``torch.hub.get_dir()``); when they are missing and the run may not download, loading fails with
the path it expected. In a stand-in run (:mod:`lecturekit.standin`) the same files hold random
weights and the inputs are resized to the stand-in's smaller side instead of 224.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from lecturekit import profile as _profile
from lecturekit import training


class SmallCNN(nn.Module):
    """A small CNN with global average pooling: ``(n, 1, 28, 28)`` -> ``(n, dim)``.

    A 2x2 average pool first (the ``lite`` digits are 8x8 scans upsampled to 20x20, so 14x14
    loses nothing and halves the cost), then three 3x3 conv layers, each followed by batch
    normalisation and a ReLU, with a 2x2 max pool after the first: 28 -> 14 -> 7. The
    representation is the mean of the last map over its 7x7 positions. Batch normalisation keeps
    every unit alive and lets a few epochs train it (without it, 9-28 of the 128 pooled units of
    the earlier, unnormalised version were dead).

    ``feature_map`` exposes the last map ``(n, dim, 7, 7)`` (total stride ``stride`` = 4)
    before pooling, for equivariance measurements; ``layers`` returns every block's output, for
    probing depth.

    >>> SmallCNN().feature_map(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 128, 7, 7])
    """

    def __init__(self, width: int = 16, dim: int = 128) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

        self.features = nn.Sequential(
            nn.AvgPool2d(2),  # 28 -> 14
            block(1, width),
            nn.MaxPool2d(2),  # 14 -> 7
            block(width, 2 * width),
            block(2 * width, dim),
        )
        self.stride = 4

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional map ``(n, 128, H/4, W/4)`` (stride ``stride``) of ``x`` ``(n, 1, H, W)``."""
        return self.features(x)

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of each conv block (after its ReLU and, for the first, its pooling).

        Returns:
            three maps ``(n, width, 7, 7)``, ``(n, 2 * width, 7, 7)``, ``(n, dim, 7, 7)``.
        """
        avg, block1, max_pool, block2, block3 = self.features
        h1 = max_pool(block1(avg(x)))
        h2 = block2(h1)
        return [h1, h2, block3(h2)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``(n, 128)``: the feature map averaged over positions."""
        return self.features(x).mean(dim=(2, 3))


class Pixels(nn.Module):
    """The identity representation: flattened pixels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The pixels themselves, ``(n, H * W)``."""
        return x.flatten(1)


class ImageNetInput(nn.Module):
    """Wrap an ImageNet backbone for grey 28x28 digits: 3 channels, 224x224, ImageNet normalization."""

    def __init__(self, backbone: nn.Module, size: int = 224) -> None:
        super().__init__()
        self.backbone = backbone
        self.size = size
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed grey images ``(n, 1, H, W)`` in [0, 1]: resized, made RGB, normalised as the backbone expects."""
        x = F.interpolate(
            x.expand(-1, 3, -1, -1), size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False
        )
        return self.backbone((x - self.mean) / self.std)


def _seeded_cnn(seed: int = 0) -> SmallCNN:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return SmallCNN()


SUPERVISED = training.TrainConfig(method="supervised", epochs=8, batch_size=64, lr=3e-3, weight_decay=1e-4)
SSL = training.TrainConfig(method="simclr", epochs=10, batch_size=128, lr=6e-3, weight_decay=1e-4, temperature=0.2)
SUPERVISED_AUG = dataclasses.replace(SUPERVISED, augment=True, max_angle=SSL.max_angle)
"""``SUPERVISED`` on one augmented view per image per step, from the view distribution of ``SSL``."""
SEEDS = (0, 1, 2)
"""The seeds the book trains each trained encoder with (``load(name, seed=s)``)."""


def _trained(config: training.TrainConfig, name: str, seed: int) -> nn.Module:
    return training.cached(_seeded_cnn(seed), dataclasses.replace(config, seed=seed), name)


def _hub_file(*parts: str) -> Path:
    return Path(torch.hub.get_dir()).joinpath(*parts)


def _missing(what: str, paths: list[Path]) -> FileNotFoundError:
    listing = "\n".join(f"    {p}" for p in paths)
    return FileNotFoundError(
        f"{what} is not in the local torch cache and this run may not download. Expected:\n{listing}\n"
        "Run once with network access and LECTUREKIT_PROFILE=full (unset LECTUREKIT_OFFLINE) to download it, "
        "or copy the files there (TORCH_HOME moves the folder), or use the lite profile."
    )


def _input_size() -> int:
    """224, or the stand-in run's side length (checks real vs stand-in files first)."""
    marker = _profile.check_standin(_hub_file("checkpoints"), "pretrained weights")
    return int(marker["pixels"]) if marker is not None else 224


def _resnet18() -> nn.Module:
    from torchvision.models import ResNet18_Weights, resnet18

    weights = ResNet18_Weights.IMAGENET1K_V1
    path = _hub_file("checkpoints", weights.url.rsplit("/", 1)[-1])
    size = _input_size()
    if path.exists():
        state = torch.load(path, map_location="cpu", weights_only=True)
    elif _profile.downloads_allowed():
        state = torch.hub.load_state_dict_from_url(weights.url, progress=False, check_hash=True, map_location="cpu")
    else:
        raise _missing("ResNet18 ImageNet weights", [path])
    model = built_holding(resnet18, state)
    model.fc = nn.Identity()
    return ImageNetInput(model, size)


DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth"
DINOV2_FILE = "dinov2_vits14_pretrain.pth"
PATCH = 14


def dinov2_state_for_timm(state: dict[str, torch.Tensor], size: int = 224) -> dict[str, torch.Tensor]:
    """Meta's DINOv2 ViT-S/14 state dict as the state dict of timm's model for ``size`` pixels.

    The keys are the same apart from ``mask_token`` (used only in training; dropped). The
    position embeddings (37x37 patches, for 518 pixels) are resampled to ``size / 14`` patches per
    side exactly as Meta's ``interpolate_pos_encoding`` does at every forward pass (bicubic, no
    antialiasing, scale factor ``(size / 14 + 0.1) / 37``), once, so timm's model computes the
    same function as Meta's at this input size.

    Raises:
        ValueError: ``size`` is not a multiple of 14, or ``state`` has no square patch grid.
    """
    if size % PATCH:
        raise ValueError(f"DINOv2 ViT-S/14 needs a side length that is a multiple of {PATCH}; got {size}")
    out = {k: v for k, v in state.items() if k != "mask_token"}
    pos = out.get("pos_embed")
    if pos is None or pos.ndim != 3:
        raise ValueError("not a DINOv2 ViT checkpoint: no (1, 1 + patches, dim) 'pos_embed' tensor")
    m = round((pos.shape[1] - 1) ** 0.5)
    if m * m != pos.shape[1] - 1:
        raise ValueError(f"pos_embed holds {pos.shape[1] - 1} patch positions, not a square grid")
    g = size // PATCH
    if g != m:
        grid = pos[:, 1:].float().reshape(1, m, m, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, scale_factor=((g + 0.1) / m, (g + 0.1) / m), mode="bicubic", antialias=False)
        out["pos_embed"] = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, g * g, -1).to(pos.dtype)], 1)
    return out


def import_timm():
    """``import timm`` without the warning its import prints in a Jupyter kernel.

    timm imports huggingface_hub, which imports ``tqdm.auto``; in a kernel without ipywidgets
    that warns "IProgress not found" on stderr, which fails the book's strict build. Nothing here
    shows a progress bar (no pretrained download goes through timm).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found")
        import timm
    return timm


def dinov2_vits14(state: dict[str, torch.Tensor], size: int = 224) -> nn.Module:
    """The ViT-S/14 of timm (``vit_small_patch14_dinov2``) for ``size`` pixels, holding Meta's weights ``state``.

    Its output is the final-norm CLS token (384-d), what Meta's hub model returns.

    Raises:
        ValueError: ``state`` does not have the keys and shapes of a DINOv2 ViT-S/14 checkpoint.
    """
    timm = import_timm()
    converted = dinov2_state_for_timm(state, size)
    try:
        return built_holding(
            lambda: timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=size, num_classes=0),
            converted,
        )
    except RuntimeError as exc:
        raise ValueError(f"not a DINOv2 ViT-S/14 checkpoint (keys or shapes differ): {exc}") from None


def built_holding(build: Callable[[], nn.Module], state: dict[str, torch.Tensor]) -> nn.Module:
    """``build()`` holding the weights ``state`` (every key, no other, the same shapes), on the CPU.

    The model is made on the meta device and given ``state``'s tensors (``load_state_dict`` with
    ``assign``): its constructor's random initialisation, which ``state`` would overwrite entirely,
    is never computed (a third of a CPU-second for ViT-S/14 at 518 pixels, most of building it). The
    tensors are ``state``'s own where the dtype already matches (not copies), as with ``assign``;
    ``requires_grad`` is the model's.

    Raises:
        RuntimeError: ``state`` lacks a key of the model, has another, or a shape differs (as a strict
            ``load_state_dict``); or the model has a tensor outside its state dict (a non-persistent
            buffer), which ``state`` cannot give a value.
    """
    with torch.device("meta"):
        model = build()
    wanted = model.state_dict()
    model.load_state_dict(
        {k: v.to(wanted[k].dtype) if k in wanted and wanted[k].is_floating_point() else v for k, v in state.items()},
        strict=True,
        assign=True,
    )
    empty = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if empty:
        raise RuntimeError(f"{type(model).__name__}: no value for {', '.join(empty)} (not in its state dict)")
    return model


def _dinov2_vits14() -> nn.Module:
    ckpt = _hub_file("checkpoints", DINOV2_FILE)
    size = _input_size()
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
    elif _profile.downloads_allowed():
        state = torch.hub.load_state_dict_from_url(DINOV2_URL, progress=False, map_location="cpu")
    else:
        raise _missing("DINOv2 ViT-S/14 weights", [ckpt])
    return ImageNetInput(dinov2_vits14(state, size), size)


@dataclass(frozen=True)
class EncoderSpec:
    """A registry entry: its name, profile, what it is, and how to build it."""

    name: str
    profile: str
    description: str
    build: Callable[..., nn.Module]
    seeded: bool = False  # build takes the seed (random initialisation and training)
    control: bool = False  # listed by names(controls=True) only


_REGISTRY: dict[str, EncoderSpec] = {
    spec.name: spec
    for spec in [
        EncoderSpec("pixels", "lite", "raw pixels, 784-d", Pixels),
        EncoderSpec("random-cnn", "lite", "small CNN, random weights (untrained), 128-d", _seeded_cnn, seeded=True),
        EncoderSpec(
            "digits-supervised",
            "lite",
            "small CNN trained on the digit labels, 128-d",
            lambda seed: _trained(SUPERVISED, "digits-supervised", seed),
            seeded=True,
        ),
        EncoderSpec(
            "digits-ssl",
            "lite",
            "small CNN trained without labels (SimCLR), 128-d",
            lambda seed: _trained(SSL, "digits-ssl", seed),
            seeded=True,
        ),
        EncoderSpec(
            "digits-supervised-aug",
            "lite",
            "small CNN, labels + digits-ssl's augmentations, 128-d",
            lambda seed: _trained(SUPERVISED_AUG, "digits-supervised-aug", seed),
            seeded=True,
            control=True,
        ),
        EncoderSpec("resnet18-imagenet", "full", "torchvision ResNet18, ImageNet-1k supervised, 512-d", _resnet18),
        EncoderSpec("dinov2-vits14", "full", "DINOv2 ViT-S/14, self-supervised (LVD-142M), 384-d", _dinov2_vits14),
    ]
}


def names(profile: str | None = None, controls: bool = False) -> list[str]:
    """Encoders available in a profile (default: the active one); ``full`` includes the ``lite`` ones.

    Args:
        profile: ``lite`` or ``full``; default ``$LECTUREKIT_PROFILE``.
        controls: also list the control encoders (``digits-supervised-aug``), after the others.

    >>> names("lite")
    ['pixels', 'random-cnn', 'digits-supervised', 'digits-ssl']
    >>> names("lite", controls=True)[-1]
    'digits-supervised-aug'
    """
    p = _profile.active(profile)
    available = [s for s in _REGISTRY.values() if s.profile == "lite" or p == "full"]
    return [s.name for s in available if not s.control] + [s.name for s in available if controls and s.control]


def seeds(name: str) -> tuple[int, ...]:
    """The seeds the book uses for encoder ``name``: :data:`SEEDS` for the small CNNs, ``(0,)`` otherwise.

    >>> seeds("digits-ssl"), seeds("pixels")
    ((0, 1, 2), (0,))
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown encoder {name!r}; valid names: {', '.join(_REGISTRY)}")
    return SEEDS if _REGISTRY[name].seeded else (0,)


def describe(profile: str | None = None, controls: bool = False) -> dict[str, str]:
    """``{name: description}`` for the encoders of a profile, in the order of :func:`names`."""
    return {name: _REGISTRY[name].description for name in names(profile, controls)}


def load(name: str, profile: str | None = None, device: str | torch.device | None = None, seed: int = 0) -> nn.Module:
    """Build encoder ``name`` in eval mode, training (once per seed, then cached) or loading its weights.

    Args:
        name: one of :func:`names` for the profile.
        profile: ``lite`` or ``full``; default ``$LECTUREKIT_PROFILE``.
        device: where to put it; default CUDA in ``full`` when available, else CPU.
        seed: for the small CNNs, the seed of the random initialisation and of training (each
            seed's weights are cached apart; the book uses :data:`SEEDS`). Encoders without
            random weights (``pixels``, the pretrained ones) take only ``seed=0``.

    Raises:
        ValueError: unknown name (the message lists the valid ones), or a seed for an encoder
            that has none.
        FileNotFoundError: pretrained files missing and downloads not allowed.

    >>> load("pixels")(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 784])
    """
    p = _profile.active(profile)
    valid = names(p, controls=True)
    if name not in valid:
        hint = ""
        if name in _REGISTRY:
            hint = (
                f" {name!r} needs the {_REGISTRY[name].profile} profile (LECTUREKIT_PROFILE={_REGISTRY[name].profile})."
            )
        raise ValueError(f"unknown encoder {name!r} for profile {p!r}; valid names: {', '.join(valid)}.{hint}")
    spec = _REGISTRY[name]
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    if seed != 0 and not spec.seeded:
        seeded = ", ".join(s.name for s in _REGISTRY.values() if s.seeded)
        raise ValueError(
            f"encoder {name!r} has no random weights, so it takes no seed (got seed={seed}); seeds apply to: {seeded}"
        )
    if device is None:
        device = "cuda" if p == "full" and torch.cuda.is_available() else "cpu"
    model = spec.build(seed) if spec.seeded else spec.build()
    return model.to(device).eval()


def embed(encoder: nn.Module, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Embed images in batches without gradients.

    Args:
        encoder: a module mapping ``(b, 1, 28, 28)`` to ``(b, d)`` (from :func:`load`).
        images: ``(n, 1, 28, 28)`` images in [0, 1].
        batch_size: images per forward pass (bounds memory, not the result).

    Returns:
        ``(n, d)`` float32 CPU tensor.

    >>> embed(load("pixels"), torch.zeros(3, 1, 28, 28)).shape
    torch.Size([3, 784])
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] != 1:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be (n, 1, H, W) grey images; got {shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; got {batch_size}")
    param = next(encoder.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    out = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            z = encoder(images[start : start + batch_size].to(device))
            if z.ndim != 2:
                raise ValueError(f"encoder must return (n, d) embeddings; got {tuple(z.shape)}")
            out.append(z.float().cpu())
    return torch.cat(out) if out else torch.empty(0, 0)
