# wxnotify — two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.DEFAULT_GOAL := help
.PHONY: help demo test lint bench chaos check-python web worker sim messages lock clean

help:
	@echo "make demo    install into .venv, prepare SQLite, start web app + worker, fill in demo data"
	@echo "make test    install dev dependencies, run linters, type checks, import contracts and all tests"
	@echo "make bench   run the benchmarks side by side, print the table, write var/bench/summary.json (WXNOTIFY_BENCH_SCALE=0.1: smaller)"
	@echo "make chaos   sends under faults (kill -9, WeChat errors, restarts of PostgreSQL, Redis, the web app): var/chaos/summary.txt"
	@echo "make web | make worker   run one web or worker process (settings from the environment)"
	@echo "make sim     run the WeChat simulator alone (wxsim serve --demo, port 8100)"
	@echo "make lock    recompile requirements*.txt from the .in files (pinned, no download addresses)"
	@echo "make messages   extract and compile translations (extraction needs gettext; compiling does not)"

check-python:
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "wxnotify needs Python >= 3.11 (set PY=python3.11)")'

$(BIN)/python: | check-python
	$(PY) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -e .   # puts the `wxsim` command into .venv/bin
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt pyproject.toml | $(BIN)/python
	$(PIP) install -r requirements-dev.txt
	$(PIP) install --no-deps -e .
	@touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/python -m demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy wechat wxsim wxnotify config demo benchmarks
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/djlint --lint wxnotify
	@# django-upgrade rewrites what is not Django 5.2's idiom and fails: run it, commit what it changed
	$(BIN)/django-upgrade --target-version 5.2 $$(find wxnotify config demo tests benchmarks -name '*.py' -not -path '*/migrations/*') manage.py

test: lint
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.suite

chaos: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.chaos

web: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/gunicorn config.wsgi -c config/gunicorn.conf.py --bind 127.0.0.1:$${WXNOTIFY_PORT:-8000} --workers 2 --threads 4

worker: $(VENV)/.installed
	$(BIN)/python manage.py run_huey

sim: $(VENV)/.installed
	$(BIN)/wxsim serve --demo

messages: $(VENV)/.installed-dev
	$(BIN)/python manage.py makemessages -l en --ignore=.venv --ignore=var --ignore=tests
	$(BIN)/pybabel compile -d wxnotify/locale -D django

lock: $(VENV)/.installed-dev
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-trusted-host --no-emit-find-links -o requirements.txt requirements.in
	$(BIN)/pip-compile -q --strip-extras --no-emit-index-url --no-emit-trusted-host --no-emit-find-links -o requirements-dev.txt requirements-dev.in

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
