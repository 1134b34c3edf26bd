# Kursusportalen: `make run` (demo server) and `make test` (whole suite). `make help` lists the rest.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
DKFDS := node_modules/dkfds/dist
VENDOR := app/static/vendor/dkfds

.PHONY: help run test soak-calendar lint bandit audit-deps assets translations messages db-upgrade demo screenshots clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

$(DKFDS)/css/dkfds.min.css: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(VENDOR)/VERSION: $(DKFDS)/css/dkfds.min.css
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/fonts/IBMPlexSans/complete
	cp -r $(DKFDS)/css $(DKFDS)/js $(DKFDS)/img $(DKFDS)/LICENSE.md $(VENDOR)/
	cp -r $(DKFDS)/fonts/IBMPlexSans/complete/woff $(DKFDS)/fonts/IBMPlexSans/complete/woff2 $(VENDOR)/fonts/IBMPlexSans/complete/
	node -p "require('./node_modules/dkfds/package.json').version" > $@

assets: $(VENDOR)/VERSION ## copy Det Fælles Designsystem from npm into app/static/vendor

translations: $(VENV)/.runtime-installed ## compile the translation catalogues (.mo files are not committed)
	$(BIN)/pybabel compile -d translations

messages: $(VENV)/.dev-installed ## extract strings and update the catalogues
	$(BIN)/pybabel extract --ignore-dirs='.* ._' -F babel.cfg -k _l -o translations/messages.pot .
	$(BIN)/pybabel update -N -i translations/messages.pot -d translations

db-upgrade: $(VENV)/.runtime-installed
	$(FLASK) db upgrade

demo: db-upgrade ## load the demo data (idempotent)
	$(FLASK) demo load

run: $(VENV)/.runtime-installed assets translations demo ## start the demo server at http://127.0.0.1:5000
	@$(FLASK) demo logins
	$(FLASK) run --host 127.0.0.1 --port 5000

lint: $(VENV)/.dev-installed ## ruff check, ruff format --check and the import layering (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

BANDIT := $(BIN)/bandit -c pyproject.toml -q -r app scheduler config.py wsgi.py

bandit: $(VENV)/.dev-installed ## bandit security lint: fails on a high-severity finding (skips in pyproject.toml)
	$(BANDIT) -lll

audit-deps: $(VENV)/.dev-installed ## pip-audit the pinned requirements (exit 1: vulnerable, 3: no service reachable)
	$(BIN)/python .ci/audit_deps.py

test: $(VENV)/.dev-installed assets translations ## run the whole test suite (TEST_DATABASE_URL selects PostgreSQL)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BANDIT) -lll
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

soak-calendar: $(VENV)/.dev-installed translations ## the calendar-truth property test, long and random (TEST_DATABASE_URL selects PostgreSQL)
	CALENDAR_PROPERTY_EXAMPLES=$${CALENDAR_PROPERTY_EXAMPLES:-200} CALENDAR_PROPERTY_STEPS=$${CALENDAR_PROPERTY_STEPS:-60} \
	CALENDAR_PROPERTY_SEED=random $(BIN)/python -m pytest -q -p no:cacheprovider tests/calendar/test_calendar_property.py

screenshots: $(VENV)/.dev-installed assets translations ## refresh docs/screenshots/*.png in Debian's Chromium
	SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/browser/test_screenshots.py

clean: ## remove generated files (venv, node_modules, vendor assets, compiled catalogues)
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .ruff_cache .import_linter_cache
	find translations -name '*.mo' -delete
