# Tamio's everyday commands. `make test` is what CI runs (through .ci/run).
#
#   make run         the demo company in a local Slack sandbox at http://127.0.0.1:8080 (no Slack account)
#   make test        ruff, mypy --strict, the migration check, then pytest on SQLite and PostgreSQL over
#                    two workers, each with its own throwaway PostgreSQL cluster (pytest options:
#                    make test PYTEST_ARGS="--db=sqlite -k ecb"; one process: make test PYTEST_WORKERS=0)
#   make lint        ruff, mypy and the layers of the import graph (lint-imports, [tool.importlinter])
#   make bench       every bench/*.py, printing its figures (long: the defaults import 100,000 rows on
#                    both databases and pass over 10,000 accounts; one bench: make bench BENCH=bench/cli.py,
#                    and each script's --help says how to run it smaller)
#   make migration   regenerate the single initial migration from the models

VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3.11
STAMP := $(VENV)/.installed
LINT_PATHS := $(wildcard tamio bot slack_sandbox tests bench)
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2
BENCH ?= bench/*.py

.PHONY: install test lint migration-check bench migration run

install: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml is newer than the stamp (or the venv is new).
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/mypy --strict tamio
	$(VENV)/bin/lint-imports --no-cache

# Models and migrations must agree: upgrade a fresh SQLite file to head, then `alembic check`.
migration-check: $(STAMP)
	@set -e; if [ ! -f alembic.ini ]; then echo "no alembic.ini: no migration check"; exit 0; fi; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	export TAMIO_DATABASE_URL="sqlite+aiosqlite:///$$tmp/check.db"; \
	$(PY) -m alembic upgrade head >/dev/null; \
	$(PY) -m alembic check

# --dist loadgroup: tests go to whichever worker is free, one by one, except the browser tests
# (xdist_group "browser"), which share one worker so that one Chromium runs at a time.
test: lint migration-check
	$(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: $(STAMP)
	@set -e; found=0; for script in $(BENCH); do \
	  [ -e "$$script" ] || continue; found=1; \
	  echo "== $$script"; PYTHONPATH="$(CURDIR)" $(PY) "$$script"; \
	done; [ $$found = 1 ] || echo "no benchmarks in bench/"

# Nothing is deployed yet, so the history is one file: throw it away and autogenerate it again
# against an empty SQLite database.
migration: $(STAMP)
	rm -f migrations/versions/*.py
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	TAMIO_DATABASE_URL="sqlite+aiosqlite:///$$tmp/migration.db" \
	  $(PY) -m alembic revision --autogenerate -m initial --rev-id 0001

# Sets up .venv if needed and migrates the database (TAMIO_DATABASE_URL, by default the SQLite file
# var/tamio.db); `tamio sandbox` seeds the demo company when the database has no account, then runs
# `tamio serve` and the Slack sandbox in one process group until Ctrl-C.
run: $(STAMP)
	$(VENV)/bin/tamio db upgrade
	$(VENV)/bin/tamio sandbox
