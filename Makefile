# The two front-door commands: `make run` and `make test`. Each sets up whatever is missing
# (system packages, a .venv, the package built in place) and does nothing it has done before.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
BUILD_DEPS := meson-python>=0.15 meson>=1.1 ninja Cython>=3.0.8 numpy>=1.24
# The tests need only a CPU build of PyTorch; pinning the release keeps pip from choosing a
# newer, CUDA-enabled build of several GB. Override with `make test TORCH=torch==X`.
TORCH ?= torch==2.13.0
MESON_FILES := meson.build meson.options $(wildcard spdl/meson.build spdl/*/meson.build)

.PHONY: run test lint docs plots setup system clean fuzz soak test-live

# The main job: what this build supports, then images and videos of the sample set (made once
# with ffmpeg and cached) loaded on threads, with each run's throughput and per-stage report.
run: setup
	$(VENV)/bin/spdl info
	$(VENV)/bin/spdl bench images --epochs 3
	$(VENV)/bin/spdl bench videos --epochs 3

test: setup
	$(VENV)/bin/ruff check spdl tests bench fuzz
	$(VENV)/bin/pytest

lint: setup
	$(VENV)/bin/ruff check spdl tests bench fuzz
	$(VENV)/bin/ruff format --check spdl tests bench fuzz

docs: setup
	$(PIP) install 'sphinx>=7' 'myst-parser>=2'
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

# The charts and tables of docs/performance.md, from the JSON the benchmarks left in bench/results.
plots: setup
	$(PIP) install 'matplotlib>=3.7'
	$(PY) bench/plot.py

# Long reliability runs, not part of `make test` (which runs short fixed-seed versions):
# `make fuzz SECONDS=900 [SEED=1]` mutates the test media against every byte-parsing entry point;
# `make soak SECONDS=600` runs mixed decoding on 8 threads and checks it against one thread.
SECONDS ?= 300
SEED ?= 0
fuzz: setup
	$(PY) -m fuzz --seconds $(SECONDS) --seed $(SEED)

soak: setup
	$(PY) -m fuzz.soak --seconds $(SECONDS) --seed $(SEED)

# The whole suite on a debug build that counts live native objects per owning class
# (meson -Dlive_counters=true), in its own venv and build folder; it fails if any is left alive.
LIVE_VENV := .venv-live
test-live: system
	test -x $(LIVE_VENV)/bin/python || $(PYTHON) -m venv $(LIVE_VENV)
	$(LIVE_VENV)/bin/python -m pip --disable-pip-version-check -q install $(foreach d,$(BUILD_DEPS),'$(d)')
	$(LIVE_VENV)/bin/python -m pip --disable-pip-version-check -q install --no-build-isolation \
	  -Cbuild-dir=build-live -Csetup-args=-Dbuildtype=debug -Csetup-args=-Dlive_counters=true \
	  -e '.[test]'
	$(LIVE_VENV)/bin/pytest

setup: system $(VENV)/.installed

system:
	@PYTHON=$(PYTHON) tools/setup_system.sh

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	touch $@

$(VENV)/.deps: $(VENV)/.created
	$(PIP) install --upgrade pip
	$(PIP) install $(foreach d,$(BUILD_DEPS),'$(d)')
	$(PIP) install '$(TORCH)'
	touch $@

# An editable install: meson rebuilds changed Cython modules on the next import.
$(VENV)/.installed: $(VENV)/.deps pyproject.toml $(MESON_FILES)
	$(PIP) install --no-build-isolation -Cbuild-dir=build -e '.[test]'
	touch $@

clean:
	rm -rf build $(VENV) docs/_build
