# LLM Proxy: `make run` starts the proxy, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE := llmproxy.settings

.PHONY: run test test-sqlite test-postgres lint bench demo install clean

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
test: lint test-sqlite test-postgres
	$(BIN)/python -m coverage report --fail-under=90

test-sqlite: install
	DATABASE_URL= $(BIN)/python -m pytest -q --cov --cov-report= -p no:randomly

test-postgres: install
	@if [ -n "$$TEST_POSTGRES_URL" ]; then \
	  DATABASE_URL=$$TEST_POSTGRES_URL $(BIN)/python -m pytest -q --cov --cov-append --cov-report= ; \
	else echo "TEST_POSTGRES_URL not set: the PostgreSQL run is skipped"; fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

bench: install
	$(BIN)/python bench/run.py
	$(BIN)/python bench/patterns_cost.py
	$(BIN)/python bench/rules_cost.py

clean:
	rm -rf $(VENV) data/test.sqlite3* .coverage
