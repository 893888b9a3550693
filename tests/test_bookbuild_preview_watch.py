"""The preview's watcher loses no save: not one made during the first build, nor during a rebuild that
changed the table of contents (the watch then starts over), and it rebuilds a save once.

The real watcher (watchfiles, sphinx-autobuild's server class) on real files, with a renderer that
records what each rebuild was given instead of rendering; the saves "during a rebuild" are made by
that renderer while it runs, so the order of events is fixed, not left to timing.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("sphinx_autobuild")

from bookbuild import preview  # noqa: E402 -- after the check for the dev extras

OLD_NS = 1_000_000_000 * 1_000_000_000  # 2001: files older than any build in these tests


class Recorder:
    """Stands in for :class:`bookbuild.preview.Renderer`: records each rebuild's changed files, runs
    ``during[i]`` while rebuild ``i`` is under way (a save the rebuild did not read)."""

    def __init__(self, during: dict[int, Callable[[], None]] | None = None) -> None:
        self.rebuilds: list[list[str]] = []
        self.during = during or {}

    async def arun(self, changed_paths) -> None:
        self.rebuilds.append(sorted(p.name for p in changed_paths))
        if len(self.rebuilds) - 1 in self.during:
            self.during[len(self.rebuilds) - 1]()
        await asyncio.sleep(0.05)


def save(path: Path, text: str) -> None:
    path.write_text(text)


def aged(*paths: Path) -> None:
    for p in paths:
        os.utime(p, ns=(OLD_NS, OLD_NS))


async def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.01)


def run_watch(root: Path, sources: Callable[[], list[Path]], renderer: Recorder, since_ns: int, script) -> None:
    """Start the watcher as ``serve`` does, then run the coroutine ``script(watch_task)`` against it."""

    async def main() -> None:
        ignore = preview._ignore_filter(root)
        watcher = preview._watcher(sources, root, ignore, renderer, since_ns)
        task = asyncio.ensure_future(watcher.watch())
        try:
            await script(task)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())


def test_a_save_made_during_the_first_build_is_rebuilt_at_once(tmp_path, capsys):
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    save(a, "A")
    save(b, "B")
    aged(a, b)
    first_build = time.time_ns()
    save(a, "A, saved while the first build ran")  # before the watch started: it has no event for it
    renderer = Recorder()

    async def script(task) -> None:
        await until(lambda: renderer.rebuilds)
        await asyncio.sleep(0.3)  # no event comes for it later: one rebuild
        save(b, "B, saved later")
        await until(lambda: len(renderer.rebuilds) == 2)

    run_watch(tmp_path, lambda: [a, b], renderer, first_build, script)
    assert renderer.rebuilds == [["a.md"], ["b.md"]]
    out = capsys.readouterr().out
    assert "[preview] saved while the last build ran: a.md; rebuilding" in out
    assert out.index("saved while the last build ran") < out.index("[preview] watching for saves: a.md, b.md")


def test_saves_during_a_rebuild_that_changes_the_table_of_contents_are_rebuilt(tmp_path, capsys):
    """The watch starts over on the new list: what was saved while the rebuild ran, in a page watched
    before or in the new page, is rebuilt; a save after that the new watch sees."""
    toc, a, c = tmp_path / "_toc.yml", tmp_path / "a.md", tmp_path / "c.md"
    for p, text in ((toc, "a"), (a, "A"), (c, "C")):
        save(p, text)
    aged(toc, a, c)
    listed = [toc, a]

    def during_the_toc_rebuild() -> None:
        listed.append(c)  # the table of contents now lists c
        save(a, "A, saved while the rebuild ran")  # the old watch saw it, and is closed
        save(c, "C, saved while the rebuild ran")  # not watched yet

    renderer = Recorder(during={0: during_the_toc_rebuild})

    async def script(task) -> None:
        await asyncio.sleep(0.05)
        save(toc, "a\nc")
        await until(lambda: len(renderer.rebuilds) == 2)
        await until(lambda: "now watching" in capsys.readouterr().out)
        save(c, "C, saved after")
        await until(lambda: len(renderer.rebuilds) == 3)
        await asyncio.sleep(0.3)  # and nothing more

    run_watch(tmp_path, lambda: list(listed), renderer, time.time_ns(), script)
    assert renderer.rebuilds == [["_toc.yml"], ["a.md", "c.md"], ["c.md"]]


def test_a_save_both_the_check_and_the_new_watch_see_is_rebuilt_once(tmp_path):
    """A save just after the new watch registered its files and before the check for missed saves:
    the check rebuilds it, and the watch's event for the same save does not rebuild it again."""
    toc, a = tmp_path / "_toc.yml", tmp_path / "a.md"
    save(toc, "a")
    save(a, "A")
    aged(toc, a)
    listed = [toc]
    saved = []

    class SavingFilter:
        """The watcher's filter, which saves a.md the first time the check asks about it."""

        def __init__(self, inner) -> None:
            self.inner = inner

        def __call__(self, path: str) -> bool:
            if path == str(a) and not saved:
                save(a, "A, saved in between")
                saved.append(time.time_ns())
            return self.inner(path)

    renderer = Recorder(during={0: lambda: listed.append(a)})

    async def main() -> None:
        watcher = preview._watcher(
            lambda: list(listed), tmp_path, SavingFilter(preview._ignore_filter(tmp_path)), renderer, time.time_ns()
        )
        task = asyncio.ensure_future(watcher.watch())
        await asyncio.sleep(0.05)
        save(toc, "a\nb")
        await until(lambda: len(renderer.rebuilds) == 2)
        await asyncio.sleep(0.4)  # the new watch's event for the same save: no third rebuild
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert saved and renderer.rebuilds == [["_toc.yml"], ["a.md"]]
