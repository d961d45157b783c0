"""The API calls of the migration: CRDs replaced, objects listed, patched and checked.

Every call has the client's default timeout (kube/client.py); waits are bounded by a deadline.
"""

from __future__ import annotations

import asyncio
import time
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from ..api import constants as c
from ..api.objects import Obj
from ..kube.io import MERGE, call_api, call_json, json_object

ESTABLISHED_TIMEOUT = 60.0  # seconds for the API server to serve a changed CRD


class Cluster:
    def __init__(self, api: client.ApiClient):
        self.ext = client.ApiextensionsV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.apps = client.AppsV1Api(api)

    async def apply_crds(self, crds: list[Obj]) -> None:
        """Each CRD exactly as given: created, or its spec replaced (an update with the current
        resourceVersion, so a concurrent change fails instead of being overwritten). Then waits
        until each serves."""
        for crd in crds:
            name = crd["metadata"]["name"]
            try:
                await call_api(self.ext.create_custom_resource_definition, crd)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                current = await self.ext.read_custom_resource_definition(name)
                body = {**crd, "metadata": {**crd["metadata"],
                                            "resourceVersion": current.metadata.resource_version}}
                await call_api(self.ext.replace_custom_resource_definition, name, body)
        deadline = time.monotonic() + ESTABLISHED_TIMEOUT
        for crd in crds:
            name = crd["metadata"]["name"]
            while not await self._serving(name, crd):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"CRD {name} not served within "
                                       f"{ESTABLISHED_TIMEOUT:.0f}s")
                await asyncio.sleep(0.5)

    async def _serving(self, name: str, crd: Obj) -> bool:
        """Established, and a list answers (right after Established it may say 429, "storage
        is (re)initializing")."""
        resp = await self.ext.read_custom_resource_definition(name)
        conditions = {cond.type: cond.status for cond in (resp.status.conditions or [])}
        if conditions.get("Established") != "True":
            return False
        try:
            await self.custom.list_cluster_custom_object(
                crd["spec"]["group"], crd["spec"]["versions"][0]["name"],
                crd["spec"]["names"]["plural"], limit=1)
        except ApiException as exc:
            if exc.status in (429, 503, 404):
                return False
            raise
        return True

    async def list(self, plural: str) -> list[Obj]:
        """Every object of one of the kinds ([] when its CRD does not exist)."""
        try:
            result = await self.custom.list_cluster_custom_object(c.GROUP, c.VERSION, plural)
        except ApiException as exc:
            if exc.status == 404:
                return []
            raise
        return list(json_object(result).get("items") or [])

    async def patch(self, plural: str, obj: Obj, patch: Obj, *, dry_run: bool = False) -> Obj:
        meta = obj["metadata"]
        return await call_json(self.custom.patch_namespaced_custom_object,
                               c.GROUP, c.VERSION, meta["namespace"], plural, meta["name"], patch,
                               content_type=MERGE, dry_run="All" if dry_run else None)

    async def patch_status(self, plural: str, obj: Obj, status: Obj) -> Obj:
        meta = obj["metadata"]
        return await call_json(self.custom.patch_namespaced_custom_object_status,
                               c.GROUP, c.VERSION, meta["namespace"], plural, meta["name"],
                               {"status": status}, content_type=MERGE)

    async def create_dry_run(self, plural: str, obj: Obj) -> None:
        """Would the API server accept this object as a new one (every field validated, none
        ratcheted)? A copy under a generated name, not stored."""
        meta = obj["metadata"]
        body = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                "metadata": {"generateName": meta["name"][:40] + "-check-",
                             "namespace": meta["namespace"], "labels": meta.get("labels") or {}},
                "spec": obj.get("spec") or {}}
        await self.custom.create_namespaced_custom_object(
            c.GROUP, c.VERSION, meta["namespace"], plural, body, dry_run="All")

    async def deployment(self, namespace: str, name: str) -> Obj | None:
        try:
            dep = await self.apps.read_namespaced_deployment(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return {"metadata": {"name": dep.metadata.name, "uid": dep.metadata.uid}}
