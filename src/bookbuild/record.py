"""Step 3 of a build: record what the execution gave, or why the build stops.

:func:`report_failures` prints (and logs to ``_build/logs``) every chapter that failed, which stops
the build before anything is rendered; :func:`manifest` and :func:`write_manifest` record what
produced each chapter's outputs in ``_build/exec-manifest.json`` (the status page renders it,
``bookbuild diff`` compares two of them, the next build reads its re-execution reasons from it);
:func:`glue_problems` is the check a render would make of a chapter's glue references, done
without rendering (for ``execute``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from bookbuild.book import Paths
from bookbuild.deps import code_sources
from bookbuild.execute import Outcome
from bookbuild.glue import glue_problems as _glue_problems
from bookbuild.store import Store
from bookbuild.util import atomic_write

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _read_json(path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def load_manifest(paths: Paths) -> dict:
    """The last build's manifest (``{}`` if there is none or it is unreadable)."""
    return _read_json(paths.manifest)


def previous_components(paths: Paths) -> dict:
    """``{docname: {"components": ...}}`` of the last build: what re-execution reasons compare with."""
    return load_manifest(paths).get("chapters", {})


def manifest(outcomes: list[Outcome], profile: str, device: str) -> dict:
    """What produced each chapter's outputs (the status page's data)."""
    chapters = {}
    for o in outcomes:
        chapters[o.chapter.docname] = {
            "key": o.chapter.key.key,
            "status": o.status,
            "seconds": round(o.seconds, 2),
            "executed_at": o.meta.get("executed_at"),
            "profile": o.meta.get("profile", profile),
            "device": o.meta.get("device", device),
            "packages": o.meta.get("packages", {}),
            "components": o.chapter.key.components,
            "reasons": o.reasons,
            "results": o.meta.get("results"),
        }
    return {"profile": profile, "device": device, "chapters": chapters}


def write_manifest(paths: Paths, data: dict) -> None:
    """Write the manifest; rewritten only when its content changes.

    The status page renders it, and Sphinx re-reads that page when it changes, so it holds no
    build timestamp: a build that changed nothing leaves it, and the page, as they are.
    """
    text = json.dumps(data, indent=1)
    if paths.manifest.exists() and paths.manifest.read_text() == text:
        return
    atomic_write(paths.manifest, text)


def report_failures(paths: Paths, outcomes: list[Outcome], strict: bool, say: Callable[[str], None]) -> bool:
    """Print (and log to ``_build/logs``) every failed chapter; True if the build must stop.

    ``strict``: a chapter whose cells wrote to stderr (warnings) fails too.
    """
    failed = False
    paths.logs.mkdir(parents=True, exist_ok=True)
    for o in outcomes:
        if o.status == "failed":
            failed = True
            log = paths.logs / f"{o.chapter.name}.error.txt"
            text = ANSI.sub("", o.error)
            atomic_write(log, text)
            lines = text.strip().splitlines()
            say(f"\nerror: {o.chapter.docname} failed to execute ({o.chapter.path}):")
            say("\n".join("    " + line for line in lines[-25:]))
            say(f"    (full report: {log})")
        elif strict and o.meta.get("stderr"):
            failed = True
            say(f"\nerror: {o.chapter.docname} wrote to stderr (warnings fail a strict build):")
            say("\n".join("    " + s for s in o.meta["stderr"]))
    return failed


def glue_problems(outcomes: list[Outcome], store: Store) -> list[str]:
    """``"<docname>: ..."`` for every glue key a chapter's text uses that its executed notebook never glues."""
    missing = []
    for o in outcomes:
        entry = store.get(o.chapter.name, o.chapter.key.key, code_sources(o.chapter.nb))
        for key in _glue_problems(o.chapter.nb, entry.nb) if entry is not None else []:
            missing.append(f"{o.chapter.docname}: the text uses glue key {key!r}, which no cell glues")
    return missing
