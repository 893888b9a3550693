"""bookbuild.digests, the build's one change detector: an edit is always seen; an unchanged file is not read."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from bookbuild import digests
from bookbuild.digests import Digests

LATER = time.time() + 3600  # "now", long after the files were written: memo entries are trusted
SHA = {text: hashlib.sha256(text).hexdigest() for text in (b"AAAA", b"BBBB", b"CCCC")}


@pytest.fixture
def data(tmp_path):
    """A file and the memo path: (file, memo)."""
    f = tmp_path / "data" / "images"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"AAAA")
    return f, tmp_path / "file-digests.json"


def test_the_memo_is_used_for_settled_files(data, monkeypatch):
    f, memo = data
    first = Digests(memo, now=LATER)
    assert first(f) == SHA[b"AAAA"]
    first.save()
    assert len(json.loads(memo.read_text())) == 1
    calls = []
    monkeypatch.setattr(digests, "file_digest", lambda p: calls.append(p) or "hashed")
    assert Digests(memo, now=LATER)(f) == SHA[b"AAAA"]
    assert calls == []  # looked up, not read


def test_a_same_size_rewrite_with_its_mtime_put_back_is_noticed(data):
    f, memo = data
    first = Digests(memo, now=LATER)
    first(f)
    first.save()
    st = f.stat()
    time.sleep(0.05)  # past the file system's timestamp tick
    f.write_bytes(b"BBBB")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime restored, as `touch -r` or `cp -p` would
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    assert Digests(memo, now=LATER)(f) == SHA[b"BBBB"]


def test_a_file_replaced_by_a_rename_is_noticed(data):
    f, memo = data
    first = Digests(memo, now=LATER)
    first(f)
    first.save()
    st = f.stat()
    other = f.with_name("incoming")
    other.write_bytes(b"CCCC")
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, f)
    assert Digests(memo, now=LATER)(f) == SHA[b"CCCC"]


def test_a_freshly_written_file_is_always_hashed(data):
    """Within one timestamp tick two versions can share every stamp: recent files are never looked up."""
    f, memo = data
    stale = {str(f.absolute()): [digests.stamp(f.stat()), "stale digest"]}  # what a same-tick rewrite would leave
    memo.write_text(json.dumps(stale))
    fresh = Digests(memo)  # now: the file was just written
    assert fresh(f) == SHA[b"AAAA"]
    fresh.save()
    assert json.loads(memo.read_text()) == stale  # a racy file is not remembered
    assert Digests(memo, now=LATER)(f) == "stale digest"  # (the memo is consulted once settled)


def test_an_unreadable_memo_is_ignored_and_rewritten(data):
    f, memo = data
    memo.write_text("{not json")
    d = Digests(memo, now=LATER)
    assert d(f) == SHA[b"AAAA"]
    d.save()
    assert len(json.loads(memo.read_text())) == 1


def test_without_a_memo_file_nothing_is_written(data, tmp_path):
    f, _ = data
    d = Digests(None, now=LATER)
    assert d(f) == SHA[b"AAAA"] and d(f) == SHA[b"AAAA"]
    d.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
