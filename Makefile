# dlbook: build, test, lint and explore the book.  GNU make.
#
#   make book         build the HTML book into _build/html (fails on any warning)
#   make test         unit tests, then nbval over every notebook
#   make lab          open the notebooks in JupyterLab
#   make execute      re-execute the notebooks in place (NB=path/to/one.ipynb for one)
#   make robust       every notebook on 3 seeds x 2 numeric set-ups; claim table in _build/robust.md
#   make bench        speed and accuracy budgets (benchmarks/)
#   make mutate       mutation testing of dlbook/scratch; survivors in _build/mutation.md
#   make lint         ruff check + ruff format --check
#   make screenshots  headless-Chromium screenshots of the built book
#   make browser      read the built book in headless Chromium, offline (PAGES="a.html b.html" for some)
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
# Numerics.  Float32 training never repeats bit for bit across CPUs, thread counts or GPUs, so
# nbval compares verbatim only what is the same everywhere, and every claim about a measured result
# is checked in code (dlbook.claims).  Two set-ups, each made of defaults that the caller's
# environment overrides (`?=`: OMP_NUM_THREADS=1 make test uses one thread):
#   STORED  the run whose outputs are stored in the notebooks and shown in the book
#           (make book, make execute, make lab): the AVX2 kernels, two threads, seed offset 0.
#           make book runs one kernel per core and divides the threads between them (one each).
#   TESTED  the run that nbval compares against them (make test): other numerics on purpose, the
#           libraries' native kernels, one thread, seed offset 1, so that anything compared
#           verbatim that is not deterministic fails here first, not on a reader's machine.
# Other architectures than x86-64 ignore the x86 variables.
OMP_NUM_THREADS    ?= 2
ONEDNN_MAX_CPU_ISA ?= AVX2
MKL_CBWR           ?= AVX2
OPENBLAS_CORETYPE  ?= Haswell
DLBOOK_SEED        ?= 0
STORED := OMP_NUM_THREADS=$(OMP_NUM_THREADS) ONEDNN_MAX_CPU_ISA=$(ONEDNN_MAX_CPU_ISA) \
	MKL_CBWR=$(MKL_CBWR) OPENBLAS_CORETYPE=$(OPENBLAS_CORETYPE) DLBOOK_SEED=$(DLBOOK_SEED)
# For make test, a variable the caller set wins; the rest take the TESTED defaults.
tested = $(if $(filter environment command line,$(origin $(1))),$($(1)),$(2))
TESTED := OMP_NUM_THREADS=$(call tested,OMP_NUM_THREADS,1) \
	ONEDNN_MAX_CPU_ISA=$(call tested,ONEDNN_MAX_CPU_ISA,ALL) \
	MKL_CBWR=$(call tested,MKL_CBWR,AUTO) OPENBLAS_CORETYPE=$(OPENBLAS_CORETYPE) \
	DLBOOK_SEED=$(call tested,DLBOOK_SEED,1)
ifneq ($(shell uname -m),x86_64)
STORED := OMP_NUM_THREADS=$(OMP_NUM_THREADS) DLBOOK_SEED=$(DLBOOK_SEED)
TESTED := OMP_NUM_THREADS=$(call tested,OMP_NUM_THREADS,1) DLBOOK_SEED=$(call tested,DLBOOK_SEED,1)
endif
KERNEL_ENV := env -u MPLBACKEND $(STORED)
TEST_KERNEL_ENV := env -u MPLBACKEND $(TESTED)

# The notebooks that nbval, execute and robust work on (NB=path/to/one.ipynb for one).
NB ?= $(shell find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null | sort)

.PHONY: help setup book test unit nbval lab execute robust robust-report bench mutate lint screenshots browser browser-setup clean

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
	if [ -z "$(NB)" ]; then echo "nbval: no notebooks/ folder yet"; exit 0; fi; \
	status=0; \
	echo "nbval with $(TESTED)"; \
	$(TEST_KERNEL_ENV) $(PY) -m pytest --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg \
		-p no:cacheprovider -n 2 --dist loadfile $(NB) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "nbval: no notebooks to test"; status=0; fi; \
	exit $$status

# Trusted, so that the stored animations and explorers display before any cell is run.
lab: $(STAMP)
	$(VENV)/bin/jupyter trust $(NB)
	$(KERNEL_ENV) $(VENV)/bin/jupyter lab notebooks

# Store the notebooks executed, top to bottom in a fresh kernel, as nbval will re-run them: after
# changing dlbook, run this and commit the new outputs.  Two notebooks at a time.  Then each
# Markdown cell's inline results are stored for jupyterlab-myst (scripts/user_expressions.py).
execute: $(STAMP)
	printf '%s\n' $(NB) | xargs -P 2 -I{} $(KERNEL_ENV) $(VENV)/bin/jupyter nbconvert \
		--to notebook --execute --inplace --ExecutePreprocessor.timeout=600 {}
	$(PY) scripts/user_expressions.py $(NB)

# Not part of make test (about half an hour on 2 cores): every notebook, 3 seed offsets x 2
# numeric set-ups (the stored one; one thread with native kernels).  Fails if any claim fails.
# ROBUST_ARGS=--resume skips runs kept in _build/robust/ whose notebook is unchanged (it cannot
# see a change in dlbook itself: after one, run it without).
ROBUST_SEEDS ?= 0 1 2
robust: $(STAMP)
	env -u MPLBACKEND $(PY) scripts/robust.py $(if $(filter command line,$(origin NB)),$(NB)) --seeds $(ROBUST_SEEDS) \
		$(ROBUST_ARGS)

# The claim table again, from the runs kept in _build/robust/ (stale ones count as failed).
robust-report: $(STAMP)
	$(PY) scripts/robust.py --report-only --seeds $(ROBUST_SEEDS)

# The notebooks are timed as the book runs them, with the pinned kernels; conv and LeNet are timed
# with the kernels this machine would choose.
bench: $(STAMP)
	status=0; \
	$(UNIT_ENV) $(PY) -m benchmarks conv lenet || status=1; \
	$(UNIT_ENV) $(STORED) $(PY) -m benchmarks notebooks || status=1; \
	exit $$status

# MUTATE_ARGS='conv pool --per-module 0' picks modules and how many mutants (see the script).
MUTATE_ARGS ?=
mutate: $(STAMP)
	$(UNIT_ENV) $(PY) scripts/mutate.py $(MUTATE_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

screenshots:
	scripts/screenshot.sh

# Playwright for the browser check, on top of the book's requirements.  It drives Debian's
# Chromium (/usr/bin/chromium, or CHROMIUM=...): never `playwright install`, which downloads
# browsers from a CDN.
BROWSER_STAMP := $(VENV)/.browser-installed
$(BROWSER_STAMP): requirements-browser.txt $(STAMP)
	$(PY) -m pip install -r requirements-browser.txt
	touch $@

browser-setup: $(BROWSER_STAMP)

# Needs `make book` first.
browser: $(BROWSER_STAMP)
	$(PY) scripts/browser_check.py $(if $(PAGES),--pages $(PAGES))

clean:
	rm -rf _build
