# Everything starts from a fresh clone with python3 (3.11+), make and the package index.
#   make book   -- set up .venv, execute every chapter (lite profile) and build _build/html
#   make test   -- set up .venv, unit tests, strict book build (warnings are errors), nbval
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

.PHONY: book test unit build-strict nbval serve clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --path-output . --builder html
	@echo "Book: $(CURDIR)/$(BUILD)/html/index.html"

test: unit build-strict nbval

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

# -n: nitpicky, -W: warnings are errors, --keep-going: report them all before failing.
build-strict: $(STAMP)
	$(BIN)/jupyter-book build . --path-output . --builder html -n -W --keep-going
	@echo "Book: $(CURDIR)/$(BUILD)/html/index.html"

# Re-execute the executed notebooks (taken from the execution cache) and compare outputs.
nbval: $(STAMP)
	$(BIN)/python tools/export_executed.py --out $(BUILD)/nbval
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval $(BUILD)/nbval \
		--nbval-sanitize-with tools/nbval_sanitize.cfg --nbval-cell-timeout 600

serve: book
	$(BIN)/python -m http.server --directory $(BUILD)/html 8000

clean:
	rm -rf $(BUILD)
