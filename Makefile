# Everything goes through .venv, which this Makefile creates itself.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PYTHONPATH := $(CURDIR)

.PHONY: install run migrate test test-fast lint fmt bench bench-load bench-faults openapi clean

$(BIN)/.installed: requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	@touch $@

install: $(BIN)/.installed

run: install  ## start PostgreSQL (embedded unless DATABASE_URL), migrate, start all services, load demo
	$(BIN)/python -m deploy.stack run

migrate: install  ## roles, schemas and migrations on DATABASE_URL
	$(BIN)/python -m deploy.stack migrate

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy kit services gateway deploy
	$(BIN)/lint-imports

test: install lint  ## lint, then every test against a real PostgreSQL
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -x

bench: install  ## every benchmark (each prints ratios against a baseline measured in the same run)
	$(BIN)/python benchmarks/gateway.py
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/matching.py
	$(BIN)/python benchmarks/routes.py
	$(BIN)/python benchmarks/uploads.py
	$(BIN)/python benchmarks/audit.py
	$(BIN)/python benchmarks/country.py --memory-check

bench-load: install
	$(BIN)/python benchmarks/load.py

bench-faults: install  ## kill -9 mid intake and mid generation, PostgreSQL down and back, a hung upstream
	$(BIN)/python benchmarks/faults.py

openapi: install  ## write openapi.json (the merged spec the gateway serves); a test compares them
	$(BIN)/python -m deploy.openapi dump

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache
