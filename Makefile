# LLM Proxy: `make run` starts the proxy, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE := llmproxy.settings

.PHONY: run test test-sqlite test-postgres test-browser coverage lint bench soak demo install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# uv installs the dependency ranges in pyproject.toml in seconds (pip takes ~25 s).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --python $(BIN)/python -r pyproject.toml --extra dev
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py ensure_admin
	$(BIN)/python manage.py serve

# SQLite always; PostgreSQL too when TEST_POSTGRES_URL is set (CI sets it).
REPORTS := data/junit
test: lint test-sqlite test-postgres coverage test-browser
	@$(BIN)/python .ci/junit_totals.py $(REPORTS)/sqlite.xml $(REPORTS)/postgres.xml $(REPORTS)/browser.xml

coverage:
	$(BIN)/python -m coverage report --fail-under=90

test-sqlite: install
	@mkdir -p $(REPORTS) && rm -f $(REPORTS)/*.xml
	DATABASE_URL= $(BIN)/python -m pytest -q --cov --cov-report= -p no:randomly --junitxml=$(REPORTS)/sqlite.xml

test-postgres: install
	@if [ -n "$$TEST_POSTGRES_URL" ]; then \
	  DATABASE_URL=$$TEST_POSTGRES_URL $(BIN)/python -m pytest -q --cov --cov-append --cov-report= --junitxml=$(REPORTS)/postgres.xml ; \
	else echo "TEST_POSTGRES_URL not set: the PostgreSQL run is skipped"; fi

# Playwright + Debian's chromium, in their own pytest process (pytest-asyncio off);
# skipped when /usr/bin/chromium is missing. Screenshots: test-artifacts/screenshots/.
test-browser: install
	DATABASE_URL= $(BIN)/python -m pytest tests/browser -q -o addopts="" -p no:asyncio -p no:cacheprovider --junitxml=$(REPORTS)/browser.xml

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# Needs wrk (apt-get install -y wrk); writes bench/RESULTS.md. See bench/README.md.
bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/patterns_cost.py
	$(BIN)/python bench/rules_cost.py

# 2 min warm-up + 10 min of steady mixed load through `manage.py serve`, with the RSS of
# every server process sampled; writes bench/out/soak-*/report.md. See bench/README.md.
soak: install
	$(BIN)/python bench/soak.py

# A fake upstream, a demo namespace and routes, and mixed traffic through the running
# proxy (start it first with `make run`); open http://127.0.0.1:8000/dashboard/.
demo: install
	$(BIN)/python manage.py demo

clean:
	rm -rf $(VENV) data/test.sqlite3* .coverage
