"""The generated CRDs: structural schema, documentation, names, columns, subresources. No cluster."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import yaml
from pydantic import Field

from module_controller.api import KINDS, Module, ModuleDeployment, ModuleReplicaSet, ModuleTemplate
from module_controller.api import constants as c
from module_controller.api import crdgen
from module_controller.api.base import CrdInfo, KubeModel, KubeObject

SCHEMAS = {kind.crd.names.kind: crdgen.openapi_schema(kind) for kind in KINDS}
CRDS = {kind.crd.names.kind: crdgen.build_crd(kind) for kind in KINDS}


def walk(node: Any, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every schema node with its path (``.a.b``, ``[]`` for items, ``{}`` for map values)."""
    if not isinstance(node, dict):
        return
    yield path, node
    for name, prop in node.get("properties", {}).items():
        yield from walk(prop, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def all_keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from all_keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from all_keys(item)


@pytest.mark.parametrize("kind", SCHEMAS)
def test_schema_is_structural(kind):
    schema = SCHEMAS[kind]
    keys = set(all_keys(schema))
    for forbidden in ("$ref", "$defs", "anyOf", "allOf", "oneOf", "not", "title", "nullable", "const"):
        assert forbidden not in keys, f"{kind}: {forbidden}"
    for path, node in walk(schema):
        assert ("type" in node or node.get("x-kubernetes-int-or-string")
                or node.get("x-kubernetes-preserve-unknown-fields")), f"{kind}{path}: no type"
        if node.get("type") == "object" and "properties" in node:
            assert "additionalProperties" not in node, f"{kind}{path}"
        assert node.get("default", "unset") is not None, f"{kind}{path}: null default"
    assert schema["properties"]["metadata"] == {"type": "object"}


@pytest.mark.parametrize("kind", SCHEMAS)
def test_every_property_has_a_description(kind):
    for path, node in walk(SCHEMAS[kind]):
        if path == ".metadata":
            continue  # the API server documents ObjectMeta itself
        if path and not path.endswith(("[]", "{}")):
            assert node.get("description", "").strip(), f"{kind}{path}"
            assert "\n" not in node["description"], f"{kind}{path}: one line"
    assert SCHEMAS[kind]["description"]


def test_preserve_unknown_fields_only_on_template_metadata():
    found = {(kind, path) for kind, schema in SCHEMAS.items() for path, node in walk(schema)
             if node.get("x-kubernetes-preserve-unknown-fields")}
    assert found == {("ModuleDeployment", ".spec.template.metadata"),
                     ("ModuleReplicaSet", ".spec.template.metadata"),
                     ("ModuleTemplate", ".template.metadata")}


def test_int_or_string_fields():
    found = {(kind, path) for kind, schema in SCHEMAS.items() for path, node in walk(schema)
             if node.get("x-kubernetes-int-or-string")}
    strategy = ".spec.operationStrategy"
    assert found == {
        ("ModuleDeployment", f"{strategy}.maxUnavailable"),
        ("ModuleDeployment", f"{strategy}.serviceStrategy.targetPort"),
        ("ModuleReplicaSet", f"{strategy}.maxUnavailable"),
        ("ModuleReplicaSet", f"{strategy}.serviceStrategy.targetPort"),
    }
    for _, node in walk(SCHEMAS["ModuleDeployment"]):
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node and node["x-kubernetes-validations"]


def node_at(kind: str, path: str) -> dict:
    node = SCHEMAS[kind]
    for part in path.strip(".").split("."):
        node = node["properties"][part]
    return node


@pytest.mark.parametrize("path,key,value", [
    (".spec.replicas", "minimum", -1),
    (".spec.replicas", "default", 1),
    (".spec.operationStrategy.batchCount", "minimum", 1),
    (".spec.operationStrategy.grayTimeBetweenBatchSeconds", "minimum", 0),
    (".spec.minReadySeconds", "minimum", 0),
    (".spec.progressDeadlineSeconds", "minimum", 1),
    (".spec.progressDeadlineSeconds", "default", 600),
    (".spec.revisionHistoryLimit", "minimum", 0),
    (".spec.revisionHistoryLimit", "default", 10),
    (".spec.confirmBatchNum", "minimum", 0),
    (".spec.operationStrategy.serviceStrategy.port", "minimum", 1),
    (".spec.operationStrategy.serviceStrategy.port", "maximum", 65535),
    (".spec.operationStrategy.maxUnavailable", "default", "25%"),
    (".spec.operationStrategy.upgradePolicy", "default", "install_then_uninstall"),
    (".spec.schedulingStrategy.schedulingPolicy", "default", "scatter"),
    (".spec.operationStrategy", "default", {}),
    (".spec.template.spec.module.name", "maxLength", 55),
    (".spec.template.spec.module.version", "maxLength", 63),
    (".spec.baseDeploymentName", "maxLength", 63),
])
def test_moduledeployment_ranges_and_defaults(path, key, value):
    assert node_at("ModuleDeployment", path)[key] == value


def test_replicaset_replicas_are_not_negative():
    assert node_at("ModuleReplicaSet", ".spec.replicas")["minimum"] == 0


def test_enums_accept_both_seed_spellings():
    upgrade = node_at("ModuleDeployment", ".spec.operationStrategy.upgradePolicy")["enum"]
    assert {"install_then_uninstall", "installThenUninstall"} <= set(upgrade)
    assert len(upgrade) == 6
    scheduling = node_at("ModuleDeployment", ".spec.schedulingStrategy.schedulingPolicy")["enum"]
    assert scheduling == ["scatter", "Scatter", "stacking", "Stacking"]
    assert node_at("Module", ".spec.upgradePolicy")["enum"] == upgrade


def test_cel_rules_have_messages_and_use_the_shared_patterns():
    rules = [rule for schema in SCHEMAS.values() for _, node in walk(schema)
             for rule in node.get("x-kubernetes-validations", [])]
    assert rules and all(rule["message"] and rule["rule"] for rule in rules)
    name_rules = node_at("ModuleDeployment", ".spec.template.spec.module.name")["x-kubernetes-validations"]
    assert c.MODULE_NAME_PATTERN in name_rules[0]["rule"]
    spec_rules = node_at("ModuleDeployment", ".spec")["x-kubernetes-validations"]
    assert spec_rules[0]["rule"] == "has(self.template) != has(self.templateRef)"
    root_rules = SCHEMAS["ModuleDeployment"]["x-kubernetes-validations"]
    assert str(c.MODULE_DEPLOYMENT_NAME_MAX_LENGTH) in root_rules[0]["rule"]


def test_crd_names_scope_and_categories():
    expected = {"ModuleDeployment": ("moduledeployments", ["mddeploy"]),
                "ModuleReplicaSet": ("modulereplicasets", ["mdrs"]),
                "Module": ("modules", ["md", "mod"]),
                "ModuleTemplate": ("moduletemplates", ["mdtpl"])}
    for kind, (plural, short) in expected.items():
        crd = CRDS[kind]
        assert crd["metadata"]["name"] == f"{plural}.serverless.alipay.com"
        spec = crd["spec"]
        assert spec["group"] == "serverless.alipay.com" and spec["scope"] == "Namespaced"
        assert spec["names"]["plural"] == plural and spec["names"]["shortNames"] == short
        assert spec["names"]["categories"] == ["koupleless"]
        [version] = spec["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)


def test_subresources():
    def subresources(kind: str) -> dict:
        return CRDS[kind]["spec"]["versions"][0].get("subresources", {})

    for kind in ("ModuleDeployment", "ModuleReplicaSet", "Module", "ModuleTemplate"):
        assert subresources(kind)["status"] == {}
    assert subresources("ModuleReplicaSet")["scale"] == {
        "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
    # Deliberately no scale on ModuleDeployment: it would forbid replicas: -1 (docs/api.md).
    assert "scale" not in subresources("ModuleDeployment")
    assert "scale" not in subresources("Module")


@pytest.mark.parametrize("kind,columns", [
    ("ModuleDeployment", ["MODULE", "VERSION", "REPLICAS", "AVAILABLE", "PROGRESS", "BATCH", "AGE"]),
    ("ModuleReplicaSet", ["MODULE", "VERSION", "DESIRED", "CURRENT", "AVAILABLE", "AGE"]),
    ("Module", ["MODULE", "VERSION", "BASE-IP", "BASE-POD", "INSTALLED", "STATUS", "AGE"]),
    ("ModuleTemplate", ["MODULE", "VERSION", "AGE"]),
])
def test_printer_columns(kind, columns):
    printed = CRDS[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [col["name"] for col in printed] == columns
    assert all(col["description"] and col["jsonPath"].startswith(".") for col in printed)


def test_output_is_deterministic_yaml_of_the_crd():
    first, second = crdgen.render_all(), crdgen.render_all()
    assert first == second
    assert sorted(first) == sorted(f"serverless.alipay.com_{p}.yaml" for p in
                             ("moduledeployments", "modules", "modulereplicasets", "moduletemplates"))
    for model in (ModuleDeployment, ModuleReplicaSet, Module, ModuleTemplate):
        text = first[crdgen.file_name(model)]
        assert text.startswith("# Generated by")
        assert yaml.safe_load(text) == crdgen.build_crd(model)


def test_checker_refuses_undocumented_or_untyped_fields():
    class Undocumented(KubeModel):
        """Has a field without a description."""

        value: int = 0

    class Broken(KubeObject):
        """A kind whose spec would be undocumented."""

        crd = CrdInfo(names=c.ResourceNames("Broken", "brokens", "broken", ()), printer_columns=())
        spec: Undocumented = Field(description="spec")

    with pytest.raises(crdgen.SchemaError, match=r"\.spec\.value: no description"):
        crdgen.openapi_schema(Broken)
    with pytest.raises(crdgen.SchemaError, match="anyOf"):
        crdgen._check({"type": "object", "anyOf": [{"required": ["a"]}]}, "")
    with pytest.raises(crdgen.SchemaError, match="no type"):
        crdgen._check({"description": "x"}, "")


def _bounded(node: dict) -> bool:
    """An integer node with an OpenAPI maximum, or an int-or-string whose CEL rule bounds the
    integer from above."""
    if node.get("type") == "integer":
        return "maximum" in node
    rules = " ".join(r.get("rule", "") for r in node.get("x-kubernetes-validations") or [])
    return "self <=" in rules or "self <" in rules


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_every_numeric_spec_field_has_an_upper_bound(kind):
    """A number the API server admits cannot overflow the controller's time arithmetic or make
    it build a list of that length: every integer of a spec has a maximum."""
    unbounded = [path for path, node in walk(SCHEMAS[kind])
                 if path.startswith((".spec", ".template"))
                 and (node.get("type") == "integer" or node.get("x-kubernetes-int-or-string"))
                 and not _bounded(node)]
    assert unbounded == []


@pytest.mark.parametrize("path,maximum", [
    (".spec.operationStrategy.grayTimeBetweenBatchSeconds", c.MAX_SECONDS),
    (".spec.minReadySeconds", c.MAX_SECONDS),
    (".spec.progressDeadlineSeconds", c.MAX_SECONDS),
    (".spec.replicas", c.MAX_REPLICAS),
    (".spec.operationStrategy.batchCount", c.MAX_BATCH_COUNT),
    (".spec.confirmBatchNum", c.MAX_BATCH_COUNT),
    (".spec.revisionHistoryLimit", c.MAX_REVISION_HISTORY_LIMIT),
])
def test_moduledeployment_maxima(path, maximum):
    node = dict(walk(SCHEMAS["ModuleDeployment"]))[path]
    assert node["maximum"] == maximum
