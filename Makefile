# Two commands from a fresh clone: `make demo` and `make test`. Everything else installs itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false

.PHONY: install install-browser presidio-venv demo test test-all lint format bench clean help

help:
	@echo "make demo    run the loop on generated data (embedded PostgreSQL)"
	@echo "make test    run the test suite (real PostgreSQL, dbt, Prefect)"
	@echo "make lint    ruff check and format check"
	@echo "make bench   benchmarks (see BENCHMARKS.md)"
	@echo "make clean   stop the embedded server and remove local state"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench,dask,embeddings]'
	@# presidio left in venvs from before it had its own (.venv-presidio): spaCy would import it.
	@! $(BIN)/python -m pip show -q presidio-analyzer 2>/dev/null \
	  || $(BIN)/python -m pip uninstall --quiet -y presidio-analyzer
	@touch $(STAMP)

install: $(STAMP)

# Presidio, the PII benchmark's baseline, in a venv of its own: in ours spaCy would import its
# factory entry point, and with it transformers, in every pipeline process. Pinned versions only.
PRESIDIO_VENV ?= .venv-presidio
PRESIDIO_STAMP := $(PRESIDIO_VENV)/.installed-stamp
$(PRESIDIO_STAMP): constraints.txt
	@test -x $(PRESIDIO_VENV)/bin/python || $(PYTHON) -m venv $(PRESIDIO_VENV)
	$(PRESIDIO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PRESIDIO_VENV)/bin/python -m pip install --quiet -c constraints.txt presidio-analyzer
	@touch $(PRESIDIO_STAMP)

presidio-venv: $(PRESIDIO_STAMP)

# Debian's Chromium for the dashboard's browser tests (Playwright drives it; its own browser
# download does not work offline). Installed with apt when we are root, else say how.
CHROMIUM_BIN ?= /usr/bin/chromium
install-browser:
	@test -x "$(CHROMIUM_BIN)" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "the browser tests need Chromium: sudo apt-get install chromium (or set CHROMIUM_BIN)"; \
	  fi; }

demo: install
	$(BIN)/feedbackloop demo

test: install install-browser
	$(BIN)/python -m pytest -m "not slow"

test-all: install install-browser
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	-@test -x $(BIN)/feedbackloop && $(BIN)/feedbackloop db stop
	rm -rf .feedbackloop dbt_project/target dbt_project/logs $(PRESIDIO_VENV)

bench: install $(PRESIDIO_STAMP)
	$(BIN)/python benchmarks/pii_bench.py --presidio-python $(PRESIDIO_VENV)/bin/python
	$(BIN)/python benchmarks/sentiment_bench.py
	$(BIN)/python benchmarks/spacy_pipe_bench.py
	$(BIN)/python benchmarks/webhook_bench.py --n 5000
	$(BIN)/python benchmarks/topics_bench.py
	$(BIN)/python benchmarks/send_bench.py --actions 5000 --ceiling
	$(BIN)/python benchmarks/loop_bench.py --tickets 5000,20000,100000
