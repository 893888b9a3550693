import struct

import numpy as np
import pytest
import torch

from lecturekit import data


def test_digits_geometry_and_labels():
    ds = data.digits()
    assert ds.x.shape == (1797, 1, 28, 28) and ds.x.dtype == torch.float32
    assert ds.y.shape == (1797,) and set(ds.y.tolist()) == set(range(10))
    assert float(ds.x.min()) == 0.0 and float(ds.x.max()) <= 1.0
    # MNIST-style framing: a 4-pixel empty border around a 20x20 digit.
    assert float(ds.x[:, :, :4].abs().sum()) == 0.0 and float(ds.x[:, :, :, -4:].abs().sum()) == 0.0


def test_digits_are_read_once_and_each_call_gets_its_own_copy():
    from sklearn.datasets import load_digits

    first = data.digits()
    first.x.zero_()  # a caller changing what it got (in place)
    first.y.fill_(3)
    again = data.digits()
    bunch = load_digits()
    assert torch.equal(again.y, torch.as_tensor(bunch.target)) and again.x.max() == 1.0
    assert data._digit_scans() is data._digit_scans()  # the file is parsed once per process


def test_digits_rejects_tiny_size():
    with pytest.raises(ValueError, match="at least 8"):
        data.digits(size=4)


def test_split_is_deterministic_stratified_and_disjoint():
    ds = data.digits()
    tr1, te1 = data.split(ds, seed=3)
    tr2, te2 = data.split(ds, seed=3)
    assert torch.equal(tr1.x, tr2.x) and torch.equal(te1.y, te2.y)
    assert len(tr1) + len(te1) == len(ds)
    counts = np.bincount(te1.y.numpy(), minlength=10)
    assert counts.min() >= 40 and counts.max() <= 50  # about 25% of ~180 per class
    with pytest.raises(ValueError, match="test_fraction"):
        data.split(ds, test_fraction=1.5)


def test_imageset_checks_shapes():
    with pytest.raises(ValueError, match=r"\(n, 1, H, W\)"):
        data.ImageSet(torch.zeros(3, 28, 28), torch.zeros(3, dtype=torch.long), "bad")
    with pytest.raises(ValueError, match=r"ImageSet.y must be \(3,\)"):
        data.ImageSet(torch.zeros(3, 1, 28, 28), torch.zeros(4, dtype=torch.long), "bad")


def test_mnist_missing_offline_names_path_and_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        data.mnist(tmp_path / "nowhere", download=False)
    msg = str(err.value)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in msg
    assert "download=True" in msg and "LECTUREKIT_PROFILE=full" in msg


def test_mnist_lite_profile_does_not_download_by_default(tmp_path):
    with pytest.raises(FileNotFoundError):
        data.mnist(tmp_path)


def _write_idx(path, array, magic):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic))
        for dim in array.shape:
            f.write(struct.pack(">I", dim))
        f.write(array.astype(np.uint8).tobytes())


def test_mnist_reads_files_present_in_the_cache(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("t10k", 4)):
        _write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), 2051)
        _write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10, 2049)
    ds = data.mnist(tmp_path, train=False, download=False)
    assert ds.x.shape == (4, 1, 28, 28) and ds.y.tolist() == [0, 1, 2, 3]
    assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) <= 1.0
    assert len(data.mnist(tmp_path, train=True, download=False)) == 6


def test_for_profile_full_without_files_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("LECTUREKIT_PROFILE", "full")
    monkeypatch.setenv("LECTUREKIT_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="MNIST files not found"):
        data.for_profile()


def test_sprites_are_reachable_from_data_without_data_depending_on_them():
    from pathlib import Path

    from bookbuild.deps import Library
    from lecturekit import sprites

    assert data.Sprites is sprites.Sprites
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        data.nothing  # noqa: B018
    library = Library(Path(data.__file__).parents[1], "lecturekit")
    assert "lecturekit.sprites" not in library.closure({"lecturekit.data"})
    assert "lecturekit.sprites" in library.direct_imports("import lecturekit as lk\nlk.data.Sprites()", "t")


def test_split_follows_its_seed():
    """Another seed holds out other images (same class counts); the same seed the same ones."""
    ds = data.digits()
    _, test0 = data.split(ds, seed=0)
    _, test1 = data.split(ds, seed=1)
    assert not torch.equal(test0.x, test1.x)
    assert torch.equal(torch.bincount(test0.y, minlength=10), torch.bincount(test1.y, minlength=10))
    assert torch.equal(data.split(ds)[1].x, test0.x)  # seed 0 is the default
