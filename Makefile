# Forgeline's front door. A fresh machine needs Python 3.11, make and git; everything else is set up here.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
SERVE ?= 1
SCALE ?= full
PORT ?= 8501
PYTEST_ARGS ?=

# uv does not compile bytecode by default and this machine sets PYTHONDONTWRITEBYTECODE=1: without this,
# every process recompiles great_expectations and friends (10-30 s each).
export UV_COMPILE_BYTECODE := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: help env demo test test-fast lint format browser fonts deploy clean scheduler scheduler-stop worker test-distributed

help:
	@echo "make demo        set up, prepare and run the demo program, serve the app (SERVE=0: no serving)"
	@echo "make test        set up and run the whole test suite"
	@echo "make test-fast   only the fast tier (no dbt, gate, e2e, app, browser)"
	@echo "make lint        ruff check + format check"
	@echo "make scheduler   PostgreSQL, Prefect server, MLflow server, workers; the schedule fires (docs/deploy.md)"
	@echo "make scheduler-stop  stop them"
	@echo "make test-distributed  the distributed tier (servers, two workers, one killed)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

# The Data Docs' stylesheets and scripts, from the npm registry at set-up (pinned, checksummed): the
# pages then open offline, as on a factory server (forgeline/quality/offline_docs.py).
$(TOOLS)/vendor/.fetched: forgeline/quality/offline_docs.py $(VENV)/.synced
	$(PY) -m forgeline.quality.offline_docs fetch
	@touch $@

env: $(VENV)/.synced $(TOOLS)/vendor/.fetched

demo: env fonts
	$(PY) -m forgeline.cli demo --scale $(SCALE) --port $(PORT) $(if $(filter 0,$(SERVE)),--no-serve,--serve)

# The browser test needs Debian's Chromium (never a downloaded browser: the machines are offline).
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser test..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' for the browser test"; fi; \
	fi

# Reports draw Korean text (client names, the Korean report) on the server: Debian's Nanum fonts, found through
# fontconfig; never a font downloaded at run time.
fonts:
	@if ! fc-list 2>/dev/null | grep -qi nanumgothic; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's fonts-nanum for the reports' Korean text..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum fontconfig >/dev/null; \
	  else echo "fonts-nanum is missing: run 'sudo apt-get install fonts-nanum' for the Korean reports"; fi; \
	fi

test: env browser fonts
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: env fonts
	$(PY) -m pytest -m "not dbt and not gate and not models and not e2e and not app and not browser" $(PYTEST_ARGS)

# The kill harness: `forgeline run` killed with SIGKILL at 20+ seeded points, each re-run must converge.
test-kill: env
	$(PY) -m pytest -m kill tests/test_convergence.py $(PYTEST_ARGS)

# The distributed set-up (docs/deploy.md): WORKERS process workers here; JOIN=<server host> on another machine.
WORKERS ?= 1
scheduler: env
	$(PY) -m forgeline.cli serve-scheduler --workers $(WORKERS)

worker: env
	$(PY) -m forgeline.cli serve-scheduler --workers $(WORKERS) --join $(JOIN)

scheduler-stop: env
	$(PY) -m forgeline.cli serve-scheduler --stop

# PostgreSQL, a Prefect server, two workers and an MLflow server; one worker killed mid-run.
test-distributed: env
	$(PY) -m pytest -m distributed tests/test_distributed.py $(PYTEST_ARGS)

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: env
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) $(TOOLS) workspace dbt_project/target dbt_project/logs
