# Two commands for a newcomer: `make run` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test test-fast bench venv clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## Run proxy (:8080) + admin (:8081) on SQLite in ./data; uses the bundled mock provider
## when neither OPENAI_API_KEY nor ANTHROPIC_API_KEY is set.
run: $(STAMP)
	$(BIN)/llm-gateway up --mock-if-unconfigured

## The whole suite (SQLite always; PostgreSQL too when GATEWAY_TEST_PG_URL is set, as in CI).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

## Quick loop while developing: skips the slow end-to-end tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not slow" $(PYTEST_ARGS)

## Gateway vs direct vs plain pass-through proxy, one run; results in bench/results/.
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
