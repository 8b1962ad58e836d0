# `make demo` runs the main job, `make test` the tests; both create .venv when needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test clean

demo: $(STAMP)
	test -f runs/synth/val.bin || $(PY) -m tfmfn.data synth --out runs/synth
	$(PY) -m tfmfn.train --config synthetic

test: $(STAMP)
	$(PY) -m pytest -n 2 --doctest-modules tfmfn tests

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
