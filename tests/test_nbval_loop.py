"""The contributor's and CI's loop, counted: how often each chapter's code runs in a kernel.

Every chapter of the mini book appends one line to ``$COUNT_DIR/<chapter>`` when its code runs, in
the build's kernel or in nbval's; the counts prove that ``bookbuild nbval`` skips a chapter whose
current key already passed (recorded in the store), that a prose edit executes nothing, that a
one-module edit executes exactly the dependent chapter twice (build + nbval), and that CI's
execution cache, restored by its ``restore-keys`` prefix after a library edit, is used. One book
and one sequence of runs for all of it: kernels are the expensive part of the unit tests. The
``bookbuild`` commands run in this process (:func:`minibook.bookbuild_here`); nbval's pytest and
every kernel are processes of their own, as in ``make test``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml
from minibook import bookbuild_here, chapter, write_minilib

from bookbuild import validated
from bookbuild.store import Store

ROOT = Path(__file__).resolve().parents[1]
COUNT = "import os, pathlib\npathlib.Path(os.environ['COUNT_DIR'], {name!r}).open('a').write('x\\n')\n"


def make_book(root: Path) -> Path:
    """``a`` uses ``minilib.core``; ``b`` uses ``minilib.extra`` (which imports core); each counts its runs."""
    write_minilib(root)
    (root / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: cache\n  timeout: 45\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: a\n  - file: b\n")
    (root / "index.md").write_text("# Index\n")
    (root / "sanitize.cfg").write_text("[memory addresses]\nregex: \\b0x[0-9a-fA-F]{4,}\nreplace: 0xADDRESS\n")
    code_a = COUNT.format(name="a") + "import minilib.core as core\nprint(core.SCALE * 10)"
    code_b = COUNT.format(name="b") + "from minilib import extra\nprint(extra.triple())"
    (root / "a.md").write_text(chapter("A", "Prose of A.", code_a))
    (root / "b.md").write_text(chapter("B", "Prose of B.", code_b))
    return root


class Loop:
    """Runs the workflow's build commands (execute, then nbval) on a checkout and reads the counts."""

    def __init__(self, counts: Path, env: dict) -> None:
        self.counts, self.env = counts, env

    def executions(self) -> dict[str, int]:
        return {n: len((self.counts / n).read_text().splitlines()) if (self.counts / n).exists() else 0 for n in "ab"}

    def bookbuild(self, root: Path, *args: str) -> subprocess.CompletedProcess:
        """``python -m bookbuild ARGS`` in the checkout ``root`` (run in this process, from ``root``)."""
        return bookbuild_here(root, *args, env={**self.env, "PYTHONPATH": str(root / "src")}, cwd=root)

    def test(self, root: Path, *nbval_args: str, cores: int = 0) -> dict[str, int]:
        """``make test``'s executing steps; returns how many times each chapter ran in them.

        ``cores``: nbval's ``--cores``; 0 runs one pytest process without xdist workers, 1 two xdist
        workers (the per-cell outcomes then reach the recording plugin through xdist's controller).
        """
        before = self.executions()
        done = self.bookbuild(root, "execute", "--jobs", "1")
        assert done.returncode == 0, done.stdout + done.stderr
        nbval = ("nbval", "--sanitize", "sanitize.cfg", "--cores", str(cores), *nbval_args)
        self.nbval = self.bookbuild(root, *nbval)
        after = self.executions()
        return {n: after[n] - before[n] for n in after}


# actions/cache's key expressions, evaluated here as the runner would for a checkout.
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def hash_files(root: Path, patterns: list[str]) -> str:
    """Like hashFiles: one digest over the files the globs match (** spans folders), none ignored here."""
    files = sorted({p for pat in patterns for p in root.glob(pat) if p.is_file() and "_build" not in p.parts})
    outer = hashlib.sha256()
    for p in files:
        outer.update(hashlib.sha256(p.read_bytes()).digest())
    return outer.hexdigest() if files else ""


def evaluate(expression: str, root: Path) -> str:
    fixed = {
        "runner.os": "Linux",
        "runner.arch": "X64",
        "steps.fingerprint.outputs.env": "env0",
        "steps.fingerprint.outputs.data": "data0",
    }

    def one(m: re.Match) -> str:
        inner = m.group(1)
        if inner in fixed:
            return fixed[inner]
        call = re.fullmatch(r"hashFiles\((.*)\)", inner)
        assert call, f"no emulation for ${{{{ {inner} }}}}"
        return hash_files(root, [p.strip().strip("'\"") for p in call.group(1).split(",")])

    return EXPR.sub(one, expression)


def exec_cache_step() -> dict:
    steps = yaml.safe_load((ROOT / ".github/workflows/full.yml").read_text())["jobs"]["build"]["steps"]
    return next(s for s in steps if s.get("id") == "exec-cache")


def restore(saved: dict[str, Path], step: dict, root: Path) -> str | None:
    """actions/cache/restore: the exact key, else the newest saved key starting with a restore-keys prefix."""
    key = evaluate(step["with"]["key"], root)
    if key in saved:
        return key
    for prefix in (evaluate(k.strip(), root) for k in step["with"]["restore-keys"].splitlines() if k.strip()):
        hits = [k for k in saved if k.startswith(prefix)]
        if hits:
            return hits[-1]
    return None


@pytest.fixture
def loop(tmp_path, monkeypatch):
    import os

    counts = tmp_path / "counts"
    counts.mkdir()
    env = {**os.environ, "COUNT_DIR": str(counts), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.update({"PYTHONHASHSEED": "0", "BOOKBUILD_JOBS": "1"})
    env.pop("MINI_PROFILE", None)
    return Loop(counts, env)


def test_nbval_once_per_key_and_ci_cache_restored_after_a_library_edit(tmp_path, loop):
    first = make_book(tmp_path / "ci-run-1")
    # A fresh clone: every chapter runs twice, in the build and in nbval; the passes are recorded.
    assert loop.test(first, cores=1) == {"a": 2, "b": 2}, loop.nbval.stdout
    assert loop.nbval.returncode == 0, loop.nbval.stdout + loop.nbval.stderr
    assert " -n 2 --dist loadscope " in loop.nbval.stdout  # two xdist workers, one notebook each
    assert "--nbval-cell-timeout 45 " in loop.nbval.stdout  # the build's cell timeout, from _config.yml
    assert "--nbval-kernel-startup-timeout 45" in loop.nbval.stdout  # a slow kernel start is not a failure
    store = Store(first / "_build" / "exec-store")
    recorded = {ch: store.validation(ch, key) for ch, key in store.entries()}
    assert set(recorded) == {"a", "b"} and all(recorded.values())
    assert {r["nbval_version"] for r in recorded.values()} == {validated.nbval_version()}
    assert {r["sanitizer_sha256"] for r in recorded.values()} == {
        hashlib.sha256((first / "sanitize.cfg").read_bytes()).hexdigest()
    }
    # Warm, nothing changed; then a prose edit: no chapter runs at all.
    assert loop.test(first) == {"a": 0, "b": 0}
    assert "already validated" in loop.nbval.stdout
    (first / "a.md").write_text((first / "a.md").read_text().replace("Prose of A.", "New prose.\n\n## A heading"))
    assert loop.test(first) == {"a": 0, "b": 0}
    # A new sanitizer is another verdict: both re-validated (nothing re-built).
    (first / "sanitize.cfg").write_text((first / "sanitize.cfg").read_text() + "\n")
    assert loop.test(first) == {"a": 1, "b": 1}
    # FULL=1 validates every chapter, recorded or not (here with a cell timeout of its own).
    assert loop.test(first, "--full", "--cell-timeout", "50") == {"a": 1, "b": 1}
    assert loop.nbval.returncode == 0 and "--nbval-cell-timeout 50 " in loop.nbval.stdout

    # CI: the first run saves its execution cache under the key of its checkout ...
    step = exec_cache_step()
    saved = {evaluate(step["with"]["key"], first): first / "_build"}
    # ... the next run is a clean checkout after a one-module edit (b depends on minilib.extra).
    second = tmp_path / "ci-run-2"
    shutil.copytree(first, second, ignore=shutil.ignore_patterns("_build"))
    extra = second / "src" / "minilib" / "extra.py"
    extra.write_text(extra.read_text().replace("3 * core.SCALE", "4 * core.SCALE"))
    hit = restore(saved, step, second)
    assert hit is not None, "a library edit restores nothing: the restore-keys prefix hashes the library"
    assert hit != evaluate(step["with"]["key"], second)  # a partial hit; the new cache is saved under a new key
    for rel in [p.strip() for p in step["with"]["path"].splitlines()]:
        if rel.startswith("_build/exec-store"):
            shutil.copytree(saved[hit] / "exec-store", second / "_build" / "exec-store")
    assert loop.test(second) == {"a": 0, "b": 2}
    assert loop.nbval.returncode == 0
    done = loop.bookbuild(second, "plan")
    assert "EXECUTE" not in done.stdout, done.stdout


def test_a_failed_validation_records_nothing_and_runs_again(tmp_path, loop):
    book = make_book(tmp_path / "book")
    (book / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n  - file: a\n")
    done = loop.bookbuild(book, "execute", "--jobs", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    store = Store(book / "_build" / "exec-store")
    ((chapter_name, key),) = store.entries()
    # The stored output no longer matches what the code prints (as a non-reproducible chapter's would).
    entry = store.get(chapter_name, key)
    nb = entry.nb
    nb.cells[-1].outputs[0]["text"] = "21\n"
    store.put(chapter_name, key, nb, {k: v for k, v in entry.meta.items() if k != "sha256"})
    for _ in range(2):  # each run validates it again: no record was written
        check = loop.bookbuild(book, "nbval", "--sanitize", "sanitize.cfg", "--cores", "1")
        assert check.returncode == 1, check.stdout + check.stderr
        assert "did not pass; not recorded" in check.stdout
        assert store.validation(chapter_name, key) is None
    assert loop.executions() == {"a": 3, "b": 0}


def test_record_is_void_for_another_notebook_nbval_or_sanitizer(tmp_path):
    store = Store(tmp_path / "store")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    meta = store.put("ch", "k1", nb, {})
    assert not validated.is_validated(store, "ch", "k1", meta, "0.11.0", "s1")
    store.put_validation("ch", "k1", validated.record_for(meta, "0.11.0", "s1"))
    assert validated.is_validated(store, "ch", "k1", meta, "0.11.0", "s1")
    assert not validated.is_validated(store, "ch", "k1", meta, "0.12.0", "s1")  # another nbval
    assert not validated.is_validated(store, "ch", "k1", meta, "0.11.0", "s2")  # another sanitizer
    assert not validated.is_validated(store, "ch", "k2", meta, "0.11.0", "s1")  # another key
    assert not validated.is_validated(store, "ch", "k1", {**meta, "sha256": "0" * 64}, "0.11.0", "s1")
    # A copy to another store takes the record with it; removing the entry removes it.
    other = Store(tmp_path / "other")
    assert other.merge_from(store) == (1, 0)
    assert other.validation("ch", "k1") == store.validation("ch", "k1")
    assert store.entries() == [("ch", "k1")]  # the record is not an entry
    store.remove("ch", "k1")
    assert store.validation("ch", "k1") is None
    (tmp_path / "store" / "ch").mkdir(exist_ok=True)
    (tmp_path / "store" / "ch" / "k3.nbval").write_text("{not json")
    assert store.validation("ch", "k3") is None and not (tmp_path / "store" / "ch" / "k3.nbval").exists()


def test_notebook_passes_only_when_every_cell_did():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1"), nbformat.v4.new_code_cell("2")])
    assert validated.notebook_passed({"passed": 2, "skipped": 0, "failed": 0}, nb)
    assert validated.notebook_passed({"passed": 1, "skipped": 1, "failed": 0}, nb)  # nbval-skip marker
    assert not validated.notebook_passed({"passed": 1, "skipped": 0, "failed": 0}, nb)  # a run cut short
    assert not validated.notebook_passed({"passed": 2, "skipped": 0, "failed": 1}, nb)  # e.g. a teardown error
    assert not validated.notebook_passed(None, nb)  # never ran
    assert not validated.notebook_passed({"passed": 0, "skipped": 2, "failed": 0}, nb)


def test_missing_sanitizer_is_named():
    with pytest.raises(FileNotFoundError, match="nope.cfg does not exist"):
        validated.sanitizer_digest(Path("nope.cfg"))
    assert json.dumps(validated.record_for({"chapter": "c", "key": "k", "sha256": "s"}, "v", "d"))
