# The single entry point. `make run` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# A fixed key for tests and benchmarks only: production refuses to start without its own.
TEST_ENV := DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/advisor} REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/15} DJANGO_SECRET_KEY=$${DJANGO_SECRET_KEY:-test-suite-only-key-q8Zt3mXv7LpK2wRb9NcF4hJy6DsG1aEu5oTi0WkP}

.PHONY: run install install-dev test test-clock lint fmt types imports migrations-check check validate bench up clean

# Each stamp is older than pyproject.toml or constraints.txt after either changes, so the next
# `make check` (or any target) reinstalls: a new dev tool or stub arrives without a manual step.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml constraints.txt node_modules/.package-lock.json
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	touch $@

# Test-only browser tools (axe-core), pinned by package-lock.json; the app itself needs no Node.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --silent

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Web + worker + beat on the embedded default (SQLite, file-system broker); Ctrl-C stops all three.
run: install
	mkdir -p var
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=1 $(PY) manage.py seed_demo
	@echo "Open http://127.0.0.1:8000  (demo investor: demo@example.com / demo-password-2026)"
	@trap 'kill 0' INT TERM; \
	DJANGO_DEBUG=1 $(VENV)/bin/celery -A advisor worker --loglevel=INFO --concurrency=2 & \
	DJANGO_DEBUG=1 $(VENV)/bin/celery -A advisor beat --loglevel=INFO & \
	DJANGO_DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000 & \
	wait

test: install-dev
	$(TEST_ENV) $(VENV)/bin/pytest $(PYTEST_ARGS)

# The suite again on awkward days (tests/conftest.py moves every test's clock there): a
# Saturday, the morning after a long weekend (MLK Day), a leap day late in the New York evening
# (already 1 March in UTC), and five years ahead. A test that passes today and fails on one of
# these depends on the day it runs. Left out: the pure engine and analytics tests (they take
# their dates as arguments and cannot read the clock: ruff's banned-api rule), and the checks
# that read no date (code layout, deployment files, migrations, the date-format lint, input
# fuzzing, CSP headers, passkeys, the accessibility crawl). Two days run at once, each on its
# own database and Redis db; logs go to test-artifacts/clock-*.log.
CLOCK_DAYS ?= 2026-12-05T10:00 2027-01-19T08:00 2028-02-29T23:30 $$(date -d '+5 years' +%Y-%m-%dT16:30)
CLOCK_PYTEST_ARGS ?= --ignore=tests/engine --ignore=tests/analytics \
	--ignore=tests/test_architecture.py --ignore=tests/test_deployment.py \
	--ignore=tests/test_migrations.py --ignore=tests/test_date_format.py \
	--ignore=tests/security/test_fuzz.py --ignore=tests/security/test_csp.py \
	--ignore=tests/browser/test_passkeys.py --ignore=tests/browser/test_crawl.py
test-clock: install-dev
	@mkdir -p test-artifacts; rm -f test-artifacts/clock-*.log; n=0; pids=""; status=0; \
	for day in $(CLOCK_DAYS); do \
	  n=$$((n + 1)); log=test-artifacts/clock-$$n.log; \
	  echo "suite clock $$day -> $$log"; \
	  ( $(TEST_ENV) DATABASE_URL=$$(echo $${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/advisor})_clock$$n \
	    REDIS_URL=redis://127.0.0.1:6379/$$((9 + n)) ADVISOR_TEST_NOW=$$day \
	    $(VENV)/bin/pytest -q -p no:cacheprovider $(CLOCK_PYTEST_ARGS) > $$log 2>&1 ) & pids="$$pids $$!"; \
	  if [ $$((n % 2)) -eq 0 ]; then for p in $$pids; do wait $$p || status=1; done; pids=""; fi; \
	done; \
	for p in $$pids; do wait $$p || status=1; done; \
	for log in test-artifacts/clock-*.log; do echo "== $$log"; tail -n 15 $$log | grep -E "passed|failed|error|FAILED|ERROR" || tail -n 5 $$log; done; \
	exit $$status

# ruff (with its security rules, "S") and bandit: a high-severity finding fails the build.
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/bandit -c pyproject.toml -r . -q --severity-level high

fmt: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# mypy with django-stubs; strict on the pure computation packages (see [tool.mypy]).
types: install-dev
	DJANGO_DEBUG=1 $(VENV)/bin/mypy accounts portfolios rebalancing advisor

# The import ladder and its contracts (see [tool.importlinter] and docs/architecture.md).
imports: install-dev
	$(VENV)/bin/lint-imports

migrations-check: install
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

check: lint types imports migrations-check test

# Needs ../shared/data (real market data); not part of `make test`.
validate: install-dev
	$(TEST_ENV) $(PY) -m benchmarks.validate

bench: install-dev
	$(TEST_ENV) $(PY) -m benchmarks

up:
	docker compose up --build

clean:
	rm -rf var test-artifacts .pytest_cache
