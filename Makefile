# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv from this repository's own pyproject.toml; nothing else is needed.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HASH := $(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo test lint up bench clean package

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.local-$(HASH): $(BIN)/python
	$(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.dev-$(HASH): $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.local-$(HASH)

demo: $(VENV)/.local-$(HASH)  ## set up, start the embedded AWS, run a spike, print the report
	$(BIN)/nicelist demo $(ARGS)

test: $(VENV)/.dev-$(HASH)  ## set up, lint, type-check and run the whole suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest $(ARGS)

lint: $(VENV)/.dev-$(HASH)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/mypy

bench: $(VENV)/.local-$(HASH)  ## nicelist against the naive baseline: one table of figures, ratios and the bill
	$(BIN)/nicelist bench $(ARGS)

up: $(VENV)/.local-$(HASH)  ## the local stack until Ctrl-C
	$(BIN)/nicelist up $(ARGS)

package:  ## the two Lambda zips of an environment (ARGS=prod; default dev) into dist/, built by zappa from .venv-package
	$(PYTHON) -m nicelist.package $(ARGS)

.PHONY: spike
spike: $(VENV)/.dev-$(HASH)  ## a Locust load shape against its own local stack; exits 1 on any loss (ARGS="--shape burst")
	$(BIN)/python -m loadtests.spike $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
