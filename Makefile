# The verbs people type. `make run` and `make test` work on a fresh Debian machine with Python 3.11.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= config.settings.local

# The three long-running processes. docker-compose.yml runs exactly these commands
# (tests/core/test_deployment_files.py keeps the two in step).
GUNICORN_CMD := gunicorn config.wsgi:application --bind $(HOST):$(PORT) --workers 3 --threads 4 --timeout 60 --access-logfile -
WORKER_CMD := celery -A config worker --loglevel INFO --concurrency 2 --prefetch-multiplier 1
BEAT_CMD := celery -A config beat --loglevel INFO --scheduler django_celery_beat.schedulers:DatabaseScheduler

.PHONY: run test test-faults lint format bench install install-test system-deps system-deps-test migrate seed messages clean

$(BIN)/python:
	@scripts/bootstrap.sh venv "$(PYTHON)" "$(VENV)"

install: $(BIN)/python
	@scripts/bootstrap.sh install "$(VENV)" ""

install-test: $(BIN)/python
	@scripts/bootstrap.sh install "$(VENV)" "test,dev"

system-deps:
	@scripts/bootstrap.sh system run

system-deps-test:
	@scripts/bootstrap.sh system test

migrate: install
	@scripts/bootstrap.sh database "$(VENV)"
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo --quiet

run: system-deps install migrate seed
	@$(BIN)/python manage.py collectstatic --noinput -v 0
	@scripts/run.sh "$(BIN)" "$(GUNICORN_CMD)" "$(WORKER_CMD)" "$(BEAT_CMD)" "$(HOST)" "$(PORT)"

# Everything but the fault-injection tests (a -m in PYTEST_ARGS replaces the "not faults").
test: system-deps-test install-test
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m pytest -m "not faults" $(PYTEST_ARGS)

# Fault injection with real processes (tests/faults: Celery workers SIGKILLed mid-letter, Redis
# down, PostgreSQL restarted under load), on private Redis and PostgreSQL servers the tests
# start; about 4 minutes on 2 cores, so apart from `make test`. Figures: docs/reliability.md.
test-faults: system-deps-test install-test
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m pytest -m faults tests/faults $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/mypy .

format: install-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Every benchmark in turn; BENCH_ARGS=--quick for a short run. Each prints its RESULT line.
BENCHES ?= pages letters claims reconcile reports audit_chain
bench: install-test
	@for name in $(BENCHES); do \
		echo "==> bench/$$name.py $(BENCH_ARGS)"; \
		DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python bench/$$name.py $(BENCH_ARGS) || exit 1; \
	done

messages: install-test
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var --no-obsolete
	$(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf var/static var/test-media .pytest_cache test-artifacts
