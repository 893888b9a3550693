"""bookbuild.glue: the glue keys a chapter's text uses, and those its executed notebook defines."""

from __future__ import annotations

import nbformat

from bookbuild import glue as standin


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
    assert standin.referenced_keys(source) == {"a", "b", "c", "d", "f"}
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
    assert standin.glued_keys(executed) == {"a", "b", "c"}
    assert standin.glue_problems(source, executed) == ["d", "f"]
