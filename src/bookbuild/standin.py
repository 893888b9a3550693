"""Stand-in runs (never published) and the glue check of executed chapters.

A project may run its book against stand-in inputs (generated files with the real formats but
meaningless content) to show that a profile's code executes. It names the environment variable
that switches such a run on in ``pyproject.toml``::

    [tool.bookbuild]
    standin_env = "SOME_VARIABLE"

When that variable is set (``1``, ``true`` or ``yes``), bookbuild keeps everything of the run in
``_build/standin/`` (execution store, manifest, logs), executes chapters but refuses to render
the site (so nothing stand-in can reach ``_build/html`` or a deployment), and its manifest says
it is a stand-in run.

:func:`glue_problems` finds ``{glue}`` references in a chapter's text whose key its executed
notebook never glues: the check a render would make, done without rendering.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import nbformat

TRUE = ("1", "true", "yes")


def variable(root: Path) -> str | None:
    """The stand-in switch named by ``[tool.bookbuild] standin_env`` in ``root/pyproject.toml``."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        table = tomllib.loads(path.read_text(encoding="utf8")).get("tool", {}).get("bookbuild", {})
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: invalid TOML ({err})") from None
    name = table.get("standin_env")
    if name is not None and not (isinstance(name, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)):
        raise ValueError(f"{path}: [tool.bookbuild] standin_env must be an environment variable name; got {name!r}")
    return name


def active(root: Path, environ: dict[str, str]) -> str | None:
    """The switch's name if this is a stand-in run, else None."""
    name = variable(root)
    if name and environ.get(name, "").strip().lower() in TRUE:
        return name
    return None


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
