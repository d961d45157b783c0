"""The invariant checks themselves (no cluster): each one must be able to fail.

A chaos scenario that passes only means something if its final checks would have caught a broken
state. These feed the pure checks with hand-made states and logs, correct and broken.
"""

from __future__ import annotations

import copy
import io
import logging

import pytest
from kubernetes_asyncio import client

from module_controller.api import constants as c

from controller_tracebacks import tracebacks, unexpected_tracebacks
from invariants import Snapshot, Want, duplicate_installs, state_violations

pytestmark = pytest.mark.chaos

WANT = Want(name="md", module="provider", version="2.0.0", replicas=2)


def rec(seq, command, version, code="SUCCESS", name="provider"):
    return {"seq": seq, "command": command, "code": code,
            "body": {"bizName": name, "bizVersion": version}}


# ----------------------------------------------------------------- request logs

def test_install_after_uninstall_is_fine_and_repeat_is_not():
    log = [rec(1, "installBiz", "1"), rec(2, "uninstallBiz", "1"), rec(3, "installBiz", "1"),
           rec(4, "installBiz", "1", code="FAILED"), rec(5, "installBiz", "2")]
    assert duplicate_installs(log) == []
    broken = log + [rec(6, "installBiz", "2")]
    problems = duplicate_installs(broken)
    assert len(problems) == 1 and "provider:2" in problems[0] and "seq 6" in problems[0]


def test_a_base_restart_forgets_what_was_installed():
    log = [rec(1, "installBiz", "1"), rec(2, "queryAllBiz", None), rec(3, "installBiz", "1")]
    assert duplicate_installs(log, restarts=[2]) == []
    assert len(duplicate_installs(log)) == 1


# ----------------------------------------------------------------- controller log

class ArkletUnavailable(Exception):
    pass


def _log_with(*exceptions: BaseException) -> str:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("chaos-selftest")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.info("started")
        for exc in exceptions:
            try:
                try:
                    raise OSError("connection refused")
                except OSError as cause:
                    raise exc from cause
            except BaseException:
                logger.exception("Module: reconcile of ('ns', 'm') failed (1 in a row)")
        logger.info("done")
    finally:
        logger.removeHandler(handler)
    return out.getvalue()


def test_tracebacks_are_classified_by_their_final_exception():
    conflict = client.exceptions.ApiException(status=409, reason="Conflict")
    log = _log_with(ArkletUnavailable("arklet queryAllBiz on 127.0.0.9: no usable answer"),
                    conflict, KeyError("spec"))
    found = tracebacks(log)
    assert [i.short_type for i in found] == ["ArkletUnavailable", "ApiException", "KeyError"]
    assert found[1].message.startswith("(409)")
    assert "reconcile of" in found[0].header
    # Only conflicts are expected by default; the Arklet failure is allowed where the test
    # broke Arklets; a KeyError never is.
    assert [i.short_type for i in unexpected_tracebacks(log)] == ["ArkletUnavailable", "KeyError"]
    assert [i.short_type for i in unexpected_tracebacks(log, ("conflict", "arklet"))] == \
        ["KeyError"]


def test_api_server_errors_are_only_expected_when_allowed():
    log = _log_with(ConnectionRefusedError("refused"),
                    client.exceptions.ApiException(status=503, reason="Service Unavailable"),
                    client.exceptions.ApiException(status=404, reason="Not Found"))
    assert len(unexpected_tracebacks(log)) == 3
    assert [i.message[:5] for i in unexpected_tracebacks(log, ("conflict", "apiserver"))] == \
        ["(404)"]


# ----------------------------------------------------------------- cluster state

def _pod(name, ip, labels):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        status=client.V1PodStatus(phase="Running", pod_ip=ip, conditions=[
            client.V1PodCondition(type="Ready", status="True")]))


def _good() -> Snapshot:
    md = {"metadata": {"name": "md", "uid": "u-md", "generation": 3},
          "spec": {"pause": False, "replicas": 2, "template": {"spec": {"module": {
              "name": "provider", "version": "2.0.0"}}}},
          "status": {"observedGeneration": 3, "replicas": 2, "availableReplicas": 2,
                     "updatedAvailableReplicas": 2, "unavailableReplicas": 0,
                     "conditions": [{"type": "Available", "status": "True"}],
                     "releaseStatus": {"progress": "Completed"}}}

    def mrs(n, version, replicas):
        return {"metadata": {"name": f"md-replicas-{n}", "labels": {
                    c.LABEL_MODULE_DEPLOYMENT: "md"},
                    "ownerReferences": [{"kind": "ModuleDeployment", "uid": "u-md"}]},
                "spec": {"replicas": replicas, "template": {"spec": {"module": {
                    "name": "provider", "version": version}}}}}

    def module(name, pod, ip):
        return {"metadata": {"name": name, "labels": {
                    c.LABEL_MODULE_DEPLOYMENT: "md", c.LABEL_MODULE_REPLICASET: "md-replicas-2",
                    c.LABEL_BASE_INSTANCE_NAME: pod, c.LABEL_BASE_INSTANCE_IP: ip}},
                "spec": {"module": {"name": "provider", "version": "2.0.0"}},
                "status": {"status": "Available"}}

    hosting = {c.module_label_key("provider"): "true", c.LABEL_MODULE_INSTANCE_COUNT: "1"}
    pods = [_pod("b1", "127.0.0.2", dict(hosting)), _pod("b2", "127.0.0.3", dict(hosting)),
            _pod("b3", "127.0.0.4", {c.LABEL_MODULE_INSTANCE_COUNT: "0"})]
    biz = {"bizName": "provider", "bizVersion": "2.0.0", "bizState": "ACTIVATED"}
    return Snapshot(md=md, replicasets=[mrs(1, "1.0.0", 0), mrs(2, "2.0.0", 2)],
                    modules=[module("m1", "b1", "127.0.0.2"), module("m2", "b2", "127.0.0.3")],
                    deployments=[md], pods=pods,
                    bizzes={"127.0.0.2": [biz], "127.0.0.3": [biz], "127.0.0.4": []},
                    logs={"127.0.0.2": [rec(1, "installBiz", "2.0.0")]})


def test_a_converged_state_has_no_violation():
    assert state_violations(_good(), WANT) == []


@pytest.mark.parametrize("breakage, expected", [
    (lambda s: s.bizzes["127.0.0.4"].append(
        {"bizName": "provider", "bizVersion": "1.0.0", "bizState": "DEACTIVATED"}),
     "base b3 (127.0.0.4) runs provider"),
    (lambda s: s.modules[0]["metadata"].update(deletionTimestamp="2024-01-01T00:00:00Z"),
     "has a deletionTimestamp"),
    (lambda s: s.replicasets[0]["spec"].update(replicas=1), "md-replicas-1 spec.replicas = 1"),
    (lambda s: s.replicasets.append({"metadata": {"name": "lost", "labels": {}},
                                     "spec": {"replicas": 2, "template": {"spec": {"module": {}}}}}),
     "MRS lost has replicas 2 but no existing owner"),
    (lambda s: s.md["status"]["releaseStatus"].update(progress="Executing"), "not Completed"),
    (lambda s: s.md["status"].update(availableReplicas=1), "status.availableReplicas = 1"),
    (lambda s: s.modules[1]["metadata"]["labels"].update(
        {c.LABEL_BASE_INSTANCE_NAME: "b1", c.LABEL_BASE_INSTANCE_IP: "127.0.0.2"}),
     "are both on b1"),
    (lambda s: s.pods[2].metadata.labels.update({c.module_label_key("provider"): "true"}),
     "label module.serverless.alipay.com/provider='true' but hosting=False"),
    (lambda s: s.logs["127.0.0.2"].append(rec(2, "installBiz", "2.0.0")), "succeeded again"),
])
def test_each_broken_state_is_reported(breakage, expected):
    snap = copy.deepcopy(_good())
    breakage(snap)
    problems = state_violations(snap, WANT)
    assert any(expected in p for p in problems), problems
