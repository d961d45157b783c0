"""Events aggregate their repeats: one Event per object, type, reason and message, its
``count`` raised, posted against the real dev cluster's API server."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from module_controller_dev.devcluster import testing as kt
from module_controller.kube.client import DEFAULT_TIMEOUT
from module_controller.kube.events import NORMAL, WARNING, EventRecorder, Summary

# An Event post that gets no answer: the API client's read timeout (see controller_args.py).
API_REQUEST_MAX = float(DEFAULT_TIMEOUT.sock_read)


async def _events_of(core: client.CoreV1Api, namespace: str, uid: str) -> list[dict]:
    listing = await core.list_namespaced_event(namespace, field_selector=f"involvedObject.uid={uid}",
                                               _preload_content=False)
    return (await listing.json())["items"]


@pytest.mark.cluster
async def test_a_burst_of_repeats_is_one_event_with_its_count(api, namespace):
    core = client.CoreV1Api(api)
    owner = await core.create_namespaced_config_map(namespace, {"metadata": {"name": "noisy"}})
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": api.sanitize_for_serialization(
        owner.metadata)}
    recorder = EventRecorder(api)
    recorder.start()
    try:
        burst = 40
        for _ in range(burst):
            recorder.record(obj, WARNING, "InstallFailed", "installBiz failed")
        recorder.record(obj, NORMAL, "Installed", "once")  # another reason: its own Event
        recorder.record(obj, WARNING, "InstallFailed", "other words")  # its own Event too
        await recorder.drain(API_REQUEST_MAX)
        uid = owner.metadata.uid

        def settled(events: list[dict]) -> bool:
            return len(events) == 3 and sum(e["count"] for e in events) == burst + 2
        events = await kt.wait_for(lambda: _events_of(core, namespace, uid), settled,
                                   timeout=API_REQUEST_MAX, what=f"one Event of count {burst}")
        failed = next(e for e in events if e["message"] == "installBiz failed")
        assert failed["count"] == burst and failed["reason"] == "InstallFailed"
        first_name = failed["metadata"]["name"]

        # Repeats after the Event was posted patch it: still one Event, the count goes on.
        for _ in range(5):
            recorder.record(obj, WARNING, "InstallFailed", "installBiz failed")
        await recorder.drain(API_REQUEST_MAX)
        events = await kt.wait_for(
            lambda: _events_of(core, namespace, uid),
            lambda es: [e["count"] for e in es if e["message"] == "installBiz failed"] == [burst + 5],
            timeout=API_REQUEST_MAX, what=f"the same Event, count {burst + 5}")
        failed = next(e for e in events if e["message"] == "installBiz failed")
        assert failed["metadata"]["name"] == first_name
    finally:
        await recorder.stop()


async def test_a_full_queue_folds_owned_objects_events_into_their_owner():
    recorder = EventRecorder(client.ApiClient(), capacity=3)  # not started: nothing is sent
    owner_ref = {"apiVersion": "serverless.alipay.com/v1alpha1", "kind": "ModuleReplicaSet",
                 "name": "mrs", "uid": "mrs-uid", "controller": True}
    owner = {"apiVersion": owner_ref["apiVersion"], "kind": "ModuleReplicaSet",
             "metadata": {"name": "mrs", "namespace": "ns", "uid": "mrs-uid"}}
    modules = [{"apiVersion": owner_ref["apiVersion"], "kind": "Module",
                "metadata": {"name": f"m{i}", "namespace": "ns", "uid": f"u{i}",
                             "ownerReferences": [owner_ref]}} for i in range(10)]
    for m in modules:
        recorder.record(m, NORMAL, "Installed", f"{m['metadata']['name']} is up")
    assert [len(recorder.queued(m, NORMAL, "Installed")) for m in modules] == [1] * 3 + [0] * 7
    [folded] = recorder.queued(owner, NORMAL, "Installed")
    assert folded["involvedObject"]["uid"] == "mrs-uid"
    assert folded["message"].startswith("Installed on 7 Modules") and "m9: m9 is up" in folded["message"]
    await recorder.core.api_client.close()


@pytest.mark.cluster
async def test_a_summary_is_one_event_whose_count_and_message_follow_what_it_counts(api, namespace):
    """A summarised Event (the controller summarises a release's Modules per group): one Event
    on the target per series, posted, then patched with the new count in its message too."""
    core = client.CoreV1Api(api)
    target = await core.create_namespaced_config_map(namespace, {"metadata": {"name": "group"}})
    target_obj = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": api.sanitize_for_serialization(target.metadata)}
    members = [{"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": f"s{i}", "namespace": namespace, "uid": f"s{i}-uid"}}
               for i in range(5)]
    recorder = EventRecorder(api, summarise=lambda obj, type_, reason, message: (
        Summary(target_obj, "group 1/2") if obj["kind"] == "Secret" and type_ == NORMAL else None))
    recorder.start()
    try:
        uid = target.metadata.uid

        async def summary() -> list[dict]:
            return [e for e in await _events_of(core, namespace, uid) if e["reason"] == "Installed"]

        for member in members[:3]:
            recorder.record(member, NORMAL, "Installed", f"{member['metadata']['name']} is up")
        recorder.record(members[0], WARNING, "InstallFailed", "not summarised")
        await recorder.drain(API_REQUEST_MAX)
        [first] = await kt.wait_for(summary, lambda es: [e["count"] for e in es] == [3],
                                    timeout=API_REQUEST_MAX, what="one summary of count 3")
        assert first["message"] == "group 1/2: 3 Secrets Installed; latest s2: s2 is up"
        for member in members[3:]:
            recorder.record(member, NORMAL, "Installed", f"{member['metadata']['name']} is up")
        await recorder.drain(API_REQUEST_MAX)
        [later] = await kt.wait_for(summary, lambda es: [e["count"] for e in es] == [5],
                                    timeout=API_REQUEST_MAX, what="the same summary, count 5")
        assert later["metadata"]["name"] == first["metadata"]["name"]
        assert later["message"] == "group 1/2: 5 Secrets Installed; latest s4: s4 is up"
        # Not summarised: the Warning stays on its own object.
        assert await _events_of(core, namespace, "s0-uid") != []
    finally:
        await recorder.stop()
