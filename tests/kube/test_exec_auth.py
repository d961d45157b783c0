"""Logging in like kubectl, against the dev cluster's real API server: a kubeconfig whose user is
an ``exec`` credential plugin (as with EKS, GKE, AKS or kubelogin).

The plugin is a tiny script that prints an ExecCredential with a ServiceAccount token (from the
TokenRequest API) and counts its runs. The ServiceAccount has exactly rbac/namespaced's Role, so
every call succeeds only with that token. The real controller process runs with that kubeconfig
and drives a release to Completed: its watches (kopf's login) and its writes (its own client)
both authenticate through the plugin.
"""

from __future__ import annotations

import asyncio
import json
import stat
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client

from module_controller_dev.devcluster import testing as kt
from module_controller_dev.devcluster.controllerproc import ControllerProcess, free_port
from module_controller_dev.devcluster.kubectl import Kubectl, kubectl_apply
from module_controller.kube.client import connection_info, make_api_client
from module_controller.manifests.render import load_rbac

from helpers.cluster import bases
from helpers.controller_args import FAST, MODULE_STEP

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
SA = "module-controller"
MD = "moduledeployment-sample"
START_TIMEOUT = 60.0  # list everything once, then watch

PLUGIN = """\
import json, sys
from pathlib import Path
here = Path(sys.argv[1])
runs = here / "runs"
runs.write_text(str(int(runs.read_text() or 0) + 1) if runs.exists() else "1")
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1",
                  "kind": "ExecCredential",
                  "status": {"token": (here / "token").read_text().strip()}}))
"""


def exec_kubeconfig(admin: Path, directory: Path, token: str) -> Path:
    """A copy of ``admin`` (server, CA) whose only credential is the exec plugin."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "token").write_text(token)
    script = directory / "credential-plugin.py"
    script.write_text(PLUGIN)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    config = yaml.safe_load(admin.read_text())
    config["users"] = [{"name": "exec-user", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": sys.executable, "args": [str(script), str(directory)],
        "interactiveMode": "Never"}}}]
    for context in config["contexts"]:
        context["context"]["user"] = "exec-user"
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def runs(directory: Path) -> int:
    path = directory / "runs"
    return int(path.read_text()) if path.exists() else 0


@pytest.fixture
async def exec_config(api, namespace, dev_cluster, tmp_path) -> Path:
    admin = dev_cluster.kubeconfig
    Kubectl(admin).run("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": load_rbac("namespaced", namespace)}))
    token = await client.CoreV1Api(api).create_namespaced_service_account_token(
        SA, namespace, {"spec": {"expirationSeconds": 3600}})
    path = exec_kubeconfig(admin, tmp_path / "exec", token.status.token)

    async def allowed() -> bool:  # RBAC reaches the authorizer through informers
        proc = await asyncio.to_thread(Kubectl(path, namespace).run, "auth", "can-i", "update",
                                       "leases.coordination.k8s.io", check=False, timeout=30)
        return proc.stdout.strip() == "yes"

    await kt.wait_for(allowed, timeout=30, what="the Role to take effect for the token")
    return path


async def test_the_client_and_kopfs_login_run_the_exec_plugin(exec_config, namespace):
    directory = exec_config.parent
    before = runs(directory)
    api = await make_api_client(str(exec_config))
    try:
        listing = await client.CustomObjectsApi(api).list_namespaced_custom_object(
            "serverless.alipay.com", "v1alpha1", namespace, "moduledeployments")
        assert listing["items"] == []
    finally:
        await api.close()
    info = await connection_info(str(exec_config))
    assert info.token == (directory / "token").read_text().strip()
    assert info.scheme == "Bearer"
    assert info.certificate_path is None and info.private_key_path is None
    assert runs(directory) >= before + 2


async def test_the_controller_runs_with_an_exec_credential_kubeconfig(api, exec_config,
                                                                    namespace, arklets,
                                                                    dev_cluster, tmp_path):
    admin = dev_cluster.kubeconfig
    await bases(api, namespace, 2)
    proc = ControllerProcess(exec_config, tmp_path / "controller.log", namespaces=[namespace],
                             extra_args=FAST, probe_port=free_port()).start()
    try:
        # Ready means watching: kopf logged in with the plugin's token.
        await asyncio.to_thread(proc.wait_ready, START_TIMEOUT)
        body = yaml.safe_load((REPO / "config" / "samples" /
                               "seed003_moduledeployment.yaml").read_text())
        body["metadata"]["namespace"] = namespace
        body["spec"]["operationStrategy"]["needConfirm"] = False
        kubectl_apply(admin, namespace, body)
        # Writes by the controller's own client (Modules, status) with the same token.
        await kt.wait_progress(api, namespace, MD, "Completed", timeout=2 * MODULE_STEP)
    finally:
        proc.stop()
    log = proc.log_text()
    assert "Unauthorized" not in log and "forbidden" not in log.lower(), log[-3000:]
    assert runs(exec_config.parent) >= 2


async def test_the_token_is_loaded_again_when_it_may_have_expired(exec_config, namespace,
                                                                  monkeypatch):
    """Exec tokens expire: the client runs the plugin again (at most every
    TOKEN_REFRESH_SECONDS, here 0) and sends what it prints now."""
    from module_controller.kube import client as kube_client

    directory = exec_config.parent
    api = await make_api_client(str(exec_config))
    custom = client.CustomObjectsApi(api)
    try:
        monkeypatch.setattr(kube_client, "TOKEN_REFRESH_SECONDS", 0.0)
        before = runs(directory)
        await custom.list_namespaced_custom_object("serverless.alipay.com", "v1alpha1",
                                                   namespace, "moduledeployments")
        assert runs(directory) > before
        (directory / "token").write_text("not-a-token")  # the plugin now hands out garbage
        with pytest.raises(client.ApiException) as caught:
            await custom.list_namespaced_custom_object("serverless.alipay.com", "v1alpha1",
                                                       namespace, "moduledeployments")
        assert caught.value.status == 401
    finally:
        await api.close()
