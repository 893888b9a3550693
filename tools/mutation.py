"""Mutation testing of the library's numeric modules with mutmut (``make mutation``; not in ``make test``).

mutmut writes a mutated copy of the sources to ``mutants/`` beside ``pyproject.toml``; to keep the
tree clean this runs it in a copy of ``src/``, ``tests/``, ``conftest.py`` and ``pyproject.toml`` under
``_build/mutation/``. What is mutated and which tests run comes from ``[tool.mutmut]`` in
``pyproject.toml``. A second run reuses the results of mutants whose code and tests did not change.

    python tools/mutation.py [--jobs N] [--fresh] [MUTANT_GLOB ...]

Prints killed/total per module (a timeout counts as killed, as mutmut's score does), then every
surviving mutant's diff; both are also written to ``_build/mutation/report.txt``. Exits 1 when a
module is below ``--min-score`` percent (default 90).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "_build" / "mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")

# mutmut's exit-code meanings (mutmut.stats.status_by_exit_code), reduced to what the score needs.
KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout"}
SURVIVED = {0: "survived"}
UNTESTED = {5: "no tests", 33: "no tests"}


def copy_tree() -> None:
    """Mirror the sources, tests and configuration into WORK (mtimes kept, so mutmut can resume)."""
    WORK.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests"):
        shutil.copytree(
            ROOT / name, WORK / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
        # files deleted in the tree must go from the copy too
        for path in sorted((WORK / name).rglob("*"), reverse=True):
            if "__pycache__" in path.parts or path.is_dir():
                continue
            if not (ROOT / path.relative_to(WORK)).exists():
                path.unlink()
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy2(ROOT / name, WORK / name)


def statuses() -> dict[str, dict[str, str]]:
    """``{module path: {mutant name: status}}`` from mutmut's per-file ``.meta`` records."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for meta in sorted((WORK / "mutants").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        module = str(meta.relative_to(WORK / "mutants"))[: -len(".meta")]
        for name, code in data.get("exit_code_by_key", {}).items():
            if code is None:
                status = "not checked"
            elif code in KILLED:
                status = "killed"
            elif code in SURVIVED:
                status = "survived"
            elif code in UNTESTED:
                status = "no tests"
            else:
                status = f"other ({code})"
            out[module][name] = status
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel mutant runs")
    parser.add_argument("--fresh", action="store_true", help="discard earlier results first")
    parser.add_argument("--min-score", type=float, default=90.0, help="percent killed required per module")
    parser.add_argument("--report-only", action="store_true", help="summarize the last run without running")
    parser.add_argument("mutants", nargs="*", help="mutant names or globs (default: all)")
    args = parser.parse_args()

    if not args.report_only:
        if args.fresh and WORK.exists():
            shutil.rmtree(WORK)
        copy_tree()
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
        cmd = ["nice", "-n", "19", str(MUTMUT), "run", "--max-children", str(args.jobs), *args.mutants]
        print("+", " ".join(cmd), f"(in {WORK})", flush=True)
        subprocess.run(cmd, cwd=WORK, env=env, check=False)

    by_module = statuses()
    if not by_module:
        print(f"no mutmut results under {WORK}/mutants; run without --report-only first", file=sys.stderr)
        return 2
    lines = ["| module | killed | checked | score | survived | other / not checked |", "|---|---|---|---|---|---|"]
    failing = []
    survivors: dict[str, str] = {}
    for module, names in sorted(by_module.items()):
        counts = Counter(names.values())
        total = len(names)
        if counts["not checked"] == total:
            lines.append(f"| `{module}` | not run | {total} | | | |")
            continue
        killed = counts["killed"]
        checked = total - counts["not checked"]
        score = 100.0 * killed / checked  # of the mutants this run checked
        lines.append(
            f"| `{module}` | {killed} | {checked} of {total} | {score:.1f} % | {counts['survived']} | "
            f"{checked - killed - counts['survived']} / {counts['not checked']} |"
        )
        if score < args.min_score:
            failing.append(module)
        survivors.update({name: status for name, status in names.items() if status not in ("killed", "not checked")})
    report = ["\n".join(lines), ""]
    for name, status in sorted(survivors.items()):
        shown = subprocess.run([str(MUTMUT), "show", name], cwd=WORK, capture_output=True, text=True)
        report.append(f"## {name} ({status})")
        report.append(shown.stdout.strip() or shown.stderr.strip())
        report.append("")
    text = "\n".join(report)
    (WORK / "report.txt").write_text(text)
    print(text)
    if failing:
        print(f"below {args.min_score:.0f} % killed: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
