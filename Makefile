# caregate: the two set-up commands (see README) and the benchmark.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench lint gendefs clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

## Run the server on SQLite with demo data at http://127.0.0.1:8080/fhir
run: $(STAMP)
	$(BIN)/caregate serve --sandbox --host 127.0.0.1 --port 8080 --demo 5

## Install what the tests need (PostgreSQL included) and run the whole suite
test: $(STAMP)
	sh scripts/install-postgres.sh
	sh scripts/install-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: $(STAMP)
	sh scripts/install-postgres.sh
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .

## Regenerate src/caregate/fhir/data from the official definitions in ../shared/fhir-r4 and ../shared/uk-core
gendefs: $(STAMP)
	$(BIN)/python tools/gendefs.py ../shared/fhir-r4
	$(BIN)/python tools/terminology_defs.py ../shared/fhir-r4 ../shared/uk-core

clean:
	rm -rf $(VENV) caregate.db caregate.db-wal caregate.db-shm
