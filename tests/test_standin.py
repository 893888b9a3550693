"""Stand-in files: the real formats, names, places, keys and shapes; refused outside a stand-in run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lecturekit import data, download, profile, standin

# The tests that import timm (about 3 CPU-seconds) share one pytest-xdist worker (`--dist loadgroup`),
# so only one worker pays for the import.
TIMM = pytest.mark.xdist_group("timm")

KEYS = json.loads((Path(__file__).parent / "data" / "dinov2_vits14_keys.json").read_text())["keys"]


@TIMM
def test_dinov2_standin_has_the_official_keys_and_shapes():
    state = standin.dinov2_vits14_state()
    assert {k: list(v.shape) for k, v in state.items()} == KEYS
    assert list(state)[:3] == ["cls_token", "pos_embed", "mask_token"]  # Meta's order
    assert torch.equal(state["blocks.0.ls1.gamma"], torch.ones(384))  # init_values=1.0, as Meta's hub model
    again = standin.dinov2_vits14_state()
    assert all(torch.equal(state[k], again[k]) for k in state)  # seeded


def test_resnet18_standin_is_torchvisions_layout():
    from torchvision.models import resnet18

    state = standin.resnet18_state()
    reference = resnet18().state_dict()
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in reference.items()}


def test_idx_format_header():
    blob = standin.idx_bytes(np.arange(6, dtype=np.uint8).reshape(1, 2, 3))
    assert blob[:4] == bytes([0, 0, 8, 3])
    assert [int.from_bytes(blob[4 + 4 * i : 8 + 4 * i], "big") for i in range(3)] == [1, 2, 3]
    assert blob[16:] == bytes(range(6))


@TIMM
def test_generate_writes_the_real_layout_and_mnist_reads_it(tmp_path, monkeypatch):
    cache, torch_home = tmp_path / "c", tmp_path / "t"
    paths = standin.generate(cache, torch_home, images=30, pixels=28)
    hub_names = {Path(r.path).name for r in download.manifest() if r.root == "hub"}
    assert {p.name for p in paths} == set(download._MNIST_UNPACKED_SIZES) | hub_names
    raw = cache / "data" / "MNIST" / "raw"
    with pytest.raises(RuntimeError, match="LECTUREKIT_STANDIN is not set"):
        data.mnist(cache / "data", download=False)
    monkeypatch.setenv("LECTUREKIT_STANDIN", "1")
    test, train = data.mnist(cache / "data", download=False), data.mnist(cache / "data", train=True, download=False)
    assert len(test) == len(train) == 30 and test.x.shape[1:] == (1, 28, 28)
    assert test.name.startswith("STAND-IN for MNIST test")
    # The images are bundled digits (to 1/255), the splits disjoint.
    digits = data.digits()
    flat = (digits.x.flatten(1) * 255).round()
    for ds in (test, train):
        match = [int(torch.nonzero(((flat - x * 255).abs() < 0.5).all(1))[0]) for x in ds.x.flatten(1)]
        assert torch.equal(digits.y[match], ds.y)
    assert not {tuple(x.tolist()) for x in test.x.flatten(1)} & {tuple(x.tolist()) for x in train.x.flatten(1)}
    marker = json.loads((raw / profile.STANDIN_MARKER).read_text())
    assert marker["images"] == 30 and marker["pixels"] == 28
    # Same settings: nothing rewritten. Other settings: rewritten.
    before = {p: p.stat().st_mtime_ns for p in paths}
    standin.generate(cache, torch_home, images=30, pixels=28)
    assert {p: p.stat().st_mtime_ns for p in paths} == before
    # The weights are made from the seed alone: other images or another input size rewrite the data
    # and the markers (the encoders read the size there), not 135 MB of weights.
    made = []
    for maker in ("resnet18_state", "dinov2_vits14_state"):
        monkeypatch.setattr(standin, maker, lambda seed=0, maker=maker: made.append((maker, seed)) or {})
    checkpoints = torch_home / "hub" / "checkpoints"
    weights = {p: p.stat().st_mtime_ns for p in checkpoints.glob("*.pth")}
    standin.generate(cache, torch_home, images=20, pixels=28)
    assert len(data.mnist(cache / "data", download=False)) == 20
    standin.generate(cache, torch_home, images=20, pixels=42)
    assert made == [] and {p: p.stat().st_mtime_ns for p in weights} == weights
    for folder in (raw, checkpoints):
        assert json.loads((folder / profile.STANDIN_MARKER).read_text())["pixels"] == 42
    standin.generate(cache, torch_home, images=20, pixels=42, seed=1)  # another seed: other weights
    assert made == [("resnet18_state", 1), ("dinov2_vits14_state", 1)]


def test_generate_refuses_real_folders_and_bad_knobs(tmp_path):
    checkpoints = tmp_path / "t" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / "resnet18-f37072fd.pth").write_bytes(b"real weights")
    with pytest.raises(ValueError, match="not stand-ins"):
        standin.generate(tmp_path / "c", tmp_path / "t", images=10)
    assert (checkpoints / "resnet18-f37072fd.pth").read_bytes() == b"real weights"
    with pytest.raises(ValueError, match="multiple of 14"):
        standin.generate(tmp_path / "c2", tmp_path / "t2", pixels=30)
    with pytest.raises(ValueError, match="images must be between"):
        standin.generate(tmp_path / "c2", tmp_path / "t2", images=5000)


@TIMM
def test_cli(tmp_path, capsys):
    assert (
        standin.main(
            ["--cache", str(tmp_path / "c"), "--torch-home", str(tmp_path / "t"), "--images", "10", "--pixels", "14"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "meaningless" in out and "dinov2_vits14_pretrain.pth" in out
    assert standin.main(["--cache", str(tmp_path / "c"), "--torch-home", str(tmp_path / "t"), "--pixels", "15"]) == 2
    assert "multiple of 14" in capsys.readouterr().err
