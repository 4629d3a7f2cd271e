# Fresh-machine set-up and the project commands. Each target builds the virtual environment first.
VENV ?= .venv
# reference structures computed at once by the water-data targets, one process each
WORKERS ?= 1
PY := $(VENV)/bin/python

.PHONY: test test-slow test-all lint venv demo docs doc-figures wheel default-model model-card water-data water-data-large water-data-more hierarchy phonon-data phonon-model phonon-model-card thermal-storage

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e ".[reference,test,screen,phonons,plot,docs]"
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check ase_e3density tests scripts benchmarks examples

# the default run: lint, then every test not marked slow (about 2 minutes on 2 idle cores)
test: lint
	$(PY) -m pytest

# the tests marked slow (training paths, torchrun, long PySCF runs): CI's second step
test-slow: $(VENV)/.installed
	$(PY) -m pytest -m slow

test-all: lint
	$(PY) -m pytest -m ""

# the documentation site from docs/ and the docstrings, warnings as errors (about 8 s): site/
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d site

# the site's figures from the shipped models and data (about 40 s): docs/images/
doc-figures: $(VENV)/.installed
	$(PY) scripts/make_doc_figures.py

# the sdist and the wheel: dist/
wheel: $(VENV)/.installed
	$(PY) -m build --no-isolation --outdir dist .

# a cube for viewing at 0.2 Å (about 10 MB); the default 0.1 Å (82 MB) integrates to within 1 e of 200
demo: $(VENV)/.installed
	$(VENV)/bin/e3density predict --cube water_20.cube --spacing 0.2

water-data: $(VENV)/.installed
	$(PY) scripts/make_water_dataset.py --out data/water --seed 2026 --sets base --workers $(WORKERS)

water-data-large: $(VENV)/.installed  # about 2 h on one core; resumable; WORKERS=N computes N at once
	OMP_NUM_THREADS=1 $(PY) scripts/make_water_dataset.py --out data/water --seed-large 2027 --sets large --workers $(WORKERS)

water-data-more: $(VENV)/.installed  # about 2 h on one core; resumable; WORKERS=N computes N at once
	OMP_NUM_THREADS=1 $(PY) scripts/make_water_dataset.py --out data/water --seed-large 2027 --sets more --workers $(WORKERS)

default-model: $(VENV)/.installed
	$(VENV)/bin/e3density train configs/water_default.yaml
	cp runs/water_default/model.pt ase_e3density/data/models/default.pt
	$(PY) scripts/make_model_card.py

model-card: $(VENV)/.installed
	$(PY) scripts/make_model_card.py

# the hierarchy study at its default scale (about 90 min on 2 cores); docs/hierarchy.md shows its results
hierarchy: $(VENV)/.installed
	$(VENV)/bin/e3density hierarchy -o runs/hierarchy --threads 1

# the phonon training set: crystals and alloys (v2, plus the cheap crystals of v3 and v4, each script checking
# that its predecessor's part is byte-for-byte the file before it), then SevenNet-l3i5 phonons, hydrides first,
# then cheapest first
# (resumable; PHONON_WORKERS=2 for both cores; data/phonons/README_v2.md)
phonon-data: $(VENV)/.installed
	$(VENV)/bin/pip install -q -c constraints.txt -e ".[sevennet]"
	$(PY) scripts/make_phonon_crystals_v2.py --seed 2026 -o data/phonons/crystals_v2.extxyz
	$(PY) scripts/make_phonon_crystals_v3.py --seed 2026 -o data/phonons/crystals_v3.extxyz
	$(PY) scripts/make_phonon_crystals_v4.py --seed 2026 -o data/phonons/crystals_v4.extxyz
	$(PY) scripts/order_crystals_by_cost.py data/phonons/crystals_v4.extxyz -o data/phonons/crystals_v4_hydrides_first.extxyz \
	    --min-width 10 --first-elements H --first-max-cost 15000
	bash scripts/run_phonon_references.sh

# the shipped phonon-DOS model and its card (docs/phonon_model_card.md): the shipping recipe, and the same
# recipe with structure types and elements held out, whose held-out split the card reports
phonon-model: $(VENV)/.installed
	$(VENV)/bin/e3density train configs/phonon_l3i5_ship.yaml
	$(VENV)/bin/e3density train configs/phonon_l3i5.yaml
	cp runs/phonon_l3i5_ship/model.pt ase_e3density/data/models/phonon.pt
	$(PY) scripts/make_phonon_model_card.py --recipe runs/phonon_l3i5/model.pt

phonon-model-card: $(VENV)/.installed
	$(PY) scripts/make_phonon_model_card.py --recipe runs/phonon_l3i5/model.pt

# rank crystals and alloys by volumetric heat capacity with the shipped phonon model, checked against the reference
thermal-storage: $(VENV)/.installed
	$(PY) examples/thermal_storage.py -o runs/thermal_storage
