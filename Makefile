# The course in two commands: `make lab` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.labkit-installed

.PHONY: lab test image bench release grade clean doctor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the project's dependencies change: a second run starts within seconds.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/labkit lab

test: $(STAMP)
	$(BIN)/python -m pytest -q

image: $(STAMP)
	$(BIN)/labkit image build

bench: $(STAMP)
	$(BIN)/python bench/invoke.py

release: $(STAMP)
	$(BIN)/labkit release

grade: $(STAMP)
	$(BIN)/labkit grade $(or $(DIR),submissions)

doctor: $(STAMP)
	$(BIN)/labkit doctor

clean: $(STAMP)
	$(BIN)/labkit clean
