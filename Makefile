# The two commands a newcomer needs: `make demo` and `make test`.
# Everything they depend on is installed here, from the package registries.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DATA := src/airpicture/data

.PHONY: demo test setup setup-test web bench clean audit fuzz

$(VENV)/.stamp-base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.stamp-test: $(VENV)/.stamp-base pyproject.toml
	$(PIP) install --quiet -e '.[test]'
	touch $@

# Offline base map: Natural Earth coastlines and borders from the world-atlas npm package.
$(DATA)/land-50m.json: web/package.json
	cd web && npm install --no-audit --no-fund --loglevel=error
	mkdir -p $(DATA)
	cp web/node_modules/world-atlas/land-50m.json web/node_modules/world-atlas/countries-50m.json $(DATA)/

web: $(DATA)/land-50m.json

setup: $(VENV)/.stamp-base web

setup-test: $(VENV)/.stamp-test web

demo: setup
	$(VENV)/bin/airpicture demo

test: setup-test
	$(PY) -m pytest -n 2 -q
	$(PY) tools/audit_deps.py

# Known-vulnerable dependencies (pip-audit; exceptions with reasons in security/pip-audit-exceptions.toml).
# Exit 3 when the audit cannot be done; AIRPICTURE_AUDIT=allow-unaudited passes with a warning (SECURITY.md).
audit: setup-test
	$(PY) tools/audit_deps.py

# Long (hours: 1-50 ms a case): 10^6 cases per parser (FUZZ_ARGS="--cases 20000 --targets beast,sbs" for less; --engine atheris to
# use libFuzzer's coverage guidance: pip install atheris). Prints the table of docs/reliability.md.
FUZZ_ARGS ?=
fuzz: setup-test
	$(PY) -m fuzz $(FUZZ_ARGS)

# Long: Stone Soup needs minutes at N = 1000 (its GOSPA/SIAP about 25 minutes).
bench: setup-test
	$(PY) bench/bench_stonesoup.py
	$(PY) bench/bench_metrics.py
	$(PY) bench/bench_replay.py
	$(PY) bench/bench_threat.py

clean:
	rm -rf $(VENV) web/node_modules $(DATA)/*.json
