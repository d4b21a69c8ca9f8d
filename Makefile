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

.PHONY: setup demo test test-fast lint bench fixtures serve clean

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

## test: the whole test suite (unit, property, integration on real audio, slow ones too)
test: $(STAMP)
	$(BIN)/python -m pytest

## test-fast: only the tests that need no model
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## bench: real-time factor and peak memory of every stage on a 10-minute recording,
## then the web app under 20 concurrent uploads by 4 supervisors (p95 page load)
bench: $(STAMP)
	$(BIN)/python -m bench.run
	$(BIN)/python -m web.loadtest --json bench/results/web_load.json

## serve: the supervisor web app on http://$(HOST):$(PORT)/ (data in ./data; see docs/web.md)
serve: $(STAMP)
	$(BIN)/session-analyzer serve --host $(HOST) --port $(PORT)

## fixtures: regenerate the synthesized test recordings (needs espeak-ng, sox, ffmpeg)
fixtures: $(STAMP)
	$(BIN)/python scripts/make_fixtures.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
