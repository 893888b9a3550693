"""The mini book every bookbuild test builds, made in a temporary folder.

Two chapters: ``a`` prints ``10 * minilib.core.SCALE``; ``b`` prints ``minilib.extra.triple()``,
which is ``3 * minilib.core.SCALE`` (``minilib.extra`` imports ``minilib.core``); ``minilib.unused``
is imported by nobody; ``notes`` is a reference page without code. Its ``[tool.bookbuild]`` table
uses names of its own (``MINI_PROFILE``, ``MINI_CACHE``), so nothing of the real book leaks in.

In-process helpers (:func:`run`: plan and execute) and command-line ones (:func:`bookbuild_cmd`,
:func:`env_for`, :func:`printed`, :func:`bookbuild_here`) for end-to-end tests that render the book.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import re
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import nbformat
import pytest

from bookbuild import config as config_mod
from bookbuild import results
from bookbuild.execute import execute
from bookbuild.plan import plan
from bookbuild.store import Store

FRONT = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    """)

PYPROJECT = textwrap.dedent("""\
    [tool.bookbuild]
    package = "minilib"
    library_root = "src"
    profile_env = "MINI_PROFILE"
    profiles = ["lite", "full"]
    key_env = ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED", "MINI_KEYED"]
    key_packages = ["numpy"]
    kernel_env = {OMP_NUM_THREADS = "1", MKL_NUM_THREADS = "1", PYTHONHASHSEED = "0", MINI_KERNEL_ONLY = "k"}

    [[tool.bookbuild.data]]
    profiles = ["full"]
    label = "mini-cache"
    root_env = "MINI_CACHE"
    default = "~/.cache/minilib-never-there"
    pattern = "data/raw/*"
    """)


def chapter(title: str, prose: str, code: str) -> str:
    return FRONT + f"# {title}\n\n{prose}\n\n```{{code-cell}} ipython3\n{code}\n```\n"


def write_minilib(root: Path) -> Path:
    """The mini books' library, ``root/src/minilib``: ``core`` (SCALE = 2) and ``extra`` (imports core)."""
    lib = root / "src" / "minilib"
    lib.mkdir(parents=True)
    (lib / "__init__.py").write_text("")
    (lib / "core.py").write_text("SCALE = 2\n")
    (lib / "extra.py").write_text("from minilib import core\n\ndef triple():\n    return 3 * core.SCALE\n")
    (root / "pyproject.toml").write_text(PYPROJECT)
    return lib


def make_book(root: Path) -> Path:
    lib = write_minilib(root)
    (lib / "unused.py").write_text("X = 1\n")
    (root / "_config.yml").write_text(
        "title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: cache\n"
        "sphinx:\n  extra_extensions: [bookbuild.sphinx_ext]\n"
    )
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: index\nchapters:\n  - file: a\n  - file: b\n  - file: notes\n"
    )
    (root / "index.md").write_text("# Index\n\nSee the {doc}`notes`.\n")
    (root / "notes.md").write_text("# Notes\n\nReference material.\n")
    (root / "a.md").write_text(chapter("A", "Prose of A.", "import minilib.core as core\nprint(core.SCALE * 10)"))
    (root / "b.md").write_text(chapter("B", "Prose of B.", "from minilib import extra\nprint(extra.triple())"))
    return root


@pytest.fixture
def book(tmp_path, monkeypatch):
    root = make_book(tmp_path / "book")
    monkeypatch.setenv("PYTHONPATH", str(root / "src"))  # the kernels import minilib from here
    monkeypatch.delenv("MINI_PROFILE", raising=False)
    for name, value in (("OMP_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"), ("PYTHONHASHSEED", "0")):
        monkeypatch.setenv(name, value)
    return root


def run(
    root: Path,
    jobs: int = 2,
    only=None,
    store: Store | None = None,
    force: bool = False,
    previous: dict | None = None,
    profile: str = "lite",
):
    """Plan and execute; returns {chapter: status} and the outcomes."""
    store = store or Store(root / "_build" / "exec-store")
    config = config_mod.load(root)
    chapters = plan(config, profile, only)
    outcomes = execute(
        chapters,
        store,
        jobs,
        60,
        "test-device",
        profile,
        lambda m: None,
        force=force,
        previous=previous,
        library=config.library(),
    )
    for o in outcomes:  # shown by pytest when the test fails: why a chapter failed
        if o.status == "failed":
            print(f"{o.chapter.docname} failed: {o.error}")
    return {o.chapter.docname: o.status for o in outcomes}, outcomes


def seed(root: Path, shared: Store) -> list:
    """Put the executed outputs of ``root``'s chapters, as they are now, into its own store.

    For tests whose claim is about what a build does *after* a first execution (a prose edit, a code
    edit, a corrupt entry, a diff of two builds): they take that first execution from ``shared``,
    the session's store of mini-book executions (the ``minibook_store`` fixture in conftest.py),
    which executes with real kernels what it does not hold yet. Stores are content-addressed, so
    an entry made for another test's copy of the same chapters is the entry this book's build would
    make. Only the entries of the current keys are copied. Returns the outcomes of the run on
    ``shared`` (each ``cached`` or ``executed`` there).
    """
    status, outcomes = run(root, store=shared)
    assert set(status.values()) <= {"cached", "executed"}, status
    own = Store(root / "_build" / "exec-store")
    for o in outcomes:
        entry = shared.get(o.chapter.name, o.chapter.key.key)
        own.put(o.chapter.name, o.chapter.key.key, entry.nb, {k: v for k, v in entry.meta.items() if k != "sha256"})
    return outcomes


def components(outcomes) -> dict:
    """What a build's manifest keeps for re-execution reasons: ``{docname: {"components": ...}}``."""
    return {o.chapter.docname: {"components": o.chapter.key.components} for o in outcomes}


def output_text(outcome, store: Store) -> str:
    entry = store.get(outcome.chapter.name, outcome.chapter.key.key)
    return "".join(o.get("text", "") for c in entry.nb.cells if c.cell_type == "code" for o in c.outputs)


def env_for(root: Path) -> dict:
    """The kernels import minilib from the book's src folder."""
    return {**os.environ, "PYTHONPATH": str(root / "src"), "LECTUREKIT_PROFILE": "lite"}


def bookbuild_cmd(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "bookbuild", "--root", str(root), "--package", "minilib", *args]


def bookbuild_here(
    root: Path, *args: str, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """``python -m bookbuild --root ROOT --package minilib ARGS``, run in this process (``cli.main``).

    The command's own code path, kernels and Sphinx build, without a new interpreter per call and,
    after the first render in this process, without importing the renderer again (as the preview's
    rebuilds do). For the call, the environment is ``env`` (default :func:`env_for`); it is restored
    afterwards, so what a build sets (kernel defaults, ``PYTHONOPTIMIZE`` in a stand-in run) does
    not leak into later tests; so is the working directory (``cwd``, for relative paths in ``args``).
    An exception is exit status 1 with its traceback on stderr, as the command line would report it.
    """
    from bookbuild import cli

    saved, here, path = dict(os.environ), Path.cwd(), list(sys.path)
    os.environ.clear()
    os.environ.update(env if env is not None else env_for(root))
    # PYTHONPATH as the interpreter would read it at start-up (the book's own Sphinx extensions are
    # imported from it); what is imported from there is forgotten afterwards, not seen by later tests.
    extra = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:0] = extra
    loaded = set(sys.modules)
    out, err = io.StringIO(), io.StringIO()
    argv = ["--root", str(root), "--package", "minilib", *args]
    try:
        os.chdir(cwd or here)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            # The renderer's extensions' deprecation notices, which a child process would print to its log,
            # and torch's (imported by other tests), which sphinx-external-toc trips over looking for objects.
            for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
                warnings.simplefilter("ignore", category)
            try:
                rc = cli.main(argv)
            except SystemExit as done:  # argparse
                rc = done.code if isinstance(done.code, int) else 1
            except Exception:  # noqa: BLE001 -- a crash is a failed command, reported like one
                traceback.print_exc()
                rc = 1
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)
        sys.path[:] = path
        _forget_new_modules([f for f in extra if f not in {str(Path(p).resolve()) for p in path if p}], loaded)
    return subprocess.CompletedProcess(argv, rc, out.getvalue(), err.getvalue())


def _forget_new_modules(folders: list[str], loaded: set[str]) -> None:
    """Drop the modules first imported from ``folders`` during the call (a book's own extensions: another
    test's book has its own of the same name). The caller leaves out folders that were on ``sys.path``
    before the call (the tree's ``src``, installed editable): objects of their modules are still in use."""
    for name in set(sys.modules) - loaded:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if any(file.startswith(folder + os.sep) for folder in folders):
            del sys.modules[name]


def printed(html: str) -> str:
    """The text of a page's first code-cell output."""
    m = re.search(r'class="cell_output[^"]*".*?<pre>(.*?)</pre>', html, flags=re.S)
    assert m, "no code-cell output on the page"
    return re.sub(r"<[^>]+>", "", m.group(1)).strip()


def glued_output(name: str, data: dict, prefix: str = results.GLUE_PREFIX, kind: str = "display_data"):
    """A notebook output as myst-nb's ``glue`` writes it (``{mime: value}`` under ``prefix``)."""
    payload = {f"{prefix}{mime}": value for mime, value in data.items()}
    out = nbformat.v4.new_output(kind, data=payload, metadata={"scrapbook": {"name": name, "mime_prefix": prefix}})
    if kind == "execute_result":
        out.execution_count = 1
    return out


class PreviewServer:
    """``bookbuild preview`` on a free port over the book at ``root``, its output collected line by line."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            bookbuild_cmd(root, "preview", "--port", "0", "--jobs", "1"),
            env=env_for(root),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_for(r"serving .* on (http://\S+)/", 300)
        self.url = re.search(r"on (http://\S+)/", line).group(1)
        self.wait_for(r"\[preview\] watching for saves", 60)  # a save before this line would be missed

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float) -> str:
        """The first new output line matching ``pattern``."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, "preview exited:\n" + "".join(self.log)
                continue
            self.log.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n" + "".join(self.log))

    def since(self, start: int) -> str:
        return "".join(self.log[start:])

    def edit(self, name: str, old: str, new: str, outcome: str = r"\[preview\] (rebuilt|the build failed)") -> str:
        """Replace ``old`` by ``new`` in a file, wait for the rebuild; its output."""
        start = len(self.log)
        path = self.root / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1))
        self.wait_for(outcome, 300)
        return self.since(start)

    def get(self, page: str) -> str:
        end = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/{page}", timeout=30) as r:
                    return r.read().decode()
            except urllib.error.URLError:  # the server binds its port just after printing its address
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def alive(pids: set[int]) -> set[int]:
    """The processes of ``pids`` still running (a zombie counts as gone)."""
    found = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            found.add(pid)
    return found


def gone_within(pids: set[int], seconds: float) -> bool:
    end = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < end:
        time.sleep(0.2)
    return not alive(pids)
