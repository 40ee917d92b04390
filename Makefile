# Entry points for a fresh machine with only Python 3 and make:
#   make demo   - set up, then the lifecycle check and the example strategy's backtest pipeline
#                 (against the built-in emulator unless QC_* is set)
#   make test   - set up, then lint, type-check and run the test suite
#   make test-fast - set up, then the suite without the end-to-end, slow and figure-printing tests
#   make backtest STRATEGY=dir PARAMS='fast=10 slow=30' [GATE='--max Drawdown=0.3 --baseline']
#               - set up, then backtest a strategy folder of your own (python -m flows.run)
#   make grid STRATEGY=dir GRID='fast=5,10 slow=30,60' - the same folder over a parameter grid
#   make test-compat - the suite but end-to-end and slow tests, on the lowest Python with the
#                 lowest declared versions (constraints/floor.txt), then on the newest Python
#                 with the newest releases
#   make bench  - set up, then run the benchmarks (benchmarks/README.md)
#   make soak   - set up, then the long fault soaks (QC_SOAK_RUNS lifecycle runs, default 500;
#                 QC_BACKTEST_SOAK_RUNS backtest runs per node mode, default 100)
PYTHON ?= python3
# pytest-xdist workers for the suite (tests/conftest.py keeps each end-to-end stack on one worker);
# PYTEST_WORKERS=0 runs it in this process, one test after another. Four: one per end-to-end stack
# (two test files x two databases), so none waits behind another; on 2 cores the suite is CPU-bound
# past that, and each further worker pays its own collection (~12 s CPU) and Prefect test server.
PYTEST_WORKERS ?= 4
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The supported Pythons' two ends (FLOOR_VERSION is requires-python's lower bound), for
# `make test-compat`: an installed pyenv one of each unless named, e.g.
# PYTHON_FLOOR=/usr/bin/python3.10 PYTHON_NEWEST=/usr/bin/python3.13.
FLOOR_VERSION  := 3.10
NEWEST_VERSION := 3.13
PYENV_ROOT     ?= $(HOME)/.pyenv
PYTHON_FLOOR   ?= $(lastword $(wildcard $(PYENV_ROOT)/versions/$(FLOOR_VERSION).*/bin/python3))
PYTHON_NEWEST  ?= $(lastword $(wildcard $(PYENV_ROOT)/versions/$(NEWEST_VERSION).*/bin/python3))

.PHONY: setup demo backtest grid test test-fast test-compat lint typecheck pytest emulator bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# The flows run from this checkout (they are not installed): a .pth lets the venv's Python
	@# import flows, tasks and deployments from any directory, for scripts of one's own.
	$(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "prefect_quantconnect_checkout.pth").write_text(str(pathlib.Path.cwd()) + "\n")'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m flows.demo

# Your own strategy folder, against the emulator unless QC_* is set (flows/run.py).
STRATEGY ?= strategies/sma_crossover_py
backtest: $(STAMP)
	$(BIN)/python -m flows.run backtest "$(STRATEGY)" $(foreach p,$(PARAMS),--param $(p)) $(GATE)

grid: $(STAMP)
	$(BIN)/python -m flows.run grid "$(STRATEGY)" $(foreach g,$(GRID),--grid $(g)) \
		$(foreach p,$(PARAMS),--param $(p)) $(GRID_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy .

pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

test: lint typecheck pytest

# The quick loop: everything but the end-to-end (real server + worker), slow and figure runs
# (soaks, kills, concurrency, the quick benchmark: tests/conftest.py); make test runs them all.
# Without the end-to-end stacks these tests wait (on emulated jobs, on flow runs) more than they
# compute, so more workers than make test's overlap the waits; past six, each further one only
# adds its own collection and Prefect test server.
FAST_WORKERS ?= 6
test-fast: $(STAMP)
	$(BIN)/pytest -n $(FAST_WORKERS) -m 'not e2e and not slow and not figures' -q

# Each end in its own venv, made anew each time: the floor pins only our direct dependencies (the
# rest resolve as a user's would); the newest takes every package's newest release.
# uv trusts the platform's certificate store, as pip does here (a registry behind a TLS proxy).
test-compat: export UV_SYSTEM_CERTS = 1
test-compat: export UV_NATIVE_TLS = 1
test-compat: $(STAMP)
	@$(call compat_python,$(PYTHON_FLOOR),$(FLOOR_VERSION),PYTHON_FLOOR)
	@$(call compat_python,$(PYTHON_NEWEST),$(NEWEST_VERSION),PYTHON_NEWEST)
	$(BIN)/uv venv --quiet --clear --seed --python $(PYTHON_FLOOR) .venv-floor
	VIRTUAL_ENV=.venv-floor $(BIN)/uv pip install --quiet -e '.[dev]' -c constraints/floor.txt
	.venv-floor/bin/pytest -n $(PYTEST_WORKERS) -m 'not e2e and not slow' -q -p no:cacheprovider
	$(BIN)/uv venv --quiet --clear --seed --python $(PYTHON_NEWEST) .venv-newest
	VIRTUAL_ENV=.venv-newest $(BIN)/uv pip install --quiet -e '.[dev]'
	.venv-newest/bin/pytest -n $(PYTEST_WORKERS) -m 'not e2e and not slow' -q -p no:cacheprovider

# $(1) must be a Python $(2) interpreter; otherwise say which variable names one.
compat_python = v=$$("$(1)" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); \
	if [ "$$v" != "$(2)" ]; then \
		echo "test-compat: no Python $(2) found (got '$(1)'); install one (pyenv install $(2)) or set $(3)=/path/to/python$(2)" >&2; \
		exit 1; \
	fi

emulator: $(STAMP)
	$(BIN)/qc-emulator

# Orchestration cost next to a plain script (a few minutes); BENCH_ARGS="--quick" for a short run.
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# The long fault soak (tests/reliability/README.md): QC_SOAK_RUNS=2000 make soak for more.
soak: $(STAMP)
	$(BIN)/pytest tests/reliability/test_fault_soak.py tests/reliability/test_backtest_fault_soak.py \
		tests/reliability/test_backtest_concurrency.py tests/reliability/test_live_monitor_scale.py \
		-m slow -p no:cacheprovider

clean:
	rm -rf $(VENV) .venv-floor .venv-newest .pytest_cache .mypy_cache .ruff_cache .prefect-home
