# steerjax -- developer and user entry points.
#   make figures   install on first use, then reproduce the paper's figures into ./figures
#   make test      install on first use, then run the whole test suite
#   make docs      the documentation site into ./site (strict: a warning fails; also run by make test)
#   make bench     benchmarks (prints one JSON line last)
#   make lint      ruff

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test docs figures figures-quick bench lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,docs]'
	@touch $(STAMP)

# The suite is compile-bound (XLA compiles one program at a time), so one pytest worker per
# core (pytest-xdist) nearly halves it; --dist loadfile keeps each file's shared, compiled
# fixtures in one worker.  Plain `pytest` (one process) runs the same tests.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=30

# The same strict build runs inside `make test` (tests/test_docs.py), with the pages' code blocks.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

figures: $(STAMP)
	$(BIN)/steerjax figures --out figures

figures-quick: $(STAMP)
	$(BIN)/steerjax figures --quick --out figures-quick

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests experiments benchmarks docs/hooks
	$(BIN)/ruff format --check src tests experiments benchmarks docs/hooks

format: $(STAMP)
	$(BIN)/ruff format src tests experiments benchmarks
	$(BIN)/ruff check --fix src tests experiments benchmarks

clean:
	rm -rf $(VENV) build dist .pytest_cache .hypothesis figures-quick site
