"""Stand-in files for a test run of the ``full`` profile on CPU, offline: numbers meaningless.

The ``full`` profile reads MNIST and two pretrained encoders. This module writes files with the
same names, places, formats, keys and shapes, made here and never downloaded, so that every
chapter's ``full`` code path can execute without network or GPU:

- MNIST: the four idx files (torchvision's decompressed on-disk format) under
  ``<cache>/data/MNIST/raw``, holding scikit-learn's bundled digits placed in a 28x28 frame
  (:func:`lecturekit.data.digits`), ``images`` of them per split;
- ResNet18: ``<hub>/checkpoints/resnet18-f37072fd.pth``, torchvision's ``resnet18()`` with its
  random initialisation (seeded);
- DINOv2 ViT-S/14: ``<hub>/checkpoints/dinov2_vits14_pretrain.pth`` with the key names and shapes of
  Meta's checkpoint (``mask_token`` included), random weights.

Each folder gets a ``STANDIN.json`` marker. Stand-in mode is ``LECTUREKIT_STANDIN=1``; the loaders
(:func:`lecturekit.data.mnist`, :func:`lecturekit.encoders.load`) refuse stand-in files outside it
and refuse real-looking folders inside it (:func:`lecturekit.profile.check_standin`, which this
module's files satisfy), so a stand-in file can never pass for a real one. In
stand-in mode nothing is downloaded, and the pretrained encoders see ``pixels`` x ``pixels`` inputs
(default 56, a multiple of 14) instead of 224x224, the size knob besides ``images``: the same
architectures and code path, 16 times less computation. The book's build refuses to render or
publish a stand-in run (``[tool.bookbuild] standin_env`` in pyproject.toml).

Command line (what ``make full-standin`` runs first)::

    python -m lecturekit.standin --cache DIR --torch-home DIR [--images N] [--pixels P]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from lecturekit import data, download, encoders
from lecturekit import profile as _profile

DEFAULT_IMAGES = 200
DEFAULT_PIXELS = 56
FORMAT = 1  # bump when the files written here change
BANNER = (
    "STAND-IN RUN (LECTUREKIT_STANDIN=1): synthetic MNIST and randomly initialised ResNet18/DINOv2 "
    "weights. Every number it prints is meaningless; it only shows that the full profile's code runs. "
    "It is never rendered into the site or published."
)


def _save_atomic(obj, dest: Path) -> None:
    with _profile.atomic_file(dest) as tmp:
        if isinstance(obj, bytes):
            tmp.write_bytes(obj)
        else:
            torch.save(obj, tmp)


def idx_bytes(array) -> bytes:
    """A uint8 array in the idx format MNIST uses: magic (0, 0, 0x08, ndim), big-endian sizes, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.tobytes()


def mnist_files(images: int, seed: int = 0) -> dict[str, bytes]:
    """The four decompressed MNIST idx files, ``images`` bundled digits per split (disjoint splits).

    >>> sorted(mnist_files(20))[0]
    't10k-images-idx3-ubyte'
    """
    digits = data.digits()
    if not 10 <= images <= len(digits) // 2:
        raise ValueError(
            f"images must be between 10 and {len(digits) // 2} per split "
            f"(the bundled digits hold {len(digits)}); got {images}"
        )
    order = np.random.default_rng(seed).permutation(len(digits))
    pixels = (digits.x[:, 0] * 255).round().to(torch.uint8).numpy()
    labels = digits.y.numpy().astype(np.uint8)
    out = {}
    for split, index in (("t10k", order[:images]), ("train", order[images : 2 * images])):
        out[f"{split}-images-idx3-ubyte"] = idx_bytes(pixels[index])
        out[f"{split}-labels-idx1-ubyte"] = idx_bytes(labels[index])
    return out


def resnet18_state(seed: int = 0) -> dict:
    """The state dict of torchvision's ``resnet18()`` with its random initialisation (seeded)."""
    from torchvision.models import resnet18

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return resnet18().state_dict()


def dinov2_vits14_state(seed: int = 0) -> dict:
    """Random weights under the key names and shapes of Meta's ``dinov2_vits14_pretrain.pth``.

    Meta's checkpoint is the state dict of its ``dinov2_vits14`` (518x518 position embeddings,
    37x37 patches plus CLS; layer scale ``ls1``/``ls2``; ``mask_token``); timm's ViT-S/14 at
    518 pixels has the same keys apart from ``mask_token``. Layer scales start at 1, as in Meta's
    hub model, so the random blocks are not near-identity maps.
    """
    timm = encoders.import_timm()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = timm.create_model(
            "vit_small_patch14_dinov2", pretrained=False, img_size=518, num_classes=0, init_values=1.0
        )
        state = model.state_dict()
        ordered = {
            "cls_token": state.pop("cls_token"),
            "pos_embed": state.pop("pos_embed"),
            "mask_token": torch.zeros(1, model.embed_dim),
        }
    ordered.update(state)
    return ordered


def generate(
    cache: str | Path, torch_home: str | Path, images: int = DEFAULT_IMAGES, pixels: int = DEFAULT_PIXELS, seed: int = 0
) -> list[Path]:
    """Write every stand-in file (skipped where it was made from the same settings before); return the paths.

    Args:
        cache: the lecturekit cache of the stand-in run (MNIST goes to ``cache/data/MNIST/raw``).
        torch_home: its ``TORCH_HOME`` (weights go to ``torch_home/hub/checkpoints``).
        images: MNIST images per split (10 to 898).
        pixels: input side of the pretrained encoders in stand-in mode (a multiple of 14, 14 to 224).
        seed: seed of the image choice and the random weights.

    Raises:
        ValueError: bad knob values, or ``cache``/``torch_home`` already hold real (unmarked) files.
    """
    if pixels % 14 or not 14 <= pixels <= 224:
        raise ValueError(f"pixels must be a multiple of 14 between 14 and 224 (ViT-S/14 patches); got {pixels}")
    settings = {
        "format": FORMAT,
        "images": images,
        "pixels": pixels,
        "seed": seed,
        "note": "stand-in files made by lecturekit.standin; numbers computed from them are meaningless",
    }
    resnet, dino = (r for r in download.manifest() if isinstance(r, download.Resource) and r.root == "hub")
    raw = Path(cache) / "data" / "MNIST" / "raw"
    checkpoints = Path(torch_home) / "hub" / "checkpoints"
    files = {
        raw: lambda: mnist_files(images, seed),
        checkpoints: lambda: {
            Path(resnet.path).name: resnet18_state(seed),
            Path(dino.path).name: dinov2_vits14_state(seed),
        },
    }
    names = {raw: sorted(download._MNIST_UNPACKED_SIZES), checkpoints: [Path(resnet.path).name, Path(dino.path).name]}
    # What each folder's files are made from: the weights do not depend on the images or the input size
    # (the marker, rewritten on any change, tells the encoders the size), so those are not made again.
    made_from = {raw: ("format", "images", "seed"), checkpoints: ("format", "seed")}
    written = []
    for folder, make in files.items():
        makers = names[folder]
        present = [folder / name for name in makers if (folder / name).exists()]
        marker = _profile.standin_marker(folder)
        if present and marker is None:
            raise ValueError(
                f"{folder} holds files that are not stand-ins ({', '.join(p.name for p in present)}); "
                "stand-ins go to a folder of their own (make full-standin uses _build/standin)"
            )
        same_files = marker is not None and all(marker.get(k) == settings[k] for k in made_from[folder])
        if same_files and len(present) == len(makers):
            written += [folder / name for name in makers]
            if marker != settings:
                _save_atomic(json.dumps(settings, indent=1).encode(), folder / _profile.STANDIN_MARKER)
            continue
        (folder / _profile.STANDIN_MARKER).unlink(missing_ok=True)  # no marker while the files are being replaced
        for name, content in make().items():
            _save_atomic(content, folder / name)
            written.append(folder / name)
        _save_atomic(json.dumps(settings, indent=1).encode(), folder / _profile.STANDIN_MARKER)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m lecturekit.standin --cache DIR ...`` (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m lecturekit.standin",
        description="Write stand-in MNIST and pretrained weights for a test run of the full profile.",
    )
    parser.add_argument("--cache", type=Path, required=True, help="LECTUREKIT_CACHE of the stand-in run")
    parser.add_argument("--torch-home", type=Path, required=True, help="TORCH_HOME of the stand-in run")
    parser.add_argument(
        "--images",
        type=int,
        default=int(os.environ.get("STANDIN_IMAGES", DEFAULT_IMAGES)),
        help=f"MNIST images per split (default $STANDIN_IMAGES or {DEFAULT_IMAGES})",
    )
    parser.add_argument(
        "--pixels",
        type=int,
        default=int(os.environ.get("STANDIN_PIXELS", DEFAULT_PIXELS)),
        help=f"input side of the pretrained encoders (default $STANDIN_PIXELS or {DEFAULT_PIXELS})",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        paths = generate(args.cache, args.torch_home, args.images, args.pixels, args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(BANNER)
    for p in paths:
        print(f"stand-in  {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
