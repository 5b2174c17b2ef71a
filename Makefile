# booksync: the two commands of the README, and what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-postgres install install-run install-test chromium

# Two sets: what running booksync needs (pyproject's dependencies, PostgreSQL's driver psycopg included: a
# home may keep its billing store on PostgreSQL), and what the tests add (the [test] extra: pytest, Hypothesis,
# Playwright, zeep, pypdf, psutil, mypy). `make demo` installs only the first; `make test` both.
$(VENV)/.installed-run: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install-run: $(VENV)/.installed-run

install-test: $(VENV)/.installed-test

# A developer's set-up: booksync and everything its tests need.
install: install-test

demo: install-run
	$(BIN)/booksync demo --home booksync-demo

test: install-test chromium
	$(BIN)/python -m pytest -n auto -q

# The browser tests drive Debian's Chromium (tests/browser: $$BOOKSYNC_CHROMIUM or /usr/bin/chromium).
# As root it is installed; otherwise make stops and says what to install (a missing browser never skips tests).
chromium:
	@if [ -n "$$BOOKSYNC_CHROMIUM" ]; then \
		[ -x "$$BOOKSYNC_CHROMIUM" ] || { echo "BOOKSYNC_CHROMIUM is set to $$BOOKSYNC_CHROMIUM, which is not an executable Chromium" >&2; exit 1; }; \
	elif [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Chromium for the browser tests (apt-get install chromium)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "The browser tests need Chromium at /usr/bin/chromium: install Debian's package 'chromium'" \
			     "(sudo apt-get install chromium), or set BOOKSYNC_CHROMIUM to a Chromium binary." >&2; \
			exit 1; \
		fi; \
	fi

# The end-to-end tests again with the billing store on PostgreSQL (CI starts the server and sets
# BOOKSYNC_TEST_POSTGRES to a URL template such as postgresql+psycopg://u:p@127.0.0.1/booksync_{home_id}).
test-postgres: install-test
	$(BIN)/python -m pytest -n auto -q tests/test_cli_demo.py tests/test_cli_sync.py tests/test_crash_recovery.py tests/test_pg_sync_lock.py
