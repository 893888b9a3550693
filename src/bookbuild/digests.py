"""The build's one change detector: the SHA-256 of a file, remembered on what identifies its version.

Everything that asks whether a file changed asks here: the chapter keys (the library modules a
chapter imports, the profile's data files), the plan memo (a chapter's text, the library's files)
and the render stamp (every file the site is made from). A file's digest is its content's, so an
edit is always seen, whatever happened to its timestamps; reading and hashing are skipped for a
file whose version stamp is the one remembered, so an unchanged tree costs one ``stat`` per file.

A version stamp is (size, modification time, change time, inode, device). The change time
(ctime) cannot be set from user space, so a rewrite to the same size whose modification time is
put back (``touch -r``, ``cp -p``, an unpacked archive) still changes it; the inode catches a file
replaced by another (a rename over it). A file changed less than :data:`RACY_SECONDS` before it is
looked at is always hashed: file-system timestamps tick coarsely, so two writes within one tick
can leave the same stamp (git calls such entries "racy").

The memo is ``_build/file-digests.json`` (:attr:`bookbuild.book.Paths.digests`), ``{path: [stamp,
digest]}``; an unreadable memo is an empty one.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bookbuild.util import atomic_write
from importgraph import file_digest

#: Files changed more recently than this (seconds) are hashed, never looked up.
RACY_SECONDS = 2.0


def stamp(st: os.stat_result) -> str:
    """What identifies one version of a file without reading it (see the module docstring)."""
    return f"{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}|{st.st_dev}"


class Digests:
    """SHA-256 of files, remembered in ``memo`` (a JSON file; None: remember nothing between builds).

    ``now``: the time the racy window is measured from (default: the time of each look-up).
    """

    def __init__(self, memo: Path | None = None, now: float | None = None) -> None:
        self.memo = memo
        self.now = now
        self.entries: dict[str, list[str]] = {}
        self.changed = False
        if memo is not None and memo.exists():
            try:
                data = json.loads(memo.read_text())
                self.entries = data if isinstance(data, dict) else {}
            except (OSError, ValueError):
                self.entries = {}

    def __call__(self, path: Path) -> str:
        """The SHA-256 (hex) of ``path``'s content."""
        st = path.stat()
        key, version = str(Path(path).absolute()), stamp(st)
        now = time.time() if self.now is None else self.now
        racy = now - max(st.st_mtime, st.st_ctime) < RACY_SECONDS
        known = self.entries.get(key)
        if not racy and isinstance(known, list) and len(known) == 2 and known[0] == version:
            return known[1]
        digest = file_digest(path)
        if not racy:
            self.entries[key] = [version, digest]
            self.changed = True
        return digest

    def save(self) -> None:
        """Write the memo if anything new was learnt (atomically; a lost race only costs hashing again)."""
        if self.memo is not None and self.changed:
            atomic_write(self.memo, json.dumps(self.entries, indent=0))
            self.changed = False
