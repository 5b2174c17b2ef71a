# booksync: the two commands of the README, and what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-postgres install

$(BIN)/booksync: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/booksync

install: $(BIN)/booksync

demo: install
	$(BIN)/booksync demo --home booksync-demo

test: install
	$(BIN)/python -m pytest -n auto -q

# The end-to-end tests again with the billing store on PostgreSQL (CI starts the server and sets
# BOOKSYNC_TEST_POSTGRES to a URL template such as postgresql+psycopg://u:p@127.0.0.1/booksync_{home_id}).
test-postgres: install
	$(BIN)/python -m pytest -n auto -q tests/test_cli_demo.py tests/test_cli_sync.py tests/test_crash_recovery.py
