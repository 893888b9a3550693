"""Mutation testing of the library's numeric modules, its cache, the import graph and the build with mutmut.

``make mutation`` runs every module in turn (slow; not in ``make test``). mutmut writes a mutated copy
of the sources to ``mutants/`` beside ``pyproject.toml``; to keep the tree clean each module runs in
its own copy of ``src/``, ``tests/``, ``conftest.py`` and ``pyproject.toml`` under
``_build/mutation/<module>/``, whose ``[tool.mutmut]`` mutates only that module and selects only
that module's tests (``MODULES`` below; the shared settings come from ``[tool.mutmut]`` in
``pyproject.toml``). mutmut then runs, for each mutant, only the selected tests that call the
mutated function. A second run reuses the results of mutants whose code and tests did not change.

    python tools/mutation.py [--module NAME ...] [--jobs N] [--fresh] [MUTANT_GLOB ...]
    python tools/mutation.py --report-only

Prints killed/checked per module (a timeout counts as killed, as mutmut's score does), then every
surviving mutant's diff; both are also written to ``_build/mutation/report.txt``. Exits 1 when a
module is below ``--min-score`` percent (default 90).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "_build" / "mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")

# module name -> (file to mutate, the tests that exercise it). Keep each selection small: every
# mutant of the module runs the selected tests that reach the mutated function.
MODULES: dict[str, tuple[str, list[str]]] = {
    "losses": ("src/lecturekit/losses.py", ["tests/test_losses.py"]),
    "transforms": ("src/lecturekit/transforms.py", ["tests/test_transforms.py", "tests/test_views.py"]),
    "training": ("src/lecturekit/training.py", ["tests/test_training.py"]),
    "cache": ("src/lecturekit/cache.py", ["tests/test_cache.py"]),
    "importgraph": ("src/importgraph/__init__.py", ["tests/test_importgraph.py", "tests/test_bookbuild_deps.py"]),
    "metrics/_checks": ("src/lecturekit/metrics/_checks.py", ["tests/test_metrics.py", "tests/test_collapse.py"]),
    "metrics/collapse": ("src/lecturekit/metrics/collapse.py", ["tests/test_collapse.py", "tests/test_metrics.py"]),
    "metrics/disentanglement": (
        "src/lecturekit/metrics/disentanglement.py",
        [
            "tests/test_disentanglement.py",
            "tests/test_disentanglement_inputs.py",
            "tests/test_disentanglement_dci_stages.py",
        ],
    ),
    "metrics/distances": ("src/lecturekit/metrics/distances.py", ["tests/test_metrics.py", "tests/test_collapse.py"]),
    "metrics/invariance": (
        "src/lecturekit/metrics/invariance.py",
        ["tests/test_invariance.py", "tests/test_invariance_inputs.py"],
    ),
    "metrics/pca": ("src/lecturekit/metrics/pca.py", ["tests/test_metrics.py"]),
    "metrics/probes": ("src/lecturekit/metrics/probes.py", ["tests/test_metrics.py"]),
    "bookbuild/deps": (
        "src/bookbuild/deps.py",
        [
            "tests/test_bookbuild_deps.py",
            "tests/test_bookbuild_planmemo.py",
            "tests/test_bookbuild_plan.py::test_profile_packages_data_and_threads_are_in_the_key",
        ],
    ),
    "bookbuild/digests": (
        "src/bookbuild/digests.py",
        ["tests/test_bookbuild_digests.py", "tests/test_bookbuild_deps.py"],
    ),
    "bookbuild/store": ("src/bookbuild/store.py", ["tests/test_bookbuild_store.py"]),
    "bookbuild/results": (
        "src/bookbuild/results.py",
        ["tests/test_bookbuild_results.py", "tests/test_bookbuild_diff.py"],
    ),
    "bookbuild/diff": ("src/bookbuild/diff.py", ["tests/test_bookbuild_diff.py"]),
    "bookbuild/execute": (
        "src/bookbuild/execute.py",
        ["tests/test_bookbuild_execute.py", "tests/test_bookbuild_config.py"],
    ),
    "bookbuild/record": ("src/bookbuild/record.py", ["tests/test_bookbuild_record.py"]),
    "bookbuild/glue": ("src/bookbuild/glue.py", ["tests/test_bookbuild_glue.py"]),
    "bookbuild/book": ("src/bookbuild/book.py", ["tests/test_bookbuild_book.py"]),
    "bookbuild/config": (
        "src/bookbuild/config.py",
        [
            "tests/test_bookbuild_config.py",
            "tests/test_bookbuild_deps.py",
            # the stand-in switch end to end (Config.standin decides where a stand-in run keeps its files)
            "tests/test_bookbuild_build.py::test_standin_run_executes_apart_and_is_never_rendered",
            "tests/test_bookbuild_build.py::test_standin_kernels_skip_the_chapters_claims_but_run_every_cell",
            "tests/test_bookbuild_build.py::test_execute_fails_on_a_glue_key_no_cell_defines",
            "tests/test_bookbuild_glue.py",
        ],
    ),
}

# Tests too slow to run once per mutant on a small machine; ``--skip-slow`` leaves them out, in a
# separate work folder, and its score is then a lower bound (labelled "fast tests"). The cache and
# disentanglement tests used to be here (14-30 s each); they now train on a few digits and fit
# fewer boosting stages where their claim allows, and every module runs with all its tests.
# The mini-book builds of test_bookbuild_diff.py and the last section of test_bookbuild_execute.py
# start kernels (seconds each); the fast tests there check results, diff and execute on notebooks,
# reports and stand-in kernels made in the test.
_DIFF_BUILDS = [
    f"tests/test_bookbuild_diff.py::{name}"
    for name in (
        "test_a_library_edit_that_changes_one_glued_number_reports_exactly_that_number",
        "test_a_prose_edit_gives_an_empty_report",
        "test_a_figure_change_is_reported",
        "test_the_pull_request_command_builds_the_base_from_the_shared_store",
        "test_two_builds_compared_by_their_manifests_and_stores",
    )
]
_EXECUTE_BUILDS = [
    f"tests/test_bookbuild_execute.py::{name}"
    for name in (
        "test_first_build_executes_second_reuses_and_parallel_output_is_identical_to_serial",
        "test_prose_edit_executes_nothing",
        "test_module_edit_executes_exactly_its_dependents_and_revert_finds_old_outputs",
        "test_code_edit_executes_that_chapter_only",
        "test_corrupt_or_half_written_entries_are_re_executed_never_used",
        "test_shards_execute_separately_and_merge",
        "test_failing_cell_fails_the_chapter_and_stores_nothing",
    )
]
SLOW: dict[str, list[str]] = {
    "training": ["tests/test_training.py::test_a_few_supervised_epochs_make_neighbours_agree_more"],  # 3 epochs
    "bookbuild/results": _DIFF_BUILDS,
    "bookbuild/diff": _DIFF_BUILDS,
    "bookbuild/execute": _EXECUTE_BUILDS,
}

# Tests about this checkout itself (where its kernels import the library from), which cannot pass in
# the copy under _build/mutation/: always left out there.
_THIS_CHECKOUT = "tests/test_bookbuild_execute.py::test_this_checkouts_environment_imports_this_checkouts_library"
ELSEWHERE: dict[str, list[str]] = {"bookbuild/execute": [_THIS_CHECKOUT]}

# mutmut's exit-code meanings (mutmut.stats.status_by_exit_code), reduced to what the score needs.
KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout"}
SURVIVED = {0: "survived"}
UNTESTED = {5: "no tests", 33: "no tests"}


def workdir(module: str, skip_slow: bool = False) -> Path:
    """The copy of the tree one module is mutated in."""
    return WORK / (module.replace("/", "-") + ("-fast" if skip_slow and module in SLOW else ""))


def copy_tree(work: Path, module: str, skip_slow: bool) -> None:
    """Mirror the sources, tests and configuration into ``work`` (mtimes kept, so mutmut can resume)."""
    work.mkdir(parents=True, exist_ok=True)
    for name in ("src", "tests"):
        shutil.copytree(
            ROOT / name, work / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
        # files deleted in the tree must go from the copy too
        for path in sorted((work / name).rglob("*"), reverse=True):
            if "__pycache__" in path.parts or path.is_dir():
                continue
            if not (ROOT / path.relative_to(work)).exists():
                path.unlink()
    shutil.copy2(ROOT / "conftest.py", work / "conftest.py")
    write_config(work / "pyproject.toml", module, skip_slow)


def write_config(target: Path, module: str, skip_slow: bool = False) -> None:
    """``pyproject.toml`` with ``[tool.mutmut]`` narrowed to one module and its tests (rewritten only on change)."""
    text = (ROOT / "pyproject.toml").read_text()
    settings = tomllib.loads(text)["tool"]["mutmut"]
    path, tests = MODULES[module]
    deselect = [
        f"--deselect={test}" for test in (SLOW.get(module, []) if skip_slow else []) + ELSEWHERE.get(module, [])
    ]
    settings = {**settings, "only_mutate": [path], "pytest_add_cli_args_test_selection": tests + deselect}
    # drop the table (up to the next table header) and append the narrowed one; JSON values are TOML
    text = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[)", "", text)
    table = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    text = f"{text.rstrip()}\n\n[tool.mutmut]\n{table}\n"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def statuses(work: Path) -> dict[str, dict[str, str]]:
    """``{module path: {mutant name: status}}`` from mutmut's per-file ``.meta`` records in ``work``."""
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        try:
            data = json.loads(meta.read_text())
        except ValueError:  # a run stopped while writing it; the next run of the module rewrites it
            print(f"unreadable mutmut record {meta}; skipped", file=sys.stderr)
            continue
        module = str(meta.relative_to(work / "mutants"))[: -len(".meta")]
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


@functools.cache
def functions(mutated_file: Path) -> dict[str, str]:
    """Source of every function and method in a file mutmut wrote, by name."""
    text = mutated_file.read_text()
    lines = text.splitlines()
    out = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.setdefault(node.name, "\n".join(lines[node.lineno - 1 : node.end_lineno]))
    return out


def show(work: Path, path: str, name: str) -> str:
    """The diff of mutant ``name`` against the original function (what ``mutmut show`` prints, without its start-up)."""
    found = functions(work / "mutants" / path)
    function = name.rsplit(".", 1)[1]
    original = found.get(function.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
    if original is None or function not in found:
        return f"(no source for {name} in mutants/{path})"
    diff = difflib.unified_diff(original.splitlines(), found[function].splitlines(), path, path, n=2, lineterm="")
    return "\n".join(diff)


def run(module: str, jobs: int, fresh: bool, mutants: list[str], skip_slow: bool) -> None:
    """Run mutmut on one module in its own copy of the tree."""
    work = workdir(module, skip_slow)
    if fresh and work.exists():
        shutil.rmtree(work)
    copy_tree(work, module, skip_slow)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    cmd = ["nice", "-n", "19", str(MUTMUT), "run", "--max-children", str(jobs), *mutants]
    print("+", " ".join(cmd), f"(in {work})", flush=True)
    subprocess.run(cmd, cwd=work, env=env, check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--module", action="append", choices=sorted(MODULES), help="run only this module (repeatable; default: all)"
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel mutant runs")
    parser.add_argument("--fresh", action="store_true", help="discard the module's earlier results first")
    parser.add_argument("--min-score", type=float, default=90.0, help="percent killed required per module")
    parser.add_argument("--skip-slow", action="store_true", help="leave out the tests in SLOW (a lower bound)")
    parser.add_argument("--report-only", action="store_true", help="summarize the last runs without running")
    parser.add_argument("mutants", nargs="*", help="mutant names or globs (default: all of the module)")
    args = parser.parse_args()
    modules = args.module or list(MODULES)

    if not args.report_only:
        for module in modules:
            run(module, args.jobs, args.fresh, args.mutants, args.skip_slow)

    lines = ["| module | killed | checked | score | survived | other / not checked |", "|---|---|---|---|---|---|"]
    failing = []
    report: list[str] = []
    found = False
    runs = [(module, False) for module in MODULES] + [(module, True) for module in SLOW]
    for module, skip_slow in runs:
        work = workdir(module, skip_slow)
        by_file = statuses(work).get(MODULES[module][0], {})
        if not by_file:
            continue
        label = f"{module} (fast tests)" if skip_slow else module
        found = True
        counts = Counter(by_file.values())
        total = len(by_file)
        if counts["not checked"] == total:
            lines.append(f"| `{label}` | not run | 0 of {total} | | | |")
            continue
        killed = counts["killed"]
        checked = total - counts["not checked"]
        score = 100.0 * killed / checked  # of the mutants this run checked
        lines.append(
            f"| `{label}` | {killed} | {checked} of {total} | {score:.1f} % | {counts['survived']} | "
            f"{checked - killed - counts['survived']} / {counts['not checked']} |"
        )
        if score < args.min_score:
            failing.append(label)
        for name, status in sorted(by_file.items()):
            if status in ("killed", "not checked"):
                continue
            report.append(f"## {name} ({status})")
            report.append(show(work, MODULES[module][0], name))
            report.append("")
    if not found:
        print(f"no mutmut results under {WORK}/*/mutants; run without --report-only first", file=sys.stderr)
        return 2
    text = "\n".join(["\n".join(lines), "", *report])
    (WORK / "report.txt").write_text(text)
    print(text)
    if failing:
        print(f"below {args.min_score:.0f} % killed: {', '.join(failing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
