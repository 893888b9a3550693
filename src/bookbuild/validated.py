"""nbval keyed like the build: ``python -m bookbuild nbval`` (``make nbval``).

nbval re-executes each chapter's stored notebook in a fresh kernel and compares the outputs with
the stored ones. Once a chapter's stored notebook for its current key has passed, that is recorded
in the store beside the entry (``<store>/<chapter>/<key>.nbval``, see
:meth:`bookbuild.store.Store.put_validation`) with what the verdict depends on besides the key: the
notebook's SHA-256 (the entry that was compared), the nbval version and the digest of the
sanitizer file. Later runs skip a chapter whose record matches all of these; any change to the
chapter's key (code, imported modules, packages, data, environment) finds no record and
re-validates it, and so does a new nbval version or an edited sanitizer. ``--full`` (``make nbval
FULL=1``, the main-branch workflow) validates every chapter and refreshes the records. Each cell
may run for the build's cell timeout (``_config.yml``'s ``execute.timeout``; ``--cell-timeout``
overrides).

A record is written only for a notebook every one of whose code cells passed (or was skipped by an
``nbval-skip`` marker) and none failed; the per-cell outcomes come from a small pytest plugin
(``-p bookbuild.validated``) that the pytest run loads, on the controlling process when xdist runs
the notebooks in parallel workers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import nbformat

from bookbuild.build import context, say
from bookbuild.deps import code_sources
from bookbuild.store import Store

REPORT_ENV = "BOOKBUILD_NBVAL_REPORT"


def nbval_version() -> str:
    try:
        return metadata.version("nbval")
    except metadata.PackageNotFoundError:
        raise FileNotFoundError("nbval is not installed: `pip install -e '.[dev]'` installs it") from None


def sanitizer_digest(path: Path | None) -> str:
    """SHA-256 of the sanitizer file (``"none"`` without one); a missing file is an error naming it."""
    if path is None:
        return "none"
    if not Path(path).is_file():
        raise FileNotFoundError(f"nbval sanitizer file {path} does not exist; pass --sanitize with an existing file")
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def record_for(meta: dict, version: str, sanitizer: str) -> dict:
    """The validation record of a stored entry (its metadata ``meta``) under this nbval and sanitizer."""
    return {
        "chapter": meta["chapter"],
        "key": meta["key"],
        "notebook_sha256": meta["sha256"],
        "nbval_version": version,
        "sanitizer_sha256": sanitizer,
    }


def is_validated(store: Store, chapter: str, key: str, meta: dict, version: str, sanitizer: str) -> bool:
    """Whether the store records that nbval passed this entry under this nbval version and sanitizer."""
    record = store.validation(chapter, key)
    if record is None:
        return False
    wanted = record_for(meta, version, sanitizer)
    return all(record.get(k) == v for k, v in wanted.items())


# --- the pytest plugin (loaded with ``-p bookbuild.validated`` in the nbval run) -----------------

_outcomes: dict[str, dict[str, int]] = {}


def pytest_runtest_logreport(report) -> None:  # noqa: ANN001 -- pytest's TestReport
    """Count each notebook's cell outcomes (on xdist's controller, workers' reports arrive here too)."""
    counts = _outcomes.setdefault(report.nodeid.split("::", 1)[0], {"passed": 0, "skipped": 0, "failed": 0})
    if report.failed:
        counts["failed"] += 1
    elif report.when == "call" and report.passed:
        counts["passed"] += 1
    elif report.skipped and not hasattr(report, "wasxfail"):  # nbval-skip; an xfail (timed-out run) is no pass
        counts["skipped"] += 1


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ANN001
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller writes the report
        return
    target = os.environ.get(REPORT_ENV)
    if target:
        # By file name: the exported notebooks are named after their chapters, one folder.
        files = {Path(nodefile).name: counts for nodefile, counts in _outcomes.items()}
        Path(target).write_text(json.dumps({"exitstatus": int(exitstatus), "files": files}, indent=1))


# --- the command -------------------------------------------------------------------------------


def notebook_passed(counts: dict[str, int] | None, nb: nbformat.NotebookNode) -> bool:
    """Every code cell of ``nb`` passed (or was skipped by a marker) and nothing failed."""
    if counts is None or counts["failed"]:
        return False
    return counts["passed"] + counts["skipped"] == len(code_sources(nb)) and counts["passed"] > 0


def cmd_nbval(args: argparse.Namespace) -> int:
    ctx = context(args.root, args.package, args.library_root)
    version, sanitizer = nbval_version(), sanitizer_digest(args.sanitize)
    out: Path = args.out if args.out.is_absolute() else ctx.paths.root / args.out
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.ipynb"):
        stale.unlink()
    missing, pending, skipped = [], {}, []
    for ch in ctx.plan(args.only):
        entry = ctx.store.get(ch.name, ch.key.key, code_sources(ch.nb))
        if entry is None:
            missing.append(ch.docname)
            continue
        if not args.full and is_validated(ctx.store, ch.name, ch.key.key, entry.meta, version, sanitizer):
            skipped.append(ch.docname)
            continue
        target = (out / f"{Path(ch.docname).name}.ipynb").resolve()
        nbformat.write(entry.nb, target)
        pending[str(target)] = (ch, entry)
    if missing:
        say(f"error: no executed outputs for {', '.join(missing)} with the current inputs; run `make book` first")
        return 1
    for doc in skipped:
        say(f"nbval: {doc} skipped: its current key already passed nbval {version} with this sanitizer")
    if not pending:
        say(f"nbval: all {len(skipped)} chapter(s) already validated for their current keys (FULL=1 validates all)")
        return 0
    workers = min(len(pending), max(1, 2 * args.cores))
    report = out / "report.json"
    report.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "bookbuild.validated"]
    cmd += ["-n", str(workers), "--dist", "loadscope"] if workers > 1 else []
    timeout = args.cell_timeout or ctx.config.timeout  # the build's one cell timeout, unless overridden
    cmd += ["--nbval", *sorted(pending), "--nbval-cell-timeout", str(timeout)]
    # nbval's 60 s default for a kernel to start is missed on a loaded 2-core machine ("Kernel died
    # before replying to kernel_info" for every cell of one chapter): the cell timeout bounds it too.
    cmd += ["--nbval-kernel-startup-timeout", str(timeout)]
    cmd += ["--nbval-sanitize-with", str(args.sanitize)] if args.sanitize else []
    say(f"nbval: validating {len(pending)} chapter(s): " + " ".join(cmd))
    rc = subprocess.call(cmd, cwd=ctx.paths.root, env={**os.environ, REPORT_ENV: str(report)})
    outcomes = json.loads(report.read_text()) if report.exists() else {"files": {}}
    for path, (ch, entry) in sorted(pending.items()):
        if notebook_passed(outcomes["files"].get(Path(path).name), entry.nb):
            record = {**record_for(entry.meta, version, sanitizer), "validated_at": datetime.now(UTC).isoformat()}
            ctx.store.put_validation(ch.name, ch.key.key, record)
            say(f"nbval: {ch.docname} [{ch.key.key}] passed; recorded in the store")
        else:
            say(f"nbval: {ch.docname} [{ch.key.key}] did not pass; not recorded")
    return rc


def add_parser(sub) -> None:  # noqa: ANN001 -- argparse's subparsers action
    v = sub.add_parser(
        "nbval",
        help="re-execute the stored notebooks with nbval, skipping chapters whose current key already passed",
    )
    v.add_argument(
        "--only", type=lambda t: [x for x in t.split(",") if x], default=None, help="comma-separated chapters"
    )
    v.add_argument("--full", action="store_true", help="validate every chapter, recorded or not (make nbval FULL=1)")
    v.add_argument("--out", type=Path, default=Path("_build/nbval"), help="where the notebooks are written")
    v.add_argument("--sanitize", type=Path, default=None, help="nbval's --nbval-sanitize-with file")
    v.add_argument(
        "--cell-timeout", type=int, default=None, help="seconds per cell (default: _config.yml's execute.timeout)"
    )
    v.add_argument(
        "--cores",
        type=int,
        default=os.cpu_count() or 1,
        help="pytest-xdist workers: up to twice this many, one notebook each (default: the number of cores)",
    )
