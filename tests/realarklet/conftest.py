"""Real base JVMs on the dev cluster, started once per test run.

One namespace holds a base Deployment of two 2025-generation bases (koupleless 2.1.6) named as
the samples expect, and one of a single 2023-generation base (sofa-serverless 0.5.6). The base
simulator backs each of their pods with a real JVM (pod annotation
``sim.serverless.alipay.com/arklet``) and reports it Ready once Arklet answers. JVMs take 16-45 s
to start on two cores, so they are started once and shared; each test runs its own controller
on that namespace and leaves the bases empty behind it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import pytest_asyncio

from module_controller_dev.devcluster import State
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.realbase.jvm import DEFAULT_START_TIMEOUT
from module_controller_dev.realbase.testing import ensure_jars

from helpers.controller import running_controller
from real_helpers import BASE23, BASE23_SELECTOR, SELECTOR, RealBases

FLAVOUR = "sim.serverless.alipay.com/arklet"


@pytest.fixture(scope="session")
def real_jars():
    return ensure_jars()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def real_bases(api, dev_cluster: State, real_jars) -> RealBases:
    namespace = f"real-{uuid.uuid4().hex[:6]}"
    await kt.create_namespace(api, namespace)
    await kt.create_base_deployment(api, namespace, 2, annotations={FLAVOUR: "real-2025"})
    await kt.create_base_deployment(api, namespace, 1, name=BASE23, app=BASE23,
                                    annotations={FLAVOUR: "real-2023"})
    # The JVMs start side by side on two cores: allow the launcher's own start bound for each.
    timeout = 2 * DEFAULT_START_TIMEOUT
    try:
        pods = await kt.wait_ready_pods(api, namespace, SELECTOR, 2, timeout=timeout)
        (pod23,) = await kt.wait_ready_pods(api, namespace, BASE23_SELECTOR, 1, timeout=timeout)
    except kt.WaitTimeout as exc:
        log = dev_cluster.path / "logs" / "base-simulator.log"
        tail = log.read_text()[-6000:] if log.exists() else "(no simulator log)"
        pytest.fail(f"real bases did not become Ready: {exc}\n--- base simulator log ---\n{tail}",
                    pytrace=False)
    yield RealBases(namespace, sorted(pods, key=lambda p: p.metadata.name), pod23,
                    repo=dev_cluster.module_repo_url or "")
    await kt.delete_namespace(api, namespace)


@pytest.fixture
def real_controller(dev_cluster: State, real_bases: RealBases, tmp_path: Path):
    """The controller, watching the real bases' namespace; timeouts sized for real JVMs."""
    with running_controller(dev_cluster, real_bases.namespace, tmp_path / "controller.log",
                            ["--retry-backoff-initial=0.5", "--retry-backoff-max=5",
                             "--arklet-timeout=30", "--install-timeout=120"]) as proc:
        yield proc
