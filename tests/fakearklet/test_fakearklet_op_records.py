"""The process records of ``async`` installs (fakearklet/op_records.py) through the pure core,
as ``queryBizOps`` shows them: opened on accept, EXECUTING on a worker, closed with the outcome."""

from __future__ import annotations

import pytest

from module_controller_dev.fakearklet.core import ArkletCore
from module_controller_dev.fakearklet.vocabulary import PendingOp, Reply, Started

from core_testkit import URL, install, jar_for, run


@pytest.mark.parametrize("flavour", ["2023", "2025"])
def test_query_biz_ops_tracks_an_async_install(flavour: str) -> None:
    core = ArkletCore(flavour)
    op = core.handle("installBiz", {"bizName": "provider", "bizVersion": "1.0.2", "bizUrl": URL,
                                    "async": True, "requestId": "r1"}, now=1.0)
    assert isinstance(op, PendingOp) and op.asynchronous
    accepted = core.accepted(op).data
    assert accepted["arkBizMeta"]["bizUrl"] == URL and accepted["requestId"] == "r1"
    assert ("installStrategy" in accepted["arkBizMeta"]) is (flavour == "2025")
    assert (accepted["elapsedTime"], accepted["endTimestamp"]) == (0, 0)
    assert accepted["startTime"] == accepted["startTimestamp"] == 1000
    if flavour == "2025":
        assert accepted["status"] == "INITIALIZED" and "threadName" not in accepted
    else:
        assert accepted["status"] == "EXECUTING" and accepted["threadName"]
    core.mark_executing(op)
    running = run(core, "queryBizOps", {"requestId": "r1"}).data
    assert running["status"] == "EXECUTING" and running["threadName"].startswith("ARKLET-")
    assert isinstance(core.unpacked(op, jar_for(URL), now=1.5), Started)
    core.finish(op, now=2.0)
    record = run(core, "queryBizOps", {"requestId": "r1"}).data
    assert record["status"] == "SUCCEEDED" and "message" not in record
    assert (record["elapsedTime"], record["endTime"], record["endTimestamp"]) == (1000, 2000, 2000)
    missing = run(core, "queryBizOps", {"requestId": "nope"})
    assert missing.envelope == {"code": "FAILED",
                                "message": "Not found the corresponding ops record."}


def test_failed_async_install_records_the_envelope_message() -> None:
    core = ArkletCore("2023")
    install(core, "provider", "1.0.2")
    op = core.handle("installBiz", {"bizName": "provider", "bizVersion": "1.0.2", "bizUrl": URL,
                                    "async": True, "requestId": "r2"})
    assert isinstance(op, PendingOp)
    assert isinstance(core.unpacked(op, jar_for(URL)), Reply)
    record = run(core, "queryBizOps", {"requestId": "r2"}).data
    assert (record["status"], record["message"]) == ("FAILED", "install biz not success!")


def test_sync_ops_are_not_recorded() -> None:
    core = ArkletCore()
    run(core, "uninstallBiz", {"bizName": "p", "bizVersion": "1", "requestId": "u1"})
    assert run(core, "queryBizOps", {"requestId": "u1"}).code == "FAILED"
