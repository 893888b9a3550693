"""bookbuild: execute the book's chapters exactly when something they depend on changed.

myst-nb's own execution cache (jupyter-cache) keys a notebook on its code cells only, so a change
in ``lecturekit``, the data, the weights, the profile or the installed packages would publish
stale outputs. bookbuild keys each chapter on all of them, executes the chapters that need it in
parallel worker processes, keeps every executed notebook in a content-addressed store
(``_build/exec-store``), and hands the outputs to myst-nb through jupyter-cache so that Sphinx
only renders.

- :mod:`bookbuild.deps`    -- what a chapter depends on, and its execution key
- :mod:`bookbuild.store`   -- the store of executed notebooks (validated, atomic, mergeable)
- :mod:`bookbuild.execute` -- planning and parallel execution
- :mod:`bookbuild.sphinx_ext` -- re-read pages whose outputs changed; the status page directive
- :mod:`bookbuild.cli`     -- ``python -m bookbuild build|execute|merge|export|plan``
"""
