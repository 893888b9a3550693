"""bookbuild.record: the manifest, failure reports and the glue check, on outcomes made here."""

from __future__ import annotations

import json

import nbformat

from bookbuild import record
from bookbuild.book import Paths
from bookbuild.deps import ChapterKey
from bookbuild.execute import Outcome
from bookbuild.plan import Chapter
from bookbuild.store import Store


def _chapter(tmp_path, name="a", text="Value {glue:text}`x:.2f`."):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(text), nbformat.v4.new_code_cell("glue('x', 1)")]
    return Chapter(f"book/{name}", tmp_path / f"{name}.md", nb, ChapterKey(f"k-{name}", {"code": name}))


def _glued(*names):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("glue('x', 1)")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/plain": "1"}, metadata={"scrapbook": {"name": n}})
        for n in names
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("t"), cell]
    return nb


def test_the_manifest_records_what_produced_each_chapter(tmp_path):
    done = Outcome(
        _chapter(tmp_path),
        "executed",
        12.3456,
        meta={"executed_at": "now", "profile": "full", "device": "GPU", "packages": {"n": "1"}, "results": {"r": 1}},
        reasons=["code changed"],
    )
    bare = Outcome(_chapter(tmp_path, "b"), "cached", 1.0)
    data = record.manifest([done, bare], "lite", "CPU")
    assert data == {
        "profile": "lite",
        "device": "CPU",
        "chapters": {
            "book/a": {
                "key": "k-a",
                "status": "executed",
                "seconds": 12.35,
                "executed_at": "now",
                "profile": "full",
                "device": "GPU",
                "packages": {"n": "1"},
                "components": {"code": "a"},
                "reasons": ["code changed"],
                "results": {"r": 1},
            },
            "book/b": {
                "key": "k-b",
                "status": "cached",
                "seconds": 1.0,
                "executed_at": None,
                "profile": "lite",
                "device": "CPU",
                "packages": {},
                "components": {"code": "b"},
                "reasons": [],
                "results": None,
            },
        },
    }


def test_the_manifest_is_rewritten_only_when_it_changes_and_read_back(tmp_path):
    paths = Paths(tmp_path)
    assert record.load_manifest(paths) == {} and record.previous_components(paths) == {}
    data = {"chapters": {"book/a": {"components": {"code": "a"}}}}
    record.write_manifest(paths, data)
    assert paths.manifest.read_text() == json.dumps(data, indent=1)
    stamp = paths.manifest.stat().st_mtime_ns
    paths.manifest.touch()
    touched = paths.manifest.stat().st_mtime_ns
    record.write_manifest(paths, data)
    assert paths.manifest.stat().st_mtime_ns == touched >= stamp  # same content: not rewritten
    assert record.load_manifest(paths) == data and record.previous_components(paths) == data["chapters"]
    record.write_manifest(paths, {"chapters": {}})
    assert record.previous_components(paths) == {}
    paths.manifest.write_text("{broken")
    assert record.load_manifest(paths) == {} and record.previous_components(paths) == {}
    paths.manifest.write_text("{}")
    assert record.previous_components(paths) == {}


def test_failures_are_reported_logged_and_stop_the_build(tmp_path):
    paths = Paths(tmp_path)
    lines = []
    error = "\x1b[31mTraceback\x1b[0m\n" + "\n".join(f"line {i}" for i in range(30)) + "\nZeroDivisionError\n"
    failed = Outcome(_chapter(tmp_path), "failed", error=error)
    warned = Outcome(_chapter(tmp_path, "w"), "executed", meta={"stderr": ["code cell 1: a warning", "code cell 2: b"]})
    fine = Outcome(_chapter(tmp_path, "f"), "cached", meta={"stderr": []})
    assert record.report_failures(paths, [failed, warned, fine], strict=False, say=lines.append) is True
    log = paths.logs / "book__a.error.txt"
    assert log.read_text() == error.replace("\x1b[31m", "").replace("\x1b[0m", "")
    assert lines[0] == f"\nerror: book/a failed to execute ({tmp_path / 'a.md'}):"
    shown = lines[1].splitlines()
    assert len(shown) == 25 and shown[0] == "    line 6" and shown[-1] == "    ZeroDivisionError"
    assert lines[2] == f"    (full report: {log})" and len(lines) == 3
    lines.clear()
    assert record.report_failures(paths, [warned, fine], strict=False, say=lines.append) is False and lines == []
    assert record.report_failures(paths, [fine, warned], strict=True, say=lines.append) is True
    assert lines == [
        "\nerror: book/w wrote to stderr (warnings fail a strict build):",
        "    code cell 1: a warning\n    code cell 2: b",
    ]
    assert record.report_failures(Paths(tmp_path / "new"), [fine], strict=True, say=lines.append) is False
    assert (tmp_path / "new" / "_build" / "logs").is_dir()


def test_glue_problems_name_each_key_the_text_uses_and_no_cell_glues(tmp_path):
    store = Store(tmp_path / "s")
    ok, bad, unstored = _chapter(tmp_path), _chapter(tmp_path, "b"), _chapter(tmp_path, "c")
    store.put(ok.name, ok.key.key, _glued("x"), {})
    store.put(bad.name, bad.key.key, _glued("y"), {})
    outcomes = [Outcome(ch, "executed") for ch in (ok, bad, unstored)]
    assert record.glue_problems(outcomes, store) == ["book/b: the text uses glue key 'x', which no cell glues"]
