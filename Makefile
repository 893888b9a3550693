# Everything starts from a fresh clone with python3 (3.11+), make and the package index.
#   make book   -- set up .venv, execute every chapter (lite profile) and build _build/html
#   make test   -- set up .venv, unit tests, workflow lint, strict book build (warnings are errors),
#                  the pages checked in headless Chromium, nbval
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

.PHONY: book test unit lint-workflows build-strict site-check nbval serve clean venv chapter bench data notebook-check results-diff mutation

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# Executes only the chapters whose inputs changed (in parallel), then renders; see src/bookbuild.
book: $(STAMP)
	$(BIN)/python -m bookbuild build

test: unit lint-workflows build-strict site-check nbval

# The tests in tests/ and the docstring examples in src/ (testpaths in pyproject.toml).
unit: $(STAMP)
	$(BIN)/python -m pytest -q

# actionlint + zizmor (offline, auditor persona) on .github/; any finding not explained inline fails.
lint-workflows: $(STAMP)
	tools/lint_workflows.sh

# Download and verify the full profile's data and weights (needs network; checksums in
# src/lecturekit/download.py). The GPU workflow runs the same module.
data: $(STAMP)
	$(BIN)/python -m lecturekit.download --profile full

# -n: nitpicky, -W: warnings are errors, --keep-going: report them all before failing.
build-strict: $(STAMP)
	$(BIN)/python -m bookbuild build --strict

# Every page in headless Chromium, after its JavaScript ran: no build leftovers, profile stated,
# numbered figures, solutions collapsed, status page complete (tools/check_site.py).
site-check: $(STAMP)
	$(BIN)/python tools/check_site.py

# A reader's run of one chapter's downloadable notebook: fresh venv, only its install cell, then
# every cell (tools/check_notebook.py). Not part of `make test` (it installs torch afresh, minutes);
# the PR workflow runs it as its own step.
notebook-check: book
	$(BIN)/python tools/check_notebook.py --chapter book/$(or $(CH),cake-ebm)

# Re-execute the executed notebooks (taken from the execution cache) and compare outputs.
nbval: $(STAMP)
	$(BIN)/python -m bookbuild export --out $(BUILD)/nbval
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval $(BUILD)/nbval \
		--nbval-sanitize-with tools/nbval_sanitize.cfg --nbval-cell-timeout 600

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

# Build one chapter alone, strictly, into _build/chapter-<name> (own execution cache):
#   make chapter CH=priors
chapter: $(STAMP)
	@test -n "$(CH)" && test -f book/$(CH).md || { echo "usage: make chapter CH=<name> (book/<name>.md must exist)"; exit 2; }
	@mkdir -p $(BUILD)/chapter-$(CH)
	@printf 'format: jb-book\nroot: book/index\nchapters:\n  - file: book/$(CH)\n  - file: book/glossary\n  - file: book/bibliography\n' > $(BUILD)/chapter-$(CH)/_toc.yml
	$(BIN)/jupyter-book build . --toc $(BUILD)/chapter-$(CH)/_toc.yml --path-output $(BUILD)/chapter-$(CH) \
		--builder html --all -n -W --keep-going
	@echo "Chapter: $(CURDIR)/$(BUILD)/chapter-$(CH)/_build/html/book/$(CH).html"

serve: book
	$(BIN)/python -m http.server --directory $(BUILD)/html 8000

# Mutation testing of losses, metrics/ and transforms with mutmut (slow; not part of make test):
# per-module killed/total and the surviving mutants, in _build/mutation/report.txt.
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py

# Benchmarks (not part of the tests): cold/warm/prose-edit/module-edit builds, bookbuild vs plain
# jupyter-book, plus unit-test and nbval times, on temporary copies of the repository.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_build.py

clean:
	rm -rf $(BUILD)
