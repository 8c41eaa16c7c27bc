# Zalo An ninh: one verb per job. Everything binds to 127.0.0.1; state lives in .run/ (ignored).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: run test test-tools lint contracts eval bench chaos k8s-check chat stop clean install infra status

# Create the virtual environment and install the project (re-run when pyproject.toml changes).
install: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Run the whole system locally: Kafka, FerretDB, topics, the Zalo simulator and every service, ready.
run: install
	$(PY) -m devstack up

# Test tools from Debian and npm: Chromium + playwright-core (browser tests), promtool + prometheus (alert rules).
test-tools:
	bash tests/browser/install.sh
	bash deploy/observability/install-tools.sh

# Run the test suite against the real Kafka and FerretDB (started if not running, stopped again if we started them).
test: install test-tools
	@was_up=$$($(PY) -m devstack status | grep -c '"kafka": true' || true); \
	$(PY) -m devstack infra || exit 1; \
	$(PY) -m pytest $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests: failing"; code=1; fi; \
	$(PY) -m devstack stop-services >/dev/null 2>&1 || true; \
	if [ "$$was_up" = "0" ]; then $(PY) -m devstack down >/dev/null 2>&1 || true; fi; \
	exit $$code

# Lint and format check (ruff).
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Regenerate the checked-in JSON Schemas and AsyncAPI document from the contract models.
contracts: install
	$(PY) -m contracts write

# Intent classifier figures on the development set and on the independent holdout set (accuracy, macro-F1,
# confusions, latency). The holdout set was written by another author and is never trained on.
eval: install
	$(PY) -m services.intent.eval
	$(PY) -m services.intent.eval services/intent/data/holdout.jsonl

# Benchmarks of every service; writes BENCHMARKS.md and bench/results.json.
bench: install
	$(PY) -m devstack infra
	$(PY) -m bench

# Fault injection under load (not part of CI); prints a table.
chaos: install
	$(PY) -m devstack infra
	$(PY) -m bench.chaos

# Render every kustomize overlay and validate it offline (schemas and policies). The live ACL test
# (a private Kafka broker) runs with `make test`.
k8s-check: install
	$(PY) -m pytest deploy/k8s/tests -q -m "not integration"

# Chat with the running system as a citizen, through the Zalo simulator.
chat: install
	$(VENV)/bin/zalo-chat

# Start only Kafka and FerretDB (and create the topics).
infra: install
	$(PY) -m devstack infra

# Which local processes are running.
status: install
	$(PY) -m devstack status

# Stop every local process (simulator, services, Kafka, FerretDB).
stop:
	@if [ -x $(PY) ]; then $(PY) -m devstack down; fi

# Stop everything and delete the run folder (data, logs, downloaded jars, built binaries).
clean: stop
	rm -rf .run
