# Two commands on a fresh machine: `make drill` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: drill test lint bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@echo "Building $(VENV): the first run installs the dependencies (about 3 minutes); later runs start at once."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

drill: $(STAMP)
	$(BIN)/python -m drill

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The credential scan runs on every tracked file against the committed baseline (a copy,
# so line-number refreshes never dirty the checkout): a new credential-like string fails.
# After reviewing a false positive: detect-secrets scan --baseline .secrets.baseline $(git ls-files)
test: lint
	@baseline=$$(mktemp); cp .secrets.baseline $$baseline; \
	$(BIN)/detect-secrets-hook --baseline $$baseline $$(git ls-files ':!:.secrets.baseline'); \
	status=$$?; rm -f $$baseline; \
	if [ $$status -ne 0 ] && [ $$status -ne 3 ]; then \
		echo "detect-secrets: a credential-like string is committed (above). Remove it; if it is a false positive, review and update .secrets.baseline."; \
		exit 1; \
	fi
	$(BIN)/python -m pytest -q -n auto

bench: $(STAMP)
	$(BIN)/python -m bench.store_calls
	$(BIN)/python -m bench.program_eval
	$(BIN)/python -m bench.policies
	$(BIN)/python -m bench.cli_startup
	$(BIN)/python -m bench.status_stream
	$(BIN)/python -m bench.coldstart
	$(BIN)/python -m bench.evidence
	PYTHONPATH=consumer $(BIN)/python -m bench.loader_get
	$(BIN)/python -m bench.wakeups
	$(BIN)/python -m bench.daily_pass_gcp

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
