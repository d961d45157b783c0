"""Shared test data: valid objects of each kind, and a table of invalid ones.

The same table drives two tests: the API server must reject each object (kubectl apply, with an
error naming the field), and the pydantic models must reject it too (same field in the error's
location). That is how the CRD's validation and the models' validation are kept consistent.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from module_controller.api import constants as c

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "config" / "samples"
CRDS = REPO / "crds"
RBAC = REPO / "rbac"

URL = "http://repo.example.com/modules/provider-1.0.2-ark-biz.jar"
MODULE = {"name": "provider", "version": "1.0.2", "url": URL}


def valid(kind: str) -> dict[str, Any]:
    """A minimal valid object of ``kind`` (a fresh copy each call)."""
    meta = {"name": f"valid-{kind.lower()}"}
    head = {"apiVersion": c.API_VERSION, "kind": kind, "metadata": meta}
    if kind == "ModuleDeployment":
        body = {"spec": {"baseDeploymentName": "dynamic-stock-deployment",
                         "template": {"spec": {"module": dict(MODULE)}}}}
    elif kind == "ModuleReplicaSet":
        body = {"spec": {"selector": {"matchLabels": {"app": "dynamic-stock"}}, "replicas": 1,
                         "template": {"spec": {"module": dict(MODULE)}}}}
    elif kind == "Module":
        body = {"spec": {"selector": {"matchLabels": {"app": "dynamic-stock"}},
                         "module": dict(MODULE)}}
    elif kind == "ModuleTemplate":
        body = {"template": {"spec": {"module": dict(MODULE)}}}
    else:
        raise ValueError(kind)
    return copy.deepcopy({**head, **body})


DELETE = object()  # a change that removes the field


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set (or with DELETE remove) the dotted ``path`` in ``obj``, creating dicts on the way."""
    *parents, last = path.split(".")
    node = obj
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value


@dataclass(frozen=True)
class Case:
    """``kind``'s valid object with ``changes`` applied; for an invalid case, ``field`` is where
    the error must be reported."""

    id: str
    kind: str
    changes: dict[str, Any]
    field: str = ""                   # the field path the error must name
    expect: tuple[str, ...] = ()      # further text the server's error must contain
    pydantic: bool = True             # False: only the server can judge (e.g. unknown fields)

    def build(self) -> dict[str, Any]:
        obj = valid(self.kind)
        obj["metadata"]["name"] = re.sub("[^a-z0-9-]", "-", f"case-{self.id}".lower())[:40].strip("-")
        for path, value in self.changes.items():
            set_path(obj, path, value)
        return obj


MD, MRS, MOD, TPL = "ModuleDeployment", "ModuleReplicaSet", "Module", "ModuleTemplate"
OS = "spec.operationStrategy"
SVC = OS + ".serviceStrategy"
MDM = "spec.template.spec.module"


Invalid = Case


def _md_module(key: str, value: Any, case_id: str, *expect: str) -> Invalid:
    return Invalid(case_id, MD, {f"{MDM}.{key}": value}, f"{MDM}.{key}", expect)


def _service(case_id: str, port: Any, target: Any, field_name: str, *expect: str) -> Invalid:
    strategy = {"enableModuleService": True, "port": port}
    if target is not None:
        strategy["targetPort"] = target
    return Invalid(case_id, MD, {SVC: strategy}, f"{SVC}.{field_name}", expect)


INVALID: list[Invalid] = [
    # --- ranges (OpenAPI minimum/maximum)
    Invalid("batchcount-negative", MD, {f"{OS}.batchCount": -1}, f"{OS}.batchCount"),
    Invalid("batchcount-zero", MD, {f"{OS}.batchCount": 0}, f"{OS}.batchCount"),
    Invalid("replicas-minus-two", MD, {"spec.replicas": -2}, "spec.replicas"),
    Invalid("replicas-not-a-number", MD, {"spec.replicas": "two"}, "spec.replicas"),
    Invalid("graytime-negative", MD, {f"{OS}.grayTimeBetweenBatchSeconds": -1},
            f"{OS}.grayTimeBetweenBatchSeconds"),
    Invalid("minready-negative", MD, {"spec.minReadySeconds": -1}, "spec.minReadySeconds"),
    Invalid("progressdeadline-zero", MD, {"spec.progressDeadlineSeconds": 0},
            "spec.progressDeadlineSeconds"),
    Invalid("revisionhistory-negative", MD, {"spec.revisionHistoryLimit": -1},
            "spec.revisionHistoryLimit"),
    Invalid("confirmbatchnum-negative", MD, {"spec.confirmBatchNum": -1}, "spec.confirmBatchNum"),
    # Upper bounds: a value the schema admits must not overflow the controller's time arithmetic
    # (1e12 s of gray time once made every reconcile raise OverflowError) nor size its lists.
    Invalid("graytime-1e12", MD, {f"{OS}.grayTimeBetweenBatchSeconds": 10**12},
            f"{OS}.grayTimeBetweenBatchSeconds"),
    Invalid("graytime-over-int32", MD, {f"{OS}.grayTimeBetweenBatchSeconds": c.MAX_SECONDS + 1},
            f"{OS}.grayTimeBetweenBatchSeconds"),
    Invalid("minready-over-int32", MD, {"spec.minReadySeconds": c.MAX_SECONDS + 1},
            "spec.minReadySeconds"),
    Invalid("progressdeadline-over-int32", MD, {"spec.progressDeadlineSeconds": c.MAX_SECONDS + 1},
            "spec.progressDeadlineSeconds"),
    Invalid("replicas-over-max", MD, {"spec.replicas": c.MAX_REPLICAS + 1}, "spec.replicas"),
    Invalid("batchcount-over-max", MD, {f"{OS}.batchCount": c.MAX_BATCH_COUNT + 1},
            f"{OS}.batchCount"),
    Invalid("confirmbatchnum-over-max", MD, {"spec.confirmBatchNum": c.MAX_BATCH_COUNT + 1},
            "spec.confirmBatchNum"),
    Invalid("revisionhistory-over-max", MD,
            {"spec.revisionHistoryLimit": c.MAX_REVISION_HISTORY_LIMIT + 1},
            "spec.revisionHistoryLimit"),
    Invalid("maxunavailable-over-max", MD, {f"{OS}.maxUnavailable": c.MAX_REPLICAS + 1},
            f"{OS}.maxUnavailable"),
    Invalid("mrs-replicas-over-max", MRS, {"spec.replicas": c.MAX_REPLICAS + 1}, "spec.replicas"),
    Invalid("mrs-minready-over-int32", MRS, {"spec.minReadySeconds": c.MAX_SECONDS + 1},
            "spec.minReadySeconds"),
    Invalid("mrs-graytime-1e12", MRS, {f"{OS}.grayTimeBetweenBatchSeconds": 10**12},
            f"{OS}.grayTimeBetweenBatchSeconds"),
    # --- module url
    Invalid("url-missing", MD, {f"{MDM}.url": DELETE}, f"{MDM}.url", ("Required",)),
    _md_module("url", "ftp://repo.example.com/provider.jar", "url-ftp", "http://"),
    _md_module("url", "repo.example.com/provider.jar", "url-no-scheme", "http://"),
    _md_module("url", "http://repo.example.com/my provider.jar", "url-space", "no whitespace"),
    _md_module("url", "HTTP://repo.example.com/provider.jar", "url-upper-scheme", "http://"),
    _md_module("url", "http://repo.example.com/\tprovider.jar", "url-tab", "no whitespace"),
    # Whitespace that \t\n\f\r and space do not cover: invisible in kubectl output.
    _md_module("url", "http://repo.example.com/\vprovider.jar", "url-vertical-tab", "no whitespace"),
    _md_module("url", "http://repo.example.com/my\u00a0provider.jar", "url-nbsp", "no whitespace"),
    _md_module("url", "http://repo.example.com/my\u2003provider.jar", "url-em-space",
               "no whitespace"),
    _md_module("url", "http://repo.example.com/my\u3000provider.jar", "url-ideographic-space",
               "no whitespace"),
    _md_module("url", "http://repo.example.com/\u0085provider.jar", "url-next-line",
               "no whitespace"),
    _md_module("url", "http://repo.example.com/\x7fprovider.jar", "url-delete",
               "control characters"),
    _md_module("url", "http://repo.example.com/provider.jar\u2028", "url-line-separator",
               "no whitespace"),
    # Format and bidirectional controls: the url reads as another than the one downloaded.
    _md_module("url", "http://repo.example.com/provider\u202ejar.exe", "url-right-to-left-override",
               "bidirectional"),
    _md_module("url", "http://repo\u200b.example.com/provider.jar", "url-zero-width-space",
               "bidirectional"),
    _md_module("url", "http://repo.example.com/pro\u00advider.jar", "url-soft-hyphen",
               "bidirectional"),
    _md_module("url", "http://repo.example.com/\u2066provider.jar", "url-left-to-right-isolate",
               "bidirectional"),
    _md_module("url", "http://repo.example.com/provider.jar\U000e0041", "url-tag-character",
               "bidirectional"),
    # --- module name: DNS-1035 label of at most 55 characters
    _md_module("name", "Provider", "name-upper-case", "DNS-1035"),
    _md_module("name", "my_provider", "name-underscore", "DNS-1035"),
    _md_module("name", "p" * 70, "name-70-chars", "55"),
    _md_module("name", "p" * 56, "name-56-chars", "55"),
    _md_module("name", "1provider", "name-leading-digit", "DNS-1035"),
    _md_module("name", "provider-", "name-trailing-dash", "DNS-1035"),
    _md_module("name", "", "name-empty"),
    Invalid("name-missing", MD, {f"{MDM}.name": DELETE}, f"{MDM}.name", ("Required",)),
    # --- module version: a label value
    _md_module("version", "1.0 2", "version-space", "label value"),
    _md_module("version", "", "version-empty"),
    _md_module("version", "1" * 64, "version-64-chars", "63"),
    _md_module("version", ".1.0", "version-leading-dot", "label value"),
    _md_module("version", "1.0.0+build", "version-plus", "label value"),
    _md_module("md5", "not-a-checksum", "md5-not-hex", "32 hexadecimal"),
    # --- enums
    Invalid("scheduling-unknown", MD, {"spec.schedulingStrategy.schedulingPolicy": "random"},
            "spec.schedulingStrategy.schedulingPolicy", ("Unsupported value",)),
    Invalid("upgrade-unknown", MD, {f"{OS}.upgradePolicy": "rolling"}, f"{OS}.upgradePolicy",
            ("Unsupported value",)),
    Invalid("upgrade-pascal-case", MD, {f"{OS}.upgradePolicy": "InstallThenUninstall"},
            f"{OS}.upgradePolicy", ("Unsupported value",)),
    # --- template / templateRef: exactly one
    Invalid("template-and-ref", MD, {"spec.templateRef": {"name": "provider-template"}}, "spec",
            ("exactly one of spec.template and spec.templateRef",)),
    Invalid("neither-template-nor-ref", MD, {"spec.template": DELETE}, "spec",
            ("exactly one of spec.template and spec.templateRef",)),
    Invalid("templateref-bad-name", MD,
            {"spec.template": DELETE, "spec.templateRef": {"name": "Provider_Template"}},
            "spec.templateRef.name", ("DNS-1123 subdomain",)),
    # --- base Deployment name: DNS-1123 subdomain, <= 63 (a label value)
    Invalid("base-bad-chars", MD, {"spec.baseDeploymentName": "Dynamic_Stock"},
            "spec.baseDeploymentName", ("DNS-1123 subdomain",)),
    Invalid("base-leading-dot", MD, {"spec.baseDeploymentName": ".stock"},
            "spec.baseDeploymentName", ("DNS-1123 subdomain",)),
    Invalid("base-64-chars", MD, {"spec.baseDeploymentName": "d" * 64},
            "spec.baseDeploymentName", ("63",)),
    Invalid("base-missing", MD, {"spec.baseDeploymentName": DELETE}, "spec.baseDeploymentName",
            ("Required",)),
    # --- maxUnavailable: int >= 0 or 0%-100%
    Invalid("maxunavailable-150-percent", MD, {f"{OS}.maxUnavailable": "150%"},
            f"{OS}.maxUnavailable", ("0% to 100%",)),
    Invalid("maxunavailable-negative", MD, {f"{OS}.maxUnavailable": -1},
            f"{OS}.maxUnavailable", ("0% to 100%",)),
    Invalid("maxunavailable-word", MD, {f"{OS}.maxUnavailable": "half"},
            f"{OS}.maxUnavailable", ("0% to 100%",)),
    Invalid("maxunavailable-fraction", MD, {f"{OS}.maxUnavailable": "12.5%"},
            f"{OS}.maxUnavailable", ("0% to 100%",)),
    # --- module Service
    _service("port-70000", 70000, None, "port"),
    _service("port-zero", 0, None, "port"),
    _service("targetport-70000", 8080, 70000, "targetPort", "IANA"),
    _service("targetport-underscore", 8080, "http_port", "targetPort", "IANA"),
    _service("targetport-double-dash", 8080, "web--port", "targetPort", "IANA"),
    _service("targetport-digit-string", 8080, "8080", "targetPort", "IANA"),
    _service("targetport-16-chars", 8080, "a" * 16, "targetPort", "IANA"),
    Invalid("service-without-port", MD, {SVC: {"enableModuleService": True}}, f"{SVC}.port",
            ("required when serviceStrategy.enableModuleService is true",)),
    # --- object names that end up in label values
    Invalid("md-name-48-chars", MD, {"metadata.name": "m" * 48}, "metadata.name", ("47",)),
    Invalid("mrs-name-64-chars", MRS, {"metadata.name": "r" * 64}, "metadata.name", ("63",)),
    # --- strict decoding: a typo is an error, not silently pruned (server only: the models
    # ignore unknown fields so that they can read objects written by newer controllers)
    Invalid("unknown-field", MD, {f"{OS}.batchcount": 2}, f"{OS}.batchcount",
            ("unknown field",), pydantic=False),
    # --- ModuleReplicaSet
    Invalid("mrs-replicas-negative", MRS, {"spec.replicas": -1}, "spec.replicas"),
    Invalid("mrs-selector-missing", MRS, {"spec.selector": DELETE}, "spec.selector",
            ("Required",)),
    Invalid("mrs-selector-empty", MRS, {"spec.selector": {}}, "spec.selector",
            ("empty selector",)),
    # Only negative requirements: matches every pod that lacks the key.
    Invalid("mrs-selector-does-not-exist", MRS, {"spec.selector": {"matchExpressions": [
        {"key": "nobody-sets-this", "operator": "DoesNotExist"}]}}, "spec.selector",
            ("empty selector", "DoesNotExist")),
    Invalid("module-selector-not-in", MOD, {"spec.selector": {"matchExpressions": [
        {"key": "app", "operator": "NotIn", "values": ["x"]},
        {"key": "tier", "operator": "DoesNotExist"}]}}, "spec.selector",
            ("empty selector",)),
    Invalid("mrs-template-missing", MRS, {"spec.template": DELETE}, "spec.template",
            ("Required",)),
    Invalid("mrs-scheduling-unknown", MRS, {"spec.schedulingStrategy.schedulingPolicy": "SCATTER"},
            "spec.schedulingStrategy.schedulingPolicy", ("Unsupported value",)),
    # --- Module
    Invalid("module-module-missing", MOD, {"spec.module": DELETE}, "spec.module", ("Required",)),
    Invalid("module-upgrade-unknown", MOD, {"spec.upgradePolicy": "replace"},
            "spec.upgradePolicy", ("Unsupported value",)),
    Invalid("module-version-space", MOD, {"spec.module.version": "1 0"}, "spec.module.version",
            ("label value",)),
    Invalid("module-selector-operator", MOD,
            {"spec.selector": {"matchExpressions": [{"key": "app", "operator": "Equals"}]}},
            "spec.selector.matchExpressions[0].operator", ("Unsupported value",)),
    # --- ModuleTemplate
    Invalid("template-version-bad", TPL, {"template.spec.module.version": "v 1"},
            "template.spec.module.version", ("label value",)),
    Invalid("template-url-ftp", TPL, {"template.spec.module.url": "ftp://x/provider.jar"},
            "template.spec.module.url", ("http://",)),
    Invalid("template-missing", TPL, {"template": DELETE}, "template", ("Required",)),
    # --- template labels and annotations: copied onto every Module, so checked at apply
    Invalid("template-label-key-space", MD, {"spec.template.metadata.labels": {"bad key!": "x"}},
            "spec.template.metadata.labels", ("qualified name",)),
    Invalid("template-label-value-100", MD, {"spec.template.metadata.labels": {"team": "v" * 100}},
            "spec.template.metadata.labels.team"),
    Invalid("template-label-value-space", MRS, {"spec.template.metadata.labels": {"team": "a b"}},
            "spec.template.metadata.labels.team"),
    Invalid("template-annotation-key-slashes", TPL,
            {"template.metadata.annotations": {"a/b/c": "x"}}, "template.metadata.annotations",
            ("qualified name",)),
]


#: Values at the edge of each rule that both the CRD and the models must accept.
VALID_EDGES: list[Case] = [
    Case("template-labels-qualified", MD, {"spec.template.metadata.labels": {
        "example.com/team": "a_b.c-1", "x" * 63: "", "app": "v" * 63}}),
    Case("name-55-chars", MD, {f"{MDM}.name": "p" * 55}),
    Case("name-one-letter", MD, {f"{MDM}.name": "p"}),
    Case("name-with-digits-and-dashes", MD, {f"{MDM}.name": "dynamic-provider-2"}),
    Case("version-63-chars", MD, {f"{MDM}.version": "1" * 63}),
    Case("version-snapshot", MD, {f"{MDM}.version": "2.0.0-SNAPSHOT"}),
    Case("version-underscore", MD, {f"{MDM}.version": "1_0_2"}),
    Case("version-single-char", MD, {f"{MDM}.version": "1"}),
    Case("url-https-query", MD, {f"{MDM}.url": "https://oss.example.com/p.jar?Expires=1&Sig=a%2F"}),
    Case("url-non-ascii-path", MD, {f"{MDM}.url": "http://repo.example.com/m\u00f6dule.jar"}),
    Case("url-file", MD, {f"{MDM}.url": "file:///opt/modules/provider-1.0.2-ark-biz.jar"}),
    Case("md5-upper-hex", MD, {f"{MDM}.md5": "D41D8CD98F00B204E9800998ECF8427E", f"{MDM}.type": "jar"}),
    Case("replicas-peer", MD, {"spec.replicas": -1}),
    Case("replicas-zero", MD, {"spec.replicas": 0}),
    Case("maxunavailable-0-percent", MD, {f"{OS}.maxUnavailable": "0%"}),
    Case("maxunavailable-100-percent", MD, {f"{OS}.maxUnavailable": "100%"}),
    Case("maxunavailable-int", MD, {f"{OS}.maxUnavailable": 0}),
    Case("service-named-target", MD, {SVC: {"enableModuleService": True, "port": 65535,
                                            "targetPort": "http"}}),
    # 0 is "not set" (upstream's Go defaulting stores it; like a Service, it means the port)
    Case("service-target-zero", MD, {SVC: {"enableModuleService": True, "port": 80,
                                           "targetPort": 0}}),
    Case("service-target-max", MD, {SVC: {"enableModuleService": True, "port": 1,
                                          "targetPort": 65535}}),
    Case("service-target-15-chars", MD, {SVC: {"enableModuleService": True, "port": 80,
                                               "targetPort": "web-8080-abcdef"}}),
    Case("service-disabled-no-port", MD, {SVC: {"enableModuleService": False}}),
    Case("template-ref-only", MD, {"spec.template": DELETE,
                                   "spec.templateRef": {"name": "provider.template-1"}}),
    Case("base-subdomain", MD, {"spec.baseDeploymentName": "stock.base-1"}),
    Case("base-63-chars", MD, {"spec.baseDeploymentName": "d" * 63}),
    Case("md-name-47-chars", MD, {"metadata.name": "m" * 47}),
    Case("all-zero-ranges", MD, {f"{OS}.grayTimeBetweenBatchSeconds": 0, "spec.minReadySeconds": 0,
                                 "spec.revisionHistoryLimit": 0, "spec.confirmBatchNum": 0,
                                 "spec.progressDeadlineSeconds": 1, f"{OS}.batchCount": 1}),
    Case("all-max-ranges", MD, {f"{OS}.grayTimeBetweenBatchSeconds": c.MAX_SECONDS,
                                "spec.minReadySeconds": c.MAX_SECONDS,
                                "spec.progressDeadlineSeconds": c.MAX_SECONDS,
                                "spec.revisionHistoryLimit": c.MAX_REVISION_HISTORY_LIMIT,
                                "spec.confirmBatchNum": c.MAX_BATCH_COUNT,
                                "spec.replicas": c.MAX_REPLICAS,
                                f"{OS}.batchCount": c.MAX_BATCH_COUNT,
                                f"{OS}.maxUnavailable": c.MAX_REPLICAS}),
    *[Case(f"upgrade-{p}", MD, {f"{OS}.upgradePolicy": p}) for p in (
        "install_then_uninstall", "installThenUninstall", "uninstall_then_install",
        "uninstallThenInstall", "scaleup_then_scaledown", "scaleupThenScaledown")],
    *[Case(f"scheduling-{p}", MD, {"spec.schedulingStrategy.schedulingPolicy": p})
      for p in ("scatter", "Scatter", "stacking", "Stacking")],
    Case("template-metadata", MD, {"spec.template.metadata": {
        "labels": {"team": "stock"}, "annotations": {"note": "x"}}}),
    Case("mrs-name-63-chars", MRS, {"metadata.name": "r" * 63}),
    Case("mrs-replicas-zero", MRS, {"spec.replicas": 0}),
    Case("module-selector-expressions", MOD, {"spec.selector": {"matchExpressions": [
        {"key": "app", "operator": "Exists"}]}, "spec.upgradePolicy": "uninstallThenInstall"}),
    Case("module-selector-in-and-does-not-exist", MOD, {"spec.selector": {"matchExpressions": [
        {"key": "app", "operator": "In", "values": ["dynamic-stock"]},
        {"key": "canary", "operator": "DoesNotExist"}]}}),
]
