# Two commands matter: `make book` (build the HTML book) and `make test` (the test suite).
# Both create .venv on first use (pip, pinned versions from requirements.txt) and prepare data.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= $(or $(SRLIB_PROFILE),cpu)
export PYTHONUNBUFFERED := 1
# progress bars only on a terminal (CI logs stay readable)
QUIET := $(if $(CI),--quiet,)

.PHONY: book test venv data vendor browser bench screenshots clean help

help:
	@echo "make book    - set up, prepare data, execute every chapter (profile $(PROFILE)) and build _build/html"
	@echo "make test    - set up, prepare data, run the unit tests and nbval over book/ at the smoke profile"
	@echo "make bench   - run the benchmark scripts under benchmarks/ (prints ratios)"
	@echo "make screenshots - refresh docs/screenshots/ from the built book in _build/html (after make book)"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-nodeps.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

data: venv
	$(PY) -m srlib data prepare $(QUIET)

vendor: venv
	$(PY) -m srlib.book vendor

browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  (echo "installing Debian chromium for the browser test"; \
	   (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null) \
	   || echo "WARNING: could not install chromium; the browser test will fail")

book: venv data vendor
	$(PY) -m srlib.book run --profile $(PROFILE)

test: venv data vendor browser
	$(PY) -m pytest -q tests
	SRLIB_PROFILE=smoke $(PY) -m pytest -q --nbval-lax -p no:cacheprovider book

bench: venv data
	@for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

screenshots: venv vendor browser
	SRLIB_BOOK_HTML=_build/html SRLIB_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q -m browser tests

clean:
	rm -rf _build
