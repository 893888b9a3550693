"""Run ``jupyter-book build`` inside this Python process instead of a child process.

A child process pays for a second interpreter and imports again what bookbuild has already
imported (nbformat, jsonschema, yaml, jupyter-cache); the live preview goes further and imports
the whole renderer once (:func:`preload`), so each rebuild starts warm.

Only one build may run in a process at a time (docutils keeps global state; jupyter-book's
``build_sphinx`` swaps it in and out around the build), and the process's working directory is
the book root while it runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from pathlib import Path

# What ``jupyter-book build`` and this book's Sphinx extensions import; the preview imports it once.
RENDERER_MODULES = (
    "jupyter_book.cli.main",
    "jupyter_book.sphinx",
    "sphinx.application",
    "sphinx.builders.html",
    "myst_nb",
    "myst_nb.sphinx_ext",
    "myst_parser",
    "sphinx_book_theme",
    "pydata_sphinx_theme",
    "sphinx_external_toc",
    "sphinx_design",
    "sphinx_exercise",
    "sphinx_togglebutton",
    "sphinx_copybutton",
    "sphinx_comments",
    "sphinx_thebe",
    "sphinx_jupyterbook_latex",
    "sphinx_multitoc_numbering",
    "sphinxcontrib.bibtex",
    "jupyter_cache",
    "jupyter_cache.cache.main",
    "bookbuild.sphinx_ext",
)


def preload() -> None:
    """Import the renderer now (about 2 s on a laptop core), so later builds start warm."""
    import importlib

    for name in RENDERER_MODULES:
        with contextlib.suppress(ImportError):  # an optional extension missing is the build's to report
            importlib.import_module(name)


def disable_the_applications_toctree_collectors(app) -> None:
    """What sphinx-external-toc's ``disable_builtin_toctree_collector`` does, for ``app`` only.

    Its setup disables Sphinx's own toctree collector (its own replaces it) by walking every object
    in the process (``gc.get_objects()``) for an enabled ``TocTreeCollector``: 0.02 CPU-s per
    application in a process holding the renderer alone (130,000 objects), 0.12 CPU-s in one that
    has imported torch as well (600,000 objects; a test's), more as a long-lived process
    accumulates. It would also find an enabled collector of an earlier application not yet
    garbage-collected and disconnect, from this application, the listeners that have that other
    one's ids. The collectors that can matter are the ones this application calls: the owners of
    its event listeners.
    """
    from sphinx.environment.collectors.toctree import TocTreeCollector

    for collector in listener_owners(app, TocTreeCollector):
        if collector.listener_ids is not None:
            collector.disable(app)


def listener_owners(app, kind: type) -> list:
    """The objects of type ``kind`` whose bound methods ``app`` calls on its events (its collectors), once each."""
    found = {}
    for listeners in app.events.listeners.values():
        for listener in listeners:
            owner = getattr(listener.handler, "__self__", None)
            if isinstance(owner, kind):
                found[id(owner)] = owner
    return list(found.values())


def scope_external_toc_to_its_application() -> None:
    """Make sphinx-external-toc's setup use :func:`disable_the_applications_toctree_collectors`.

    Only for builds in this process; a ``jupyter-book`` child process runs the extension as released.
    """
    with contextlib.suppress(ImportError):
        from sphinx_external_toc import collectors

        collectors.disable_builtin_toctree_collector = disable_the_applications_toctree_collectors


def jupyter_book_build(argv: list[str], log: Path, cwd: Path) -> int:
    """``jupyter-book <argv>`` in this process; everything it prints goes to ``log``. Returns its exit code."""
    from jupyter_book.cli.main import main as jupyter_book

    scope_external_toc_to_its_application()
    log.parent.mkdir(parents=True, exist_ok=True)
    previous = Path.cwd()
    with open(log, "w") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            os.chdir(cwd)
            jupyter_book.main(args=list(argv), prog_name="jupyter-book", standalone_mode=False)
            rc = 0
        except SystemExit as done:  # jupyter-book exits with Sphinx's status on a failed build
            rc = done.code if isinstance(done.code, int) else 1
        except Exception:  # noqa: BLE001 -- reported in the log, like the command line would
            traceback.print_exc(file=out)
            rc = 1
        finally:
            os.chdir(previous)
            out.flush()
    sys.stdout.flush()
    return rc
