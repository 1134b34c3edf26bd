# Kursusportalen: `make run` (demo server) and `make test` (whole suite). `make help` lists the rest.
SHELL := /bin/bash
# The newest supported Python on PATH (3.13, 3.12, 3.11; then plain python3 if it is one of those).
# `make PYTHON=/path/to/python3.x ...` overrides it (it matters only when the virtualenv is created: `make clean`
# first to change it); VENV= names another virtualenv (CI's second interpreter).
SUPPORTED_PYTHONS := python3.13 python3.12 python3.11 python3
PYTHON_OK := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
ifndef PYTHON
PYTHON := $(shell for p in $(SUPPORTED_PYTHONS); do $$p -c '$(PYTHON_OK)' 2>/dev/null && { echo $$p; break; }; done)
endif
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
DKFDS := node_modules/dkfds/dist
VENDOR := app/static/vendor/dkfds

.PHONY: help run test pytest soak-calendar lint bandit audit-deps assets translations messages db-upgrade demo screenshots clean mutate

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/activate:
	@if [ -z "$(PYTHON)" ] || ! $(PYTHON) -c '$(PYTHON_OK)' 2>/dev/null; then \
	  echo "Kursusportalen needs Python 3.11, 3.12 or 3.13 with venv: $(if $(PYTHON),$(PYTHON) is not one,none was found on PATH).";\
	  echo "Install the distribution's Python (Debian/Ubuntu: apt-get install python3 python3-venv) or run";\
	  echo "make PYTHON=/path/to/python3.x $(MAKECMDGOALS)"; exit 1; fi
	@echo "Using $(PYTHON): $$($(PYTHON) --version) -> $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip

# --no-compile: Python compiles a module when it is first imported; compiling every installed file up front
# (Playwright, Hypothesis, Babel's locale data...) took about as long again as the install itself.
PIP_INSTALL := $(BIN)/pip install --quiet --no-compile

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/activate
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(PIP_INSTALL) -r requirements-dev.txt
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

CATALOGUES := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))

translations: $(CATALOGUES) ## compile the translation catalogues (.mo files are not committed)

# Compiled only when the .po is newer: CI's two test passes share the checkout and must not rewrite the .mo
# while the other one reads it.
translations/%/LC_MESSAGES/messages.mo: translations/%/LC_MESSAGES/messages.po | $(VENV)/.runtime-installed
	$(BIN)/pybabel compile -l $* -i $< -o $@

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

lint: $(VENV)/.dev-installed ## ruff check, ruff format --check, the import layering (lint-imports) and mypy's budget
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python .ci/mypy_budget.py

BANDIT := $(BIN)/bandit -c pyproject.toml -q -r app scheduler config.py wsgi.py

bandit: $(VENV)/.dev-installed ## bandit security lint: fails on a high-severity finding (skips in pyproject.toml)
	$(BANDIT) -lll

audit-deps: $(VENV)/.dev-installed ## pip-audit the pinned requirements (exit 1: vulnerable, 3: no service reachable)
	$(BIN)/python .ci/audit_deps.py

#: pytest-xdist worker processes for `make test` (0: one process, no xdist). Each test file stays on one worker
#: (--dist loadfile); each worker has its own PostgreSQL database (tests/databases.py).
PYTEST_WORKERS ?= 2
PYTEST_XDIST := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

test: $(VENV)/.dev-installed assets translations ## run the whole test suite (TEST_DATABASE_URL selects PostgreSQL)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BANDIT) -lll
	$(BIN)/lint-imports
	$(BIN)/python .ci/mypy_budget.py
	$(BIN)/python -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

pytest: $(VENV)/.dev-installed assets translations ## the test suite without the linters (CI's later passes: the code is the same)
	$(BIN)/python -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

# --- mutation testing: cosmic-ray on the three rule modules, each against its own tests (docs/testing.md) ---
# Not part of `make test`: it changes the module on disk for every mutant and runs the tests again (minutes
# per module). `make mutate MUTATE=INVITATIONS` runs one. Each rule: the module, the functions holding the
# rule (empty: the whole module) and the tests that must kill its mutants. Paths are variables: modules move.
MUTATE ?= SEATS FOLLOW_UP INVITATIONS
MUTATE_DIR := .mutation
MUTATE_SEATS := app/enrolment/services.py
MUTATE_SEATS_FUNCS := _take_seat _release_seat _place fill_from_waiting_list check_capacity_change
MUTATE_SEATS_TESTS := tests/enrolment/test_services.py
MUTATE_FOLLOW_UP := app/courses/services.py
MUTATE_FOLLOW_UP_FUNCS := propose_follow_up_day fix_follow_up_day
MUTATE_FOLLOW_UP_TESTS := tests/courses/test_follow_up.py tests/courses/test_runs_services.py
MUTATE_INVITATIONS := app/enrolment/invitations.py
MUTATE_INVITATIONS_FUNCS := _wanted _withdraw_unsent_invitation
MUTATE_INVITATIONS_TESTS := tests/notifications/test_invitations.py tests/notifications/test_cancel_after_update.py

mutate: $(addprefix mutate-,$(MUTATE)) ## mutation testing of the seat, follow-up-day and invitation rules (slow)

mutate-%: $(VENV)/.dev-installed
	@git diff --quiet -- $(MUTATE_$*) || { echo "$(MUTATE_$*) has uncommitted changes: commit them first"; exit 1; }
	@mkdir -p $(MUTATE_DIR)
	$(BIN)/python -m tests.mutation.scope config $(MUTATE_$*) $(MUTATE_$*_TESTS) > $(MUTATE_DIR)/$*.toml
	rm -f $(MUTATE_DIR)/$*.sqlite
	$(BIN)/cosmic-ray init $(MUTATE_DIR)/$*.toml $(MUTATE_DIR)/$*.sqlite
	$(if $(MUTATE_$*_FUNCS),$(BIN)/python -m tests.mutation.scope keep $(MUTATE_DIR)/$*.sqlite $(MUTATE_$*_FUNCS))
	$(BIN)/cosmic-ray baseline $(MUTATE_DIR)/$*.toml
	$(BIN)/cosmic-ray exec $(MUTATE_DIR)/$*.toml $(MUTATE_DIR)/$*.sqlite; git checkout -- $(MUTATE_$*)
	$(BIN)/cr-report $(MUTATE_DIR)/$*.sqlite | tail -n 3
	$(BIN)/python -m tests.mutation.scope survivors $(MUTATE_DIR)/$*.sqlite

soak-calendar: $(VENV)/.dev-installed translations ## the calendar-truth property test, long and random (TEST_DATABASE_URL selects PostgreSQL)
	CALENDAR_PROPERTY_EXAMPLES=$${CALENDAR_PROPERTY_EXAMPLES:-200} CALENDAR_PROPERTY_STEPS=$${CALENDAR_PROPERTY_STEPS:-60} \
	CALENDAR_PROPERTY_SEED=random $(BIN)/python -m pytest -q -p no:cacheprovider tests/calendar/test_calendar_property.py

screenshots: $(VENV)/.dev-installed assets translations ## refresh docs/screenshots/*.png in Debian's Chromium
	SCREENSHOT_DIR=docs/screenshots $(BIN)/python -m pytest -q tests/browser/test_screenshots.py

clean: ## remove generated files (venv, node_modules, vendor assets, compiled catalogues)
	rm -rf $(VENV) .venv-oldest .venv-second node_modules $(VENDOR) .pytest_cache .ruff_cache .import_linter_cache .mypy_cache
	find translations -name '*.mo' -delete
