"""What a reader sees of an executed chapter: its glued values and figures, in a comparable form.

:func:`extract` reads an executed notebook and returns, JSON-ready:

- ``glue``: every value glued with myst-nb's ``glue`` (``{glue:text}`` in the prose), by name: its
  MIME type, its text (``text/plain``), its number when the text is one, and for a non-text value
  (a glued figure) the SHA-256 of its bytes;
- ``figures``: every image a code cell displays (not glued), by the figure's ``name`` from the
  cell's ``mystnb`` metadata (else ``cell <n>``), with the SHA-256 of its bytes and, for PNG,
  its width and height in pixels;
- ``outputs``: the SHA-256 of all code-cell outputs, so byte-identical chapters are recognised.

The store keeps this with each entry and the manifest with each chapter; :mod:`bookbuild.diff`
compares two of them.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import math
import re
import struct

import nbformat

GLUE_PREFIX = "application/papermill.record/"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "application/pdf")
# numpy and torch scalars as IPython shows them: np.float64(0.5), tensor(0.5), ...
_WRAPPED = re.compile(r"^(?:np\.\w+|numpy\.\w+|tensor)\((?P<num>[^,()]+)\)$")


def number(text: str) -> float | None:
    """The number a ``text/plain`` representation shows, or None (strings, lists, booleans)."""
    text = text.strip()
    m = _WRAPPED.match(text)
    if m:
        text = m.group("num")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _bytes(mime: str, payload) -> bytes:
    if isinstance(payload, list):
        payload = "".join(payload)
    if mime in ("image/png", "image/jpeg", "application/pdf"):
        return base64.b64decode(payload)
    return payload.encode("utf8") if isinstance(payload, str) else json.dumps(payload, sort_keys=True).encode()


def fingerprint(mime: str, payload) -> dict:
    """SHA-256 of an image's bytes, and its size in pixels when it is a PNG."""
    data = _bytes(mime, payload)
    out: dict = {"mime": mime, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    if mime == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        out["width"], out["height"] = struct.unpack(">II", data[16:24])
    return out


def _figure_name(cell: nbformat.NotebookNode) -> str | None:
    meta = cell.get("metadata", {})
    figure = (meta.get("mystnb") or {}).get("figure") or {}
    return figure.get("name") or meta.get("name")


def extract(nb: nbformat.NotebookNode) -> dict:
    """The glued values, figure fingerprints and an outputs digest of an executed notebook."""
    glue: dict[str, dict] = {}
    figures: dict[str, dict] = {}
    outputs = []
    for n, cell in enumerate((c for c in nb.cells if c.cell_type == "code"), start=1):
        cell_outputs = cell.get("outputs", [])
        outputs.append(cell_outputs)
        images = []
        for out in cell_outputs:
            if out.get("output_type") not in ("display_data", "execute_result"):
                continue
            data = out.get("data", {})
            scrap = (out.get("metadata") or {}).get("scrapbook")
            if scrap and scrap.get("name"):
                prefix = scrap.get("mime_prefix", "")
                bundle = {k[len(prefix) :]: v for k, v in data.items() if k.startswith(prefix)}
                text = bundle.get("text/plain", "")
                text = "".join(text) if isinstance(text, list) else text
                entry: dict = {"mime": "text/plain", "text": text, "value": number(text)}
                rich = next((m for m in IMAGE_TYPES if m in bundle), None)
                if rich:
                    entry = {**fingerprint(rich, bundle[rich]), "text": text, "value": None}
                glue[scrap["name"]] = entry
                continue
            rich = next((m for m in IMAGE_TYPES if m in data), None)
            if rich:
                images.append(fingerprint(rich, data[rich]))
        base = _figure_name(cell) or f"cell {n}"
        for i, image in enumerate(images):
            figures[base if len(images) == 1 else f"{base} [{i + 1}]"] = image
    digest = hashlib.sha256(json.dumps(outputs, sort_keys=True).encode()).hexdigest()
    return {"glue": dict(sorted(glue.items())), "figures": figures, "outputs": digest}
