"""The encoder registry: ``names()``, ``load(name)``, ``describe()`` and :func:`embed`.

Every encoder maps images ``(n, 1, 28, 28)`` in [0, 1] to embeddings ``(n, d)``.

``lite`` profile (offline, CPU):

- ``pixels`` -- the 784 raw pixel values.
- ``random-cnn`` -- :class:`SmallCNN` with its random initial weights (seed 0), untrained.
- ``digits-supervised`` -- the same CNN trained with cross-entropy on the digits' labels.
- ``digits-ssl`` -- the same CNN trained without labels, SimCLR-style (InfoNCE between two
  views made by rotation, zoom-crop, shift and noise).

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

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from lecturekit import profile as _profile
from lecturekit import standin, training


class SmallCNN(nn.Module):
    """Three conv layers and global average pooling: ``(n, 1, 28, 28)`` -> ``(n, dim)``.

    ``feature_map`` exposes the last convolutional map ``(n, dim, 7, 7)`` (stride 4) before
    pooling, for equivariance measurements.
    """

    def __init__(self, width: int = 16, dim: int = 128) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),           # 28 -> 14
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 14 -> 7
            nn.Conv2d(2 * width, dim, 3, padding=1), nn.ReLU(),
        )
        self.stride = 4

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).mean(dim=(2, 3))


class Pixels(nn.Module):
    """The identity representation: flattened pixels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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
        x = F.interpolate(x.expand(-1, 3, -1, -1), size=(self.size, self.size), mode="bilinear",
                          antialias=True, align_corners=False)
        return self.backbone((x - self.mean) / self.std)


def _seeded_cnn(seed: int = 0) -> SmallCNN:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return SmallCNN()


SUPERVISED = training.TrainConfig(method="supervised", epochs=15, batch_size=64, lr=1e-3, seed=0)
SSL = training.TrainConfig(method="simclr", epochs=30, batch_size=128, lr=2e-3, temperature=0.1, seed=0)


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
    return standin.input_size(_hub_file("checkpoints"))


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
    model = resnet18()
    model.load_state_dict(state)
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
    """timm's ViT-S/14 (``vit_small_patch14_dinov2``) for ``size`` pixels, holding Meta's weights ``state``.

    Its output is the final-norm CLS token (384-d), what Meta's hub model returns.

    Raises:
        ValueError: ``state`` does not have the keys and shapes of a DINOv2 ViT-S/14 checkpoint.
    """
    timm = import_timm()
    model = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=size, num_classes=0)
    try:
        model.load_state_dict(dinov2_state_for_timm(state, size), strict=True)
    except RuntimeError as exc:
        raise ValueError(f"not a DINOv2 ViT-S/14 checkpoint (keys or shapes differ): {exc}") from None
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
    build: Callable[[], nn.Module]


_REGISTRY: dict[str, EncoderSpec] = {
    spec.name: spec
    for spec in [
        EncoderSpec("pixels", "lite", "raw pixels, 784-d", Pixels),
        EncoderSpec("random-cnn", "lite", "small CNN, random weights (untrained), 128-d", _seeded_cnn),
        EncoderSpec("digits-supervised", "lite", "small CNN trained on the digit labels, 128-d",
                    lambda: training.cached(_seeded_cnn(), SUPERVISED, "digits-supervised")),
        EncoderSpec("digits-ssl", "lite", "small CNN trained without labels (SimCLR), 128-d",
                    lambda: training.cached(_seeded_cnn(), SSL, "digits-ssl")),
        EncoderSpec("resnet18-imagenet", "full", "torchvision ResNet18, ImageNet-1k supervised, 512-d", _resnet18),
        EncoderSpec("dinov2-vits14", "full", "DINOv2 ViT-S/14, self-supervised (LVD-142M), 384-d", _dinov2_vits14),
    ]
}


def names(profile: str | None = None) -> list[str]:
    """Encoders available in a profile (default: the active one); ``full`` includes the ``lite`` ones.

    >>> names("lite")
    ['pixels', 'random-cnn', 'digits-supervised', 'digits-ssl']
    """
    p = _profile.active(profile)
    return [s.name for s in _REGISTRY.values() if s.profile == "lite" or p == "full"]


def describe(profile: str | None = None) -> dict[str, str]:
    """``{name: description}`` for the encoders of a profile, in registry order."""
    return {name: _REGISTRY[name].description for name in names(profile)}


def load(name: str, profile: str | None = None, device: str | torch.device | None = None) -> nn.Module:
    """Build encoder ``name`` in eval mode, training (once, then cached) or loading its weights.

    Args:
        name: one of :func:`names` for the profile.
        profile: ``lite`` or ``full``; default ``$LECTUREKIT_PROFILE``.
        device: where to put it; default CUDA in ``full`` when available, else CPU.

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        FileNotFoundError: pretrained files missing and downloads not allowed.

    >>> load("pixels")(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 784])
    """
    p = _profile.active(profile)
    valid = names(p)
    if name not in valid:
        hint = ""
        if name in _REGISTRY:
            hint = f" {name!r} needs the {_REGISTRY[name].profile} profile (LECTUREKIT_PROFILE={_REGISTRY[name].profile})."
        raise ValueError(f"unknown encoder {name!r} for profile {p!r}; valid names: {', '.join(valid)}.{hint}")
    if device is None:
        device = "cuda" if p == "full" and torch.cuda.is_available() else "cpu"
    model = _REGISTRY[name].build()
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
            z = encoder(images[start:start + batch_size].to(device))
            if z.ndim != 2:
                raise ValueError(f"encoder must return (n, d) embeddings; got {tuple(z.shape)}")
            out.append(z.float().cpu())
    return torch.cat(out) if out else torch.empty(0, 0)
