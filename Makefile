# Every target does all the set-up it needs on a fresh Debian machine with PyPI access.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_AUDIO := tests/fixtures/dialogue_client_led.wav

export PYANNOTE_METRICS_ENABLED ?= 0
export HF_HUB_OFFLINE ?= 1

HOST ?= 127.0.0.1
PORT ?= 8000
PREFECT_PORT ?= 4200
PREFECT_POOL ?= session-analyzer
DATA_DIR ?= $(CURDIR)/data
PREFECT_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api

.PHONY: setup demo test test-fast lint bench fixtures realistic-fixtures serve server worker clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install -e '.[dev]'
	$(BIN)/session-analyzer models
	touch $(STAMP)

## setup: create .venv, install everything, verify and prepare the offline models
setup: $(STAMP)

## demo: analyze the example counseling dialogue shipped in the repo
demo: $(STAMP)
	$(BIN)/session-analyzer analyze $(DEMO_AUDIO) --out out/demo
	@echo "outputs are in $(CURDIR)/out/demo"

TEST_POSTGRES_URL ?= postgresql+psycopg://analyzer:analyzer@127.0.0.1:5432/analyzer_test

## test: the whole test suite (unit, property, integration on real audio, flows against a real
##       Prefect server, web app on SQLite and PostgreSQL, browser tests in headless Chromium).
##       As root it first installs and starts the test services (Debian's postgresql, chromium).
test: $(STAMP)
	@if [ "$$(id -u)" -eq 0 ] || command -v sudo >/dev/null; then ./.ci/services.sh; \
	else echo "not root: PostgreSQL and browser tests will be skipped (see .ci/services.sh)"; fi
	TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(BIN)/python -m pytest

## test-fast: only the tests that need no model
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## bench: real-time factor and peak memory of every stage on a 10-minute recording,
## `analyze` end to end against the code before issue 10 (3ebc702) plus the recorded GPU runs,
## then the web app under 20 concurrent uploads by 4 supervisors (p95 page load)
bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.end_to_end --minutes 10 --baseline 3ebc702
	$(BIN)/python -m web.loadtest --json bench/results/web_load.json
	SESSION_ANALYZER_DATA_DIR=$(DATA_DIR) $(BIN)/python -m bench.flows

## server: a Prefect server with its UI on http://127.0.0.1:4200 (state in data/prefect-server);
##         then `export PREFECT_API_URL=http://127.0.0.1:4200/api` and cohorts show in the UI
server: $(STAMP)
	PREFECT_HOME=$(DATA_DIR)/prefect-server PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 \
		$(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

## worker: create the work pool and the session flow's deployment, then run a process worker
##         (run it on every worker machine; cohorts dispatch to it with `cohort ... --deployment`)
worker: $(STAMP)
	PREFECT_API_URL=$(PREFECT_URL) SESSION_ANALYZER_DATA_DIR=$(DATA_DIR) \
		$(BIN)/python -m flows.deploy --pool $(PREFECT_POOL)
	PREFECT_API_URL=$(PREFECT_URL) SESSION_ANALYZER_DATA_DIR=$(DATA_DIR) \
		$(BIN)/prefect worker start --pool $(PREFECT_POOL) --type process

## serve: the supervisor web app on http://$(HOST):$(PORT)/ (data in ./data; see docs/web.md)
serve: $(STAMP)
	$(BIN)/session-analyzer serve --host $(HOST) --port $(PORT)

## fixtures: regenerate the synthesized test recordings (needs espeak-ng, sox, ffmpeg)
fixtures: $(STAMP)
	$(BIN)/python scripts/make_fixtures.py

## realistic-fixtures: regenerate tests/fixtures/realistic with Kokoro voices (VOICES=dir of
##                     remsky/Kokoro-FastAPI's api/src/voices/v1_0/*.pt, fetched by hand)
realistic-fixtures: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,fixtures]'
	$(BIN)/python scripts/make_realistic_fixtures.py $(VOICES) --out tests/fixtures/realistic

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
