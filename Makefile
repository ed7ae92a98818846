# Two commands matter (see README): `make preview` and `make test`. Both create .venv with
# uv first; uv itself is installed with pip into .tools/ when the machine lacks it.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
VENV := .venv
BIN := $(VENV)/bin
DEMO_AT ?= 2026-07-15T12:00:00Z
BENCH_PROFILES ?= 60000

.PHONY: setup test test-fast lint typecheck pytest demo preview check golden reference bench screenshot clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --all-extras --python $(PYTHON)
	@touch $@

# uv compiles the dependencies' bytecode at install (pyproject: compile-bytecode); our own
# package is an editable install, so its bytecode is refreshed here (cheap when up to date).
setup: $(VENV)/.synced
	@$(BIN)/python -m compileall -q src >/dev/null

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: setup
	$(BIN)/mypy

# pytest keeps its assertion-rewritten test modules in __pycache__ only when bytecode may be
# written: with PYTHONDONTWRITEBYTECODE set (common in containers) every run, and each xdist
# worker, would rewrite all of tests/ again (~2 s of each start-up).
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest

pytest: setup
	$(PYTEST)

test: lint typecheck pytest

# The inner loop: lint, types, and every test not marked slow or browser, on two processes,
# with a fifth of the property-test examples (the `fast` Hypothesis profile, tests/conftest.py).
test-fast: lint typecheck
	$(PYTEST) -q -m "not slow and not browser" -n 2 -p no:cacheprovider --hypothesis-profile=fast

demo: setup
	$(BIN)/atomcast explain . --campaign summer-sale --profile previews/profiles/vip-margaret.yaml --at $(DEMO_AT)

check: setup
	$(BIN)/atomcast check .

preview: setup
	$(BIN)/atomcast preview . --host 127.0.0.1 --port 8000

golden: setup
	ATOMCAST_UPDATE_GOLDEN=1 $(BIN)/pytest tests/test_golden.py -q

# docs/reference.md is generated from the models; tests/test_reference.py fails when stale.
reference: setup
	$(BIN)/atomcast schema --markdown > docs/reference.md

screenshot: setup
	$(BIN)/python scripts/screenshot.py

bench: setup
	$(BIN)/python benchmarks/conditions.py
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/batch.py --project demo --profiles $(BENCH_PROFILES) --workers 2
	$(BIN)/python benchmarks/batch.py --project pantry --profiles $(BENCH_PROFILES) --workers 2

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .atomcast-cache
