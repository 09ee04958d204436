# taxreport — the two commands of the quick start:
#   make demo   create .venv, install, run the whole pipeline on a fresh SQLite demo ledger
#   make test   create .venv, install with test extras, run every test (PostgreSQL ones included)

# The first interpreter that really runs and is 3.11+ (pyenv shims may exist for versions not enabled).
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	if $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then command -v $$p; break; fi; done)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-packaging bench bench-peers clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "taxreport needs Python 3.11 or newer (python3 not found or too old)" >&2; exit 1; }
	@bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	@bash scripts/demo.sh

test: $(STAMP)
	$(BIN)/ruff check taxreport
	$(BIN)/mypy
	@bash scripts/with-postgres.sh $(BIN)/python -m pytest -q -p no:cacheprovider

# The wheel, installed in a clean venv, then `export pdf` (slow: builds the wheel).
test-packaging: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m packaging tests/test_reports_packaging.py

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_gains.py 100000

# issue 14: import + every year as separate CLI calls, against RP2 and BittyTax (installed in benchmarks/.peers)
bench-peers: $(STAMP)
	$(BIN)/python benchmarks/bench_e2e.py 100000 --runs 3

clean:
	rm -rf $(VENV) build *.egg-info
