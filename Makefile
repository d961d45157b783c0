# module-controller: common tasks. Everything installs what it needs; nothing is needed by hand
# except Python >= 3.11 and Go >= 1.26 (the latter only to build the control-plane binaries once).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
# pytest-xdist workers for `make test`; each starts a dev cluster of its own. Most cluster tests
# wait on the controller rather than compute, so two workers on two cores pay (docs/testing.md).
# TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

.PHONY: help venv controlplane jars test test-unit lint run dev-up dev-down clean bench bench-devcluster crds lock

help:
	@echo "make test          install, build/find the control plane, run the whole test suite"
	@echo "make test-unit     the tests that need no cluster and no JVM"
	@echo "make lint          ruff, import contracts, mypy over the whole package (pyproject.toml)"
	@echo "make run           run against \$$KUBECONFIG, or start a local dev cluster first"
	@echo "make controlplane  find or build etcd, kube-apiserver, kube-controller-manager"
	@echo "make jars          find or build the real koupleless base and module jars (Java 17, Maven)"
	@echo "make dev-up / dev-down   start / stop the local dev cluster"
	@echo "make bench         the benchmark suite (results in bench/results/)"
	@echo "make lock          re-lock the runtime dependencies (config/requirements/*.txt)"
	@echo "make manifests     render config/deploy/ and generate chart/ (make helm: the real helm)"
	@echo "make crds          regenerate crds/ from the models in module_controller/api"

venv: $(VENV)/.installed

# Both distributions, editable: the product (.) with its test tools, and the development tools
# (dev/: dev cluster, fakes, simulators, real bases; the module-controller-dev command). The
# runtime dependencies come at the versions of the lock the image installs (as pip constraints:
# the lock's hashes would put pip into hash-checking mode, which an editable install cannot
# satisfy); the test and dev tools at the versions pyproject.toml and dev/pyproject.toml pin.
LOCK       := config/requirements/controller.txt
BUILD_LOCK := config/requirements/build.txt

$(VENV)/.installed: pyproject.toml dev/pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	sed -e '/--hash=/d' -e 's/ \\$$//' $(LOCK) > $(VENV)/constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -c $(VENV)/constraints.txt -e '.[test]' -e ./dev
	touch $@

# Every runtime dependency, transitively, with the hashes of all its files on the index, for
# Python 3.11 on any platform; and the build backend. A test checks the lock against the direct
# pins of pyproject.toml.
lock: venv
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" -q -o $(LOCK)
	echo "setuptools==$$($(BIN)/python -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"][0].split("==")[1])')" \
		| $(BIN)/uv pip compile - --universal --python-version 3.11 --generate-hashes \
		--custom-compile-command "make lock" -q -o $(BUILD_LOCK)

controlplane: venv
	$(BIN)/module-controller-dev controlplane

# Real bases: Maven builds dev/module_controller_dev/realbase/maven into a cache outside the
# repository.
jars: venv
	$(BIN)/module-controller-dev jars

# The real-node tier runs after the rest, in one process of its own: one real node per machine,
# and its session fixture must not be split over two xdist workers (the second found the first's
# node and skipped). Where the machine cannot run a node it skips with the reason.
test: venv controlplane jars helm
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not realnode" $(PYTEST_ARGS)
	$(BIN)/pytest -p no:xdist -m realnode tests/realnode $(PYTEST_ARGS)

# Lint (ruff), the import contracts of .importlinter, and types: mypy over the product package
# (strictness per package as pyproject.toml's [tool.mypy] sets) and over the development tools
# (dev/pyproject.toml's configuration).
lint: venv
	$(BIN)/ruff check module_controller dev tests bench
	$(BIN)/mypy --config-file dev/pyproject.toml dev/module_controller_dev
	$(BIN)/lint-imports
	$(BIN)/mypy module_controller

# No cluster and no JVM: what runs in a minute on a laptop.
test-unit: venv
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not cluster and not realbase and not realnode" $(PYTEST_ARGS)

# The product's `run` never starts a dev cluster; the dev tool's does when none is configured.
run: venv controlplane
	$(BIN)/module-controller-dev run

dev-up: venv controlplane
	$(BIN)/module-controller-dev up

dev-down: venv
	$(BIN)/module-controller-dev down

clean:
	rm -rf $(VENV) .pytest_cache

bench-devcluster: venv controlplane
	$(BIN)/python bench/devcluster_bench.py

# The benchmark suite: dev cluster start-up, Module controller, and whole releases for
# N = 10, 100, 1000 (results, a Markdown table and a PNG plot in bench/results/).
bench: venv controlplane
	$(BIN)/pip install --quiet --disable-pip-version-check -c $(VENV)/constraints.txt -e '.[test,bench]' -e ./dev
	$(BIN)/python bench/devcluster_bench.py
	$(BIN)/python bench/module_bench.py
	$(BIN)/python bench/release_bench.py

# The CRDs are generated from the pydantic models in module_controller/api; a test fails when the
# checked-in crds/ differ from what this writes.
crds: venv
	$(BIN)/python -m module_controller.api.crdgen crds

# ---------------------------------------------------------------------------------------------
# Deployment: rendered manifests, images, a kind cluster. See docs/deploy.md.

MANIFESTS_NAMESPACE ?= module-controller-system
CONTROLLER_IMAGE    ?= module-controller:dev
FAKEBASE_IMAGE      ?= module-controller-fakebase:dev
MANIFESTS_DIR       ?= config/deploy
KIND                ?= kind
DOCKER              ?= docker
KUBECTL             ?= $(BIN)/kubectl
KIND_CLUSTER        ?= module-controller
KIND_CONTEXT        := kind-$(KIND_CLUSTER)
KIND_BUILD_DIR      ?= build/kind

.PHONY: manifests helm kind-tools kind-up kind-deploy kind-down

# The install set (Namespace, CRDs, RBAC, controller Deployment) rendered from
# module_controller/manifests/templates, crds/ and rbac/, and the Helm chart generated from the
# same sources. config/deploy/ and chart/ are checked in; tests fail when they differ from what
# this writes.
manifests: venv
	$(BIN)/module-controller manifests --namespace $(MANIFESTS_NAMESPACE) \
		--image $(CONTROLLER_IMAGE) --out $(MANIFESTS_DIR)
	$(BIN)/python -m module_controller.manifests.chart --out chart

# The real helm (built from its Go module into the control plane's cache, like the control plane).
helm: venv
	$(BIN)/python -c 'from module_controller_dev.devcluster import helm; print(helm.ensure())'

# kind runs Kubernetes nodes as Docker containers: these targets need kind and a running Docker
# engine, and say so instead of failing halfway.
kind-tools:
	@command -v $(KIND) >/dev/null 2>&1 || { echo "error: '$(KIND)' not found: the kind-* targets need kind (https://kind.sigs.k8s.io/) and a running Docker engine" >&2; exit 1; }
	@command -v $(DOCKER) >/dev/null 2>&1 || { echo "error: '$(DOCKER)' not found: the kind-* targets need Docker (kind runs its nodes as Docker containers)" >&2; exit 1; }
	@$(DOCKER) info >/dev/null 2>&1 || { echo "error: no Docker engine answers ('$(DOCKER) info' failed): start Docker first; kind runs its nodes as Docker containers" >&2; exit 1; }

kind-up: kind-tools
	@if $(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
		echo "kind cluster $(KIND_CLUSTER) already exists (context $(KIND_CONTEXT))"; \
	else \
		$(KIND) create cluster --name $(KIND_CLUSTER) --wait 120s; \
	fi

# Builds both images, loads them into the kind nodes, applies the install set (rendered for
# CONTROLLER_IMAGE) and the fake base Deployment. Always through --context $(KIND_CONTEXT):
# never the current context of your kubeconfig.
kind-deploy: kind-tools venv
	$(DOCKER) build -f Dockerfile -t $(CONTROLLER_IMAGE) .
	$(DOCKER) build -f Dockerfile.fakebase -t $(FAKEBASE_IMAGE) .
	$(KIND) load docker-image --name $(KIND_CLUSTER) $(CONTROLLER_IMAGE) $(FAKEBASE_IMAGE)
	$(BIN)/module-controller manifests --namespace $(MANIFESTS_NAMESPACE) \
		--image $(CONTROLLER_IMAGE) --out $(KIND_BUILD_DIR)/deploy
	$(KUBECTL) --context $(KIND_CONTEXT) apply -f $(KIND_BUILD_DIR)/deploy
	$(KUBECTL) --context $(KIND_CONTEXT) -n $(MANIFESTS_NAMESPACE) rollout status \
		deployment/module-controller --timeout=180s
	$(KUBECTL) --context $(KIND_CONTEXT) -n default apply -f config/fake-base
	$(KUBECTL) --context $(KIND_CONTEXT) -n default set image \
		deployment/dynamic-stock-deployment base=$(FAKEBASE_IMAGE)
	$(KUBECTL) --context $(KIND_CONTEXT) -n default rollout status \
		deployment/dynamic-stock-deployment --timeout=180s
	@echo "deployed; try: $(KUBECTL) --context $(KIND_CONTEXT) apply -f config/samples/seed003_moduledeployment.yaml"

kind-down:
	@command -v $(KIND) >/dev/null 2>&1 || { echo "error: '$(KIND)' not found: the kind-* targets need kind (https://kind.sigs.k8s.io/) and a running Docker engine" >&2; exit 1; }
	$(KIND) delete cluster --name $(KIND_CLUSTER)
