"""The plugin's I/O: which cluster (kubeconfig like kubectl), reads and the one kind of write.

Cluster selection follows kubectl, not ``module-controller run``: ``--kubeconfig``, else
``$KUBECONFIG`` (a ``:``-separated list is merged), else the in-cluster service account, else
``~/.kube/config``; ``--context`` picks a context, and the namespace is ``-n``, else the
context's namespace, else ``default``. The API client gets the same request timeouts and
proxy-environment handling as the controller's (``kube/client.py``). The kubeconfig is never
written back (no token refresh persisted), unlike kubernetes_asyncio's default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from ..api import constants as c
from ..kube.client import _with_default_timeout, _without_env_lookups
from ..kube.io import KubeIO, response_json

MD = c.MODULE_DEPLOYMENT
MRS = c.MODULE_REPLICA_SET
MODULE = c.MODULE


class PluginError(Exception):
    """Exit code 1 with this one-line message (prefixed ``error: ``)."""


class NotFound(PluginError):
    """The ModuleDeployment asked for does not exist (any more)."""


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
    try:
        if target.kubeconfig is None:
            config.load_incluster_config()
            api = client.ApiClient()
        else:
            api = await config.new_client_from_config(config_file=target.kubeconfig,
                                                      context=target.context,
                                                      persist_config=False)
    except (ConfigException, OSError) as exc:
        raise PluginError(f"cannot load kubeconfig: {exc}") from None
    return _without_env_lookups(_with_default_timeout(api))


def api_error(exc: ApiException) -> str:
    """The API server's own message of a failed request (its JSON body), else its reason."""
    import json

    try:
        return json.loads(exc.body or "{}").get("message") or str(exc.reason)
    except (ValueError, AttributeError):
        return str(exc.reason)


class PluginIO:
    def __init__(self, api: client.ApiClient, namespace: str):
        self.namespace = namespace
        self.io = KubeIO(api)
        self.custom = self.io.custom
        self.core = self.io.core

    async def get_deployment(self, name: str) -> dict:
        try:
            return await self.custom.get_namespaced_custom_object(
                c.GROUP, c.VERSION, self.namespace, MD.plural, name)
        except ApiException as exc:
            if exc.status == 404:
                raise NotFound(f'moduledeployment "{name}" not found in namespace '
                               f'"{self.namespace}"') from None
            raise PluginError(f'moduledeployment "{name}" in namespace "{self.namespace}": '
                              f"{api_error(exc)}") from None

    async def _list(self, plural: str, selector: str) -> list[dict]:
        try:
            result = await self.custom.list_namespaced_custom_object(
                c.GROUP, c.VERSION, self.namespace, plural, label_selector=selector)
        except ApiException as exc:
            raise PluginError(f'cannot list {plural} in namespace "{self.namespace}": '
                              f"{api_error(exc)}") from None
        return result.get("items") or []

    async def replicasets(self, name: str) -> list[dict]:
        return await self._list(MRS.plural, f"{c.LABEL_MODULE_DEPLOYMENT}={name}")

    async def modules(self, selector: str) -> list[dict]:
        return await self._list(MODULE.plural, selector)

    async def events(self, name: str, uid: str | None = None) -> list[dict]:
        """Events about the ModuleDeployment (this one, by uid: not an earlier one of the same
        name); an empty list if they may not be read."""
        selector = f"involvedObject.kind={MD.kind},involvedObject.name={name}"
        if uid:
            selector += f",involvedObject.uid={uid}"
        try:
            resp = await self.core.list_namespaced_event(
                self.namespace, field_selector=selector, _preload_content=False)
            return (await response_json(resp)).get("items") or []
        except ApiException:
            return []

    async def patch_deployment(self, name: str, patch: dict) -> dict:
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


class Conflict(Exception):
    """The object changed between read and write (resourceVersion); read again and retry."""
