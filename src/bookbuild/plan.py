"""Step 1 of a build: read every executable chapter and compute its execution key.

The chapters are the executable pages of ``_toc.yml`` (:func:`bookbuild.book.discover`); each is
read as myst-nb reads it and keyed on everything its outputs depend on (:mod:`bookbuild.deps`).
With the build's :class:`~bookbuild.book.Paths`, the slow pure steps are remembered between
builds (:mod:`bookbuild.planmemo`, data digests): planning then costs what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat

from bookbuild.book import Paths, discover, safe_name
from bookbuild.config import Config
from bookbuild.deps import ChapterKey, Library, chapter_key, data_digest, read_notebook
from bookbuild.digests import Digests
from bookbuild.planmemo import ChapterMemo, library_fingerprint


@dataclass
class Chapter:
    """One executable page of the book."""

    docname: str  # e.g. "book/priors", as in _toc.yml
    path: Path
    nb: nbformat.NotebookNode  # as myst-nb reads it (no outputs)
    key: ChapterKey

    @property
    def name(self) -> str:
        return safe_name(self.docname)


def plan(
    config: Config,
    profile: str,
    only: list[str] | None = None,
    library: Library | None = None,
    paths: Paths | None = None,
    digests: Digests | None = None,
) -> list[Chapter]:
    """Read every executable chapter of ``config.root`` (or those named in ``only``) and compute its key.

    ``library`` defaults to the one ``config`` names; ``digests`` to the memo of ``paths`` (saved
    here), or one that remembers nothing. Without ``paths`` no plan memo is kept.
    """
    root = config.root
    library = library or config.library()
    own = digests is None
    digests = digests or Digests(paths.digests if paths else None)
    data = data_digest(config, profile, digests)
    memo_dir = paths.plan_memo if paths else None
    library_digest = library_fingerprint(library.root, library.package, digests) if memo_dir else ""
    found = discover(root, config.exclude_patterns)
    chapters = []
    for doc, path in found:
        if only and doc not in only and safe_name(doc) not in only and Path(doc).name not in only:
            continue
        memo = ChapterMemo(memo_dir, safe_name(doc))
        nb = read_notebook(path, memo, digests)
        key = chapter_key(nb, str(path), library, profile, data, config, memo, library_digest, digests)
        chapters.append(Chapter(doc, path, nb, key))
        memo.save()
    if own:
        digests.save()
    if only:
        known = {c.docname for c in chapters} | {Path(c.docname).name for c in chapters} | {c.name for c in chapters}
        unknown = [o for o in only if o not in known]
        if unknown:
            raise ValueError(
                f"unknown chapter(s) {', '.join(unknown)}; chapters: {', '.join(Path(d).name for d, _ in found)}"
            )
    return chapters
