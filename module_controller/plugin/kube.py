"""The plugin's I/O: which cluster (kubeconfig like kubectl), reads, watches and the one kind of
write (a merge patch of the ModuleDeployment).

Cluster selection follows kubectl, not ``module-controller run``: ``--kubeconfig``, else
``$KUBECONFIG`` (a ``:``-separated list is merged), else the in-cluster service account, else
``~/.kube/config``; ``--context`` picks a context, and the namespace is ``-n``, else the
context's namespace, else ``default``. The client is the controller's
(:func:`..kube.client.make_api_client`): exec credential plugins, OIDC, proxies from the
environment, a timeout on every request; the kubeconfig is never written back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp
from kubernetes_asyncio import client, config, watch
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from ..api import constants as c
from ..kube.client import make_api_client
from ..kube.io import KubeIO, response_json
from .errors import Conflict, NotFound, PluginError

__all__ = ["Conflict", "NotFound", "PluginError", "PluginIO", "Target", "api_error", "connect",
           "resolve"]

MD = c.MODULE_DEPLOYMENT
MRS = c.MODULE_REPLICA_SET
MODULE = c.MODULE
#: A watch request ends on the server after this long (it is then made again from the last
#: resourceVersion seen); the client gives up on a silent connection a little later.
WATCH_SECONDS = 50
WATCH_TIMEOUT = aiohttp.ClientTimeout(total=WATCH_SECONDS + 20, sock_connect=5,
                                      sock_read=WATCH_SECONDS + 15)


@dataclass(frozen=True)
class Target:
    kubeconfig: str | None
    context: str | None
    namespace: str


def _kubeconfig_path(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"]
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None  # in-cluster
    return str(Path.home() / ".kube" / "config")


def resolve(kubeconfig: str | None, context: str | None, namespace: str | None) -> Target:
    path = _kubeconfig_path(kubeconfig)
    if path is None:
        if context:
            raise PluginError("--context needs a kubeconfig (none found, running in a cluster)")
        ns_file = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
        default = ns_file.read_text().strip() if ns_file.exists() else "default"
        return Target(None, None, namespace or default)
    if not any(Path(p).expanduser().is_file() for p in path.split(os.pathsep) if p):
        raise PluginError(f"kubeconfig {path} not found: pass --kubeconfig or set KUBECONFIG")
    try:
        contexts, active = config.list_kube_config_contexts(path)
    except (ConfigException, OSError, TypeError, AttributeError) as exc:
        raise PluginError(f"cannot read kubeconfig {path}: {exc}") from None
    chosen = active
    if context:
        chosen = next((x for x in contexts or [] if x.get("name") == context), None)
        if chosen is None:
            raise PluginError(f'context "{context}" not found in kubeconfig {path}')
    ns = namespace or ((chosen or {}).get("context") or {}).get("namespace") or "default"
    return Target(path, context, ns)


async def connect(target: Target) -> client.ApiClient:
    """The project's API client for the target (in-cluster when it names no kubeconfig)."""
    try:
        return await make_api_client(target.kubeconfig, target.context)
    except (ConfigException, OSError) as exc:
        raise PluginError(f"cannot load kubeconfig: {exc}") from None


def api_error(exc: ApiException) -> str:
    """The API server's own message of a failed request (its JSON body), else its reason."""
    try:
        return json.loads(exc.body or "{}").get("message") or str(exc.reason)
    except (ValueError, AttributeError):
        return str(exc.reason)


@dataclass(frozen=True)
class Listing:
    items: list[dict[str, Any]]
    resource_version: str | None


#: A list call of the API (namespace, selectors bound), as a watch needs it.
ListCall = Callable[..., Awaitable[Any]]


class PluginIO:
    def __init__(self, api: client.ApiClient, namespace: str):
        self.namespace = namespace
        self.io = KubeIO(api)
        self.custom = self.io.custom
        self.core = self.io.core

    async def get_deployment(self, name: str) -> dict[str, Any]:
        try:
            md: dict[str, Any] = await self.custom.get_namespaced_custom_object(
                c.GROUP, c.VERSION, self.namespace, MD.plural, name)
        except ApiException as exc:
            if exc.status == 404:
                raise NotFound(f'moduledeployment "{name}" not found in namespace '
                               f'"{self.namespace}"') from None
            raise PluginError(f'moduledeployment "{name}" in namespace "{self.namespace}": '
                              f"{api_error(exc)}") from None
        return md

    async def deployments(self, all_namespaces: bool) -> list[dict[str, Any]]:
        where = "all namespaces" if all_namespaces else f'namespace "{self.namespace}"'
        try:
            if all_namespaces:
                result = await self.custom.list_cluster_custom_object(c.GROUP, c.VERSION,
                                                                      MD.plural)
            else:
                result = await self.custom.list_namespaced_custom_object(
                    c.GROUP, c.VERSION, self.namespace, MD.plural)
        except ApiException as exc:
            raise PluginError(f"cannot list moduledeployments in {where}: "
                              f"{api_error(exc)}") from None
        return list(result.get("items") or [])

    # ---- lists as a watch starts from them (items and the list's resourceVersion)

    def list_call(self, plural: str, **selectors: Any) -> ListCall:
        """The list (or, given ``watch=True``, watch) request of ``plural`` in the namespace."""
        custom = self.custom

        async def call(**kwargs: Any) -> Any:
            return await custom.list_namespaced_custom_object(
                c.GROUP, c.VERSION, self.namespace, plural, **selectors, **kwargs)
        return call

    def event_call(self, selector: str) -> ListCall:
        core = self.core

        async def call(**kwargs: Any) -> Any:
            return await core.list_namespaced_event(self.namespace, field_selector=selector,
                                                    **kwargs)
        return call

    async def listing(self, call: ListCall, what: str) -> Listing:
        try:
            resp = await call(_preload_content=False)
            body = await response_json(resp)
        except ApiException as exc:
            raise PluginError(f'cannot list {what} in namespace "{self.namespace}": '
                              f"{api_error(exc)}") from None
        return Listing(list(body.get("items") or []),
                       (body.get("metadata") or {}).get("resourceVersion"))

    async def changes(self, call: ListCall, resource_version: str | None
                      ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """(type, object) of one watch request from ``resource_version``, until the server ends
        it (:data:`WATCH_SECONDS`); an expired version raises ApiException 410."""
        stream = watch.Watch(return_type="object")
        try:
            async for event in stream.stream(call, resource_version=resource_version,
                                             timeout_seconds=WATCH_SECONDS,
                                             allow_watch_bookmarks=True,
                                             _request_timeout=WATCH_TIMEOUT):
                yield event["type"], event["raw_object"]
        finally:
            await stream.close()

    # ---- the reads of one ModuleDeployment's release

    async def replicasets(self, name: str) -> list[dict[str, Any]]:
        return (await self.listing(self.list_call(
            MRS.plural, label_selector=f"{c.LABEL_MODULE_DEPLOYMENT}={name}"), MRS.plural)).items

    async def modules(self, selector: str) -> list[dict[str, Any]]:
        return (await self.listing(self.list_call(MODULE.plural, label_selector=selector),
                                   MODULE.plural)).items

    async def events(self, name: str, uid: str | None = None) -> list[dict[str, Any]]:
        """Events about the ModuleDeployment (this one, by uid: not an earlier one of the same
        name); an empty list if they may not be read."""
        try:
            return (await self.listing(self.event_call(event_selector(name, uid)),
                                       "events")).items
        except PluginError:
            return []

    async def patch_deployment(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.io.patch(MD.plural, self.namespace, name, patch)
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict() from None
            if exc.status == 404:
                raise PluginError(f'moduledeployment "{name}" not found in namespace '
                                  f'"{self.namespace}"') from None
            raise PluginError(f'moduledeployment "{name}" in namespace "{self.namespace}": '
                              f"{api_error(exc)}") from None


def event_selector(name: str, uid: str | None) -> str:
    selector = f"involvedObject.kind={MD.kind},involvedObject.name={name}"
    return selector + (f",involvedObject.uid={uid}" if uid else "")
