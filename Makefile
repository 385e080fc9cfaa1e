# Two commands for a newcomer: `make run` and `make test`. Each creates .venv on first use, from the
# hash-checked lock files (requirements*.lock, made from setup.cfg by `make lock`).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8080
ADMIN_PORT ?= 8081

LOCK      := requirements.lock
TEST_LOCK := requirements-test.lock
TOOLS     := $(VENV)/tools
# The locks are resolved against PyPI alone, whatever this machine's pip configuration adds.
PYPI_ONLY := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT \
             PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock"
PIP_COMPILE = $(PYPI_ONLY) $(TOOLS)/bin/pip-compile --quiet --generate-hashes --strip-extras \
              --allow-unsafe --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
LOCK_ARGS ?=

.PHONY: run test test-fast lint bench venv lock lock-upgrade catalog audit clean

$(STAMP): setup.cfg pyproject.toml $(TEST_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(TEST_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## Run proxy (:8080) + admin (:8081) on SQLite in ./data; uses the bundled mock provider
## when neither OPENAI_API_KEY nor ANTHROPIC_API_KEY is set. `make run PORT=9080 ADMIN_PORT=9081`.
run: $(STAMP)
	$(BIN)/llm-gateway up --mock-if-unconfigured --host $(HOST) --port $(PORT) \
		--admin-port $(ADMIN_PORT)

## The whole suite, SQLite and PostgreSQL: the tests start a throwaway PostgreSQL cluster when the
## server binaries are installed (or use GATEWAY_TEST_PG_URL), and say loudly when they cannot.
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

## The checkers (run first by `make test`): mypy, strict on gateway/ and plugins/, and ruff on
## everything (settings in pyproject.toml).
lint: $(STAMP)
	$(BIN)/mypy
	$(BIN)/ruff check .

## Quick loop while developing: SQLite only, without the slow end-to-end tests.
test-fast: $(STAMP)
	GATEWAY_TEST_PG=off $(BIN)/python -m pytest -n 2 -q -m "not slow and not postgres" $(PYTEST_ARGS)

## Gateway vs direct vs plain pass-through proxy, one run; results in bench/results/.
bench: $(STAMP)
	$(BIN)/python bench/run.py

$(TOOLS)/bin/pip-compile:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet 'pip-tools>=7.5,<8'

## Re-make the lock files from setup.cfg, keeping the pins that still fit (add LOCK_ARGS=--upgrade,
## or use `make lock-upgrade`, to move everything to the newest allowed versions).
lock: $(TOOLS)/bin/pip-compile
	$(PIP_COMPILE) --output-file $(LOCK) setup.cfg
	$(PIP_COMPILE) --extra test --constraint $(LOCK) --output-file $(TEST_LOCK) setup.cfg

lock-upgrade:
	$(MAKE) lock LOCK_ARGS=--upgrade

## Refresh the shipped price catalog (gateway/genai_prices.json) from the newest genai-prices.
## It cannot be a runtime dependency (it needs an h11 that mitmproxy 11.0.2 excludes).
catalog: $(TOOLS)/bin/pip-compile
	$(TOOLS)/bin/python -m pip install --quiet --upgrade genai-prices
	$(TOOLS)/bin/python -P gateway/catalog.py

## Known vulnerabilities in the locked versions (needs pip-audit's vulnerability service online).
audit:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet 'pip-audit>=2.7,<3'
	$(TOOLS)/bin/pip-audit --strict --require-hashes --disable-pip -r $(TEST_LOCK)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
