"""The CRDs on a real API server, used through kubectl as a user would: samples, validation
errors, explain, columns, categories, scale and status subresources."""

from __future__ import annotations

import json
import uuid

import pytest
import yaml

from api_cases import INVALID, SAMPLES, VALID_EDGES, Case, valid
from kubectl_output import sections, table
from module_controller.api import KINDS, crdgen
from module_controller.api import constants as c

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def table_namespace(kubectl):
    """One namespace for the validation tables: rejected objects never exist, so they can share."""
    with kubectl.temporary_namespace("t-api") as name:
        yield name


def sample(name: str) -> dict:
    return yaml.safe_load((SAMPLES / name).read_text())


# --- the CRDs themselves -------------------------------------------------------------------------

@pytest.mark.parametrize("model", KINDS, ids=lambda m: m.crd.names.kind)
def test_cluster_serves_the_generated_crds(kubectl, model):
    expected = crdgen.build_crd(model)
    crd = kubectl.get_json("crd", expected["metadata"]["name"])
    conditions = {cond["type"]: cond["status"] for cond in crd["status"]["conditions"]}
    assert conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"
    served = crd["spec"]["versions"][0]
    assert served["schema"] == expected["spec"]["versions"][0]["schema"]
    assert served.get("subresources") == expected["spec"]["versions"][0].get("subresources")


# --- samples ---------------------------------------------------------------------------------------

def test_every_sample_is_accepted_by_kubectl_apply(kubectl, namespace):
    result = kubectl.run("apply", "-n", namespace, "-f", str(SAMPLES))
    expected = set()
    for path in sorted(SAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            expected.add((doc["kind"].lower(), doc["metadata"]["name"]))
    for kind, name in expected:
        assert f"{kind}" in result.stdout and f"/{name} " in result.stdout, (kind, name, result.stdout)
        kubectl.run("get", "-n", namespace, kind, name)  # it exists
    assert "Warning" not in result.stderr, result.stderr


def test_seed_sample_is_stored_as_written_with_defaults_filled_in(kubectl, namespace):
    kubectl.run("apply", "-n", namespace, "-f", str(SAMPLES / "seed003_moduledeployment.yaml"))
    spec = kubectl.get_json("-n", namespace, "mddeploy", "moduledeployment-sample")["spec"]
    strategy = spec["operationStrategy"]
    assert strategy["upgradePolicy"] == "installThenUninstall"  # not normalised by the server
    assert spec["schedulingStrategy"]["schedulingPolicy"] == "Scatter"
    assert (strategy["batchCount"], strategy["needConfirm"], strategy["useBeta"]) == (2, True, False)
    # Server-side defaults, as for a Deployment.
    assert strategy["maxUnavailable"] == "25%" and strategy["grayTimeBetweenBatchSeconds"] == 0
    assert (spec["pause"], spec["confirmBatchNum"], spec["progressDeadlineSeconds"],
            spec["revisionHistoryLimit"], spec["minReadySeconds"]) == (False, 0, 600, 10, 0)


def test_peer_mode_keeps_replicas_minus_one(kubectl, namespace):
    kubectl.run("apply", "-n", namespace, "-f", str(SAMPLES / "moduledeployment_peer.yaml"))
    got = kubectl.get_json("-n", namespace, "mddeploy", "provider-peer")
    assert got["spec"]["replicas"] == -1


# --- validation --------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", INVALID, ids=lambda case: case.id)
def test_api_server_rejects_invalid_object_naming_the_field(kubectl, table_namespace, case: Case):
    result = kubectl.apply(case.build(), table_namespace, check=False)
    assert result.returncode != 0, f"accepted: {result.stdout}"
    error = result.stderr
    assert "is invalid" in error or "Error from server" in error, error
    assert case.field in error, f"error does not name {case.field}:\n{error}"
    for text in case.expect:
        assert text in error, f"error does not say {text!r}:\n{error}"


@pytest.mark.parametrize("case", VALID_EDGES, ids=lambda case: case.id)
def test_api_server_accepts_edge_values(kubectl, table_namespace, case: Case):
    result = kubectl.apply(case.build(), table_namespace, "--dry-run=server", check=False)
    assert result.returncode == 0, result.stderr


def test_rules_apply_on_update_too(kubectl, namespace):
    obj = valid("ModuleDeployment")
    kubectl.apply(obj, namespace)
    patch = {"spec": {"template": {"spec": {"module": {"url": "ftp://elsewhere/p.jar"}}}}}
    result = kubectl.run("patch", "-n", namespace, "mddeploy", obj["metadata"]["name"],
                         "--type=merge", "-p", json.dumps(patch), check=False)
    assert result.returncode != 0 and "spec.template.spec.module.url" in result.stderr


# --- scale --------------------------------------------------------------------------------------------

def test_kubectl_scale_changes_replicaset_spec_replicas(kubectl, namespace):
    kubectl.run("apply", "-n", namespace, "-f", str(SAMPLES / "modulereplicaset.yaml"))
    kubectl.run("scale", "-n", namespace, "mdrs", "provider-standalone", "--replicas=3")
    got = kubectl.get_json("-n", namespace, "mdrs", "provider-standalone")
    assert got["spec"]["replicas"] == 3
    kubectl.run("patch", "-n", namespace, "mdrs", "provider-standalone", "--subresource=status",
                "--type=merge", "-p", json.dumps({"status": {"replicas": 2}}))
    scale = json.loads(kubectl.run(
        "get", "--raw", f"/apis/{c.API_VERSION}/namespaces/{namespace}/modulereplicasets/"
        "provider-standalone/scale").stdout)
    assert (scale["spec"]["replicas"], scale["status"]["replicas"]) == (3, 2)


def test_why_moduledeployment_has_no_scale_subresource(kubectl, namespace):
    """With a scale subresource on .spec.replicas the API server refuses every negative value, so
    peer mode (replicas: -1) could not exist. A throw-away CRD shows it; ours accepts -1."""
    group = f"probe-{uuid.uuid4().hex[:8]}.example.com"
    probe = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"scaleprobes.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"kind": "ScaleProbe", "plural": "scaleprobes", "singular": "scaleprobe"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "subresources": {"scale": {"specReplicasPath": ".spec.replicas",
                                                          "statusReplicasPath": ".status.replicas"}},
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "properties": {
                                       "replicas": {"type": "integer", "minimum": -1}}},
                                   "status": {"type": "object", "properties": {
                                       "replicas": {"type": "integer"}}}}}}}]},
    }
    kubectl.run("apply", "-f", "-", input=json.dumps(probe))
    try:
        kubectl.run("wait", "--for=condition=Established", f"crd/scaleprobes.{group}",
                    "--timeout=30s", timeout=40)
        obj = {"apiVersion": f"{group}/v1", "kind": "ScaleProbe", "metadata": {"name": "p"},
               "spec": {"replicas": -1}}
        # Discovery can lag Established by a moment: poll until the kind is known.
        result = kubectl.poll(
            ["create", "-n", namespace, "-f", "-"],
            lambda r: "no matches for kind" not in r.stderr
            and "doesn't have a resource type" not in r.stderr,
            input=json.dumps(obj), what="the probe kind to be served")
        assert result.returncode != 0
        assert "should be a non-negative integer" in result.stderr, result.stderr
    finally:
        kubectl.run("delete", "crd", f"scaleprobes.{group}", "--wait=false", check=False)
    peer = valid("ModuleDeployment")
    peer["spec"]["replicas"] = -1
    assert kubectl.apply(peer, namespace, check=False).returncode == 0
    # The price: `kubectl scale mddeploy` is not available; `kubectl patch` sets spec.replicas.
    name = peer["metadata"]["name"]
    assert kubectl.run("scale", "-n", namespace, "mddeploy", name, "--replicas=3",
                       check=False).returncode != 0
    kubectl.run("patch", "-n", namespace, "mddeploy", name, "--type=merge",
                "-p", '{"spec":{"replicas":3}}')
    assert kubectl.get_json("-n", namespace, "mddeploy", name)["spec"]["replicas"] == 3


# --- explain, columns, categories, status ------------------------------------------------------

@pytest.mark.parametrize("path,texts", [
    ("moduledeployment.spec.operationStrategy",
     ["batchCount", "Number of groups", "upgradePolicy", "install_then_uninstall",
      "maxUnavailable", "grayTimeBetweenBatchSeconds", "serviceStrategy"]),
    ("mddeploy.spec.template.spec.module.name", ["DNS-1035", "55"]),
    ("mddeploy.spec.replicas", ["peer mode"]),
    ("modulereplicaset.spec.selector", ["matchLabels", "base pods"]),
    ("module.status.status", ["Pending", "Available"]),
    ("moduletemplate.template.spec.module.url", ["http://"]),
])
def test_kubectl_explain_prints_descriptions(kubectl, path, texts):
    result = kubectl.poll(["explain", path], lambda r: r.returncode == 0,
                          what=f"kubectl explain {path}")
    for text in texts:
        assert text in result.stdout, f"{text!r} not in:\n{result.stdout}"


def test_kubectl_get_prints_the_columns(kubectl, namespace):
    for name in ("moduledeployment_basic.yaml", "modulereplicaset.yaml", "module.yaml",
                 "moduletemplate.yaml"):
        kubectl.run("apply", "-n", namespace, "-f", str(SAMPLES / name))
    status = {"status": {"availableReplicas": 1, "replicas": 2, "version": "1.0.2", "releaseStatus": {
        "progress": "Executing", "currentBatch": 1, "realBatchCount": 2, "batchProgress": "1/2"}}}
    kubectl.run("patch", "-n", namespace, "mddeploy", "provider-basic", "--subresource=status",
                "--type=merge", "-p", json.dumps(status))
    kubectl.run("label", "-n", namespace, "module", "provider-manual",
                f"{c.LABEL_BASE_INSTANCE_IP}=10.1.2.3", f"{c.LABEL_BASE_INSTANCE_NAME}=base-pod-0")
    kubectl.run("patch", "-n", namespace, "module", "provider-manual", "--subresource=status",
                "--type=merge", "-p", json.dumps({"status": {"status": "Available"}}))

    out = kubectl.run("get", "-n", namespace, "mddeploy,mdrs,md,mdtpl").stdout
    md_table, mrs_table, module_table, tpl_table = (table(s) for s in sections(out))
    assert list(md_table[0]) == ["NAME", "MODULE", "VERSION", "REPLICAS", "AVAILABLE",
                                 "PROGRESS", "BATCH", "AGE"]
    row = md_table[0]
    assert (row["MODULE"], row["VERSION"], row["REPLICAS"], row["AVAILABLE"], row["PROGRESS"],
            row["BATCH"]) == ("provider", "1.0.2", "2", "1", "Executing", "1/2")
    assert list(mrs_table[0]) == ["NAME", "MODULE", "VERSION", "DESIRED", "CURRENT", "AVAILABLE",
                                  "AGE"]
    assert mrs_table[0]["DESIRED"] == "2"
    assert list(module_table[0]) == ["NAME", "MODULE", "VERSION", "BASE-IP", "BASE-POD",
                                     "INSTALLED", "STATUS", "AGE"]
    row = module_table[0]
    assert (row["BASE-IP"], row["BASE-POD"], row["STATUS"]) == ("10.1.2.3", "base-pod-0", "Available")
    assert list(tpl_table[0]) == ["NAME", "MODULE", "VERSION", "AGE"]
    assert tpl_table[0]["MODULE"] == "provider"

    # The user workflow of the manual (behaviour §0).
    out = kubectl.run("get", "-n", namespace, "module", "-l", f"{c.LABEL_BASE_INSTANCE_IP}=10.1.2.3",
                      "-o", "custom-columns=NAME:.metadata.name,STATUS:.status.status").stdout
    assert table(out) == [{"NAME": "provider-manual", "STATUS": "Available"}]


def test_status_is_a_subresource(kubectl, namespace):
    kubectl.run("apply", "-n", namespace, "-f", str(SAMPLES / "moduledeployment_basic.yaml"))
    # Through the main resource, status is ignored ...
    kubectl.run("patch", "-n", namespace, "mddeploy", "provider-basic", "--type=merge",
                "-p", json.dumps({"status": {"availableReplicas": 5}}))
    assert "status" not in kubectl.get_json("-n", namespace, "mddeploy", "provider-basic")
    # ... and through /status, spec is.
    kubectl.run("patch", "-n", namespace, "mddeploy", "provider-basic", "--subresource=status",
                "--type=merge", "-p", json.dumps({"spec": {"replicas": 9},
                                                  "status": {"availableReplicas": 5}}))
    got = kubectl.get_json("-n", namespace, "mddeploy", "provider-basic")
    assert (got["spec"]["replicas"], got["status"]["availableReplicas"]) == (2, 5)
    # The controller's status writes are validated too (phase enum).
    bad = kubectl.run("patch", "-n", namespace, "mddeploy", "provider-basic", "--subresource=status",
                      "--type=merge", "-p", json.dumps({"status": {"releaseStatus": {
                          "progress": "Dancing"}}}), check=False)
    assert bad.returncode != 0 and "status.releaseStatus.progress" in bad.stderr


def test_kubectl_get_koupleless_lists_all_four_kinds(kubectl, namespace):
    for name in ("moduledeployment_basic.yaml", "modulereplicaset.yaml", "module.yaml",
                 "moduletemplate.yaml"):
        kubectl.run("apply", "-n", namespace, "-f", str(SAMPLES / name))
    out = kubectl.run("get", "-n", namespace, "koupleless", "-o", "name").stdout.split()
    assert sorted(out) == sorted([
        "moduledeployment.serverless.alipay.com/provider-basic",
        "modulereplicaset.serverless.alipay.com/provider-standalone",
        "module.serverless.alipay.com/provider-manual",
        "moduletemplate.serverless.alipay.com/provider-template",
    ])
    for short in ("mddeploy", "mdrs", "md", "mod", "mdtpl"):
        assert kubectl.run("get", "-n", namespace, short, "-o", "name").stdout.strip()
