"""The base simulator: scheduler and kubelet for a cluster with no real nodes.

It registers a few Nodes, binds every pending pod to one of them, gives each bound pod its own
loopback IP, starts a fake Arklet there and reports the pod Running and Ready. When a pod is
deleted gracefully it stops that Arklet (after the pod's simulated shutdown delay) and removes the
pod with grace period 0, as a kubelet does, so the pod's Deployment replaces it.

Decisions come from :mod:`.pods` (pure); this module only does the I/O.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from module_controller.kube.io import response_json

from ..kubebody import MERGE_PATCH, body
from ..fakearklet import ArkletRegistry, FakeArklet
from ..realbase.build import RealBaseUnavailable
from . import pods
from .ippool import IPPool
from .realbases import RealBases, generation_of, not_ready_status

log = logging.getLogger("basesim")


@dataclass
class SimulatedPod:
    uid: str
    namespace: str
    name: str
    ip: str
    arklet: FakeArklet | None


class BaseSimulator:
    def __init__(self, api: client.ApiClient, nodes: int = 3, concurrency: int = 32,
                 module_proxy: str | None = None, realbase_dir: Path | None = None,
                 realbase_work: Path | None = None, address_block: int | None = None):
        self.api = api
        self.module_proxy = module_proxy  # host:port of the module repository (HTTP proxy)
        self.core = client.CoreV1Api(api)
        self.node_names = [f"sim-node-{i}" for i in range(1, nodes + 1)]
        self._node_cycle = itertools.cycle(self.node_names)
        self.pool = IPPool(block=address_block)  # a 127.B.0.0/16 of its own, see ippool
        self.registry = ArkletRegistry()
        # pods annotated real-2025/real-2023 get a real base JVM (see realbases.py)
        self.realbases = RealBases(realbase_dir, work_root=realbase_work, proxy=module_proxy)
        self.by_uid: dict[str, SimulatedPod] = {}
        self._latest: dict[str, dict[str, Any]] = {}  # newest pod object not yet handled, per uid
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._limit = asyncio.Semaphore(concurrency)
        self.ready = asyncio.Event()

    # ----------------------------------------------------------------- main loop

    async def run(self) -> None:
        await self._register_nodes()
        backoff = 0.2
        while True:
            try:
                rv = await self._list_and_sync()
                self.ready.set()
                backoff = 0.2
                await self._watch(rv)
            except ApiException as exc:
                if exc.status == 410:  # Gone: our resourceVersion expired; list again at once
                    continue
                if exc.status < 500:
                    raise
                log.warning("pod watch failed (%s %s); listing again in %.1fs",
                            exc.status, exc.reason, backoff)
            except (asyncio.TimeoutError, OSError, aiohttp.ClientError) as exc:
                # kube-apiserver restarting: connection refused, payload cut mid-stream, ...
                log.warning("pod watch interrupted (%r); listing again in %.1fs", exc, backoff)
            await asyncio.sleep(backoff)  # back off before hammering a restarting apiserver
            backoff = min(backoff * 2, 5.0)

    async def _list_and_sync(self) -> str:
        resp = await self.core.list_pod_for_all_namespaces(_preload_content=False)
        data = await response_json(resp)
        seen = set()
        for pod in data["items"]:
            seen.add(pod["metadata"]["uid"])
            self._submit(pod)
        for uid in list(self.by_uid):
            if uid not in seen:  # deleted while we were not watching
                await self._forget(uid)
        version: str = data["metadata"]["resourceVersion"]
        return version

    async def _watch(self, rv: str) -> None:
        w = watch.Watch()
        async with w.stream(self.core.list_pod_for_all_namespaces, resource_version=rv,
                            timeout_seconds=300, allow_watch_bookmarks=True) as stream:
            async for event in stream:
                kind, pod = event["type"], event["raw_object"]
                if kind == "ERROR":
                    raise ApiException(status=pod.get("code", 500), reason=pod.get("message"))
                if kind == "BOOKMARK":
                    continue
                if kind == "DELETED":
                    self._latest.pop(pod["metadata"]["uid"], None)
                    await self._forget(pod["metadata"]["uid"])
                else:
                    self._submit(pod)

    def _submit(self, pod: dict[str, Any]) -> None:
        """Queue the newest version of a pod; one worker per pod handles them in order."""
        uid = pod["metadata"]["uid"]
        self._latest[uid] = pod
        if uid not in self._workers:
            self._workers[uid] = asyncio.create_task(self._work(uid))

    async def _work(self, uid: str) -> None:
        try:
            while uid in self._latest:
                pod = self._latest.pop(uid)
                async with self._limit:
                    try:
                        await self._handle(pod)
                    except ApiException as exc:
                        if exc.status not in (404, 409):  # gone or changed: the watch brings news
                            log.warning("pod %s/%s: %s", pod["metadata"].get("namespace"),
                                        pod["metadata"]["name"], exc.reason)
                    except Exception:
                        log.exception("pod %s: unexpected error", pod["metadata"]["name"])
        finally:
            self._workers.pop(uid, None)

    async def _handle(self, pod: dict[str, Any]) -> None:
        uid = pod["metadata"]["uid"]
        action = pods.decide(pod, set(self.node_names), running=uid in self.by_uid)
        if action is pods.Action.BIND:
            await self._bind(pod)
        elif action is pods.Action.START:
            await self._start(pod)
        elif action is pods.Action.TERMINATE:
            await self._terminate(pod)

    # ----------------------------------------------------------------- actions

    async def _register_nodes(self) -> None:
        for name in self.node_names:
            try:
                await self.core.create_node(body(pods.node_object(name)))
            except ApiException as exc:
                if exc.status != 409:
                    raise
            await self.core.patch_node_status(name, {"status": pods.node_status()})

    async def _bind(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "uid": meta["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": next(self._node_cycle)},
        }
        # Raw response: the generated client cannot deserialise the Status a binding returns.
        resp = await self.core.create_namespaced_pod_binding(
            meta["name"], meta["namespace"], body(binding), _preload_content=False)
        await response_json(resp)  # raises on 404/409 like any other call

    async def _start(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        cfg = pods.settings(pod)
        previous = (pod.get("status") or {}).get("podIP")
        ip, arklet = await self._claim_address(cfg, meta["name"], prefer=previous)
        sim = SimulatedPod(meta["uid"], meta["namespace"], meta["name"], ip, arklet)
        self.by_uid[sim.uid] = sim
        if arklet is not None:
            self.registry.add(arklet)
        generation = generation_of(cfg.flavour)
        if generation is not None and not await self._start_real_base(pod, ip, generation):
            return  # stays not Ready (logged), or was deleted while its JVM started
        try:
            await self.core.patch_namespaced_pod_status(
                meta["name"], meta["namespace"], {"status": pods.running_status(pod, ip)},
                **MERGE_PATCH,
            )
        except BaseException:
            await self._forget(sim.uid)
            raise
        log.info("pod %s/%s running on %s (arklet %s)", sim.namespace, sim.name, ip,
                 cfg.flavour or "none")

    async def _claim_address(self, cfg: pods.BaseSettings, name: str,
                             prefer: str | None) -> tuple[str, FakeArklet | None]:
        """Take a free loopback IP and, unless opted out, bind a fake Arklet on it."""
        order = self.pool.candidates()
        if prefer and not self.pool.in_use(prefer):
            order = itertools.chain([prefer], order)
        for ip in order:
            if cfg.flavour is None or generation_of(cfg.flavour):  # no fake Arklet
                self.pool.take(ip)
                return ip, None
            arklet = FakeArklet(host=ip, port=cfg.port, flavour=cfg.flavour, base_name=name,
                                install_latency=cfg.install_latency,
                                module_proxy=self.module_proxy)
            try:
                await arklet.start()
            except OSError:
                self.pool.mark_broken(ip)  # somebody else (another simulator?) serves there
                continue
            self.pool.take(ip)
            return ip, arklet
        raise RuntimeError("no free loopback address left for a simulated pod")

    async def _start_real_base(self, pod: dict[str, Any], ip: str, generation: str) -> bool:
        """Back the pod with a real base JVM on a free port of its own; once Arklet answers
        ``health``, write the port into the pod's Arklet-port annotation and return True. A base
        that cannot start leaves the pod not Ready, with one log line and the reason in the pod's
        Ready condition."""
        meta = pod["metadata"]
        uid, ns, name = meta["uid"], meta["namespace"], meta["name"]
        try:
            jvm = await self.realbases.start(uid, ns, name, generation)
        except RealBaseUnavailable as exc:
            await self.realbases.stop(uid)
            if uid not in self.by_uid:
                return False  # deleted while starting: _forget stopped it
            log.warning("pod %s/%s: no real %s base, pod stays not Ready: %s",
                        ns, name, generation, str(exc).splitlines()[0])
            await self.core.patch_namespaced_pod_status(
                name, ns, {"status": not_ready_status(str(exc))},
                **MERGE_PATCH)
            return False
        await self.core.patch_namespaced_pod(
            name, ns, {"metadata": {"annotations": {pods.ARKLET_PORT: str(jvm.port)}}},
            **MERGE_PATCH)
        log.info("pod %s/%s: real %s base answers on %s:%d after %.1fs", ns, name, generation,
                 ip, jvm.port, jvm.healthy_after or 0.0)
        return uid in self.by_uid

    async def _terminate(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        sim = self.by_uid.get(meta["uid"])
        if sim is not None:
            delay = pods.settings(pod).termination_delay
            if delay:
                await asyncio.sleep(delay)  # simulated JVM shutdown: Arklet answers meanwhile
            await self._forget(sim.uid)
        try:
            await self.core.delete_namespaced_pod(
                meta["name"], meta["namespace"],
                body=body({"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}}),
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    async def _forget(self, uid: str) -> None:
        sim = self.by_uid.pop(uid, None)
        if sim is None:
            return
        if sim.arklet is not None:
            self.registry.remove(sim.ip)
            await sim.arklet.stop()
        await self.realbases.stop(uid)
        self.pool.release(sim.ip)

    async def close(self) -> None:
        for task in list(self._workers.values()):
            task.cancel()
        for uid in list(self.by_uid):
            await self._forget(uid)
        await self.realbases.close()
