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

# The front end's npm packages, exactly as web/package-lock.json pins them.
web/node_modules/.stamp: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Offline base map: Natural Earth coastlines and borders from the world-atlas npm package.
$(DATA)/land-50m.json: web/node_modules/.stamp
	mkdir -p $(DATA)
	cp web/node_modules/world-atlas/land-50m.json web/node_modules/world-atlas/countries-50m.json $(DATA)/

# The live display (docs/web.md), bundled by esbuild into the package; rebuilt when web/ sources change.
STATIC := src/airpicture/web/static
$(STATIC)/index.html: web/node_modules/.stamp web/build.mjs $(wildcard web/src/*)
	cd web && npm run --silent build

web: $(DATA)/land-50m.json $(STATIC)/index.html

# The browser tests drive Debian's Chromium (never a Playwright browser download); installed only when missing.
/usr/bin/chromium:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver

setup: $(VENV)/.stamp-base web

setup-test: $(VENV)/.stamp-test web /usr/bin/chromium

demo: setup
	$(VENV)/bin/airpicture demo

# --dist loadfile: a module's tests share one worker, so a module fixture (the web service and its demo run in
# test_web_api.py / test_web_browser.py) is built once. (xdist 3.8's loadgroup is a no-op under pytest 9.2.)
test: setup-test
	$(PY) -m pytest -n 2 --dist loadfile -q
	AIRPICTURE_AUDIT=$(AUDIT) $(PY) tools/audit_deps.py

# The dependency audit needs a vulnerability database (PyPI's or OSV's). Where none answers (this project's CI
# machine: its PyPI mirror has no vulnerability data and OSV is not reachable) the audit prints what it could not
# check and, with AUDIT=allow-unaudited (the default of `make test`), passes with that warning; `make audit`
# (AUDIT=strict) fails with exit 3 instead. A known vulnerability fails both, unless excepted with a reason.
AUDIT ?= allow-unaudited
# Known-vulnerable dependencies (pip-audit; exceptions with reasons in security/pip-audit-exceptions.toml).
# Exit 3 when the audit cannot be done; AIRPICTURE_AUDIT=allow-unaudited passes with a warning (SECURITY.md).
audit: setup-test
	AIRPICTURE_AUDIT=strict $(PY) tools/audit_deps.py

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
	$(PY) bench/bench_dask.py
	$(PY) bench/bench_web.py
	$(PY) bench/bench_overload.py

clean:
	rm -rf $(VENV) web/node_modules $(DATA)/*.json $(STATIC)
