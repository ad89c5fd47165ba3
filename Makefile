# fediscope — `make demo` runs the whole pipeline on one machine; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# what `make demo` writes (python -m fediscope.demo: its --dir, by default here); `make clean` removes it, and what
# a `--fresh` cut short left to delete (the old lake and outputs, moved aside whole before their deletion)
DEMO_OUTPUTS := demo-lake demo-out .demo-lake.deleting .demo-out.deleting
# setuptools' notice on every editable install ("Editable installation. !! *** Please be careful with folders in
# your working directory ..."), which pip shows even with -q, as a warning block a newcomer reads as a failure
QUIET_EDITABLE := ignore:Editable installation
# test processes (pytest-xdist; one test file per process at a time); TEST_WORKERS=0 runs the suite in one process
TEST_WORKERS ?= 2

.PHONY: install system-deps test test-fast lint demo bench clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@echo "make: installing Python dependencies into $(VENV) (first run takes a few minutes)"
	@PYTHONWARNINGS="$${PYTHONWARNINGS:+$$PYTHONWARNINGS,}$(QUIET_EDITABLE)" \
		$(BIN)/python -m pip install -q -r requirements-dev.txt -c constraints.txt -e .
	@touch $(STAMP)

install: $(STAMP)

system-deps:
	@bash infra/scripts/install_system_deps.sh

lint: install
	$(BIN)/ruff check .

test: install system-deps lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15 $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow and not spark and not airflow and not mariadb" $(PYTEST_ARGS)

demo: install
	@$(BIN)/python -m fediscope.demo $(DEMO_ARGS)

bench: install
	@$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(DEMO_OUTPUTS) .pytest_cache .ruff_cache spark-warehouse
