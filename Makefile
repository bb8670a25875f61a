# Two commands: `make run` (set up, demo data, serve on http://127.0.0.1:5000) and `make test`
# (lint, then the suite, each test that needs a database on SQLite and on a throw-away PostgreSQL
# cluster, in one run of three test processes, pytest-xdist: on the 2 cores the suite is measured on,
# a third process keeps them busy while the others wait for servers, browsers and timers; each process
# is handed two tests at a time, so the long tests, collected first, spread over the three instead of
# coming in one process's first handful).
# Everything else here is what those two need, installed when missing.
# Python keeps compiled modules, and pytest its rewritten tests, in __pycache__ (git-ignored): where the
# environment turns that off, every test process compiled them again (collection 9 s of CPU instead of 4)
unexport PYTHONDONTWRITEBYTECODE
# The set-up steps are independent (pip, npm, apt): they run side by side, so a fresh clone waits for the
# longest (pip, about 50 s) and not for their sum
MAKEFLAGS += --jobs=3
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
FRONTEND := modeller/frontend
BUILD := modeller/static/build/modeller.js
HOST ?= 127.0.0.1
PORT ?= 5000
export IBM_TELEMETRY_DISABLED := true

.PHONY: run test venv frontend system-packages clean

run: venv frontend
	$(BIN)/baton db upgrade
	$(BIN)/baton demo
	$(BIN)/baton worker & worker=$$!; trap "kill $$worker" EXIT INT TERM; \
	$(BIN)/baton serve --host $(HOST) --port $(PORT)

test: venv frontend system-packages
	$(BIN)/ruff check engine web modeller tests bench
	$(BIN)/python -m pytest -n 3 --maxschedchunk 2

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

frontend: $(BUILD)

$(BUILD): $(FRONTEND)/package-lock.json $(FRONTEND)/build.mjs $(FRONTEND)/.bpmnlintrc $(wildcard $(FRONTEND)/src/*) \
          $(wildcard $(FRONTEND)/bpmnlint-plugin-baton/rules/*)
	cd $(FRONTEND) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	cd $(FRONTEND) && node build.mjs

# Debian packages the test suite drives for real: Chromium (browser tests) and PostgreSQL.
system-packages:
	@missing=""; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

clean:
	rm -rf $(VENV) $(FRONTEND)/node_modules modeller/static/build *.egg-info
