# deepgnn: `make demo` and `make test` set up .venv on first use, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# CPU machines get this torch; where the system Python already has a CUDA torch, the venv
# sees it (--system-site-packages) and installs none.
TORCH ?= torch==2.13.0
EXTRAS ?= dgl,chem,dev,pyg
PYTEST_ARGS ?=
# `make bench BENCH_ARGS=--quick`: the GPU suite's headline cases only
BENCH_ARGS ?=
# `make bench-memory MEMORY_ARGS="--device cuda --num-nodes 169343 --out
# benchmarks/results/memory_depth_cuda.json --md results/memory_depth_cuda.md"` on a GPU
MEMORY_ARGS ?= --threads 1 --out benchmarks/results/memory_depth_cpu.json --md results/memory_depth_cpu.md

.PHONY: setup demo test test-postgres lint typecheck docs bench bench-memory clean

$(VENV)/.ready: pyproject.toml
	@if $(PYTHON) -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then \
		echo "deepgnn: using the preinstalled CUDA torch"; \
		$(PYTHON) -m venv --system-site-packages $(VENV); \
	else \
		$(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q "$(TORCH)"; \
	fi
	$(VENV)/bin/pip install -q -e ".[$(EXTRAS)]"
	@touch $@

setup: $(VENV)/.ready

demo: $(VENV)/.ready
	$(VENV)/bin/deepgnn demo

test: $(VENV)/.ready
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# The sweep's PostgreSQL test: installs the server (.ci/install-postgres: apt) when absent, starts
# a throw-away one on 127.0.0.1 and fails, rather than skips, when it cannot. `make test` runs the
# same test when a server can be started and otherwise skips it, saying why (.ci/run installs
# the server first).
test-postgres: $(VENV)/.ready
	@.ci/install-postgres
	DEEPGNN_REQUIRE_POSTGRES=1 $(PY) -m pytest -q -p no:cacheprovider -m postgres tests/test_sweep.py

lint: $(VENV)/.ready
	$(VENV)/bin/ruff check deepgnn tests benchmarks docs
	$(VENV)/bin/ruff format --check deepgnn tests benchmarks docs

# mypy on the package (its settings: pyproject.toml, [tool.mypy]).
typecheck: $(VENV)/.ready
	$(VENV)/bin/mypy

# The documentation site (docs/, Sphinx): installs the `docs` extra into the venv when it is
# missing, then builds from scratch, running the tutorials, with warnings as errors and every
# cross-reference checked (-n). Output: docs/_build/html/index.html.
$(VENV)/.docs-ready: $(VENV)/.ready pyproject.toml
	@$(PY) -c "import sphinx, myst_parser, sphinxarg, sphinx_gallery, furo, importlib.metadata as m; m.version('sphinx-mathjax-offline')" 2>/dev/null || \
		$(VENV)/bin/pip install -q -e ".[docs]"
	@touch $@

docs: $(VENV)/.docs-ready
	rm -rf docs/_build docs/generated
	$(VENV)/bin/sphinx-build -b html -n -W --keep-going docs docs/_build/html

bench: $(VENV)/.ready
	$(VENV)/bin/deepgnn bench --out results $(BENCH_ARGS)

# Activation memory and step time against depth: resgcn plain / checkpointed, revgcn
bench-memory: $(VENV)/.ready
	$(PY) benchmarks/bench_memory.py $(MEMORY_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache docs/_build docs/generated
