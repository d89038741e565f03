# The course in two commands: `make lab` and `make test`. Both bootstrap .venv themselves and install
# exactly the versions of the lock files (requirements.lock, requirements-test.lock); `make lock`
# refreshes those from pyproject.toml, `make test-latest` runs the suite on the newest releases.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
LAB_STAMP  := $(VENV)/.labkit-installed
TEST_STAMP := $(VENV)/.labkit-test-installed
LATEST := .venv-latest
UV_VERSION := 0.13.9
LOCK_FLAGS := --universal --fork-strategy fewest --python-version 3.11 --generate-hashes --upgrade \
              --custom-compile-command "make lock" --quiet

.PHONY: lab test install lock test-latest image bench release grade clean doctor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Install the lock (hashes checked, nothing resolved), then labkit itself; again only when a lock changes.
$(LAB_STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(TEST_STAMP): requirements-test.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-test.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(LAB_STAMP) $@

install: $(LAB_STAMP)

lab: $(LAB_STAMP)
	$(BIN)/labkit lab

test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q

# Resolve pyproject.toml again (newest releases its ranges allow) into both locks and the conda files.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra test $(LOCK_FLAGS) -o requirements-test.lock
	$(BIN)/uv pip compile pyproject.toml -c requirements-test.lock $(LOCK_FLAGS) -o requirements.lock
	$(BIN)/python -m labkit.lockfile

# The suite on the newest releases pyproject.toml allows, in a venv of its own: drift shows here first.
test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade --upgrade-strategy eager -e '.[test]'
	$(LATEST)/bin/labkit doctor || true
	$(LATEST)/bin/python -m pytest -q

image: $(LAB_STAMP)
	$(BIN)/labkit image build

bench: $(LAB_STAMP)
	$(BIN)/python bench/invoke.py

release: $(LAB_STAMP)
	$(BIN)/labkit release

grade: $(LAB_STAMP)
	$(BIN)/labkit grade $(or $(DIR),submissions)

doctor: $(LAB_STAMP)
	$(BIN)/labkit doctor

clean: $(LAB_STAMP)
	$(BIN)/labkit clean
