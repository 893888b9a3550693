"""bookbuild.glue: which glue keys a chapter's text uses and which its executed notebook defines."""

from __future__ import annotations

import nbformat

from bookbuild import glue


def _glued(*names):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("glue('x', 1)")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/plain": "1"}, metadata={"scrapbook": {"name": n}})
        for n in names
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("t"), cell]
    return nb


def test_glue_keys_are_read_from_every_role_and_directive_form():
    source = nbformat.v4.new_notebook()
    source.cells = [
        nbformat.v4.new_markdown_cell(
            "{glue}`a` {glue:}`b` {glue:text}`c:.2f` {glue:md}`d:myst` {glue:text}`other::e`\n"
            "```{glue:figure} f\n:name: x\n```\n"
            ":::{glue} g\n:::\n"
            "  ````{glue:math} h\n````\n"
        ),
        nbformat.v4.new_code_cell("# {glue}`not_text` in code"),
    ]
    assert glue.referenced_keys(source) == {"a", "b", "c", "d", "f", "g", "h"}
    executed = _glued("a", "b", "c", "z")
    executed.cells.append(nbformat.v4.new_markdown_cell("{glue}`q`"))
    executed.cells.append(nbformat.from_dict({"cell_type": "code", "source": "", "metadata": {}}))  # no outputs
    executed.cells[1].outputs.append(nbformat.v4.new_output("stream", name="stdout", text="no metadata"))
    assert glue.glued_keys(executed) == {"a", "b", "c", "z"}
    assert glue.glue_problems(source, executed) == ["d", "f", "g", "h"]


def test_glue_references_and_definitions():
    source = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell(
                "A {glue:text}`a:.2f`, {glue}`b`, {glue:md}`c:myst`, {glue:any}`d`, "
                "{glue:text}`page::e`.\n\n```{glue:figure} f\n:name: fig\n```\n"
            ),
            nbformat.v4.new_code_cell("glue('a', 1)"),
        ]
    )
    assert glue.referenced_keys(source) == {"a", "b", "c", "d", "f"}
    executed = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "",
                outputs=[
                    nbformat.v4.new_output(
                        "display_data",
                        data={"text/plain": "1"},
                        metadata={"scrapbook": {"name": name, "mime_prefix": ""}},
                    )
                    for name in ("a", "b", "c")
                ],
            )
        ]
    )
    assert glue.glued_keys(executed) == {"a", "b", "c"}
    assert glue.glue_problems(source, executed) == ["d", "f"]
