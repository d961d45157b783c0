# module-controller: common tasks. Everything installs what it needs; nothing is needed by hand
# except Python >= 3.11 and Go >= 1.26 (the latter only to build the control-plane binaries once).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: help venv controlplane test test-unit run dev-up dev-down clean bench-devcluster crds

help:
	@echo "make test          install, build/find the control plane, run the whole test suite"
	@echo "make run           run against \$$KUBECONFIG, or start a local dev cluster first"
	@echo "make controlplane  find or build etcd, kube-apiserver, kube-controller-manager"
	@echo "make dev-up / dev-down   start / stop the local dev cluster"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

controlplane: venv
	$(BIN)/module-controller dev controlplane

test: venv controlplane
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: venv
	$(BIN)/pytest -m "not cluster" $(PYTEST_ARGS)

run: venv controlplane
	$(BIN)/module-controller run

dev-up: venv controlplane
	$(BIN)/module-controller dev up

dev-down: venv
	$(BIN)/module-controller dev down

clean:
	rm -rf $(VENV) .pytest_cache

bench-devcluster: venv controlplane
	$(BIN)/python bench/devcluster_bench.py

# The CRDs are generated from the pydantic models in module_controller/api; a test fails when the
# checked-in crds/ differ from what this writes.
crds: venv
	$(BIN)/python -m module_controller.api.crdgen crds
