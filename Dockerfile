# The controller image: `module-controller run` as uid 65532, on a read-only root
# filesystem (the Deployment mounts an emptyDir at /tmp, the only path written at run time).
#
#   docker build -t module-controller:dev .          (or: make kind-deploy)
#
# Two stages: the first installs the package and its locked dependencies into /opt/venv, the
# second copies only that virtualenv onto a clean base (no pip cache, no build tools, no sources).
# The package is the product alone: the development tools (dev cluster, fakes, simulators) are
# the distribution in dev/, which this image never copies.
#
# The dependencies come from config/requirements/controller.txt, every one of them (transitively)
# pinned with its hashes (`make lock`), so two builds install the same files; the package itself
# is then built with the locked build backend (config/requirements/build.txt) and no resolution.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY config/requirements/controller.txt config/requirements/build.txt ./config/requirements/
RUN /opt/venv/bin/pip install --require-hashes --no-deps \
        -r config/requirements/controller.txt -r config/requirements/build.txt
# pyproject.toml names README.md as the package's readme: the build needs it.
COPY pyproject.toml README.md ./
COPY module_controller ./module_controller
# A regular (non-editable) install, without resolving anything; pip compiles the bytecode here, at
# build time, because the root filesystem is read-only at run time. `pip check` fails the build
# should the lock miss a dependency.
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation . \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/module-controller version

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 65532 nonroot \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin nonroot
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /tmp
# Numeric, so the kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
# /healthz, /readyz and /metrics (--probe-port).
EXPOSE 8080
ENTRYPOINT ["module-controller"]
CMD ["run"]
