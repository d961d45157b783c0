"""The rendered install set and the fake base against the dev cluster's real API server.

Everything is applied with ``--dry-run=server --validate=strict``: the API server runs defaulting,
validation (a misspelt field is an error, not silently dropped) and admission, and stores nothing,
so cluster-scoped objects (CRDs, ClusterRoles) of other tests are never touched. The Pod Security
admission check uses a Pod built from the Deployment's template in a namespace that enforces the
"restricted" standard.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from module_controller_dev.devcluster.kubectl import Kubectl
from module_controller.manifests.render import main as render_main
from module_controller.manifests.render import render

pytestmark = pytest.mark.cluster

REPO = Path(__file__).resolve().parents[2]
IMAGE = "module-controller:dev"


def dry_run(kubectl: Kubectl, *args: str, input: str | None = None):
    """``kubectl apply --dry-run=server --validate=strict``: checked by the API server, stored
    nowhere."""
    return kubectl.run("apply", "--dry-run=server", "--validate=strict", *args, input=input,
                       check=False)


def stream(objects) -> str:
    return "".join("---\n" + yaml.safe_dump(obj, sort_keys=False) for obj in objects)


def pod_from_template(objects, name: str) -> dict:
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    template = deployment["spec"]["template"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": template["metadata"].get("labels", {})},
            "spec": template["spec"]}


@pytest.mark.parametrize("mode", ["cluster", "namespaced"])
def test_rendered_set_passes_server_side_dry_run(kubectl, namespace, tmp_path, mode):
    out = tmp_path / "deploy"
    assert render_main(["--namespace", namespace, "--image", IMAGE, "--mode", mode,
                        "--out", str(out)]) == 0
    result = dry_run(kubectl, "-f", str(out), "-o", "json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    items = answer["items"] if answer.get("kind") == "List" else [answer]
    expected = render(namespace, IMAGE, mode=mode)
    got = {(o["kind"], o["metadata"]["name"]) for o in items}
    assert got == {(o["kind"], o["metadata"]["name"]) for o in expected}
    # What the server would store keeps the security settings (nothing pruned or defaulted away).
    deployment = next(o for o in items if o["kind"] == "Deployment")
    assert deployment["metadata"]["namespace"] == namespace
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert deployment["spec"]["template"]["spec"]["securityContext"]["seccompProfile"] == {
        "type": "RuntimeDefault"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_dry_run_catches_a_misspelt_field(kubectl, namespace):
    """The check above bites: strict server-side validation refuses an unknown field."""
    objects = render(namespace, IMAGE)
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    sc = deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    sc["readOnlyRootFileSystem"] = sc.pop("readOnlyRootFilesystem")
    result = dry_run(kubectl, "-f", "-", input=stream([deployment]))
    assert result.returncode != 0
    assert "readOnlyRootFileSystem" in result.stderr


@pytest.fixture
def restricted(kubectl, namespace) -> str:
    """The test's namespace, enforcing the "restricted" Pod Security Standard, with the
    controller's ServiceAccount (the ServiceAccount admission plugin wants it for a Pod)."""
    result = kubectl.run("label", "namespace", namespace, "--overwrite",
                         "pod-security.kubernetes.io/enforce=restricted",
                         "pod-security.kubernetes.io/enforce-version=latest", check=False)
    assert result.returncode == 0, result.stderr
    account = next(o for o in render(namespace, IMAGE) if o["kind"] == "ServiceAccount")
    result = kubectl.run("apply", "-f", "-", input=json.dumps(account), check=False)
    assert result.returncode == 0, result.stderr
    return namespace


def fake_base_objects() -> list[dict]:
    return [doc for path in sorted((REPO / "config" / "fake-base").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_controller_and_fake_base_pods_meet_the_restricted_standard(kubectl, restricted):
    for objects, name in ((render(restricted, IMAGE), "controller"),
                          (fake_base_objects(), "fake-base")):
        pod = pod_from_template(objects, name)
        result = dry_run(kubectl, "-n", restricted, "-f", "-", input=json.dumps(pod))
        assert result.returncode == 0, f"{name}: {result.stderr}"
        assert "violate PodSecurity" not in result.stderr, result.stderr
    # The admission check bites: the same controller pod without its securityContext is refused.
    pod = pod_from_template(render(restricted, IMAGE), "insecure")
    del pod["spec"]["containers"][0]["securityContext"]
    del pod["spec"]["securityContext"]
    result = dry_run(kubectl, "-n", restricted, "-f", "-", input=json.dumps(pod))
    assert result.returncode != 0
    assert "PodSecurity" in result.stderr


def test_fake_base_manifest_passes_server_side_dry_run(kubectl, namespace):
    result = dry_run(kubectl, "-n", namespace, "-f", str(REPO / "config" / "fake-base"))
    assert result.returncode == 0, result.stderr
    assert "deployment.apps/dynamic-stock-deployment created (server dry run)" in result.stdout
