# Fresh-machine set-up and the project commands. Each target builds the virtual environment first.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: test test-all venv demo default-model water-data

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[reference,test]"
	touch $@

test: $(VENV)/.installed
	$(PY) -m pytest

test-all: $(VENV)/.installed
	$(PY) -m pytest -m ""

demo: $(VENV)/.installed
	$(VENV)/bin/e3density predict --cube water_20.cube

water-data: $(VENV)/.installed
	$(PY) scripts/make_water_dataset.py --out data/water --seed 2026

default-model: $(VENV)/.installed
	$(VENV)/bin/e3density train configs/water_default.yaml
	cp runs/water_default/model.pt ase_e3density/data/models/default.pt
