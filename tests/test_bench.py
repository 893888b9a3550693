"""``make bench``'s counting and table (benchmarks/benchtable.py) and its process-tree CPU count (cputime.tree_cpu).

No build runs here: the outputs are the lines bookbuild, myst-nb, nbval and the preview print.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import benchtable as bt  # noqa: E402
import cputime  # noqa: E402

BUILD_OUTPUT = """\
bookbuild (from /x/src/bookbuild): profile lite, CPU
  book/priors                  executed   26.3 s, kernel CPU 25.3 s (kernel forked; elapsed 27 s; modules changed)
  book/invariance              cached     (15.1 s when executed 2026-12-06 02:20 UTC)
  book/natural-images          executed   4.3 s, kernel CPU 3.9 s (kernel started; elapsed 31 s; modules changed)
  rendered the site in 14.9 s (0 warnings; log: /x/_build/logs/sphinx.log)
done in 71.8 s. Book: /x/_build/html/index.html
"""


def test_bookbuild_and_jupyter_book_executions_are_counted_from_their_output():
    assert bt.executed_by_bookbuild(BUILD_OUTPUT) == ["book/priors", "book/natural-images"]
    assert bt.executed_by_bookbuild("  rendered the site in 9.0 s\n") == []
    # A chapter called "executed" and the word in prose do not count; only the column does.
    assert bt.executed_by_bookbuild("the notebook was executed in 3 s\n") == []
    assert bt.executed_by_bookbuild("done\n\nbook/x executed 3 s\n") == []  # not indented: not the column
    plain = (
        "[mystnb] Executing notebook using local CWD [mystnb]: /x/book/priors.md\n"
        "[mystnb] Executed notebook in 40.21 seconds [mystnb]\n"
        "[mystnb] Using cached notebook: ID=3 [mystnb]\n"
        "[mystnb] Executing notebook failed: CellExecutionError [mystnb]\n"
        "[mystnb] Executing notebook using local CWD [mystnb]: /x/book/cake-ebm.md\n"
    )
    assert bt.executed_by_jupyter_book(plain) == 2
    assert bt.executed_by_jupyter_book("[mystnb] Using cached notebook: ID=3\n") == 0


def test_nbval_executions_are_its_verdicts_and_a_run_without_them_is_an_error():
    ran = (
        "nbval: book/cake-ebm skipped: its current key already passed nbval 0.11.0 with this sanitizer\n"
        "nbval: validating 2 chapter(s): /x/python -m pytest ...\n"
        "........ [100%]\n"
        "nbval: book/natural-images [baa0aa6ce361726e7874] passed; recorded in the store\n"
        "nbval: book/priors [257b6a3ee146421aac19] did not pass; not recorded\n"
    )
    assert bt.executed_by_nbval(ran) == ["book/natural-images", "book/priors"]
    assert bt.executed_by_nbval("nbval: all 9 chapter(s) already validated for their current keys\n") == []
    with pytest.raises(ValueError, match="started validating 2 chapter"):
        bt.executed_by_nbval("nbval: validating 2 chapter(s): pytest\nTraceback (most recent call last):\n")
    with pytest.raises(ValueError, match="no verdict"):
        bt.executed_by_nbval("")


def test_preview_lines_old_and_new_forms():
    old = "[preview] rebuilt in 8.0 s; the open page reloads\n"
    new = "[preview] rebuilt in 0.9 s (0.8 CPU-s in the renderer); the open page reloads\n"
    assert bt.preview_rebuilt(old) and bt.preview_rebuilt(new)
    assert bt.renderer_cpu(old) is None and bt.renderer_cpu(new) == 0.8
    assert not bt.preview_rebuilt("[preview] changed: book/priors.md; rebuilding\n")
    assert bt.renderer_cpu("[preview] changed: x (3.0 CPU-s)\n") is None  # only a rebuilt line reports it
    assert bt.preview_serving("[preview] serving /x/_build/html on http://127.0.0.1:4321/ ; watching book")
    assert bt.preview_failed("[preview] the build failed (see above); the last good pages are still served.")
    assert not bt.preview_failed(new)


PAGE = textwrap.dedent(
    """\
    # Priors

    Opening prose.

    ```{code-cell} ipython3
    ## not a heading: a comment in a code cell
    x = 1
    ```

    ## First section

    Text.
    """
)


def test_prose_edits_change_only_prose_and_each_writes_its_own_sentence():
    one = bt.prose_edit(PAGE, 1)
    assert "A sentence the benchmark wrote (edit 1).\n\n## First section" in one
    assert "## not a heading: a comment in a code cell\nx = 1\n" in one  # the code cell untouched
    two = bt.prose_edit(one, 2)
    assert two == one.replace("(edit 1)", "(edit 2)")  # replaced where it was, not added again
    assert bt.prose_edit(two, 1) == one
    assert one.count("A sentence the benchmark wrote") == 1
    with pytest.raises(ValueError, match="no '## ' heading"):
        bt.prose_edit("# Title\n\n```python\n## x\n```\n", 1)


def test_module_edit_appends_a_new_definition_each_time():
    src = "def f():\n    return 1\n"
    one = bt.module_edit(src, 1)
    assert one.startswith(src) and "def _benchmark_edit_1() -> int:\n    return 1\n" in one
    two = bt.module_edit(one, 2)
    assert "_benchmark_edit_1" in two and "_benchmark_edit_2" in two
    compile(two, "m.py", "exec")  # still a valid module


def test_medians_ratios_and_executions():
    runs = [bt.Run(10.0, 4.0, 0), bt.Run(2.0, 9.0, 0), bt.Run(3.0, 5.0, 0)]
    assert bt.summarize(runs) == (3.0, 5.0)  # each median on its own
    assert bt.median([1.0, math.nan, 3.0]) == 2.0 and math.isnan(bt.median([]))
    assert bt.ratio(1.0, 4.0) == "0.25" and bt.ratio(1.0, 0.0) == "" and bt.ratio(math.nan, 2.0) == ""
    assert bt.executions(runs) == "0"
    assert bt.executions([bt.Run(1, 1, 0), bt.Run(1, 1, 1)]) == "0, 1"
    assert bt.executions([bt.Run(1, 1, 4, "build 2 + nbval 2")]) == "4 (build 2 + nbval 2)"


def test_table_has_one_row_per_measurement_with_ratios_where_plain_compares():
    prose_plain = [bt.Run(10.0, 9.0, 0), bt.Run(12.0, 11.0, 0), bt.Run(11.0, 10.0, 0)]
    rows = [
        bt.Row("prose edit, make book", [bt.Run(8.0, 7.0, 0)] * 3, prose_plain),
        bt.Row("prose edit, preview", [bt.Run(1.1, 2.2, 0)] * 3, prose_plain),
        bt.Row("one-module edit", [bt.Run(40.0, 38.0, 2)], [bt.Run(9.0, 8.0, 0)], "stale outputs", "of 2 dependent", 2),
        bt.Row("warm make test, module edit", [bt.Run(90.0, 150.0, 4, "build 2 + nbval 2")], expect=4),
    ]
    lines = bt.render_table(rows).splitlines()
    assert lines[0] == bt.HEADER and lines[1] == "|" + "---|" * 9
    assert len(lines) == 2 + len(rows)
    assert all(line.count("|") == 10 for line in lines)
    assert lines[2] == "| prose edit, make book (median of 3) | 8.0 | 7.0 | 0 | 11.0 | 10.0 | 0 | 0.73 | 0.70 |"
    assert lines[3] == "| prose edit, preview (median of 3) | 1.1 | 2.2 | 0 | 11.0 | 10.0 | 0 | 0.10 | 0.22 |"
    assert lines[4] == (
        "| one-module edit | 40.0 | 38.0 | 2 of 2 dependent | 9.0 | 8.0 | 0 (stale outputs) | 4.44 | 4.75 |"
    )
    assert lines[5] == "| warm make test, module edit | 90.0 | 150.0 | 4 (build 2 + nbval 2) |  |  |  |  |  |"
    assert bt.problems(rows) == []


def test_problems_name_the_runs_that_executed_more_or_less_than_the_loop_promises():
    rows = [
        bt.Row("after a prose edit", [bt.Run(1, 1, 0), bt.Run(1, 1, 1)], expect=0),
        bt.Row("after a module edit", [bt.Run(1, 1, 3, "build 2 + nbval 1")], expect=4),
        bt.Row("no claim", [bt.Run(1, 1, 7)]),
    ]
    assert bt.problems(rows) == [
        "after a prose edit (run 2 of 2): bookbuild executed 1 chapter(s), expected 0",
        "after a module edit: bookbuild executed 3 chapter(s) (build 2 + nbval 1), expected 4",
    ]


BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


def test_tree_cpu_counts_a_grandchild_that_came_and_went():
    """A child that runs a short-lived CPU-bound grandchild, then sleeps: the grandchild's CPU is counted.

    It never shows in a listing taken before it starts or after it ends; it counts through its
    parent's reaped-children times.
    """
    script = (
        "import subprocess, sys, time\n"
        f"subprocess.run([sys.executable, '-c', {BURN.format(s=0.2)!r}])\n"
        "print('done', flush=True)\n"
        "time.sleep(30)\n"
    )
    before = cputime.tree_cpu()
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "done\n"
        time.sleep(0.1)
        used = cputime.tree_cpu() - before
    finally:
        child.kill()
        child.wait()
    assert 0.2 <= used < 5.0, used  # the grandchild's 0.2 s at least (plus two interpreters' start-up)
