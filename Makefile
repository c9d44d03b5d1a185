# Two commands do all set-up: `make run` and `make test`. Each creates .venv if missing and
# installs the project (editable) with what it needs, then runs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.qengine-installed
TEST_WORKERS ?= 2

.PHONY: run test lint perf research clean-cache

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# A 60 s session on the simulator (started in its own process), then the summary as a table.
run: $(STAMP)
	$(VENV)/bin/qengine quote --duration-s 60

research: $(STAMP)
	$(PY) examples/research_kernels.py

# Two test processes by default (CI has 2 cores); `make test TEST_WORKERS=0` runs in one.
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: $(STAMP)
	$(VENV)/bin/ruff check qengine tests perf examples

perf: $(STAMP)
	$(PY) -m perf

# After editing kernels in another file than the one that changed, numba's cache can go stale.
clean-cache:
	find . -path ./$(VENV) -prune -o \( -name '*.nbi' -o -name '*.nbc' \) -print | xargs -r rm -f
