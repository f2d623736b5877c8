# dlbook: build, test, lint and explore the book.  GNU make.
#
#   make book         build the HTML book into _build/html (fails on any warning)
#   make test         unit tests, then nbval over every notebook
#   make lab          open the notebooks in JupyterLab
#   make bench        speed and accuracy budgets (benchmarks/)
#   make lint         ruff check + ruff format --check
#   make screenshots  headless-Chromium screenshots of the built book
#   make clean        remove _build

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Only the folders that exist: ruff reports a missing path as an error.
LINTED  = $(wildcard dlbook tests benchmarks notebooks)

# The same string hashing everywhere the code runs.
export PYTHONHASHSEED := 0
# Unit tests and benchmarks plot headless (Agg).  Notebook kernels must NOT inherit MPLBACKEND:
# ipykernel picks the inline backend only when MPLBACKEND is unset, and under Agg every figure
# would vanish from the book and from nbval's outputs.
UNIT_ENV   := MPLBACKEND=Agg
KERNEL_ENV := env -u MPLBACKEND

.PHONY: help setup book test unit nbval lab bench lint screenshots clean

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

# Reinstall only when the requirements or the package metadata change.
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install -e . --no-deps
	touch $@

setup: $(STAMP)

# -W --keep-going reports every warning, then makes jupyter-book exit non-zero.  The log is
# scanned as well, so that a warning can never slip through on a zero exit code.
book: $(STAMP)
	mkdir -p _build
	$(KERNEL_ENV) $(PY) scripts/execute_book.py
	$(KERNEL_ENV) $(VENV)/bin/jupyter-book build --all -W --keep-going --path-output . . 2>&1 \
		| tee _build/book.log
	@if sed 's/\x1b\[[0-9;]*m//g' _build/book.log | grep -nE '(WARNING|ERROR|CRITICAL):'; then \
		echo "make book: the build logged warnings or errors (see above)" >&2; exit 1; fi
	@echo "Open _build/html/index.html"

test: unit nbval

unit: $(STAMP)
	$(UNIT_ENV) $(PY) -m pytest tests -n 2

# Exit code 5 means "no tests collected" (no notebooks yet), which is not a failure; every other
# non-zero code is.
nbval: $(STAMP)
	if [ ! -d notebooks ]; then echo "nbval: no notebooks/ folder yet"; exit 0; fi; \
	status=0; \
	$(KERNEL_ENV) $(PY) -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg \
		-p no:cacheprovider -n 2 --dist loadfile notebooks || status=$$?; \
	if [ $$status -eq 5 ]; then echo "nbval: no notebooks to test"; status=0; fi; \
	exit $$status

lab: $(STAMP)
	$(KERNEL_ENV) $(VENV)/bin/jupyter lab notebooks

bench: $(STAMP)
	$(UNIT_ENV) $(PY) -m benchmarks

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

screenshots:
	scripts/screenshot.sh

clean:
	rm -rf _build
