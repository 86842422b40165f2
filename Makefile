# eventrouter — the two commands: `make demo` (see it work) and `make test` (prove it).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help setup services demo dev test lint bench bench-backlog run-router run-worker clean

help:
	@echo "make demo     set up, then the demo on 'eventrouter dev' (private Postgres/Redis if none)"
	@echo "make dev      set up, then 'eventrouter dev': the whole stack with one log, until Ctrl-C"
	@echo "make test     set up, start local Postgres/Redis if down, run lint and the test suite"
	@echo "make lint     ruff + mypy --strict"
	@echo "make bench    the throughput benchmark (writes bench/RESULTS.md)"

setup: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

services:
	@deploy/local-services.sh

# Both work on a machine with nothing but Python: where no Postgres/Redis answers and none is
# installed, `eventrouter dev` starts private ones (data in .eventrouter/).
demo: setup services
	$(BIN)/python examples/demo.py

dev: setup services
	$(BIN)/eventrouter dev

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check eventrouter router workers tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports

test: setup services lint
	$(BIN)/pytest -q

# The throughput benchmark: eventrouter vs. naive Celery on this machine; writes
# bench/RESULTS.md (≈7 minutes; stop other work on the machine first).
bench: setup services
	$(BIN)/python -m bench

# The long memory check: RSS while a 1,000,000-event backlog drains (≈8 minutes).
bench-backlog: setup services
	$(BIN)/python -m bench --only backlog --backlog 1000000 --runs 1 --out bench/RESULTS-backlog.md

run-router: setup services
	$(BIN)/eventrouter db upgrade
	$(BIN)/eventrouter router

run-worker: setup services
	$(BIN)/eventrouter worker

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
