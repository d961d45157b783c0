"""The objects the cluster tests apply, built the way a user writes them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SAMPLES = Path(__file__).resolve().parents[2] / "config" / "samples"
#: The base Deployment the dev cluster's bootstrap creates (module_controller_dev.devcluster.bootstrap).
SELECTOR = "app=dynamic-stock"
BASE = "dynamic-stock-deployment"
MODULE = "provider"
URL_TEMPLATE = ("http://serverless-opensource.oss-cn-shanghai.aliyuncs.com/module-packages/"
                "stable/dynamic-provider-{version}-ark-biz.jar")
#: Pod annotation the base simulator reads: seconds an install takes on that base.
INSTALL_LATENCY = "sim.serverless.alipay.com/install-latency"


def url_of(version: str) -> str:
    """The sample's jar url at ``version`` (the module repository serves biz ``provider`` for
    it, whatever the host)."""
    return URL_TEMPLATE.format(version=version)


def md_body(name: str, replicas: int, version: str = "1.0.2", url: str | None = None,
            **strategy: Any) -> dict:
    """A ModuleDeployment of ``provider`` built from the basic sample; ``strategy`` goes into
    ``spec.operationStrategy`` as written (camelCase keys)."""
    body = yaml.safe_load((SAMPLES / "moduledeployment_basic.yaml").read_text())
    body["metadata"]["name"] = name
    body["spec"]["replicas"] = replicas
    module = body["spec"]["template"]["spec"]["module"]
    module["version"] = version
    module["url"] = url or url_of(version)
    if strategy:
        body["spec"]["operationStrategy"] = copy.deepcopy(strategy)
    return body
