"""bookbuild.deps: the data-digest memo cannot be fooled; every re-execution reason is produced."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest
from bookbuild_minibook import book  # noqa: F401 -- a fixture

from bookbuild import config as config_mod
from bookbuild import deps
from bookbuild.deps import ChapterKey, data_digest


@pytest.fixture
def data(book, tmp_path, monkeypatch):  # noqa: F811
    """The mini book's full-profile data folder with one file; returns (config, file, memo path)."""
    monkeypatch.setenv("MINI_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "cache" / "data" / "raw" / "images"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"AAAA")
    return config_mod.load(book), f, tmp_path / "memo.json"


LABEL = "mini-cache/data/raw/images"
LATER = time.time() + 3600  # "now", long after the files were written: memo entries are trusted


def test_the_memo_is_used_for_settled_files(data, monkeypatch):
    config, f, memo = data
    assert data_digest(config, "full", memo, now=LATER) == {LABEL: hashlib.sha256(b"AAAA").hexdigest()}
    assert len(json.loads(memo.read_text())) == 1
    calls = []
    monkeypatch.setattr(deps, "file_digest", lambda p: calls.append(p) or "hashed")
    assert data_digest(config, "full", memo, now=LATER)[LABEL] == hashlib.sha256(b"AAAA").hexdigest()
    assert calls == []  # looked up, not read
    assert data_digest(config, "lite", memo, now=LATER) == {}  # lite reads no data files


def test_a_same_size_rewrite_with_its_mtime_put_back_is_noticed(data):
    config, f, memo = data
    before = data_digest(config, "full", memo, now=LATER)
    st = f.stat()
    time.sleep(0.05)  # past the file system's timestamp tick
    f.write_bytes(b"BBBB")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # mtime restored, as `touch -r` or `cp -p` would
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    after = data_digest(config, "full", memo, now=LATER)
    assert after[LABEL] == hashlib.sha256(b"BBBB").hexdigest() != before[LABEL]


def test_a_file_replaced_by_a_rename_is_noticed(data):
    config, f, memo = data
    data_digest(config, "full", memo, now=LATER)
    st = f.stat()
    other = f.with_name("incoming")
    other.write_bytes(b"CCCC")
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, f)
    assert data_digest(config, "full", memo, now=LATER)[LABEL] == hashlib.sha256(b"CCCC").hexdigest()


def test_a_freshly_written_file_is_always_hashed(data, monkeypatch):
    """Within one timestamp tick two versions can share every stamp: recent files are never looked up."""
    config, f, memo = data
    data_digest(config, "full", memo, now=LATER)
    stamp = deps._stamp(f, f.stat())
    memo.write_text(json.dumps({stamp: "stale digest"}))  # what a same-tick rewrite would leave behind
    assert data_digest(config, "full", memo)[LABEL] == hashlib.sha256(b"AAAA").hexdigest()  # now: racy
    assert data_digest(config, "full", memo, now=LATER)[LABEL] == "stale digest"  # (the memo is consulted)


BASE = {
    "code": "c1",
    "kernel": "python3",
    "profile": "lite",
    "env": {"OMP_NUM_THREADS": "1"},
    "packages": {"numpy": "2.0"},
    "data": {},
    "modules": {"lib": "h0", "lib.core": "h1", "lib.old": "h2"},
}


@pytest.mark.parametrize(
    "change, reasons",
    [
        ({}, []),
        ({"code": "c2"}, ["code changed"]),
        ({"kernel": "python2"}, ["kernel changed"]),
        ({"profile": "full"}, ["profile changed"]),
        ({"env": {"OMP_NUM_THREADS": "2"}}, ["env changed"]),
        ({"packages": {"numpy": "2.1"}}, ["packages changed"]),
        ({"data": {"d/x": "h"}}, ["data changed"]),
        ({"modules": {"lib": "h0", "lib.core": "h9", "lib.old": "h2"}}, ["lib.core changed"]),
        ({"modules": {"lib": "h0", "lib.core": "h1", "lib.old": "h2", "lib.new": "h3"}}, ["now imports lib.new"]),
        ({"modules": {"lib": "h0", "lib.core": "h1"}}, ["no longer imports lib.old"]),
        (
            {"code": "c2", "profile": "full", "modules": {"lib": "h0", "lib.core": "h9"}},
            ["code changed", "profile changed", "lib.core changed", "no longer imports lib.old"],
        ),
    ],
)
def test_chapter_key_diff_names_each_reason(change, reasons):
    new = ChapterKey("k", {**BASE, **change})
    assert new.diff(BASE) == reasons
