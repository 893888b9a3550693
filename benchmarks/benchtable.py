"""The pure part of ``make bench`` (``benchmarks/bench_build.py``): reading outputs, editing, the table.

Nothing here runs a build: what each builder's output says it executed, the edits the benchmark
makes, the medians and ratios, and the Markdown table. ``tests/test_bench.py`` tests all of it.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass

# --- what the builders' outputs say ------------------------------------------------------------

# bookbuild's execute step: "  book/priors                  executed   41.2 s, ..." (one line per chapter).
_BOOKBUILD_EXECUTED = re.compile(r"^[ \t]+(\S+)[ \t]+executed[ \t]", re.M)
# myst-nb (jupyter-cache mode): "Executing notebook using local CWD [mystnb]: ..." once per notebook it runs.
_MYST_NB_EXECUTING = re.compile(r"Executing notebook using")
# bookbuild nbval: "nbval: book/priors [257b...] passed; recorded in the store" / "... did not pass; not recorded".
_NBVAL_VERDICT = re.compile(r"nbval: (\S+) \[[^\]]*\] (?:passed|did not pass)")
_NBVAL_VALIDATING = re.compile(r"nbval: validating (\d+) chapter")
_NBVAL_NOTHING = re.compile(r"nbval: all \d+ chapter\(s\) already validated")
# The preview's lines; kept loose so that a reworded preview still matches.
_PREVIEW_SERVING = re.compile(r"\[preview\]\s+serving\b")
_PREVIEW_REBUILT = re.compile(r"\[preview\]\s+rebuilt\b")
_PREVIEW_FAILED = re.compile(r"\[preview\].*\bfailed\b")
_RENDERER_CPU = re.compile(r"\(([0-9]+(?:\.[0-9]*)?)\s*CPU-s\b")


def executed_by_bookbuild(output: str) -> list[str]:
    """The chapters a ``bookbuild build``/``execute`` run executed, as its output lists them."""
    return _BOOKBUILD_EXECUTED.findall(output)


def executed_by_jupyter_book(output: str) -> int:
    """How many notebooks myst-nb executed in a ``jupyter-book build`` (its log says each one)."""
    return len(_MYST_NB_EXECUTING.findall(output))


def executed_by_nbval(output: str) -> list[str]:
    """The chapters a ``bookbuild nbval`` run re-executed (each one's verdict line names it).

    A run that validated nothing says so; a run with neither verdicts nor that line (nbval crashed
    before its verdicts) is an error, not zero.
    """
    verdicts = _NBVAL_VERDICT.findall(output)
    if verdicts:
        return verdicts
    if _NBVAL_NOTHING.search(output):
        return []
    started = _NBVAL_VALIDATING.search(output)
    what = f"it started validating {started.group(1)} chapter(s) but" if started else "it"
    raise ValueError(f"cannot count nbval's executions: {what} printed no verdict per chapter:\n{output[-2000:]}")


def preview_serving(line: str) -> bool:
    return bool(_PREVIEW_SERVING.search(line))


def preview_rebuilt(line: str) -> bool:
    return bool(_PREVIEW_REBUILT.search(line))


def preview_failed(line: str) -> bool:
    return bool(_PREVIEW_FAILED.search(line))


def renderer_cpu(line: str) -> float | None:
    """The CPU-seconds a "[preview] rebuilt ... (0.8 CPU-s in the renderer)" line reports, if it does."""
    m = _RENDERER_CPU.search(line) if preview_rebuilt(line) else None
    return float(m.group(1)) if m else None


# --- the edits ----------------------------------------------------------------------------------

_PROSE_MARK = re.compile(r"A sentence the benchmark wrote \(edit \d+\)\.")


def prose_edit(text: str, n: int) -> str:
    """A prose-only edit of a MyST page: edit ``n`` writes its own sentence where the last one was.

    The first edit puts the sentence, as a paragraph of its own, before the first ``## `` heading
    outside a code fence; each later one rewrites that sentence, so every edit changes the page and
    no code cell.
    """
    sentence = f"A sentence the benchmark wrote (edit {n})."
    if _PROSE_MARK.search(text):
        return _PROSE_MARK.sub(sentence, text, count=1)
    lines = text.splitlines(keepends=True)
    fence = None
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        marker = re.match(r"(`{3,}|~{3,}|:{3,})", stripped)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif stripped.rstrip() == fence:
                fence = None
            continue
        if fence is None and line.startswith("## "):
            return "".join(lines[:i]) + sentence + "\n\n" + "".join(lines[i:])
    raise ValueError("no '## ' heading outside a code block to put the benchmark's sentence before")


def module_edit(text: str, n: int) -> str:
    """A one-module library edit: append a small function (a new definition, not only a comment)."""
    return text.rstrip("\n") + f"\n\n\ndef _benchmark_edit_{n}() -> int:\n    return {n}\n"


# --- measurements and the table -----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One measured build (or one preview rebuild): wall seconds, CPU-seconds of its process tree, executions."""

    wall: float
    cpu: float
    executed: int
    detail: str = ""  # e.g. "build 2 + nbval 2"


@dataclass
class Row:
    """A row of the table: bookbuild's runs and, where a plain jupyter-book build compares, its runs."""

    label: str
    ours: list[Run]
    plain: list[Run] | None = None
    plain_note: str = ""  # said after plain jupyter-book's executions, e.g. "stale outputs"
    note: str = ""  # said after bookbuild's executions
    expect: int | None = None  # how many executions each of bookbuild's runs must count (None: no claim)


def median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def ratio(a: float, b: float) -> str:
    """``a / b`` to two decimals; empty where it means nothing (a missing or zero denominator)."""
    if any(x is None or math.isnan(x) for x in (a, b)) or b <= 0:
        return ""
    return f"{a / b:.2f}"


def executions(runs: list[Run]) -> str:
    """The chapters executed per run: one number when every run agrees, else each run's."""
    counts = [r.executed for r in runs]
    text = str(counts[0]) if len(set(counts)) == 1 else ", ".join(map(str, counts))
    details = list(dict.fromkeys(r.detail for r in runs if r.detail))
    return text + (f" ({'; '.join(details)})" if details else "")


def _seconds(x: float) -> str:
    return "" if x is None or math.isnan(x) else f"{x:.1f}"


def summarize(runs: list[Run]) -> tuple[float, float]:
    """Median wall seconds and median CPU-seconds of the runs (each median taken on its own)."""
    return median([r.wall for r in runs]), median([r.cpu for r in runs])


HEADER = (
    "| measurement | bookbuild wall s | bookbuild CPU-s | bookbuild chapters executed "
    "| plain jupyter-book wall s | plain CPU-s | plain chapters executed | ratio wall | ratio CPU |"
)


def render_table(rows: list[Row]) -> str:
    """The Markdown table: medians per row, bookbuild against plain jupyter-book where it compares."""
    out = [HEADER, "|" + "---|" * 9]
    for row in rows:
        wall, cpu = summarize(row.ours)
        ours_exec = executions(row.ours) + (f" {row.note}" if row.note else "")
        label = row.label + (f" (median of {len(row.ours)})" if len(row.ours) > 1 else "")
        if row.plain:
            p_wall, p_cpu = summarize(row.plain)
            plain_exec = executions(row.plain) + (f" ({row.plain_note})" if row.plain_note else "")
            cells = [_seconds(p_wall), _seconds(p_cpu), plain_exec, ratio(wall, p_wall), ratio(cpu, p_cpu)]
        else:
            cells = ["", "", "", "", ""]
        out.append("| " + " | ".join([label, _seconds(wall), _seconds(cpu), ours_exec, *cells]) + " |")
    return "\n".join(out)


def problems(rows: list[Row]) -> list[str]:
    """Each bookbuild run whose executions differ from what its row expects (the loop's guarantees)."""
    found = []
    for row in rows:
        if row.expect is None:
            continue
        for i, run in enumerate(row.ours, 1):
            if run.executed != row.expect:
                which = f" (run {i} of {len(row.ours)})" if len(row.ours) > 1 else ""
                detail = f" ({run.detail})" if run.detail else ""
                found.append(
                    f"{row.label}{which}: bookbuild executed {run.executed} chapter(s){detail}, expected {row.expect}"
                )
    return found
