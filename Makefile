# Two commands for a fresh machine:  `make run` (install + start the app)  and  `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export HF_HUB_OFFLINE ?= 1

.PHONY: run install install-dev test lint test-services bench

run: install
	$(PY) app.py

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps -e .
	touch $@

install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

# Debian's Chromium (browser tests) and PostgreSQL (ledger tests), installed and started by our scripts.
test-services:
	bash scripts/install_test_services.sh

lint: install-dev
	$(VENV)/bin/ruff check .

test: install-dev test-services lint
	. scripts/test_env.sh && $(PY) -m pytest -q

bench: install-dev
	. scripts/test_env.sh && $(PY) bench/quota.py
	$(PY) bench/overhead.py
