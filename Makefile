# dlbook: build, test, lint and explore the book.  GNU make.
#
#   make book         build the HTML book into _build/html (fails on any warning)
#   make test         unit tests, then nbval over every notebook
#   make lab          open the notebooks in JupyterLab
#   make execute      re-execute the notebooks in place (NB=path/to/one.ipynb for one)
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
# The notebooks' numbers must come out the same on every machine, or nbval fails there. Float32
# training amplifies the last bit of every sum into visibly different accuracies, and the last
# bit depends on the kernel: an AVX-512 or AMX kernel adds in another order than an AVX2 one, and
# two threads split a sum differently from sixteen. So every notebook kernel (book, nbval, lab,
# execute) runs oneDNN, MKL and OpenBLAS on the AVX2 code path, which every x86-64 CPU of the
# last ten years has, with two threads. Other architectures keep their own kernels.
ifeq ($(shell uname -m),x86_64)
PINNED := ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2 OPENBLAS_CORETYPE=Haswell OMP_NUM_THREADS=2
else
PINNED := OMP_NUM_THREADS=2
endif
KERNEL_ENV := env -u MPLBACKEND $(PINNED)

.PHONY: help setup book test unit nbval lab execute bench lint screenshots clean

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

# Store the notebooks executed, top to bottom in a fresh kernel, as nbval will re-run them: after
# changing dlbook, run this and commit the new outputs.  Two notebooks at a time.
NB ?= $(shell find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
execute: $(STAMP)
	printf '%s\n' $(NB) | xargs -P 2 -I{} $(KERNEL_ENV) $(VENV)/bin/jupyter nbconvert \
		--to notebook --execute --inplace --ExecutePreprocessor.timeout=600 {}

# The notebooks are timed as the book runs them, with the pinned kernels; conv and LeNet are timed
# with the kernels this machine would choose.
bench: $(STAMP)
	status=0; \
	$(UNIT_ENV) $(PY) -m benchmarks conv lenet || status=1; \
	$(UNIT_ENV) $(PINNED) $(PY) -m benchmarks notebooks || status=1; \
	exit $$status

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

screenshots:
	scripts/screenshot.sh

clean:
	rm -rf _build
