"""Helpers of the real-base tests: what the JVMs run, read with Arklet's own queryAllBiz."""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes_asyncio import client

from module_controller.arklet import ArkletClient, ArkletSettings, arklet_port
from module_controller_dev.devcluster import testing as kt

SELECTOR = "app=dynamic-stock"
BASE23 = "base-2023"
BASE23_SELECTOR = f"app={BASE23}"
MODULE = "provider"

# Real JVMs answer in milliseconds when idle but stall behind a running install (one Netty loop
# per connection): give each query room, the suite's deadlines are far larger.
_SETTINGS = ArkletSettings(timeout=30.0, attempts=3, backoff_initial=0.5, backoff_max=2.0)


@dataclass
class RealBases:
    namespace: str
    pods: list[client.V1Pod]  # the two 2025-generation bases
    pod23: client.V1Pod       # the 2023-generation base
    repo: str                 # http://127.0.0.1:PORT of the dev cluster's module repository

    def url(self, version: str, generation: str = "2025") -> str:
        """The url of the Maven-built provider module jar of ``version``."""
        return f"{self.repo}/modules-{generation}/dynamic-provider-{version}-ark-biz.jar"


async def bizzes(pod: client.V1Pod) -> set[tuple[str, str, str]]:
    """(name, version, state) of every biz the real base lists, the base itself excluded."""
    port = arklet_port(pod.metadata.annotations, 1238)
    async with ArkletClient(_SETTINGS) as arklet:
        infos = await arklet.query_all(pod.status.pod_ip, port=port)
    return {(b.name, b.version, b.state) for b in infos}


async def wait_bizzes(pod: client.V1Pod, wanted: set[tuple[str, str, str]], what: str,
                      timeout: float = 120.0) -> None:
    await kt.wait_for(lambda: bizzes(pod), lambda found: found == wanted, timeout=timeout,
                      interval=0.5, what=f"{pod.metadata.name}: {what}")
