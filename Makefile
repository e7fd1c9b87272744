# Salon's everyday commands. `make run` serves Salon; `make test` runs the whole suite.
#
# Everything installs into $(VENV) (override with `make run VENV=/path/to/venv`). Install steps
# re-run only when pyproject.toml or scripts/install-model.sh change. The first install builds the
# embedded model's runtime (llama-cpp-python) portably from source, which takes several minutes;
# the wheel is kept under ~/.cache/salon/wheels for the next clone (see scripts/install-model.sh).

VENV ?= .venv
PYTHON ?= python3
PYTEST_ARGS ?=
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
PIP_INSTALL := $(PIP) install --quiet

RUN_STAMP := $(VENV)/.salon-run-deps
DEV_STAMP := $(VENV)/.salon-dev-deps

.PHONY: run test lint bench model clean distclean

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

# $(1): the extras to install. The embedded model comes from scripts/install-model.sh (portable
# build); when it cannot be built Salon is installed without it and says how to find out why.
define install_salon
	@echo "Installing Salon into $(VENV)..."
	$(PIP_INSTALL) -e '.$(1)'
	@if ! scripts/install-model.sh $(VENV); then \
	  echo "WARNING: the embedded model (llama-cpp-python) could not be built: a C/C++ compiler" >&2; \
	  echo "WARNING: and cmake are needed. Salon runs without it; set SALON_LLM_BASE_URL to use a" >&2; \
	  echo "WARNING: model server, or fix the build and run 'make model'." >&2; \
	  echo "WARNING: Run '$(BIN)/salon doctor' to see what works, with the fix for each problem." >&2; \
	fi
	@touch $@
endef

$(RUN_STAMP): pyproject.toml scripts/install-model.sh | $(BIN)/python
	$(call install_salon,)

$(DEV_STAMP): pyproject.toml scripts/install-model.sh | $(BIN)/python
	$(call install_salon,[dev])

# (Re)build and install the embedded model alone, e.g. after installing a compiler.
model: | $(BIN)/python
	scripts/install-model.sh $(VENV)

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find src tests bench -name __pycache__ -type d -prune -exec rm -rf {} +

# Also removes the virtual environment (never ./data: that is your conversations).
distclean: clean
	rm -rf $(VENV)
