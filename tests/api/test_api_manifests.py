"""Static checks of rbac/ and config/samples/ (no cluster): least privilege, a reason for every
rule, a namespace that can be changed in one place, samples that name the shared base."""

from __future__ import annotations

import yaml

from api_cases import RBAC, SAMPLES

DEFAULT_NAMESPACE = "module-controller-system"


def rbac_docs():
    for path in sorted(RBAC.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path, doc


def test_every_rule_has_a_comment_above_it():
    rules = 0
    for path in sorted(RBAC.rglob("*.yaml")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.startswith("- apiGroups:"):
                rules += 1
                assert lines[i - 1].lstrip().startswith("#"), f"{path}:{i + 1}: say why"
    assert rules >= 10


def test_least_privilege():
    for path, doc in rbac_docs():
        for rule in doc.get("rules", []):
            for key in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[key], f"{path}: wildcard in {key}"
            assert not {"secrets", "configmaps"} & set(rule["resources"]), path
            assert "escalate" not in rule["verbs"] and "bind" not in rule["verbs"], path
            if "pods" in rule["resources"] or "deployments" in rule["resources"]:
                assert "create" not in rule["verbs"] and "update" not in rule["verbs"], path


def test_variants_and_their_namespace():
    for variant in ("cluster", "namespaced"):
        kustomization = yaml.safe_load((RBAC / variant / "kustomization.yaml").read_text())
        assert kustomization["namespace"] == DEFAULT_NAMESPACE
        assert "../base" in kustomization["resources"]
    kinds = {(path.parent.name, doc["kind"]) for path, doc in rbac_docs()}
    assert ("base", "ServiceAccount") in kinds
    assert {("cluster", "ClusterRole"), ("cluster", "ClusterRoleBinding"),
            ("cluster", "Role"), ("cluster", "RoleBinding")} <= kinds
    assert {("namespaced", "Role"), ("namespaced", "RoleBinding")} <= kinds
    for path, doc in rbac_docs():
        for subject in doc.get("subjects", []):
            assert subject == {"kind": "ServiceAccount", "name": "module-controller",
                               "namespace": DEFAULT_NAMESPACE}, path
    # The namespaced variant grants nothing cluster-wide (kopf's scanning is off).
    assert not {kind for variant, kind in kinds if variant == "namespaced"} & {
        "ClusterRole", "ClusterRoleBinding"}


def test_samples_use_the_current_namespace_and_the_shared_base():
    for path in sorted(SAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert "namespace" not in doc["metadata"], path
            spec = doc.get("spec", {})
            if doc["kind"] == "ModuleDeployment":
                assert spec["baseDeploymentName"] == "dynamic-stock-deployment", path
            if doc["kind"] in ("ModuleReplicaSet", "Module"):
                assert spec["selector"] == {"matchLabels": {"app": "dynamic-stock"}}, path
