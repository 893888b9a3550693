"""Download-and-verify against a local HTTP server on 127.0.0.1 serving files the tests make."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from lecturekit import download as dl
from lecturekit import encoders

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, several read chunks' worth


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        if self.path.startswith("/drop/"):
            # Promise the whole body, send half of it, then drop the connection.
            body = self.files[self.path[len("/drop") :]]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path.startswith("/nolength/"):
            # No Content-Length, half the body, then close: looks complete to the client.
            body = self.files[self.path[len("/nolength") :]]
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    """An HTTP server on 127.0.0.1 (an ephemeral port) in a thread; yields (base_url, files)."""
    files: dict[str, bytes] = {}
    handler = type("Handler", (_Handler,), {"files": files})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", files
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part"))


def test_fetch_verifies_and_places_file(server, tmp_path):
    base, files = server
    files["/good.bin"] = PAYLOAD
    dest = tmp_path / "sub" / "good.bin"
    out = dl.fetch(f"{base}/good.bin", dest, sha256=sha(PAYLOAD), size=len(PAYLOAD))
    assert out == dest and dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == []
    assert dl.verify(dest, md5=md5(PAYLOAD)) == sha(PAYLOAD)


@pytest.mark.parametrize("kind", ["sha256", "md5", "size"])
def test_wrong_checksum_is_rejected_and_removed(server, tmp_path, kind):
    base, files = server
    files["/tampered.bin"] = PAYLOAD[:-1] + b"X"
    pins = {
        "sha256": {"sha256": sha(PAYLOAD)},
        "md5": {"md5": md5(PAYLOAD)},
        "size": {"sha256": sha(PAYLOAD[:-1] + b"X"), "size": len(PAYLOAD) + 1},
    }[kind]
    dest = tmp_path / "tampered.bin"
    with pytest.raises(dl.ChecksumError, match=f"{kind} expected") as err:
        dl.fetch(f"{base}/tampered.bin", dest, **pins)
    assert "removed" in str(err.value)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_connection_dropped_mid_body_leaves_no_file(server, tmp_path):
    base, files = server
    files["/big.bin"] = PAYLOAD
    dest = tmp_path / "big.bin"
    with pytest.raises(dl.DownloadError, match="failed after|incomplete"):
        dl.fetch(f"{base}/drop/big.bin", dest, sha256=sha(PAYLOAD))
    assert not dest.exists() and leftovers(tmp_path) == []


def test_interrupted_download_keeps_previous_good_file(server, tmp_path):
    base, files = server
    files["/big.bin"] = PAYLOAD
    dest = tmp_path / "big.bin"
    dl.fetch(f"{base}/big.bin", dest, sha256=sha(PAYLOAD))
    with pytest.raises(dl.DownloadError):
        dl.fetch(f"{base}/drop/big.bin", dest, sha256=sha(PAYLOAD))
    assert dest.read_bytes() == PAYLOAD and leftovers(tmp_path) == []


def test_truncated_body_without_length_fails_the_checksum(server, tmp_path):
    base, files = server
    files["/big.bin"] = PAYLOAD
    dest = tmp_path / "big.bin"
    with pytest.raises(dl.ChecksumError):
        dl.fetch(f"{base}/nolength/big.bin", dest, sha256=sha(PAYLOAD))
    assert not dest.exists() and leftovers(tmp_path) == []


def test_http_error_and_bad_arguments(server, tmp_path):
    base, _ = server
    with pytest.raises(dl.DownloadError, match="404"):
        dl.fetch(f"{base}/missing.bin", tmp_path / "m.bin", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="sha256 or md5"):
        dl.fetch(f"{base}/x", tmp_path / "x")
    with pytest.raises(ValueError, match="64 hex digits"):
        dl.fetch(f"{base}/x", tmp_path / "x", sha256="f37072fd")
    with pytest.raises(ValueError, match="32 hex digits"):
        dl.fetch(f"{base}/x", tmp_path / "x", md5="abc")


def test_ensure_replaces_bad_file_and_tries_mirrors(server, tmp_path):
    base, files = server
    files["/m2/data.bin"] = PAYLOAD
    files["/m1/data.bin"] = b"not the data"
    res = dl.Resource(
        name="data",
        root="cache",
        path="d/data.bin",
        urls=(f"{base}/m0/data.bin", f"{base}/m1/data.bin", f"{base}/m2/data.bin"),
        sha256=sha(PAYLOAD),
    )
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "data.bin").write_bytes(b"corrupt")  # a bad file already in place
    assert dl.ensure(res, tmp_path) == sha(PAYLOAD)
    assert (tmp_path / "d" / "data.bin").read_bytes() == PAYLOAD
    assert dl.ensure(res, tmp_path, offline=True) == sha(PAYLOAD)  # verified, nothing fetched
    dead = dl.Resource(name="data", root="cache", path="d/other.bin", urls=(f"{base}/m0/x",), md5=md5(b""))
    with pytest.raises(dl.DownloadError, match="could not fetch data"):
        dl.ensure(dead, tmp_path)


def test_ensure_offline_never_downloads(tmp_path):
    res = dl.Resource(name="data", root="cache", path="data.bin", urls=("http://127.0.0.1:9/x",), sha256=sha(PAYLOAD))
    with pytest.raises(dl.DownloadError, match="missing"):
        dl.ensure(res, tmp_path, offline=True)
    (tmp_path / "data.bin").write_bytes(b"bad")
    with pytest.raises(dl.ChecksumError):
        dl.ensure(res, tmp_path, offline=True)
    assert not (tmp_path / "data.bin").exists()


def _idx_images(n: int, seed: int = 0) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    return (2051).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + pixels.tobytes()


def _idx_labels(n: int) -> bytes:
    return (2049).to_bytes(4, "big") + n.to_bytes(4, "big") + bytes(i % 10 for i in range(n))


def _local_manifest(base: str, files: dict[str, bytes]):
    """A manifest with the real layout, pointing at the local server."""
    items = []
    raw = {
        "train-images-idx3-ubyte": _idx_images(6),
        "train-labels-idx1-ubyte": _idx_labels(6),
        "t10k-images-idx3-ubyte": _idx_images(4, 1),
        "t10k-labels-idx1-ubyte": _idx_labels(4),
    }
    for stem, data in raw.items():
        gz = gzip.compress(data, mtime=0)
        files[f"/mnist/{stem}.gz"] = gz
        items.append(
            dl.Resource(
                name=stem,
                root="cache",
                path=f"data/MNIST/raw/{stem}.gz",
                urls=(f"{base}/mnist/{stem}.gz",),
                md5=md5(gz),
                unpacked_size=len(data),
            )
        )
    files["/ckpt/w.pth"] = PAYLOAD
    items.append(
        dl.Resource(
            name="weights",
            root="hub",
            path="checkpoints/w.pth",
            urls=(f"{base}/ckpt/w.pth",),
            sha256=sha(PAYLOAD),
            size=len(PAYLOAD),
        )
    )
    return items


def test_full_layout_is_what_the_library_reads(server, tmp_path, monkeypatch):
    base, files = server
    monkeypatch.setattr(dl, "manifest", lambda: _local_manifest(base, files))
    cache, hub = tmp_path / "cache", tmp_path / "torch" / "hub"
    done = dl.ensure_all(cache, hub)
    assert [d[2] for d in done][-1] == sha(PAYLOAD)
    raw = cache / "data" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir() if not p.name.endswith(".gz")) == sorted(dl._MNIST_UNPACKED_SIZES)
    assert (hub / "checkpoints" / "w.pth").read_bytes() == PAYLOAD
    # lecturekit.data.mnist reads this layout offline, through torchvision's MNIST class.
    from lecturekit import data

    test = data.mnist(cache / "data", train=False, download=False)
    assert tuple(test.x.shape) == (4, 1, 28, 28) and test.y.tolist() == [0, 1, 2, 3]
    # A second run verifies and downloads nothing: the server may be gone.
    files.clear()
    assert dl.ensure_all(cache, hub, offline=True) == done


def test_cli(server, tmp_path, monkeypatch, capsys):
    base, files = server
    assert dl.main(["--profile", "lite"]) == 0
    assert "nothing to download" in capsys.readouterr().out
    monkeypatch.setattr(dl, "manifest", lambda: _local_manifest(base, files))
    assert (
        dl.main(
            ["--profile", "full", "--dest", str(tmp_path / "c"), "--torch-home", str(tmp_path / "t"), "--verify-only"]
        )
        == 1
    )
    assert "missing" in capsys.readouterr().err
    assert dl.main(["--profile", "full", "--dest", str(tmp_path / "c"), "--torch-home", str(tmp_path / "t")]) == 0
    out = capsys.readouterr().out
    assert sha(PAYLOAD) in out
    assert (tmp_path / "t" / "hub" / "checkpoints" / "w.pth").read_bytes() == PAYLOAD
    monkeypatch.setenv("LECTUREKIT_OFFLINE", "1")
    assert dl.main(["--profile", "full", "--dest", str(tmp_path / "c")]) == 2
    with pytest.raises(SystemExit):
        dl.main(["--profile", "medium"])


def test_real_manifest_matches_torchvision_and_encoders(capsys):
    from torchvision.datasets import MNIST
    from torchvision.models import ResNet18_Weights

    items = dl.manifest()
    mnist = [r for r in items if r.name.startswith("MNIST")]
    assert [(Path(r.path).name, r.md5) for r in mnist] == list(MNIST.resources)
    assert all(r.path.startswith("data/MNIST/raw/") and r.root == "cache" for r in mnist)
    assert {Path(r.path).name[:-3] for r in mnist} == set(dl._MNIST_UNPACKED_SIZES)
    resnet = next(r for r in items if "ResNet18" in r.name)
    assert resnet.urls == (ResNet18_Weights.IMAGENET1K_V1.url,)
    # torchvision names the file after the first 8 hex digits of its SHA-256 (torch.hub check_hash).
    assert resnet.path == f"checkpoints/resnet18-{resnet.sha256[:8]}.pth"
    (dino,) = [i for i in items if "DINOv2" in i.name]
    # The path, URL and checksum of Meta's file; lecturekit.encoders reads it from there.
    assert dino.path == f"checkpoints/{encoders.DINOV2_FILE}" and dino.root == "hub"
    assert dino.urls == (encoders.DINOV2_URL,)
    assert dino.sha256 == "b938bf1bc15cd2ec0feacfe3a1bb553fe8ea9ca46a7e1d8d00217f29aef60cd9"
    assert resnet.sha256 == "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec"
    assert [r.name for r in items if r.root == "hub"] == ["ResNet18 ImageNet-1k weights", "DINOv2 ViT-S/14 weights"]
    assert dl.main(["--profile", "full", "--manifest"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(items)
