"""The glue check of executed chapters: every ``{glue}`` key a chapter's text uses must be glued.

:func:`glue_problems` finds ``{glue}`` references in a chapter's text whose key its executed
notebook never glues: the check a render would make, done without rendering (``bookbuild
execute`` runs it, so that a stand-in run, which is never rendered, still checks its text).
"""

from __future__ import annotations

import re

import nbformat

# {glue}`key`, {glue:}`key`, {glue:text}`key:.2f`, {glue:md}`key:myst` ... and ```{glue:figure} key
_ROLE = re.compile(r"\{glue(?::[a-z]*)?\}`([^`]+)`")
_DIRECTIVE = re.compile(r"^\s*(?:`{3,}|:{3,})\{glue(?::[a-z]*)?\}\s+(\S+)", re.M)


def referenced_keys(nb: nbformat.NotebookNode) -> set[str]:
    """Glue keys the markdown cells of ``nb`` refer to (references into other pages, ``page::key``, skipped)."""
    keys = set()
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for content in [*_ROLE.findall(cell.source), *_DIRECTIVE.findall(cell.source)]:
            if "::" not in content:
                keys.add(content.split(":", 1)[0].strip())
    return keys


def glued_keys(executed: nbformat.NotebookNode) -> set[str]:
    """Keys the executed notebook glued (myst-nb records them in output metadata, ``scrapbook.name``)."""
    keys = set()
    for cell in executed.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                keys.add(name)
    return keys


def glue_problems(source: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> list[str]:
    """Glue keys ``source``'s text uses that ``executed`` never defines, sorted."""
    return sorted(referenced_keys(source) - glued_keys(executed))
