# Quick start:  make app   (set up if needed, then serve http://localhost:8501)
#               make test  (set up if needed, then run the default test suite: every test not marked slow)
#               make test-slow  (the slow tests: training, full experiments, the CLI in a subprocess)
#               make docs  (the API reference from the docstrings into build/docs/; fails on a public name without one)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
# The app's address: local only by default; `make app HOST=0.0.0.0` serves it to the LAN (e.g. a classroom).
HOST ?= 127.0.0.1

.PHONY: app test test-slow docs setup clean-venv

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed

app: setup
	@case '$(HOST)' in 127.0.0.1|localhost) ;; *) echo "WARNING: serving on $(HOST):$(PORT): anyone who can reach this machine can use the app" >&2 ;; esac
	$(PY) app.py --server.address $(HOST) --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-slow: setup
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

# pdoc renders every public module of sem_core (build/docs/index.html, git-ignored); docs/check_api.py first fails on
# a public name without a docstring, and -W error makes every warning (an import, a docstring pdoc cannot parse) fatal.
docs: setup
	$(PY) -W error docs/check_api.py --build build/docs

clean-venv:
	rm -rf $(VENV)
