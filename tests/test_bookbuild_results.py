"""bookbuild.results: a chapter's glued values and figure fingerprints, read from its executed notebook."""

from __future__ import annotations

import base64
import struct

import nbformat

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
