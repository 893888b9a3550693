"""Run a chapter's downloadable notebook the way a reader would: a fresh environment, its own install cell.

Takes the reader's copy of a chapter from the built site (``_build/html/_notebooks/<doc>.ipynb``,
written by ``bookbuild.notebooks``), creates an empty virtual environment, runs **only the
notebook's first cell** in it (the install cell: from GitHub at the built commit when the build
knew its repository; otherwise the cell tells the reader to ``pip install -e .`` a checkout, and
this tool does exactly that with this checkout first), then runs every other code cell, in order,
as one script with that environment's Python. Nothing else is installed: if the install cell
misses a dependency, or a cell needs something only the book's build has, this fails.

Every value the chapter glues is recorded in that run and formatted as the page formats it; each
must equal what the notebook's text (and the page) shows (``metadata.bookbuild.glue``).

Usage: python tools/check_notebook.py [--chapter book/cake-ebm] [--site _build/html] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def code_cells(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def as_script(cells: list[str]) -> str:
    """The cells as one script; IPython-only lines (magics, shell escapes) are refused, not skipped."""
    for i, cell in enumerate(cells):
        for line in cell.splitlines():
            if line.lstrip().startswith(("%", "!")):
                raise SystemExit(
                    f"check_notebook: cell {i + 2} uses IPython syntax ({line.strip()!r}); "
                    "a reader's notebook must run as plain Python"
                )
    return "\n\n".join(f"# --- cell {i + 2}\n{c}" for i, c in enumerate(cells))


# Stands in for myst-nb in the reader's environment (where it is not installed): records every glued
# value, as text/plain (what myst-nb stores), for the comparison with the page.
RECORDER = """
import json as _json, sys as _sys, types as _types
_glued = {}
def _glue(name, variable, display=True):
    _glued[name] = repr(variable) if not isinstance(variable, str) else repr(variable)
_mod = _types.ModuleType("myst_nb"); _mod.glue = _glue; _sys.modules["myst_nb"] = _mod
import atexit as _atexit
_atexit.register(lambda: open("glued.json", "w").write(_json.dumps(_glued)))
"""


def compare_glue(nb: dict, glued: dict[str, str]) -> list[str]:
    """Each value the notebook's text shows, against the same value as this run printed it."""
    sys.path.insert(0, str(ROOT / "src"))
    from bookbuild.notebooks import format_glue

    problems = []
    for key, spec, shown in nb["metadata"]["bookbuild"]["glue"]:
        if key not in glued:
            problems.append(f"{key}: not glued in this run")
        elif format_glue(glued[key], spec) != shown:
            problems.append(f"{key}: the page shows {shown!r}, this run gives {format_glue(glued[key], spec)!r}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", default="book/cake-ebm")
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    path = args.site / "_notebooks" / f"{args.chapter}.ipynb"
    if not path.exists():
        sys.exit(f"check_notebook: {path} does not exist; build the site first (`make book`)")
    nb = json.loads(path.read_text())
    install, *rest = code_cells(nb)
    if "pip" not in install or "install" not in install:
        sys.exit(f"check_notebook: the first cell of {path} is not an install cell:\n{install}")
    with tempfile.TemporaryDirectory(prefix="reader-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        env_dir = work / "venv"
        t0 = time.time()
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        python = env_dir / "bin" / "python"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env.update(MPLBACKEND="Agg", LECTUREKIT_CACHE=str(work / "cache"), PYTHONHASHSEED="0")
        print(f"check_notebook: fresh environment {env_dir}; running the install cell of {path.name}", flush=True)
        if "pip install -e ." in install and "git+https://" not in install:  # what the cell tells the reader
            subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True, env=env, cwd=work)
        subprocess.run([str(python), "-c", install], check=True, env=env, cwd=work)
        t1 = time.time()
        script = work / "chapter.py"
        script.write_text(RECORDER + "\n" + as_script(rest))
        print(f"check_notebook: installed in {t1 - t0:.0f} s; running the {len(rest)} other cells", flush=True)
        done = subprocess.run([str(python), str(script)], env=env, cwd=work)
        print(
            f"check_notebook: {args.chapter} {'ran' if done.returncode == 0 else 'FAILED'} in "
            f"{time.time() - t1:.0f} s in a fresh environment"
        )
        if done.returncode:
            return done.returncode
        problems = compare_glue(nb, json.loads((work / "glued.json").read_text()))
        for p in problems:
            print(f"  DIFFERS {p}")
        n = len(nb["metadata"]["bookbuild"]["glue"])
        print(f"check_notebook: {n - len(problems)} of {n} values the text shows equal this run's")
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
