"""bookbuild: execute the book's chapters exactly when something they depend on changed.

myst-nb's own execution cache (jupyter-cache) keys a notebook on its code cells only, so a change
in the library the chapters import, the data, the profile or the installed packages would publish
stale outputs. bookbuild keys each chapter on all of them, executes the chapters that need it in
parallel worker processes, keeps every executed notebook in a content-addressed store
(``_build/exec-store``), and hands the outputs to myst-nb through jupyter-cache so that Sphinx
only renders. It knows nothing of the library it builds: the package, its environment variables,
profiles and data files come from ``[tool.bookbuild]`` in ``pyproject.toml``.

How a build flows: chapter sources -> keys (:mod:`~bookbuild.deps`) -> store
(:mod:`~bookbuild.store`, executing what is missing with :mod:`~bookbuild.execute`) ->
jupyter-cache -> Sphinx (:mod:`~bookbuild.render`).

- :mod:`bookbuild.config`  -- the ``[tool.bookbuild]`` table: package, profiles, key variables, data
- :mod:`bookbuild.deps`    -- what a chapter depends on, and its execution key
- :mod:`bookbuild.store`   -- the store of executed notebooks (validated, atomic, mergeable)
- :mod:`bookbuild.execute` -- planning, the kernel-library check, parallel execution, jupyter-cache sync
- :mod:`bookbuild.render`  -- manifest, render stamp, failure reports, the Sphinx run
- :mod:`bookbuild.results` -- a chapter's glued values and figure fingerprints (kept with each entry)
- :mod:`bookbuild.diff`    -- which glued values and figures differ between two builds
- :mod:`bookbuild.sphinx_ext` -- re-read pages whose outputs changed; the status page directive
- :mod:`bookbuild.util`    -- atomic writes, installed package versions
- :mod:`bookbuild.cli`     -- ``python -m bookbuild build|execute|merge|export|plan|diff``
"""
