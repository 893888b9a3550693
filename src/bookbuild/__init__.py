"""bookbuild: execute the book's chapters exactly when something they depend on changed.

myst-nb's own execution cache (jupyter-cache) keys a notebook on its code cells only, so a change
in the library the chapters import, the data, the profile or the installed packages would publish
stale outputs. bookbuild keys each chapter on all of them, executes the chapters that need it in
parallel worker processes, keeps every executed notebook in a content-addressed store
(``_build/exec-store``), and hands the outputs to myst-nb through jupyter-cache so that Sphinx
only renders. It knows nothing of the library it builds: the package, its environment variables,
profiles and data files come from ``[tool.bookbuild]`` in ``pyproject.toml``.

How a build flows (:func:`bookbuild.build.build`, one function for every command): plan the
chapters and their keys (:mod:`~bookbuild.plan`) -> execute what the store lacks
(:mod:`~bookbuild.execute`) -> record the manifest (:mod:`~bookbuild.record`) -> hand the outputs to
jupyter-cache and render with Sphinx (:mod:`~bookbuild.render`). The design: ``src/bookbuild/README.md``.

- :mod:`bookbuild.cli`     -- ``python -m bookbuild build|execute|chapter|preview|plan|export|merge|diff``
- :mod:`bookbuild.build`   -- the pipeline, and the context every command reads once
- :mod:`bookbuild.config`  -- settings: ``[tool.bookbuild]``, ``_config.yml``'s execute section, stand-in runs
- :mod:`bookbuild.book`    -- the book's pages (``_toc.yml``) and the build's files (``_build``)
- :mod:`bookbuild.plan`    -- step 1: the chapters and their keys
- :mod:`bookbuild.deps`    -- what a chapter depends on, and its execution key
- :mod:`bookbuild.planmemo` -- planning's parsed notebooks and import graphs, remembered by content
- :mod:`bookbuild.execute` -- step 2: the kernel-library check, parallel execution into the store
- :mod:`bookbuild.kernelfork` -- the chapters' kernels, forked from a warm fork server where that changes nothing
- :mod:`bookbuild.store`   -- the store of executed notebooks (validated, atomic, mergeable)
- :mod:`bookbuild.record`  -- step 3: failure reports, the manifest
- :mod:`bookbuild.render`  -- steps 4-5: render stamp, jupyter-cache hand-off, the Sphinx run
- :mod:`bookbuild.inprocess` -- jupyter-book's build inside this process
- :mod:`bookbuild.preview` -- ``make preview``: serve, rebuild through the pipeline on save, reload
- :mod:`bookbuild.glue`    -- every glue key a chapter's text uses is glued (checked without rendering)
- :mod:`bookbuild.results` -- a chapter's glued values and figure fingerprints (kept with each entry)
- :mod:`bookbuild.diff`    -- which glued values and figures differ between two builds
- :mod:`bookbuild.sphinx_ext` -- re-read pages whose outputs changed; the status page; run-it-yourself links
- :mod:`bookbuild.notebooks` -- the readers' downloadable notebooks
- :mod:`bookbuild.util`    -- atomic writes, installed package versions
"""
