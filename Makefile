# das: the two commands are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-unit lint bench wheel clean

$(STAMP): pyproject.toml
	bash infra/setup-system.sh
	bash infra/vendor-assets.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	# Bytecode at install time: this environment sets PYTHONDONTWRITEBYTECODE, so without it every process (each
	# Airflow task, each `das` child in the tests) compiles Airflow, Spark and GX from source again (~10 s each).
	$(BIN)/uv pip install --python $(BIN)/python -q --compile-bytecode -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/das demo

# Two workers, each test file whole on one (its module fixtures: a database, a DAG environment); each worker
# has its own PostGIS cluster and Spark session. The slowest tests are listed at the end.
PYTEST_WORKERS ?= 2

test: setup
	$(BIN)/python -m compileall -q -j 0 schemas das quality jobs das_tools das_api das_cli dags tests
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15

test-unit: setup
	$(BIN)/pytest -m unit

lint: setup
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy schemas das quality jobs das_tools das_api das_cli dags

bench: setup
	$(BIN)/das bench ingest --reads 1000000
	$(BIN)/das bench scenario --reads 1000000

wheel: setup
	$(BIN)/uv build --wheel --out-dir dist .

clean:
	-$(BIN)/das down
	rm -rf .das
