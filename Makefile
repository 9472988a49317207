# The feature-learning companion. `make figures` and `make test` are all a reader needs.
SHELL := /bin/bash
PYTHON ?= python3
PROFILE ?= quick
VENV := .venv
BIN := $(VENV)/bin
KERNEL := nfl-companion
STAMP := $(VENV)/.installed
export OMP_WAIT_POLICY := PASSIVE
# OpenBLAS threads sleep ~0.1 ms after a call instead of spinning ~0.1 s (see nfl_utils/__init__.py)
export OPENBLAS_THREAD_TIMEOUT ?= 18
export PYTHONHASHSEED := 0
export NFL_RUNS_DIR ?= $(CURDIR)/runs
export NFL_FIGURES_DIR ?= $(CURDIR)/figures
# ../shared/data holds MNIST/FashionMNIST when this checkout sits beside it (CI does).
ifneq ($(wildcard ../shared/data/MNIST),)
export NFL_DATA_ROOT ?= $(abspath ../shared/data)
endif

NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.py))
EXECUTED := $(patsubst notebooks/%.py,build/$(PROFILE)/%.ipynb,$(NOTEBOOKS))
PKG := $(wildcard nfl_utils/*.py)

.PHONY: all venv figures site test test-browser test-install test-fast bench sweep lab lock clean clean-runs
all: figures

venv: $(STAMP)

# Re-made only when the requirements or the project metadata change.
$(STAMP): requirements.txt requirements-lock.txt pyproject.toml
	@echo "== setting up $(VENV) (first time: a few minutes, ~6 GB) =="
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt -c requirements-lock.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (nfl companion)" >/dev/null
	@# JupyterLab inside this environment opens a notebook's .py (jupytext) as a notebook on double-click
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}' \
		> $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $@

figures: $(EXECUTED)
	$(BIN)/python -m nfl_utils.claims $(PROFILE)
	$(BIN)/python -m nfl_utils.plots index $(NFL_FIGURES_DIR)/$(PROFILE)
	@echo "figures in figures/$(PROFILE)/ (index: figures/$(PROFILE)/index.md), notebooks in build/$(PROFILE)/"

# Every notebook re-runs when the package changes; later notebooks also when 01_train changes.
build/$(PROFILE)/%.ipynb: notebooks/%.py $(STAMP) $(PKG)
	@mkdir -p build/$(PROFILE) $(NFL_FIGURES_DIR)/$(PROFILE)
	$(BIN)/jupytext --quiet --to ipynb --set-kernel $(KERNEL) -o build/$(PROFILE)/$*.src.ipynb $<
	@echo "== $* ($(PROFILE)) =="
	@start=$$(date +%s); NFL_HEADLESS=1 $(BIN)/papermill --log-level WARNING --no-progress-bar --stderr-file - \
		-k $(KERNEL) --cwd $(CURDIR) -p profile $(PROFILE) \
		build/$(PROFILE)/$*.src.ipynb build/$(PROFILE)/$*.tmp.ipynb && mv build/$(PROFILE)/$*.tmp.ipynb $@ && \
		echo "== $* done in $$(( $$(date +%s) - start )) s =="
	@rm -f build/$(PROFILE)/$*.src.ipynb

$(filter-out build/$(PROFILE)/01_%,$(EXECUTED)): $(filter build/$(PROFILE)/01_%,$(EXECUTED))

test: $(STAMP)
	$(BIN)/python -m pytest -q

# A real browser: Debian's chromium (installed here when missing) driven by Playwright.
test-browser: $(STAMP)
	@command -v chromium >/dev/null || { echo "== installing Debian's chromium =="; \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium >/dev/null; }
	NFL_BROWSER_TEST=1 $(BIN)/python -m pytest -q -s tests/browser

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m nfl_utils.bench spectrum
	$(BIN)/python -m nfl_utils.bench measure --profile $(PROFILE)
	$(BIN)/python -m nfl_utils.bench track
	$(BIN)/python -m nfl_utils.bench sharing

GRID ?= grids/example.yaml
sweep: $(STAMP)
	$(BIN)/python -m nfl_utils.sweep $(GRID) $(if $(BACKEND),--backend $(BACKEND),)

# At the repository root: README, figures/, notebooks/ and build/ are all reachable.
lab: $(STAMP)
	$(BIN)/jupyter lab --ip 127.0.0.1 --no-browser $(if $(filter 0,$(shell id -u)),--allow-root,) \
		--ServerApp.root_dir=$(CURDIR) --LabApp.default_url=/lab/tree/README.md

# The executed notebooks of $(PROFILE), its claims table and figures as a static site (no training).
site: $(STAMP)
	$(BIN)/python -m nfl_utils.site $(PROFILE)

# pip install of the package alone into a fresh environment (dependencies from $(VENV) through a path
# file: nothing downloaded), then tests/install_smoke.py from outside the checkout.
INSTALL := build/install
test-install: $(STAMP)
	@rm -rf $(INSTALL) && mkdir -p $(INSTALL)
	$(BIN)/python -m pip wheel -q --no-deps --no-build-isolation -w $(INSTALL)/wheel .
	$(PYTHON) -m venv $(INSTALL)/venv
	$(BIN)/python -c "import site; print(site.getsitepackages()[0])" > \
		$$($(INSTALL)/venv/bin/python -c "import site; print(site.getsitepackages()[0])")/_nfl_deps.pth
	$(INSTALL)/venv/bin/python -m pip install -q --no-deps --no-index $(INSTALL)/wheel/*.whl
	cd $(INSTALL) && env -u NFL_RUNS_DIR venv/bin/python $(CURDIR)/tests/install_smoke.py

# Re-resolve the lock from requirements.txt (needs the package registry).
lock:
	rm -rf /tmp/nfl-lock && $(PYTHON) -m venv /tmp/nfl-lock && /tmp/nfl-lock/bin/pip install -q -r requirements.txt
	(echo "# Generated by 'make lock' from requirements.txt: every package of the environment, pinned."; /tmp/nfl-lock/bin/pip freeze | grep -v '^-e') > requirements-lock.txt

clean:
	rm -rf build
clean-runs:
	rm -rf runs
