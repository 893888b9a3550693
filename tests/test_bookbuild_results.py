"""bookbuild.results: a chapter's glued values and figure fingerprints, read from its executed notebook."""

from __future__ import annotations

import base64
import struct

import nbformat
from minibook import glued_output

from bookbuild import results


def test_results_are_extracted_from_glue_outputs_and_images():
    nb = nbformat.v4.new_notebook()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", 7, 5) + b"rest").decode()
    glued = nbformat.v4.new_output(
        "display_data",
        data={"application/papermill.record/text/plain": "0.25"},
        metadata={"scrapbook": {"name": "ratio", "mime_prefix": "application/papermill.record/"}},
    )
    shown = nbformat.v4.new_output(
        "display_data",
        data={"text/plain": "np.float64(2.5)"},
        metadata={"scrapbook": {"name": "wrapped", "mime_prefix": ""}},
    )
    text = nbformat.v4.new_output(
        "display_data",
        data={"application/papermill.record/text/plain": "'lite'"},
        metadata={"scrapbook": {"name": "profile", "mime_prefix": "application/papermill.record/"}},
    )
    figure = nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})
    c1, c2, c3 = (nbformat.v4.new_code_cell(s) for s in ("glue()", "plot()", "plot2()"))
    c1.outputs = [glued, shown, text]
    c2.outputs = [figure]
    c2.metadata = {"mystnb": {"figure": {"name": "fig-spectrum", "caption": "c"}}}
    c3.outputs = [figure, figure]
    nb.cells = [c1, c2, c3]
    r = results.extract(nb)
    assert r["glue"] == {
        "profile": {"mime": "text/plain", "text": "'lite'", "value": None},
        "ratio": {"mime": "text/plain", "text": "0.25", "value": 0.25},
        "wrapped": {"mime": "text/plain", "text": "np.float64(2.5)", "value": 2.5},
    }
    assert list(r["figures"]) == ["fig-spectrum", "cell 3 [1]", "cell 3 [2]"]
    assert r["figures"]["fig-spectrum"]["width"] == 7 and r["figures"]["fig-spectrum"]["height"] == 5
    assert r["figures"]["fig-spectrum"]["sha256"] == __import__("hashlib").sha256(base64.b64decode(png)).hexdigest()
    assert [results.number(t) for t in ("3", "-1e-3", "True", "'x'", "[1]", "tensor(0.5000)", "nan")] == [
        3.0,
        -0.001,
        None,
        None,
        None,
        0.5,
        None,
    ]


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", 7, 5) + b"rest"
OTHER_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", 8, 5) + b"more"


def test_glued_images_are_fingerprinted_with_mystnbs_prefix_and_images_as_execute_results_too():
    png = base64.b64encode(PNG_BYTES).decode()
    digest = __import__("hashlib").sha256(PNG_BYTES).hexdigest()
    shown = nbformat.v4.new_output("execute_result", data={"image/png": png, "text/plain": "<Image>"})
    shown.execution_count = 2
    c1, c2 = nbformat.v4.new_code_cell("glue('fig', f)"), nbformat.v4.new_code_cell("Image(b)")
    c1.outputs = [
        glued_output("fig", {"image/png": png, "text/plain": "<Figure size 7x5>"}),
        glued_output("late", {"image/png": png, "text/plain": "<Figure>"}, kind="execute_result"),
        glued_output("plain", {"image/png": [png[:10], png[10:]], "text/plain": ["<Fig", "ure>"]}, prefix=""),
    ]
    c2.outputs = [shown]
    nb = nbformat.v4.new_notebook()
    nb.cells = [c1, c2]
    r = results.extract(nb)
    expected = {"mime": "image/png", "sha256": digest, "bytes": len(PNG_BYTES), "width": 7, "height": 5}
    assert r["glue"] == {
        "fig": {**expected, "text": "<Figure size 7x5>", "value": None},
        "late": {**expected, "text": "<Figure>", "value": None},
        "plain": {**expected, "text": "<Figure>", "value": None},
    }
    assert r["figures"] == {"cell 2": expected}  # glued images are not also figures
    other = nbformat.v4.new_notebook()
    other.cells = [nbformat.v4.new_code_cell("glue('fig', f)")]
    other.cells[0].outputs = [
        glued_output("fig", {"image/png": base64.b64encode(OTHER_PNG).decode(), "text/plain": "<F>"})
    ]
    assert results.extract(other)["glue"]["fig"]["sha256"] != digest
    assert results.extract(other)["outputs"] != r["outputs"]


def test_fingerprints_of_other_image_kinds_and_short_pngs():
    svg = results.fingerprint("image/svg+xml", "<svg/>")
    assert svg == {"mime": "image/svg+xml", "sha256": __import__("hashlib").sha256(b"<svg/>").hexdigest(), "bytes": 6}
    assert results.fingerprint("image/svg+xml", ["<svg", "/>"]) == svg
    jpeg = results.fingerprint("image/jpeg", base64.b64encode(b"\xff\xd8jpeg").decode())
    assert jpeg["bytes"] == 6 and "width" not in jpeg
    short = results.fingerprint("image/png", base64.b64encode(PNG_BYTES[:23]).decode())
    assert "width" not in short and short["bytes"] == 23
    at_24 = results.fingerprint("image/png", base64.b64encode(PNG_BYTES[:24]).decode())
    assert (at_24["width"], at_24["height"]) == (7, 5)
    not_png = results.fingerprint("image/png", base64.b64encode(b"GIF89a" + PNG_BYTES[6:]).decode())
    assert "width" not in not_png
    assert results.fingerprint("application/json", {"b": 1, "a": 2})["bytes"] == len(b'{"a": 2, "b": 1}')


def test_figures_take_the_cells_name_or_its_number_among_code_cells():
    png = base64.b64encode(PNG_BYTES).decode()
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_code_cell(f"plot({i})") for i in range(3)]
    for c in cells:
        c.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
    cells[1].metadata = {"name": "by-cell-name"}
    cells[2].metadata = {"mystnb": {"figure": {"caption": "no name"}}}
    cells[0].outputs.append(nbformat.v4.new_output("stream", name="stdout", text="not an image"))
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), *cells]
    assert list(results.extract(nb)["figures"]) == ["cell 1", "by-cell-name", "cell 3"]


def test_fingerprints_decode_pdfs_sort_json_and_read_pngs_of_any_width():
    import hashlib

    pdf = results.fingerprint("application/pdf", base64.b64encode(b"%PDF-1.4 x").decode())
    assert pdf["bytes"] == 10 and pdf["sha256"] == hashlib.sha256(b"%PDF-1.4 x").hexdigest()
    as_json = results.fingerprint("application/json", {"b": 1, "a": 2})
    assert as_json["sha256"] == hashlib.sha256(b'{"a": 2, "b": 1}').hexdigest()
    wide = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", 2**31, 2**32 - 1)
    png = results.fingerprint("image/png", base64.b64encode(wide).decode())
    assert (png["width"], png["height"]) == (2**31, 2**32 - 1)
    assert results.number("1e999") is None and results.number("-1e999") is None  # infinite: no number


def test_extract_reads_notebooks_with_fields_left_out():
    """Cells and outputs as other writers leave them: no metadata, no outputs, no data, no prefix, no text."""
    nb = nbformat.from_dict(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {"cell_type": "code", "source": "a"},  # no metadata, no outputs
                {
                    "cell_type": "code",
                    "source": "b",
                    "outputs": [
                        {"output_type": "stream", "name": "stdout", "text": "first"},
                        {"output_type": "display_data"},  # no data
                        {"output_type": "display_data", "data": {"text/plain": "just text"}},
                        {"output_type": "display_data", "data": {"image/svg+xml": "<svg/>"}},
                        {
                            "output_type": "display_data",
                            "data": {"text/plain": "0.5"},
                            "metadata": {"scrapbook": {"name": "noprefix"}},
                        },
                        {
                            "output_type": "display_data",
                            "data": {"image/svg+xml": "<svg/>"},
                            "metadata": {"scrapbook": {"name": "notext", "mime_prefix": ""}},
                        },
                    ],
                },
            ],
        }
    )
    r = results.extract(nb)
    assert r["glue"]["noprefix"] == {"mime": "text/plain", "text": "0.5", "value": 0.5}
    assert r["glue"]["notext"]["text"] == "" and r["glue"]["notext"]["mime"] == "image/svg+xml"
    assert list(r["figures"]) == ["cell 2"] and r["figures"]["cell 2"]["mime"] == "image/svg+xml"


def test_the_outputs_digest_follows_every_output_and_not_key_order():
    def notebook(text, order=("name", "output_type", "text")):
        out = {"output_type": "stream", "name": "stdout", "text": text}
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell("print()")]
        nb.cells[0].outputs = [nbformat.from_dict({k: out[k] for k in order})]
        return nb

    base = results.extract(notebook("1\n"))["outputs"]
    assert results.extract(notebook("2\n"))["outputs"] != base
    assert results.extract(notebook("1\n", ("text", "output_type", "name")))["outputs"] == base
