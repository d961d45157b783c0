"""The controller's API writes: patches, status, finalizers, pods, deletes.

Every write returns the object the API server answered with, so callers can put it straight into
their watch cache (a write-through cache: the next reconcile does not act on a stale copy of an
object it has just changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from ..api import constants as c
from ..api.redact import redact_text
from ..runtime.backoff import CappedJitterBackoff

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def not_found(exc: BaseException) -> bool:
    return isinstance(exc, ApiException) and exc.status == 404


async def response_json(resp) -> dict:
    """Body of a ``_preload_content=False`` response; such calls do not raise on errors."""
    body = await resp.json(content_type=None)
    if resp.status >= 400:
        raise ApiException(status=resp.status, reason=(body or {}).get("message", resp.reason))
    return body


def transient(exc: BaseException) -> bool:
    """429 (e.g. "storage is (re)initializing" right after a CRD appears) and 5xx pass."""
    return isinstance(exc, ApiException) and (exc.status == 429 or exc.status >= 500)


def _reads() -> AsyncRetrying:
    # Bounded: about 30 s in all, then the error surfaces.
    return AsyncRetrying(retry=retry_if_exception(transient), stop=stop_after_attempt(8),
                         wait=CappedJitterBackoff(0.2, 5.0), reraise=True)


@dataclass(frozen=True)
class Listing:
    """A list answer: the objects and the resourceVersion the list was served at."""
    items: list[dict[str, Any]]
    resource_version: int

    @classmethod
    def of(cls, body: dict) -> "Listing":
        rv = (body.get("metadata") or {}).get("resourceVersion") or "0"
        return cls(body.get("items") or [], int(rv) if rv.isdigit() else 0)


def redact_messages(value: Any) -> Any:
    """A copy of a status with :func:`redact_text` applied to every string at any depth
    (messages, ``releaseStatus.abortedModule``, whatever a later field holds); a string
    without a url is unchanged."""
    if isinstance(value, dict):
        return {k: redact_messages(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_messages(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


class KubeIO:
    def __init__(self, api: client.ApiClient):
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)

    # ----------------------------------------------------------------- reads

    async def list(self, plural: str, namespace: str | None) -> Listing:
        """All objects of one of our kinds, with the list's resourceVersion."""
        async for attempt in _reads():
            with attempt:
                if namespace:
                    result = await self.custom.list_namespaced_custom_object(
                        c.GROUP, c.VERSION, namespace, plural)
                else:
                    result = await self.custom.list_cluster_custom_object(c.GROUP, c.VERSION, plural)
                return Listing.of(result)
        raise AssertionError("unreachable")

    async def list_pods(self, namespace: str | None) -> Listing:
        async for attempt in _reads():
            with attempt:
                if namespace:
                    resp = await self.core.list_namespaced_pod(namespace, _preload_content=False)
                else:
                    resp = await self.core.list_pod_for_all_namespaces(_preload_content=False)
                return Listing.of(await response_json(resp))
        raise AssertionError("unreachable")

    async def list_deployments(self, namespace: str | None) -> Listing:
        async for attempt in _reads():
            with attempt:
                if namespace:
                    resp = await self.apps.list_namespaced_deployment(namespace,
                                                                      _preload_content=False)
                else:
                    resp = await self.apps.list_deployment_for_all_namespaces(
                        _preload_content=False)
                return Listing.of(await response_json(resp))
        raise AssertionError("unreachable")

    async def list_replicasets(self, namespace: str | None) -> Listing:
        """apps/v1 ReplicaSets: the links of the ownership chain base pod -> Deployment."""
        async for attempt in _reads():
            with attempt:
                if namespace:
                    resp = await self.apps.list_namespaced_replica_set(namespace,
                                                                       _preload_content=False)
                else:
                    resp = await self.apps.list_replica_set_for_all_namespaces(
                        _preload_content=False)
                return Listing.of(await response_json(resp))
        raise AssertionError("unreachable")

    async def read_pod(self, namespace: str, name: str) -> dict | None:
        """The pod as the API server has it now (the cache may lag); None if it does not exist."""
        try:
            resp = await self.core.read_namespaced_pod(name, namespace, _preload_content=False)
            pod = await response_json(resp)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        pod.setdefault("kind", "Pod")
        return pod

    # ----------------------------------------------------------------- custom objects

    async def create(self, plural: str, namespace: str, body: dict) -> dict:
        return await self.custom.create_namespaced_custom_object(
            c.GROUP, c.VERSION, namespace, plural, body)

    async def patch(self, plural: str, namespace: str, name: str, patch: dict) -> dict:
        """JSON merge patch of metadata/spec."""
        return await self.custom.patch_namespaced_custom_object(
            c.GROUP, c.VERSION, namespace, plural, name, patch, _content_type=MERGE)

    async def patch_status(self, plural: str, namespace: str, name: str, status: dict) -> dict:
        """Every ``message`` in the status (conditions' too) is written with credentials in
        urls redacted: whoever may read the object must not learn them (docs/security.md)."""
        return await self.custom.patch_namespaced_custom_object_status(
            c.GROUP, c.VERSION, namespace, plural, name, {"status": redact_messages(status)},
            _content_type=MERGE)

    async def remove_finalizer(self, plural: str, obj: dict, finalizer: str) -> dict | None:
        """Remove one finalizer with a JSON patch that first tests it is still at that index,
        so a concurrent change of the list makes the call fail (409/422) instead of removing
        somebody else's finalizer."""
        meta = obj["metadata"]
        finalizers = meta.get("finalizers") or []
        if finalizer not in finalizers:
            return obj
        index = finalizers.index(finalizer)
        ops = [
            {"op": "test", "path": f"/metadata/finalizers/{index}", "value": finalizer},
            {"op": "remove", "path": f"/metadata/finalizers/{index}"},
        ]
        try:
            return await self.custom.patch_namespaced_custom_object(
                c.GROUP, c.VERSION, meta["namespace"], plural, meta["name"], ops,
                _content_type=JSON_PATCH)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    async def delete(self, plural: str, namespace: str, name: str, uid: str | None = None) -> None:
        body: dict[str, Any] = {}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            await self.custom.delete_namespaced_custom_object(
                c.GROUP, c.VERSION, namespace, plural, name, body=body)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    # ----------------------------------------------------------------- pods

    async def patch_pod_labels(self, namespace: str, name: str,
                               labels: dict[str, str | None]) -> dict | None:
        """Merge the labels (None removes one); None if the pod is gone."""
        return await self._patch_labels(self.core.patch_namespaced_pod, namespace, name, labels)

    async def patch_deployment_labels(self, namespace: str, name: str,
                                      labels: dict[str, str | None]) -> dict | None:
        return await self._patch_labels(self.apps.patch_namespaced_deployment, namespace, name,
                                        labels)

    @staticmethod
    async def _patch_labels(call, namespace: str, name: str,
                            labels: dict[str, str | None]) -> dict | None:
        try:
            # Raw JSON: the answer goes straight into the dict-based caches.
            resp = await call(name, namespace, {"metadata": {"labels": labels}},
                              _content_type=MERGE, _preload_content=False)
            return await response_json(resp)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    # ----------------------------------------------------------------- services

    async def ensure_service(self, body: dict, owner_uid: str) -> str | None:
        """Create the Service or bring its spec in line; a problem (it belongs to someone
        else) is returned as text rather than raised, for a condition."""
        meta = body["metadata"]
        try:
            resp = await self.core.read_namespaced_service(meta["name"], meta["namespace"],
                                                           _preload_content=False)
            current = await response_json(resp)
        except ApiException as exc:
            if exc.status != 404:
                raise
            await self.core.create_namespaced_service(meta["namespace"], body)
            return None
        owners = {r.get("uid") for r in current["metadata"].get("ownerReferences") or []}
        if owner_uid not in owners:
            return f"Service {meta['name']} exists and is not owned by this ModuleDeployment"
        spec = current.get("spec") or {}
        ports = [{k: p.get(k) for k in ("name", "protocol", "port", "targetPort")}
                 for p in spec.get("ports") or []]
        wanted = body["spec"]
        if (spec.get("type"), spec.get("selector"), ports) != (
                wanted["type"], wanted["selector"], wanted["ports"]):
            # Merge patch replaces the ports list; nodePort is re-allocated only if it changes.
            await self.core.patch_namespaced_service(meta["name"], meta["namespace"],
                                                     {"spec": wanted}, _content_type=MERGE)
        return None

    async def delete_owned_services(self, namespace: str, deployment: str, owner_uid: str,
                                    keep: str | None = None) -> None:
        """Delete the Services the ModuleDeployment owns, except the one named ``keep``."""
        resp = await self.core.list_namespaced_service(
            namespace, label_selector=f"{c.LABEL_MODULE_DEPLOYMENT}={deployment}",
            _preload_content=False)
        for svc in (await response_json(resp))["items"]:
            if svc["metadata"]["name"] == keep:
                continue
            if any(r.get("uid") == owner_uid for r in svc["metadata"].get("ownerReferences") or []):
                try:
                    await self.core.delete_namespaced_service(svc["metadata"]["name"], namespace)
                except ApiException as exc:
                    if exc.status != 404:
                        raise

    async def delete_pod(self, namespace: str, name: str) -> None:
        try:
            await self.core.delete_namespaced_pod(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
