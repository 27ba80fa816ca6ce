# The README's two commands: `make demo` (the main job) and `make test` (the whole test suite).
# Both create .venv on first use (any Python >= 3.11 on PATH) and reuse it afterwards.
# `make test-fast` runs ruff, mypy (over autograder/, settings in pyproject.toml) and the pure-Python tier only
# (no kernels, grading, PostgreSQL, browser or hub), on two processes: the inner loop.

VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
PYTHON  ?= $(shell for p in python3.13 python3.12 python3.11 python3 python; do \
             command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
             2>/dev/null && { echo $$p; break; }; done)
# nbgrader shells out to `alembic` by name: the venv's bin/ must be on PATH.
RUN     := PATH="$(CURDIR)/$(BIN):$$PATH" MPLBACKEND=Agg
# The slow tiers are marked (pyproject.toml, [tool.pytest.ini_options] markers); the fast tier is what is left.
SLOW    := kernel or grading or postgres or browser or hub or lti
# pytest-xdist: each test file kept in one process (its module fixtures are built once). The fast tier is pure
# CPU: two processes. The rest waits on kernels, browsers, servers and subprocesses: with two processes the
# two cores were 134-145% busy, with three they are busy (measured; docs in README, "Developing").
XDIST      ?= -n 2 --dist loadfile
XDIST_FULL ?= -n 3 --dist loadfile

.PHONY: demo test test-tier test-fast lint venv clean

demo: $(STAMP)
	@$(RUN) $(BIN)/backprop-course demo

# One pytest run over every tier: the hub test files are scheduled like the others (each file in one process;
# only the deploy guide's file uses the fixed ports 8000, 8001, 8081, the others take free ports).
test: $(STAMP)
	@$(RUN) $(BIN)/ruff check .
	@$(RUN) $(BIN)/python -m pytest $(XDIST_FULL) $(PYTEST_ARGS)

# One tier by its marker, e.g. `make test-tier TIER=grading` (markers: pyproject.toml).
TIER ?= grading
test-tier: $(STAMP)
	@$(RUN) $(BIN)/python -m pytest $(XDIST_FULL) -m "$(TIER)" $(PYTEST_ARGS)

test-fast: $(STAMP)
	@$(RUN) $(BIN)/ruff check .
	@$(RUN) $(BIN)/mypy
	@$(RUN) $(BIN)/python -m pytest -q $(XDIST) -m "not ($(SLOW))" $(PYTEST_ARGS)

lint: $(STAMP)
	@$(BIN)/ruff check .

venv: $(STAMP)

# uv installs the ~150 packages in seconds; it is installed into the venv itself with pip (nothing outside
# .venv), and pip does the install where uv cannot be had. Both leave the packages byte-compiled (uv with
# --compile-bytecode, as pip does by default), so no process compiles nbgrader & co. again (with
# PYTHONDONTWRITEBYTECODE set, every process would, a second or more each).
$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: Python >= 3.11 is needed (python3 --version to check)" >&2; exit 1; fi
	@echo "Setting up $(VENV) with $(PYTHON) (first run only)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -m pip install --quiet --disable-pip-version-check uv 2>/dev/null && \
	    $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test]'; then :; else \
	  echo "note: uv is not available here; installing with pip (about a minute)"; \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'; fi
	@# The grader sandboxes students' code with bubblewrap: install it where we can (root with apt-get).
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq bubblewrap >/dev/null 2>&1; } ; } || \
	  echo "note: bubblewrap is not installed; grade with --no-sandbox or install it (apt-get install bubblewrap)"
	@touch $(STAMP)

clean:
	rm -rf $(VENV) course .pytest_cache .ruff_cache .hypothesis deploy/hub/node_modules deploy/hub/ngshare/env tests/browser/node_modules

# The JupyterHub deployment (deploy/hub, tests/hub) needs configurable-http-proxy from the npm registry,
# pinned by deploy/hub/package-lock.json. Best effort: without npm the hub tests say what is missing.
HUB_PROXY := deploy/hub/node_modules/.bin/configurable-http-proxy
.PHONY: hub-proxy
test: hub-proxy
hub-proxy: $(HUB_PROXY)
$(HUB_PROXY): deploy/hub/package.json deploy/hub/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "Installing configurable-http-proxy into deploy/hub/node_modules (npm ci)..."; \
	  { npm ci --prefix deploy/hub --no-audit --no-fund --loglevel=error && touch $(HUB_PROXY); } || \
	  echo "note: npm ci failed in deploy/hub; the JupyterHub tests (tests/hub) cannot run without the proxy"; \
	else echo "note: npm is not installed; the JupyterHub tests (tests/hub) need it (Node >= 20)"; fi

# The ngshare exchange service (BPC_EXCHANGE=ngshare) runs in its own environment: ngshare 0.6 needs
# SQLAlchemy 1.x, the course's environment has 2.x (deploy/hub/ngshare/requirements.txt says why).
NGSHARE_PY := deploy/hub/ngshare/env/bin/python
.PHONY: hub-ngshare
test: hub-ngshare
hub-ngshare: $(NGSHARE_PY)
$(NGSHARE_PY): deploy/hub/ngshare/requirements.txt $(STAMP)
	@echo "Installing ngshare into deploy/hub/ngshare/env (its own environment)..."
	@rm -rf deploy/hub/ngshare/env
	@{ $(BIN)/python -m uv venv -q --python $(BIN)/python deploy/hub/ngshare/env && \
	   $(BIN)/python -m uv pip install -q --python $(NGSHARE_PY) -r deploy/hub/ngshare/requirements.txt; } || \
	 { $(BIN)/python -m venv deploy/hub/ngshare/env && \
	   $(NGSHARE_PY) -m pip install -q -r deploy/hub/ngshare/requirements.txt; }
	@touch $(NGSHARE_PY)

# The static site's accessibility check (tests/browser/test_site_reading.py) runs axe-core from the npm
# registry, pinned by tests/browser/package-lock.json. Best effort: without npm that test says what is missing.
AXE_CORE := tests/browser/node_modules/axe-core/axe.min.js
.PHONY: browser-deps
test: browser-deps
browser-deps: $(AXE_CORE)
$(AXE_CORE): tests/browser/package.json tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "Installing axe-core into tests/browser/node_modules (npm ci)..."; \
	  { npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error && touch $(AXE_CORE); } || \
	  echo "note: npm ci failed in tests/browser; the site's accessibility test cannot run without axe-core"; \
	else echo "note: npm is not installed; the site's accessibility test needs it (Node >= 20)"; fi
