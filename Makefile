# booksync: the two commands of the README, and what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install

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
