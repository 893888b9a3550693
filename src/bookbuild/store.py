"""A content-addressed store of executed notebooks: ``<root>/<chapter>/<key>.ipynb`` + ``.json``.

Each entry is written atomically (temporary file, then rename) and the metadata file, written
last, carries the SHA-256 of the notebook (and the chapter's glued values and figure fingerprints,
:mod:`bookbuild.results`): an entry without valid metadata, with a checksum that
does not match, or whose code cells differ from the chapter's is corrupt -- it is removed and the
chapter re-executes. Entries for every key are kept, so reverting a change finds the earlier
outputs again. Two stores merge by copying entries (validated) from one into the other, which is
how chapters executed on different machines are combined.

Beside an entry, ``<key>.nbval`` records that nbval passed it (:mod:`bookbuild.validated`): a
sibling file, so entries keep their format; it names the notebook's SHA-256, so it never vouches
for another notebook stored under the same key, and it goes when its entry is removed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

from bookbuild import results
from bookbuild.deps import code_sources
from bookbuild.util import atomic_write

# Entries this process found intact: notebook path -> (both files' sizes and times, the code cells).
_INTACT: dict[str, tuple[tuple, list[str]]] = {}


def _stamp(*paths: Path) -> tuple | None:
    try:
        return tuple((st.st_mtime_ns, st.st_size, st.st_ino) for st in (p.stat() for p in paths))
    except OSError:
        return None


@dataclass(frozen=True)
class Entry:
    nb: nbformat.NotebookNode
    meta: dict


class Store:
    """Executed notebooks under ``root``, addressed by (chapter, key)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _paths(self, chapter: str, key: str) -> tuple[Path, Path]:
        folder = self.root / chapter
        return folder / f"{key}.ipynb", folder / f"{key}.json"

    def put(self, chapter: str, key: str, nb: nbformat.NotebookNode, meta: dict) -> dict:
        """Store an executed notebook; the metadata (checksum, glued values, figures) goes last; returns it."""
        nb_path, meta_path = self._paths(chapter, key)
        data = nbformat.writes(nb).encode("utf8")
        atomic_write(nb_path, data)
        meta = {
            **meta,
            "chapter": chapter,
            "key": key,
            "sha256": hashlib.sha256(data).hexdigest(),
            "results": results.extract(nb),
        }
        atomic_write(meta_path, json.dumps(meta, indent=1, sort_keys=True).encode())
        return meta

    def get(self, chapter: str, key: str, expected_code: list[str] | None = None) -> Entry | None:
        """The entry if present and intact; a corrupt entry is removed and None returned."""
        nb_path, meta_path = self._paths(chapter, key)
        if not nb_path.exists() and not meta_path.exists():
            return None
        problem, nb, meta = self._read(nb_path, meta_path, expected_code)
        if problem:
            self.remove(chapter, key)
            raise CorruptEntry(f"{chapter} [{key}]: {problem}; entry removed, the chapter will re-execute")
        if "results" not in meta:  # an entry stored before results were kept
            meta["results"] = results.extract(nb)
        return Entry(nb, meta)

    def _check(self, nb_path: Path, meta_path: Path) -> str | None:
        """What is wrong with the entry at these paths (its code unchecked), or None when it is intact."""
        return self._read(nb_path, meta_path, None)[0]

    def _read(
        self, nb_path: Path, meta_path: Path, expected_code: list[str] | None
    ) -> tuple[str | None, nbformat.NotebookNode | None, dict]:
        """(problem, notebook, metadata), each file read and parsed once; the problem is None when intact.

        An entry found intact is remembered in this process with its files' sizes and times: while
        they are the same, the next read parses the two files without checking the checksum and
        the notebook's schema again (the preview reads every chapter's entry on every save).
        """
        stamp = _stamp(nb_path, meta_path)
        known = _INTACT.get(str(nb_path))
        if stamp is not None and known is not None and known[0] == stamp:
            # As nbformat.reads has it in memory (multi-line text joined), without the schema check.
            nb = nbformat.reader.reads(nb_path.read_text(encoding="utf8"))
            differs = expected_code is not None and known[1] != expected_code
            return "code cells differ from the chapter's" if differs else None, nb, json.loads(meta_path.read_text())
        problem, nb, meta = self._read_checked(nb_path, meta_path, expected_code)
        if problem is None and stamp is not None and stamp == _stamp(nb_path, meta_path):
            _INTACT[str(nb_path)] = (stamp, code_sources(nb))
        return problem, nb, meta

    def _read_checked(
        self, nb_path: Path, meta_path: Path, expected_code: list[str] | None
    ) -> tuple[str | None, nbformat.NotebookNode | None, dict]:
        if not meta_path.exists():
            return "no metadata (execution or write interrupted)", None, {}
        if not nb_path.exists():
            return "metadata without notebook", None, {}
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            return "unreadable metadata", None, {}
        data = nb_path.read_bytes()
        if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
            return "notebook does not match its checksum (truncated or edited)", None, meta
        try:
            nb = nbformat.reads(data.decode("utf8"), as_version=4)
        except Exception as err:  # noqa: BLE001 -- any parse failure means corrupt
            return f"unreadable notebook ({err})", None, meta
        if expected_code is not None and code_sources(nb) != expected_code:
            return "code cells differ from the chapter's", nb, meta
        return None, nb, meta

    def remove(self, chapter: str, key: str) -> None:
        for p in (*self._paths(chapter, key), self._validation_path(chapter, key)):
            p.unlink(missing_ok=True)

    def _validation_path(self, chapter: str, key: str) -> Path:
        return self.root / chapter / f"{key}.nbval"

    def put_validation(self, chapter: str, key: str, record: dict) -> None:
        """Record that nbval passed the entry (chapter, key); ``record`` names what the verdict depends on."""
        atomic_write(self._validation_path(chapter, key), json.dumps(record, indent=1, sort_keys=True).encode())

    def validation(self, chapter: str, key: str) -> dict | None:
        """The nbval record of (chapter, key), or None (none, or unreadable: then it is removed)."""
        path = self._validation_path(chapter, key)
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text())
        except ValueError:
            path.unlink(missing_ok=True)
            return None
        return record if isinstance(record, dict) else None

    def entries(self) -> list[tuple[str, str]]:
        """All (chapter, key) pairs with metadata."""
        return sorted((p.parent.name, p.stem) for p in self.root.glob("*/*.json"))

    def merge_from(self, other: Store) -> tuple[int, int]:
        """Copy the intact entries of ``other`` that this store lacks; returns (copied, rejected)."""
        copied = rejected = 0
        for chapter, key in other.entries():
            if self.has(chapter, key):
                continue
            src_nb, src_meta = other._paths(chapter, key)
            if other._check(src_nb, src_meta):
                rejected += 1
                continue
            dst_nb, dst_meta = self._paths(chapter, key)
            atomic_write(dst_nb, src_nb.read_bytes())
            atomic_write(dst_meta, src_meta.read_bytes())
            if (record := other.validation(chapter, key)) is not None:  # it names the notebook's checksum
                self.put_validation(chapter, key, record)
            copied += 1
        return copied, rejected

    def has(self, chapter: str, key: str) -> bool:
        """Whether an entry's metadata exists (without validating it; :meth:`get` validates)."""
        return self._paths(chapter, key)[1].exists()


class CorruptEntry(Exception):
    """A store entry failed validation (and has been removed)."""
