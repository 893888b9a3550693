"""Download-and-verify for the ``full`` profile: MNIST, ResNet18 and DINOv2 ViT-S/14.

Every file is fetched into a temporary file in its destination folder, its checksum is checked,
and only then is it renamed into place (``os.replace``, atomic on one file system). A wrong
checksum raises :class:`ChecksumError` and removes the bad file; a download cut short (the
connection dropped mid-body, or fewer bytes than ``Content-Length``) raises
:class:`DownloadError` and leaves nothing at the final path. So a file at its final path has
always been verified once; :func:`ensure` verifies it again before trusting it.

The manifest (:func:`manifest`) is the cache layout that :mod:`lecturekit.data` and
:mod:`lecturekit.encoders` read:

- MNIST: the four idx ``.gz`` files under ``<cache>/data/MNIST/raw`` (URLs and MD5s read from the
  installed torchvision's ``MNIST.mirrors`` / ``MNIST.resources``), each also decompressed
  beside it, as torchvision's ``MNIST`` expects (``<cache>`` is ``$LECTUREKIT_CACHE``).
- ResNet18 (ImageNet-1k): ``<hub>/checkpoints/resnet18-f37072fd.pth`` (URL from torchvision's
  ``ResNet18_Weights.IMAGENET1K_V1``; its name carries the first 8 hex digits of its SHA-256,
  which torch.hub checks; the full SHA-256 is pinned here). ``<hub>`` is ``torch.hub.get_dir()``,
  i.e. ``$TORCH_HOME/hub``.
- DINOv2 ViT-S/14: Meta's weights ``<hub>/checkpoints/dinov2_vits14_pretrain.pth`` (the same file,
  and checksum, that torch.hub's ``dinov2_vits14`` loads). The architecture comes from timm, a
  pinned dependency, so no repository code is downloaded.

Command line (prints what it fetched and each file's SHA-256)::

    python -m lecturekit.download --profile full [--dest CACHE] [--torch-home DIR]
    python -m lecturekit.download --profile full --verify-only   # no network: check what is there
    python -m lecturekit.download --profile full --manifest      # the manifest as JSON (cache keys)
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from lecturekit import profile as _profile
from lecturekit import progress

CHUNK = 1 << 20

# Pinned here, not read from a package. Where each value comes from:
# - ResNet18: SHA-256 whose first 8 hex digits (f37072fd) torchvision puts in the file name and
#   torch.hub's check_hash verifies; the full digest and size as pinned by several independent
#   public projects.
# - DINOv2 ViT-S/14: SHA-256 and size as pinned by several independent public projects; upstream
#   publishes no checksum. If a full run ever reports a mismatch, the error prints the digest it
#   computed: check the file's provenance before re-pinning. The file is Meta's state dict; it is
#   loaded into timm's implementation of the architecture (lecturekit.encoders.dinov2_vits14).
RESNET18_SHA256 = "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec"
RESNET18_SIZE = 46_830_571
DINOV2_VITS14_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth"
DINOV2_VITS14_SHA256 = "b938bf1bc15cd2ec0feacfe3a1bb553fe8ea9ca46a7e1d8d00217f29aef60cd9"
DINOV2_VITS14_SIZE = 88_283_115

# Decompressed MNIST idx sizes: a 16-byte header + 28x28 bytes per image, 8 + 1 per label.
_MNIST_UNPACKED_SIZES = {
    "train-images-idx3-ubyte": 16 + 60_000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60_000,
    "t10k-images-idx3-ubyte": 16 + 10_000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10_000,
}

_HEX = re.compile(r"^[0-9a-f]+$")


class DownloadError(RuntimeError):
    """A download failed or was cut short; nothing was left at the final path."""


class ChecksumError(ValueError):
    """A file's size or checksum is not the pinned one; the bad file was removed."""


@dataclass(frozen=True)
class Resource:
    """One file of the manifest.

    Attributes:
        name: what it is (shown in messages).
        root: ``"cache"`` (``$LECTUREKIT_CACHE``) or ``"hub"`` (torch's hub folder).
        path: location under ``root``, ``/``-separated.
        urls: mirrors, tried in order.
        sha256: pinned SHA-256 (64 hex digits) or None.
        md5: pinned MD5 (32 hex digits) or None; at least one checksum is required.
        size: pinned size in bytes, or None.
        unpacked_size: for ``.gz`` files, the size of the decompressed file written beside
            it (the path without ``.gz``); None for files used as they are.
    """

    name: str
    root: str
    path: str
    urls: tuple[str, ...]
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    unpacked_size: int | None = None


def _check_digest_arg(value: str | None, length: int, kind: str) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if len(value) != length or not _HEX.match(value):
        raise ValueError(f"{kind} must be {length} hex digits; got {value!r}")
    return value


def file_digests(path: str | Path) -> dict[str, str]:
    """SHA-256 and MD5 of a file, read once in 1 MiB chunks.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x"; _ = p.write_bytes(b"abc")
    >>> file_digests(p)["md5"]
    '900150983cd24fb0d6963f7d28e17f72'
    """
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            sha.update(block)
            md5.update(block)
    return {"sha256": sha.hexdigest(), "md5": md5.hexdigest()}


def verify(
    path: str | Path,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    remove_bad: bool = True,
) -> str:
    """Check a file against its pinned size and checksums; return its SHA-256.

    Args:
        path: the file.
        sha256: expected SHA-256 (64 hex digits), or None.
        md5: expected MD5 (32 hex digits), or None.
        size: expected size in bytes, or None.
        remove_bad: delete the file when it does not match.

    Raises:
        ValueError: neither checksum given, or a checksum is malformed.
        FileNotFoundError: no file at ``path``.
        ChecksumError: size or a checksum differs (the message gives expected and got values).

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "x"; _ = p.write_bytes(b"abc")
    >>> verify(p, md5="900150983cd24fb0d6963f7d28e17f72")[:8]
    'ba7816bf'
    """
    sha256 = _check_digest_arg(sha256, 64, "sha256")
    md5 = _check_digest_arg(md5, 32, "md5")
    if sha256 is None and md5 is None:
        raise ValueError("verify needs a pinned sha256 or md5; got neither")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file to verify at {path}")
    problems = []
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        problems.append(f"size expected {size} bytes, got {actual_size}")
    got = file_digests(path)
    if sha256 is not None and got["sha256"] != sha256:
        problems.append(f"sha256 expected {sha256}, got {got['sha256']}")
    if md5 is not None and got["md5"] != md5:
        problems.append(f"md5 expected {md5}, got {got['md5']}")
    if problems:
        if remove_bad:
            path.unlink(missing_ok=True)
        raise ChecksumError(f"{path.name}: {'; '.join(problems)}" + ("; the file was removed" if remove_bad else ""))
    return got["sha256"]


def fetch(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` atomically, verified against its pinned checksum.

    The body goes to a temporary file in ``dest``'s folder; it is renamed to ``dest`` only after
    the byte count (``Content-Length``, ``size``) and the checksums match. On any failure the
    temporary file is removed and ``dest`` is left as it was (absent, or the previous file).

    Args:
        url: where to download from (http, https or file).
        dest: final path; its folder is created.
        sha256: expected SHA-256 (64 hex digits), or None.
        md5: expected MD5 (32 hex digits), or None; at least one of the two is required.
        size: expected size in bytes, or None.
        timeout: seconds to wait on the connection.

    Returns:
        ``dest`` as a Path.

    Raises:
        ValueError: no checksum given, or a malformed one.
        DownloadError: the request failed or the body was cut short.
        ChecksumError: the downloaded bytes are not the pinned ones (nothing is kept).

    >>> fetch("http://127.0.0.1:9/x", "/tmp/x")  # doctest: +SKIP
    Traceback (most recent call last):
    ValueError: fetch needs a pinned sha256 or md5 for http://127.0.0.1:9/x; got neither
    """
    sha256 = _check_digest_arg(sha256, 64, "sha256")
    md5 = _check_digest_arg(md5, 32, "md5")
    if sha256 is None and md5 is None:
        raise ValueError(f"fetch needs a pinned sha256 or md5 for {url}; got neither")
    dest = Path(dest)
    try:
        with _profile.atomic_file(dest) as tmp:
            written = 0
            with open(tmp, "wb") as out:
                request = urllib.request.Request(url, headers={"User-Agent": "lecturekit-download"})
                try:
                    with urllib.request.urlopen(request, timeout=timeout) as response:
                        declared = response.headers.get("Content-Length")
                        while True:
                            block = response.read(CHUNK)
                            if not block:
                                break
                            out.write(block)
                            written += len(block)
                except (OSError, http.client.HTTPException) as exc:  # URLError, IncompleteRead, resets
                    raise DownloadError(f"download of {url} failed after {written} bytes: {exc!r}") from exc
                if declared is not None and written != int(declared):
                    raise DownloadError(f"download of {url} is incomplete: got {written} of {declared} bytes")
                out.flush()
                os.fsync(out.fileno())
            verify(tmp, sha256=sha256, md5=md5, size=size, remove_bad=True)
    except ChecksumError as exc:
        raise ChecksumError(f"{url} -> {dest}: {exc}") from None
    return dest


def _gunzip(src: Path, dest: Path, size: int | None) -> None:
    """Decompress ``src`` to ``dest`` atomically (temporary file, size check, rename)."""
    with _profile.atomic_file(dest) as tmp:
        with open(tmp, "wb") as out, gzip.open(src, "rb") as gz:
            shutil.copyfileobj(gz, out, CHUNK)
        if size is not None and tmp.stat().st_size != size:
            raise ChecksumError(f"{src.name} decompressed to {tmp.stat().st_size} bytes, expected {size}")


def manifest() -> list[Resource]:
    """Everything the ``full`` profile downloads, in the order :func:`ensure_all` fetches it.

    MNIST's URLs and MD5s come from the installed torchvision (``MNIST.mirrors`` and
    ``MNIST.resources``), the ResNet18 URL from ``ResNet18_Weights.IMAGENET1K_V1``.

    >>> [r.path for r in manifest()][-1]
    'checkpoints/dinov2_vits14_pretrain.pth'
    """
    from torchvision.datasets import MNIST
    from torchvision.models import ResNet18_Weights

    items: list[Resource] = []
    for filename, md5 in MNIST.resources:
        stem = filename[:-3] if filename.endswith(".gz") else filename
        items.append(
            Resource(
                name=f"MNIST {filename}",
                root="cache",
                path=f"data/MNIST/raw/{filename}",
                urls=tuple(f"{mirror}{filename}" for mirror in MNIST.mirrors),
                md5=md5,
                unpacked_size=_MNIST_UNPACKED_SIZES.get(stem),
            )
        )
    resnet_url = ResNet18_Weights.IMAGENET1K_V1.url
    items.append(
        Resource(
            name="ResNet18 ImageNet-1k weights",
            root="hub",
            path=f"checkpoints/{resnet_url.rsplit('/', 1)[-1]}",
            urls=(resnet_url,),
            sha256=RESNET18_SHA256,
            size=RESNET18_SIZE,
        )
    )
    items.append(
        Resource(
            name="DINOv2 ViT-S/14 weights",
            root="hub",
            path="checkpoints/dinov2_vits14_pretrain.pth",
            urls=(DINOV2_VITS14_URL,),
            sha256=DINOV2_VITS14_SHA256,
            size=DINOV2_VITS14_SIZE,
        )
    )
    return items


def _roots(cache: str | Path | None, hub: str | Path | None) -> dict[str, Path]:
    if hub is None:
        import torch

        hub = torch.hub.get_dir()
    return {"cache": Path(cache) if cache is not None else _profile.cache_dir(), "hub": Path(hub)}


def ensure(resource: Resource, root: str | Path, offline: bool = False, timeout: float = 60.0) -> str:
    """Make ``resource`` present and verified under ``root``; return its SHA-256.

    A file already there is verified (and removed if bad) before anything is downloaded; the
    mirrors are tried in order; a ``.gz`` file is also decompressed beside it.

    Args:
        resource: a manifest entry.
        root: the folder its ``path`` is relative to.
        offline: only verify what is there; never download.
        timeout: seconds to wait on each connection.

    Raises:
        DownloadError: every mirror failed (the message lists why), or ``offline`` and missing.
        ChecksumError: ``offline`` and the file there is bad (it was removed).
    """
    dest = Path(root) / resource.path
    if dest.is_file():
        try:
            digest = verify(dest, resource.sha256, resource.md5, resource.size, remove_bad=True)
            progress.report(f"{resource.name}: verified {dest}")
        except ChecksumError:
            if offline:
                raise
            digest = ""
    else:
        digest = ""
    if not digest:
        if offline:
            raise DownloadError(f"{resource.name} is missing at {dest} and this run may not download")
        failures = []
        for url in resource.urls:
            try:
                progress.report(f"{resource.name}: downloading {url}")
                fetch(url, dest, resource.sha256, resource.md5, resource.size, timeout=timeout)
                break
            except (DownloadError, ChecksumError) as exc:
                failures.append(str(exc))
        else:
            raise DownloadError(f"could not fetch {resource.name}:\n  " + "\n  ".join(failures))
        digest = file_digests(dest)["sha256"]
    if resource.unpacked_size is not None:
        unpacked = dest.with_suffix("")
        if not unpacked.is_file() or unpacked.stat().st_size != resource.unpacked_size:
            if offline and not unpacked.is_file():
                raise DownloadError(f"{unpacked} is missing (run without --verify-only to unpack it)")
            _gunzip(dest, unpacked, resource.unpacked_size)
    return digest


def ensure_all(
    cache: str | Path | None = None, hub: str | Path | None = None, offline: bool = False
) -> list[tuple[str, Path, str]]:
    """Fetch and verify the whole :func:`manifest`; return ``(name, path, sha256)``.

    Args:
        cache: the lecturekit cache (default :func:`lecturekit.profile.cache_dir`).
        hub: torch's hub folder (default ``torch.hub.get_dir()``, i.e. ``$TORCH_HOME/hub``).
        offline: verify only, download nothing.
    """
    roots = _roots(cache, hub)
    done = []
    for item in manifest():
        root = roots[item.root]
        done.append((item.name, root / item.path, ensure(item, root, offline)))
    return done


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m lecturekit.download --profile full`` (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m lecturekit.download", description="Download and verify the files a profile needs."
    )
    parser.add_argument("--profile", default=None, help="lite or full (default $LECTUREKIT_PROFILE)")
    parser.add_argument(
        "--dest",
        type=Path,
        default=None,
        help="lecturekit cache folder (default $LECTUREKIT_CACHE or ~/.cache/lecturekit)",
    )
    parser.add_argument(
        "--torch-home",
        type=Path,
        default=None,
        help="torch home; hub files go to <torch-home>/hub (default $TORCH_HOME)",
    )
    parser.add_argument("--verify-only", action="store_true", help="check what is there, download nothing")
    parser.add_argument("--manifest", action="store_true", help="print the manifest as JSON and exit")
    args = parser.parse_args(argv)
    try:
        name = _profile.active(args.profile)
    except ValueError as exc:
        parser.error(str(exc))
    if name == "lite":
        print("lite profile: nothing to download (its data ship with scikit-learn).")
        return 0
    if args.manifest:
        print(json.dumps([{"kind": type(i).__name__, **asdict(i)} for i in manifest()], indent=1, sort_keys=True))
        return 0
    offline = args.verify_only
    if not offline and _profile.flag("LECTUREKIT_OFFLINE"):
        print("error: LECTUREKIT_OFFLINE is set; use --verify-only or unset it", file=sys.stderr)
        return 2
    hub = args.torch_home / "hub" if args.torch_home is not None else None
    try:
        done = ensure_all(args.dest, hub, offline=offline)
    except (DownloadError, ChecksumError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for item, path, digest in done:
        print(f"ok  {digest}  {path}  ({item})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
