# Everything starts from a fresh clone with python3 (3.11+), make and the package index.
#   make book     -- set up .venv, execute every chapter (lite profile) and build _build/html
#   make test     -- set up .venv (and Chromium, as root on Debian), unit tests, workflow lint, strict
#                    book build (warnings are errors), the pages checked in headless Chromium, nbval
#   make preview  -- serve the book on http://127.0.0.1:8000, rebuild on save, reload the page
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUILD := _build
export LECTUREKIT_PROFILE ?= lite
# Trained weights live beside the build unless the caller points elsewhere.
export LECTUREKIT_CACHE ?= $(CURDIR)/$(BUILD)/lecturekit-cache
export PYTHONHASHSEED := 0
# One thread per kernel: numbers then do not depend on how many chapters run side by side.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
# Parallel pytest workers (unit tests; nbval runs one notebook per worker, each notebook's cells in order).
LINT_PATHS := src tests tools benchmarks conftest.py
# (GNU nproc honours OMP_NUM_THREADS, which this file exports as 1 for the kernels: ask without it.)
NPROC := $(shell env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || echo 2)

.PHONY: pdf lint book test browser unit lint-workflows build-strict site-check nbval preview serve clean venv chapter bench data notebook-check results-diff mutation full-standin

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# Executes only the chapters whose inputs changed (in parallel), then renders; see src/bookbuild.
book: $(STAMP)
	$(BIN)/python -m bookbuild build

# The browser first: a machine that cannot get one fails in a second, not after the build.
test: browser lint unit lint-workflows build-strict site-check nbval

# Chromium for site-check: found on PATH, or installed (root with apt-get), or the command to run.
browser:
	@tools/ensure_chromium.sh

# The tests in tests/ and the docstring examples in src/ (testpaths in pyproject.toml).
# Bytecode is cached even where the environment sets PYTHONDONTWRITEBYTECODE: every worker, nested
# pytest, `bookbuild` child and stand-in kernel (`python -O`) would otherwise compile the tests,
# pytest's rewritten asserts, src/ and IPython again (about 2.5 CPU-s per pytest process).
unit: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m pytest -q -n $(NPROC) --dist loadgroup

# ruff: lint (pycodestyle, pyflakes, isort, bugbear, pyupgrade, pydocstyle's Google convention for
# the library) and the format check, on the Python outside the chapters; settings in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

# actionlint + zizmor (offline, auditor persona) on .github/; any finding not explained inline fails.
lint-workflows: $(STAMP)
	tools/lint_workflows.sh

# Download and verify the full profile's data and weights (needs network; checksums in
# src/lecturekit/download.py). The GPU workflow runs the same module.
data: $(STAMP)
	$(BIN)/python -m lecturekit.download --profile full

# The full profile executed on CPU, offline, against stand-in files generated here (synthetic MNIST,
# random ResNet18/DINOv2 weights; src/lecturekit/standin.py): every chapter must execute and every
# glue key its text uses must be defined. Numbers meaningless; kept in _build/standin/, never
# rendered or published. Size knobs: STANDIN_IMAGES (MNIST images per split), STANDIN_PIXELS
# (input side of the pretrained encoders, a multiple of 14; 224 is the real one).
STANDIN := $(CURDIR)/$(BUILD)/standin
# 100 images per split keep the whole run under 5 minutes on 2 cores (282 s measured; 324 s with 200).
STANDIN_IMAGES ?= 100
full-standin: $(STAMP)
	$(BIN)/python -m lecturekit.standin --cache $(STANDIN)/lecturekit-cache --torch-home $(STANDIN)/torch-home \
		$(if $(STANDIN_IMAGES),--images $(STANDIN_IMAGES)) $(if $(STANDIN_PIXELS),--pixels $(STANDIN_PIXELS))
	LECTUREKIT_PROFILE=full LECTUREKIT_STANDIN=1 LECTUREKIT_OFFLINE=1 \
	LECTUREKIT_CACHE=$(STANDIN)/lecturekit-cache TORCH_HOME=$(STANDIN)/torch-home \
		$(BIN)/python -m bookbuild execute --strict

# -n: nitpicky, -W: warnings are errors, --keep-going: report them all before failing.
build-strict: $(STAMP)
	$(BIN)/python -m bookbuild build --strict

# The book (_build/html/_pdf/book.pdf) and every chapter (_pdf/<chapter>.pdf; each page links to
# both) printed by the system Chromium with the print style sheet: solutions in, hidden code out;
# checked (tools/make_pdf.py). Needs a built site (make book).
pdf: $(STAMP) browser
	$(BIN)/python tools/make_pdf.py

# Every page in headless Chromium, after its JavaScript ran: no build leftovers, profile stated,
# numbered figures, solutions collapsed, status page complete, the readers' notebooks plain and
# showing the page's numbers, console clean; and every page again on a 390x844 phone (the chapter
# drawer opens on a tap, nothing wider than the screen) and in dark mode, axe clean in both
# (tools/check_site.py). The PDFs first, so that the pages' PDF links resolve.
site-check: $(STAMP) browser pdf
	$(BIN)/python tools/check_site.py

# A reader's run of one chapter's downloadable notebook: fresh venv, only its install cell, then
# every cell (tools/check_notebook.py). Not part of `make test` (it installs torch afresh, minutes);
# the PR workflow runs it as its own step.
notebook-check: book
	$(BIN)/python tools/check_notebook.py --chapter book/$(or $(CH),cake-ebm)

# Re-execute the executed notebooks (taken from the execution store) and compare outputs, for the
# chapters whose current key has not passed nbval yet: a pass is recorded in the store beside the
# entry (with nbval's version and the sanitizer's digest), so a chapter is validated once per key
# (src/bookbuild/validated.py). FULL=1 validates every chapter (the main-branch workflow does).
# One pytest-xdist worker per notebook, up to twice the cores (each kernel uses one thread, so the
# notebooks share the cores evenly); --dist loadscope keeps each notebook's cells in order in one kernel.
# Each cell may run for _config.yml's execute.timeout, the build's own cell timeout (--cell-timeout overrides).
nbval: $(STAMP)
	$(BIN)/python -m bookbuild nbval --out $(BUILD)/nbval --sanitize tools/nbval_sanitize.cfg --cores $(NPROC) \
		$(if $(filter 1,$(FULL)),--full)

# Which glued numbers and figures differ from another build, as Markdown appended to SUMMARY (the
# job summary in CI, else the terminal); relative changes above 5 % are marked. BASE is a checkout
# of the base branch (its chapters that differ execute against this build's store, the rest is
# reused) or another build's exec-manifest.json (or the folder holding it). Run after `make book`.
#   make results-diff BASE=../main
SUMMARY ?= $(or $(GITHUB_STEP_SUMMARY),/dev/stdout)
results-diff: $(STAMP)
	@test -n "$(BASE)" || { echo "usage: make results-diff BASE=<checkout or manifest> [SUMMARY=file]" >&2; exit 2; }
	$(BIN)/python -m bookbuild diff "$(BASE)" $(if $(wildcard $(BASE)/_toc.yml),--execute-base) \
		--format markdown --threshold 5% --output "$(SUMMARY)"

# One chapter, executed through the same store as `make book` (only if its inputs changed) and
# rendered alone, strictly, into _build/chapter-<name>/_build/html:   make chapter CH=priors
chapter: $(STAMP)
	@test -n "$(CH)" || { echo "usage: make chapter CH=<name>, e.g. make chapter CH=priors"; exit 2; }
	$(BIN)/python -m bookbuild chapter $(CH)

# Serve the book on http://127.0.0.1:8000 (PREVIEW_PORT=...), rebuild through bookbuild on every
# save in book/, src/, _config.yml or _toc.yml, and reload the open page (src/bookbuild/preview.py).
preview: $(STAMP)
	$(BIN)/python -m bookbuild preview

serve: preview

# Mutation testing with mutmut of losses, metrics/, transforms, training and bookbuild's deps and store,
# one module at a time (slow; not part of make test; one module: python tools/mutation.py --module NAME):
# per-module killed/total and the surviving mutants, in _build/mutation/report.txt.
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py

# Benchmark (not part of the tests), one table from one run on temporary copies of the repository:
# wall s, CPU-s (kernels included) and chapters executed, bookbuild vs plain jupyter-book, for a
# prose edit (make book; make preview running), a one-module edit, and a warm make test's build +
# nbval after each (benchmarks/bench_build.py). Starts from this checkout's executed outputs (run
# make book and make nbval first); BENCH_ARGS=--cold: from empty caches; --fresh-clone: also make
# test in a fresh clone of HEAD (about 11 min on 2 cores). Logs in _build/bench/.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_build.py $(BENCH_ARGS)

clean:
	rm -rf $(BUILD)
