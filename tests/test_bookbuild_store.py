"""The execution store: its checksum, not JSON parsing, is what rejects a damaged entry; merges validate."""

from __future__ import annotations

import json

import nbformat
import pytest

from bookbuild.store import CorruptEntry, Store


def executed(value: str = "20") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(core.SCALE * 10)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{value}\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# A"), cell]
    return nb


def files(store: Store, chapter: str = "a", key: str = "k1"):
    return store.root / chapter / f"{key}.ipynb", store.root / chapter / f"{key}.json"


def test_put_then_get_round_trips_with_a_checksum(tmp_path):
    store = Store(tmp_path / "s")
    store.put("a", "k1", executed(), {"seconds": 1.5})
    entry = store.get("a", "k1", ["print(core.SCALE * 10)"])
    assert entry.nb.cells[1].outputs[0].text == "20\n"
    assert entry.meta["seconds"] == 1.5 and entry.meta["chapter"] == "a" and entry.meta["key"] == "k1"
    nb_path, _ = files(store)
    import hashlib

    assert entry.meta["sha256"] == hashlib.sha256(nb_path.read_bytes()).hexdigest()
    assert store.entries() == [("a", "k1")] and store.has("a", "k1") and not store.has("a", "k2")
    assert store.get("a", "k2") is None


def test_an_entry_read_again_in_one_process_is_the_same_notebook(tmp_path):
    """The second read takes the in-process shortcut (files unchanged since found intact): same notebook."""
    store = Store(tmp_path / "s")
    nb = executed("line one\nline two")
    nb.cells[1].outputs.append(nbformat.v4.new_output("display_data", data={"text/plain": "a\nb"}))
    store.put("a", "k1", nb, {})
    first = store.get("a", "k1", ["print(core.SCALE * 10)"]).nb
    again = store.get("a", "k1", ["print(core.SCALE * 10)"]).nb
    assert again == first and again.cells[1].outputs[0].text == "line one\nline two\n"
    assert again.cells[1].outputs[1].data["text/plain"] == "a\nb"  # multi-line text joined, as nbformat reads it


def test_an_edited_notebook_that_is_still_valid_is_rejected_by_its_checksum_and_removed(tmp_path):
    store = Store(tmp_path / "s")
    store.put("a", "k1", executed("20"), {})
    nb_path, meta_path = files(store)
    text = nb_path.read_text()
    nb_path.write_text(text.replace('"20\\n"', '"21\\n"'))  # a flipped digit: valid JSON, valid notebook
    assert nbformat.reads(nb_path.read_text(), as_version=4).cells[1].outputs[0].text == "21\n"
    with pytest.raises(CorruptEntry, match="does not match its checksum"):
        store.get("a", "k1", ["print(core.SCALE * 10)"])
    assert not nb_path.exists() and not meta_path.exists()  # removed: the chapter re-executes
    assert store.get("a", "k1") is None


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda nb, meta: nb.write_text(nb.read_text()[:100]), "does not match its checksum"),
        (lambda nb, meta: meta.unlink(), "no metadata"),
        (lambda nb, meta: nb.unlink(), "metadata without notebook"),
        (lambda nb, meta: meta.write_text("{not json"), "unreadable metadata"),
    ],
)
def test_damaged_entries_are_named_and_removed(tmp_path, damage, message):
    store = Store(tmp_path / "s")
    store.put("a", "k1", executed(), {})
    damage(*files(store))
    with pytest.raises(CorruptEntry, match=message):
        store.get("a", "k1")
    assert not any(p.exists() for p in files(store))


def test_an_entry_with_other_code_cells_is_rejected(tmp_path):
    store = Store(tmp_path / "s")
    store.put("a", "k1", executed(), {})
    with pytest.raises(CorruptEntry, match="code cells differ"):
        store.get("a", "k1", ["print(core.SCALE * 100)"])
    assert not any(p.exists() for p in files(store))


def test_merge_copies_intact_entries_and_rejects_damaged_ones(tmp_path):
    source, target = Store(tmp_path / "shard"), Store(tmp_path / "main")
    source.put("a", "k1", executed("20"), {})
    source.put("b", "k2", executed("6"), {})
    nb_b, _ = files(source, "b", "k2")
    nb_b.write_text(nb_b.read_text().replace('"6\\n"', '"7\\n"'))  # valid JSON, wrong checksum
    assert target.merge_from(source) == (1, 1)
    assert target.entries() == [("a", "k1")]
    assert not target.has("b", "k2") and not (target.root / "b").exists()
    assert target.get("a", "k1").nb.cells[1].outputs[0].text == "20\n"
    assert target.merge_from(source) == (0, 1)  # already there: not copied again


def test_merge_keeps_the_targets_entry(tmp_path):
    source, target = Store(tmp_path / "shard"), Store(tmp_path / "main")
    source.put("a", "k1", executed("20"), {"who": "shard"})
    target.put("a", "k1", executed("20"), {"who": "main"})
    assert target.merge_from(source) == (0, 0)
    assert json.loads(files(target)[1].read_text())["who"] == "main"


def test_a_damaged_entry_does_not_stop_the_merge_of_later_ones(tmp_path):
    source, target = Store(tmp_path / "shard"), Store(tmp_path / "main")
    source.put("a", "k1", executed("20"), {})
    source.put("b", "k2", executed("6"), {})
    nb_a = files(source)[0]
    nb_a.write_text(nb_a.read_text().replace('"20\\n"', '"21\\n"'))  # the first entry in order is damaged
    assert target.merge_from(source) == (1, 1)
    assert target.entries() == [("b", "k2")]


# --- edges found by mutation testing (make mutation) ----------------------------------------------


def glued(value: str = "0.25") -> nbformat.NotebookNode:
    """An executed notebook that glues one number, as myst-nb's glue records it."""
    nb = executed()
    record = nbformat.v4.new_output(
        "display_data", data={"application/papermill.record/text/plain": value}, metadata={"scrapbook": {"name": "acc"}}
    )
    nb.cells[1].outputs.append(record)
    return nb


def test_the_metadata_carries_the_glued_values_also_for_entries_stored_before_they_were_kept(tmp_path):
    from bookbuild import results

    store = Store(tmp_path / "s")
    expected = results.extract(glued())
    assert expected["glue"]  # the notebook does glue a value
    assert store.put("a", "k1", glued(), {})["results"] == expected
    _, meta_path = files(store)
    assert json.loads(meta_path.read_text())["results"] == expected
    # An entry written before the results were kept: get() computes them from its notebook.
    meta = json.loads(meta_path.read_text())
    del meta["results"]
    meta_path.write_text(json.dumps(meta))
    assert store.get("a", "k1").meta["results"] == expected


@pytest.mark.parametrize(
    "damage, reason",
    [
        (
            lambda nb, meta: nb.write_text(nb.read_text()[:100]),
            "notebook does not match its checksum (truncated or edited)",
        ),
        (lambda nb, meta: meta.unlink(), "no metadata (execution or write interrupted)"),
        (lambda nb, meta: nb.unlink(), "metadata without notebook"),
        (lambda nb, meta: meta.write_text("{not json"), "unreadable metadata"),
        (lambda nb, meta: None, "code cells differ from the chapter's"),
    ],
)
def test_a_corrupt_entry_is_reported_with_its_chapter_key_and_reason(tmp_path, damage, reason):
    store = Store(tmp_path / "s")
    store.put("a", "k1", executed(), {})
    damage(*files(store))
    with pytest.raises(CorruptEntry) as err:
        store.get("a", "k1", ["print(core.SCALE * 100)"])
    assert str(err.value) == f"a [k1]: {reason}; entry removed, the chapter will re-execute"


def test_merge_counts_every_copied_and_every_rejected_entry(tmp_path):
    source, target = Store(tmp_path / "shard"), Store(tmp_path / "main")
    for chapter in "abcd":
        source.put(chapter, "k", executed(), {})
    for chapter in "cd":
        nb_path = files(source, chapter, "k")[0]
        nb_path.write_text(nb_path.read_text().replace('"20\\n"', '"21\\n"'))
    assert target.merge_from(source) == (2, 2)
    assert target.entries() == [("a", "k"), ("b", "k")]


@pytest.mark.parametrize("checksum", ["drop", None, ""])
def test_metadata_without_the_notebooks_checksum_is_rejected(tmp_path, checksum):
    """Metadata that lost its checksum (or never had one) cannot vouch for the notebook beside it."""
    store = Store(tmp_path / "s")
    store.put("a", "k1", executed(), {})
    nb_path, meta_path = files(store)
    meta = json.loads(meta_path.read_text())
    if checksum == "drop":
        del meta["sha256"]
    else:
        meta["sha256"] = checksum
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CorruptEntry, match="does not match its checksum"):
        store.get("a", "k1")
    store.put("a", "k1", executed(), {})
    meta_path.write_text(json.dumps(meta))
    target = Store(tmp_path / "t")
    assert target.merge_from(store) == (0, 1) and target.entries() == []


def test_put_records_the_given_metadata_under_the_stores_own_fields(tmp_path):
    """What ``put`` computes (chapter, key, checksum, results) wins over what the caller passes."""
    store = Store(tmp_path / "s")
    meta = store.put("a", "k1", executed(), {"seconds": 2, "key": "forged", "sha256": "0" * 64, "chapter": "z"})
    assert meta["key"] == "k1" and meta["chapter"] == "a" and meta["sha256"] != "0" * 64
    assert json.loads(files(store)[1].read_text()) == meta
    assert store.get("a", "k1").meta == meta


def test_a_notebook_that_is_not_json_is_named(tmp_path):
    store = Store(tmp_path / "s")
    store.put("a", "k1", executed(), {})
    nb_path, meta_path = files(store)
    nb_path.write_bytes(b"not a notebook")
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = __import__("hashlib").sha256(b"not a notebook").hexdigest()
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CorruptEntry, match=r"a \[k1\]: unreadable notebook \("):
        store.get("a", "k1")
