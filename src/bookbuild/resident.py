"""A Sphinx application kept alive between the preview's rebuilds, so a prose edit re-reads one page.

``python -m bookbuild build`` renders through ``jupyter-book build``, which makes a new Sphinx
application every time: it sets up some twenty extensions, loads the pickled environment, then
finds what changed. :class:`ResidentSphinx` makes the same application once (the configuration
jupyter-book would give it, from ``_config.yml`` and the table of contents) and, on each later
rebuild, calls ``app.build()`` on it again. That is Sphinx's own incremental build
(``Builder.build_update``): it re-reads the pages whose source, or a file they depend on (an image,
a module autodoc documented), is newer than when they were read, and the pages bookbuild's
extension marks outdated because their execution key changed (:mod:`bookbuild.sphinx_ext`); it then
writes those pages and the ones whose table of contents, section or figure numbers changed. The
outputs still come from the execution store through jupyter-cache, handed over by the pipeline
before every render exactly as in ``bookbuild build``.

The application is made afresh (and the old one dropped) when

- a file read only when the application starts changed: ``_config.yml``, the table of contents,
  a bibliography (``bibtex_bibfiles``); a new page comes with a new table of contents;
- the last build raised (an extension's exception): its environment may be half-updated;
- the build is strict or asked to re-read every page (those go through :func:`bookbuild.render.sphinx`).

Before every build the library's modules are dropped from ``sys.modules``, so autodoc imports an
edited module anew (Sphinx re-reads the reference pages whose module file changed).

Sphinx registers its directives and roles in docutils' global tables, so an application must keep
them for its life: it lives in a process of its own (the preview's renderer process), one at a time.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import importlib
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import yaml

from bookbuild import render
from bookbuild.book import Site
from bookbuild.util import atomic_write


class _Stream:
    """Where the application's status and warnings go: the current build's log file, else the terminal.

    It also stands for stdout and stderr during a build, and is never closed: a logging handler made
    during a build keeps it (one that kept the build's log file wrote to a closed file later, in the
    processes that execute chapters).
    """

    def __init__(self) -> None:
        self.target = None

    def _out(self):
        return self.target if self.target is not None else sys.__stderr__

    def write(self, text: str) -> int:
        self._out().write(text)
        return len(text)

    def flush(self) -> None:
        self._out().flush()

    def isatty(self) -> bool:
        return False


class ResidentSphinx:
    """Renders the book with one Sphinx application kept between calls (see the module docstring).

    Called like :func:`bookbuild.render.sphinx`. ``package``: the library whose modules are
    re-imported before each build.
    """

    def __init__(self, package: str | None = None) -> None:
        self.package = package
        self.app = None
        self._namespace: contextlib.ExitStack | None = None
        self._signature: dict | None = None
        self._stream = _Stream()
        self._collectors: list = []
        # Work a build leaves for after its page is shown (the readers' notebooks), and its thread.
        self._after: list[Callable[[], object]] = []
        self._after_thread: threading.Thread | None = None
        # Each page's doctree as figure numbering last read it, with the pickled bytes it came from.
        self._doctrees: dict[str, tuple[bytes, object]] = {}
        #: How many applications this object dropped (a new process is cleaner than a second one here).
        self.dropped = 0
        #: What the last build did: ``fresh`` (a new application) or ``reused``, the pages it re-read and wrote.
        self.last: dict = {}

    # -- the application --------------------------------------------------------------------

    def _start(self, root: Path, site: Site) -> None:
        """Make the application as ``jupyter-book build <root> --path-output <site.out>`` would."""
        from jupyter_book.config import get_final_config
        from jupyter_book.pdf import update_latex_documents
        from sphinx.application import Sphinx
        from sphinx.util.docutils import docutils_namespace, patch_docutils

        from bookbuild.inprocess import scope_external_toc_to_its_application

        scope_external_toc_to_its_application()
        toc = site.toc if site.toc is not None else root / "_toc.yml"
        config_file = root / "_config.yml"
        sphinx_config, meta = get_final_config(
            user_yaml=config_file if config_file.exists() else None,
            cli_config={"external_toc_path": Path(toc).as_posix(), "latex_individualpages": False},
            sourcedir=root,
            use_external_toc=True,
        )
        namespace = contextlib.ExitStack()
        namespace.enter_context(patch_docutils(None))
        namespace.enter_context(docutils_namespace())
        try:
            app = Sphinx(
                srcdir=root,
                confdir=None,
                outdir=site.html,
                doctreedir=site.html.parent / ".doctrees",
                buildername="html",
                confoverrides=sphinx_config,
                status=self._stream,
                warning=self._stream,
                freshenv=False,
                warningiserror=False,
                parallel=1,
                keep_going=False,
            )
            app.config.latex_documents = update_latex_documents(app.config.latex_documents, meta["latex_doc_overrides"])
            if app.config["use_multitoc_numbering"]:  # as jupyter_book.sphinx.build_sphinx does
                if "numbered: true" in yaml.dump(app.config.external_site_map.as_json()):
                    app.setup_extension("sphinx_multitoc_numbering")
            app.connect("env-before-read-docs", self._note_read)
            app.connect("env-updated", self._forget_read_doctrees)
            app.connect("html-page-context", self._note_written)
        except BaseException:
            namespace.close()
            raise
        app.bookbuild_after_build = self._after  # bookbuild.sphinx_ext leaves the readers' notebooks here
        self.app, self._namespace = app, namespace
        self._signature = self._signature_of(root, site)
        # The environment collectors as a new application has them. Some keep counters that a
        # build assumes start at zero: sphinx-external-toc's collector numbers chapters on from
        # its last count, so on a reused application the second build numbered them 10, 11, ...
        self._collectors = [(c, dict(vars(c))) for c in self._env_collectors()]
        _number_figures_from_parsed_doctrees(self._doctrees)
        _format_bibliography_entries_once()

    def _env_collectors(self) -> list:
        from sphinx.environment.collectors import EnvironmentCollector

        from bookbuild.inprocess import listener_owners

        return listener_owners(self.app, EnvironmentCollector)

    def close(self) -> None:
        """Drop the application (and its docutils registrations); the next build makes a new one."""
        self.finish_after_build()
        gc.unfreeze()  # what was frozen with it can be collected
        if self.app is not None:
            self.dropped += 1
        if self._namespace is not None:
            self._namespace.close()
        self.app, self._namespace, self._signature, self._collectors = None, None, None, []
        self._doctrees.clear()

    def current(self, root: Path, site: Site) -> bool:
        """Whether the application (if any) was made from the current configuration files."""
        return self.app is not None and self._signature == self._signature_of(root, site)

    def _inputs(self, root: Path, site: Site) -> list[Path]:
        """The files read only when an application starts."""
        files = [root / "_config.yml", Path(site.toc) if site.toc is not None else root / "_toc.yml"]
        if self.app is not None:
            files += [root / name for name in getattr(self.app.config, "bibtex_bibfiles", None) or []]
        return files

    def _signature_of(self, root: Path, site: Site) -> dict:
        out = {}
        for f in self._inputs(root, site):
            try:
                st = f.stat()
                out[str(f)] = (st.st_mtime_ns, st.st_size)
            except OSError:
                out[str(f)] = None
        return out

    def _configuration(self, root: Path, site: Site) -> str:
        """A digest of the configuration files' contents."""
        digest = hashlib.sha256()
        for f in self._inputs(root, site):
            digest.update(f"{f}\0".encode())
            digest.update(f.read_bytes() if f.exists() else b"(none)")
        return digest.hexdigest()

    def _forget_library(self) -> None:
        if not self.package:
            return
        for name in [m for m in sys.modules if m == self.package or m.startswith(self.package + ".")]:
            # Its bytecode too: an edit within the same second that keeps the file's size would
            # otherwise be imported from the old bytecode (see bookbuild.execute.forget_library_bytecode).
            cached = getattr(sys.modules[name], "__cached__", None)
            if cached:
                with contextlib.suppress(OSError):
                    os.unlink(cached)
            del sys.modules[name]
        importlib.invalidate_caches()

    def _start_after_build(self, site: Site) -> None:
        """Write the readers' notebooks in a thread, so the rebuilt page is shown without waiting for them.

        They are made from what the build read (the executed notebooks, the sources, the numbers
        and citations, all taken when Sphinx finished); each file is replaced whole. The next build,
        closing the application and the end of the process wait for them. A failure is written to
        the build's log and the terminal: the download links would serve the previous notebooks.
        """
        jobs, self._after[:] = list(self._after), []
        if not jobs:
            return

        def run() -> None:
            for job in jobs:
                try:
                    job()
                except Exception:  # noqa: BLE001 -- reported; the page itself is rendered
                    text = traceback.format_exc()
                    sys.__stderr__.write(f"[preview] writing the readers' notebooks failed:\n{text}")
                    with contextlib.suppress(OSError), open(site.log, "a") as log:
                        log.write(text)

        self._after_thread = threading.Thread(target=run, name="bookbuild-notebooks")
        self._after_thread.start()
        if not getattr(self, "_joins_at_exit", False):  # a process pool's worker ends with os._exit
            from multiprocessing import util

            util.Finalize(self, self.finish_after_build, exitpriority=10)
            self._joins_at_exit = True

    def finish_after_build(self) -> None:
        """Wait for the last build's deferred work (see :meth:`_start_after_build`)."""
        thread, self._after_thread = self._after_thread, None
        if thread is not None:
            thread.join()

    #: Every this many builds, the objects kept out of garbage collection are looked at again.
    FULL_COLLECTION_EVERY = 25

    def _settle_memory(self) -> None:
        """Keep Python's garbage collector off the application's long-lived objects.

        A reused application holds the environment, every page's parsed doctree and the renderer's
        caches (some million objects), and each full collection during a build walked all of them:
        on this book a fifth of a prose edit's render, charged to whatever allocated at that moment
        (the theme's navigation, mostly). After each build the garbage is collected and what is
        left is frozen (``gc.freeze``), so later collections look only at the next build's objects.
        Cycles that become garbage among frozen objects (the old doctree of a page read again) are
        only freed by a collection after ``gc.unfreeze``, done every :attr:`FULL_COLLECTION_EVERY` builds.
        """
        self._builds = getattr(self, "_builds", 0) + 1
        if self._builds % self.FULL_COLLECTION_EVERY == 0:
            gc.unfreeze()
        gc.collect()
        gc.freeze()

    def _note_read(self, app, env, docnames) -> None:
        self.last["read"] = sorted(docnames)

    def _forget_read_doctrees(self, app, env) -> None:
        """Drop what the environment kept in memory of the pages just re-read.

        ``env.get_doctree`` keeps every doctree file it read in memory and Sphinx never drops one when
        the page is read again (its own test application clears them before each build): on a
        reused application, numbering, the navigation and cross-references then came from the
        page as it was before the edit. Anything that asked for a page's doctree while other pages
        were being read (before the page itself was) left the same stale copy.
        """
        for doc in self.last.get("read", []):
            env._pickled_doctree_cache.pop(doc, None)
        # The root page's doctree, which every page's navigation is made from, is a cached property
        # of the environment: kept (and pickled with it) from the previous build, a new page never
        # showed in the navigation of the others.
        vars(env).pop("master_doctree", None)

    def _note_written(self, app, pagename, templatename, context, doctree) -> None:
        if doctree is not None:
            self.last.setdefault("written", []).append(pagename)

    # -- a build ------------------------------------------------------------------------------

    def __call__(self, root: Path, site: Site, strict: bool, all_pages: bool, say: Callable[[str], None]) -> int:
        if strict or all_pages:  # every page re-read anyway: the ordinary build, and a fresh application after
            self.close()
            return render.sphinx(root, site, strict, all_pages, say)
        self.finish_after_build()  # the last build's notebooks are written before this build starts
        start = time.perf_counter()
        reuse = self.current(root, site)
        self.last = {"application": "reused" if reuse else "fresh", "read": [], "written": []}
        if not reuse:
            self.close()
        self._forget_library()
        site.log.parent.mkdir(parents=True, exist_ok=True)
        previous = Path.cwd()
        with (
            open(site.log, "w") as log,
            contextlib.redirect_stdout(self._stream),
            contextlib.redirect_stderr(self._stream),
        ):
            self._stream.target = log
            try:
                os.chdir(root)
                if not reuse:
                    self._start(root, site)
                for collector, state in self._collectors:
                    vars(collector).update(state)
                # A new application over a site written with other configuration files writes every
                # page (re-reading only what changed): Sphinx alone rewrites no page for a new table
                # of contents but the ones it lists, so the others' navigation would miss a new page.
                configured = self._configuration(root, site)
                marker = site.html.parent / ".doctrees" / "bookbuild-configuration"
                write_all = not reuse and (not marker.exists() or marker.read_text() != configured)
                self.app.build(write_all, [])
                if self.app.statuscode == 0:
                    atomic_write(marker, configured)
                rc = self.app.statuscode
            except Exception:  # noqa: BLE001 -- reported in the log; the next build starts afresh
                traceback.print_exc(file=log)
                self.close()
                rc = 1
            finally:
                os.chdir(previous)
                self._stream.target = None
        self._settle_memory()
        self._start_after_build(site)
        read, written = self.last["read"], self.last["written"]
        say(
            f"  Sphinx application {self.last['application']}: re-read {len(read)} page(s)"
            + (f" ({', '.join(read[:6])}{' ...' if len(read) > 6 else ''})" if read else "")
            + f", wrote {len(written)}"
        )
        return render.report(site, rc, strict, start, say)


def _number_figures_from_parsed_doctrees(parsed: dict[str, tuple[bytes, object]]) -> None:
    """Let Sphinx read doctrees it only looks at without unpickling them on every build.

    ``env.get_doctree`` unpickles a page's doctree anew on every call. After each build Sphinx's
    table-of-contents collector walks the doctree of every page to number the figures
    (``assign_figure_numbers``), and every ``{numref}`` unpickles the doctree of the page it points
    to (``StandardDomain._resolve_numref_xref``): on this book about a third of a prose edit's
    render. Both only read, so in this process a page's parsed doctree is kept with the pickled
    bytes it came from and given to them while the environment holds the same bytes object for the
    page (a page re-read gets new bytes: :meth:`ResidentSphinx._forget_read_doctrees` drops the old
    ones). Everything else still gets a fresh copy from ``get_doctree``.
    """
    from sphinx.domains.std import StandardDomain
    from sphinx.environment.collectors.toctree import TocTreeCollector

    def reading(method, env_argument: int):
        original = getattr(method, "bookbuild_original", method)

        def wrapper(*args, **kwargs):
            env = args[env_argument]
            fresh = env.get_doctree

            def get_doctree(docname: str):
                raw = env._pickled_doctree_cache.get(docname)
                hit = parsed.get(docname)
                if raw is not None and hit is not None and hit[0] is raw:
                    return hit[1]
                doctree = fresh(docname)
                parsed[docname] = (env._pickled_doctree_cache[docname], doctree)
                return doctree

            env.get_doctree = get_doctree
            try:
                return original(*args, **kwargs)
            finally:
                del env.get_doctree

        wrapper.bookbuild_original = original
        return wrapper

    TocTreeCollector.assign_figure_numbers = reading(TocTreeCollector.assign_figure_numbers, 1)
    StandardDomain._resolve_numref_xref = reading(StandardDomain._resolve_numref_xref, 1)


def _format_bibliography_entries_once() -> None:
    """Format each bibliography entry once per process, not on every build.

    sphinxcontrib-bibtex formats every cited entry of the book with pybtex after each build's
    reading (``env_updated``), whatever changed: on this book a tenth of a prose edit's render.
    The result depends on the style (its class and options), the label and the entry; the entries
    are the objects sphinxcontrib-bibtex parsed from the ``.bib`` file and keeps until the file
    changes (then new objects, so new keys). The memo holds the entries it keys on, so an id is
    never reused while remembered.
    """
    from pybtex.style.formatting import BaseStyle

    original = getattr(BaseStyle.format_entry, "bookbuild_original", BaseStyle.format_entry)
    memo: dict[tuple, tuple[object, object]] = {}

    def format_entry(self, label, entry, bib_data=None):
        if bib_data is not None:
            return original(self, label, entry, bib_data=bib_data)
        options = (
            type(self),
            type(self.name_style),
            type(self.label_style),
            type(self.sorting_style),
            self.abbreviate_names,
            self.min_crossrefs,
        )
        key = (options, label, id(entry))
        hit = memo.get(key)
        if hit is not None and hit[0] is entry:
            return hit[1]
        if len(memo) > 10_000:  # the .bib file was re-parsed many times: start over
            memo.clear()
        formatted = original(self, label, entry)
        memo[key] = (entry, formatted)
        return formatted

    format_entry.bookbuild_original = original
    BaseStyle.format_entry = format_entry
