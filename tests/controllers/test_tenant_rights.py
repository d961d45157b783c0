"""What each right a tenant may hold buys through the controller (docs/security.md, threat
model). Every test acts as a ServiceAccount with exactly the right its row names, logged in with
its own token against the real API server (tenants.py), and a real controller process; the
admin only sets up what the other teams own.
"""

from __future__ import annotations

import json

import pytest
from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller_dev.devcluster import testing as kt

from helpers.arklet_log import installs, request_log
from helpers.bodies import md_body, url_of
from helpers.cluster import bases, live_modules, patch_md, pod_of
from helpers.controller_args import MODULE_STEP
from tenants import rule, tenant

pytestmark = pytest.mark.cluster


def _failure(obj: dict | None) -> dict | None:
    return next((x for x in ((obj or {}).get("status") or {}).get("conditions") or []
                 if x["type"] == c.CONDITION_REPLICA_FAILURE and x["status"] == "True"), None)


async def _alive(api, namespace: str, name: str) -> client.V1Pod | None:
    try:
        pod = await client.CoreV1Api(api).read_namespaced_pod(name, namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return None if pod.metadata.deletion_timestamp else pod


# ----------------------------------------------------------------- the right to create pods


def forged_base(name: str, real: client.V1Pod, extra: dict[str, str] | None = None) -> dict:
    """A bare pod dressed as a base: the base's labels, its ReplicaSet's pod-template-hash and
    name in a controller owner reference, with a made-up uid. ``apiVersion: v1`` (no such kind
    there): the garbage collector cannot resolve the owner, so it never removes the pod."""
    owner = real.metadata.owner_references[0]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "labels": {**real.metadata.labels, **(extra or {})},
        "ownerReferences": [{"apiVersion": "v1", "kind": "ReplicaSet", "name": owner.name,
                             "uid": "00000000-0000-0000-0000-000000000001",
                             "controller": True}]},
        "spec": {"containers": [{"name": "base", "image": "example/base:dev"}]}}


async def test_pod_create_right_does_not_make_a_base(api, namespace, controller, arklets,
                                                     dev_cluster, tmp_path):
    real = await bases(api, namespace, 2)
    pods = await tenant(api, dev_cluster.kubeconfig, namespace, "pod-maker",
                        [rule("", "pods", "create")], tmp_path)
    for body in (forged_base("impostor", real[0]),
                 forged_base("impostor-retired", real[0], {c.LABEL_DELETE_POD: c.LABEL_TRUE})):
        pods.run("create", "-f", "-", input=json.dumps(body))
    impostor = await kt.wait_for(lambda: _alive(api, namespace, "impostor"),
                                 lambda p: p is not None and kt.pod_ready(p),
                                 what="the impostor pod Ready (its fake Arklet answering)")

    # Three instances wanted, two real bases: the third has nowhere to go.
    await client.CustomObjectsApi(api).create_namespaced_custom_object(
        c.GROUP, c.VERSION, namespace, c.MODULE_DEPLOYMENT.plural, md_body("md", 3))

    async def revision():
        return await kt.list_replicasets(api, namespace, f"{c.LABEL_MODULE_DEPLOYMENT}=md")

    await kt.wait_for(revision, lambda rs: len(rs) == 1 and _failure(rs[0]) is not None
                      and _failure(rs[0])["reason"] == c.REASON_INSUFFICIENT_BASES,
                      timeout=3 * MODULE_STEP, what="the revision short of one base")
    modules = await kt.wait_for(lambda: live_modules(api, namespace),
                                lambda ms: sum(kt.phase(m) == "Available" for m in ms) == 2,
                                timeout=3 * MODULE_STEP, what="two instances Available")
    assert {pod_of(m) for m in modules if pod_of(m)} == {p.metadata.name for p in real}
    assert not installs(await request_log(arklets, impostor.status.pod_ip), ok=False)
    md = await kt.get_deployment(api, namespace, "md")
    assert kt.progress(md) != "Completed", md["status"]

    # The delete-pod label on the other impostor: one NotABasePod Event, the pod stays.
    events = await kt.wait_for(lambda: kt.events_for(api, namespace, "impostor-retired"),
                               lambda evs: any(e.reason == "NotABasePod" for e in evs),
                               timeout=MODULE_STEP, what="NotABasePod on impostor-retired")
    assert not [e for e in events if e.reason == "BaseRemoved"]
    assert await _alive(api, namespace, "impostor-retired") is not None


# ----------------------------------------------------------------- the right to create Modules


async def test_module_create_right_does_not_count_in_another_release(
        api, namespace, controller, dev_cluster, tmp_path):
    await bases(api, namespace, 2)
    objects = client.CustomObjectsApi(api)
    body = md_body("teama", 2, version="1.0.2", rollbackOnFailure=True)
    body["spec"]["progressDeadlineSeconds"] = 30
    await objects.create_namespaced_custom_object(c.GROUP, c.VERSION, namespace,
                                                  c.MODULE_DEPLOYMENT.plural, body)
    await kt.wait_progress(api, namespace, "teama", "Completed", timeout=3 * MODULE_STEP)
    (real, *_) = await live_modules(api, namespace)

    # A Module with the release's labels, bound to one of its pods, whose selector matches no
    # pod: it fails on the mismatch. Made by a tenant who may only create Modules.
    modules = await tenant(api, dev_cluster.kubeconfig, namespace, "module-maker",
                           [rule(c.GROUP, c.MODULE.plural, "create")], tmp_path)
    forged = kt.module_body("forged", module="other-biz", app="nowhere",
                            labels=dict(real["metadata"]["labels"]))
    modules.run("create", "-f", "-", input=json.dumps(forged))
    await kt.wait_module_phase(api, namespace, "forged", "Failed", timeout=MODULE_STEP)
    events = await kt.wait_for(lambda: kt.events_for(api, namespace, "forged"),
                               lambda evs: any(e.reason == "NotAnInstance" for e in evs),
                               timeout=MODULE_STEP, what="a NotAnInstance Warning on it")
    assert [e.type for e in events if e.reason == "NotAnInstance"] == ["Warning"]
    md = await kt.wait_for(lambda: kt.get_deployment(api, namespace, "teama"),
                           lambda md: md["status"].get("observedGeneration") == 1,
                           what="teama's status")
    assert md["status"]["replicas"] == 2 and md["status"]["updatedReplicas"] == 2, md["status"]

    # The next release drains the revision the forged Module names and completes: it is not
    # waited for, not counted as failed, not rolled back for.
    await patch_md(api, namespace, "teama", {"spec": {"template": {"spec": {"module": {
        "version": "1.0.3", "url": url_of("1.0.3")}}}}})
    md = await kt.wait_for(lambda: kt.get_deployment(api, namespace, "teama"),
                           lambda md: kt.progress(md) == "Completed"
                           and md["status"].get("observedGeneration") == 2,
                           timeout=4 * MODULE_STEP, what="teama's second release Completed")
    conditions = {x["type"]: x for x in md["status"].get("conditions") or []}
    assert conditions.get("RolledBack", {}).get("status") != "True", conditions
    assert md["status"]["replicas"] == 2, md["status"]
    assert {m["spec"]["module"]["version"] for m in await live_modules(api, namespace)
            if m["metadata"]["name"] != "forged"} == {"1.0.3"}
    assert await kt.get_module(api, namespace, "forged") is not None  # left alone


# ----------------------------------------------------------------- the right to patch one's own MD


def team_md(name: str, base: str, module: str, service: bool = False) -> dict:
    body = md_body(name, 1)
    body["spec"]["baseDeploymentName"] = base
    body["spec"]["template"]["spec"]["module"].update(
        name=module, url=f"http://repo.example/{module}-1.0.2-ark-biz.jar")
    if service:
        body["spec"]["operationStrategy"] = {"serviceStrategy": {"enableModuleService": True,
                                                                 "port": 8080}}
    return body


async def test_md_patch_right_does_not_take_another_teams_module_name(
        api, namespace, controller, dev_cluster, tmp_path):
    objects = client.CustomObjectsApi(api)
    await kt.create_base_deployment(api, namespace, 1, name="teamb", app="teamb")
    await kt.create_base_deployment(api, namespace, 1, name="teama", app="teama")
    await kt.wait_ready_pods(api, namespace, "app in (teama, teamb)", 2)
    # teamb's ModuleDeployment is the older object: age alone must not decide.
    await objects.create_namespaced_custom_object(c.GROUP, c.VERSION, namespace,
                                                  c.MODULE_DEPLOYMENT.plural,
                                                  team_md("teamb-md", "teamb", "teamb-mod"))
    await kt.wait_progress(api, namespace, "teamb-md", "Completed", timeout=3 * MODULE_STEP)
    await objects.create_namespaced_custom_object(c.GROUP, c.VERSION, namespace,
                                                  c.MODULE_DEPLOYMENT.plural,
                                                  team_md("payments-md", "teama", "payments",
                                                          service=True))
    await kt.wait_progress(api, namespace, "payments-md", "Completed", timeout=3 * MODULE_STEP)
    md = await kt.wait_for(lambda: kt.get_deployment(api, namespace, "payments-md"),
                           lambda md: (md["status"].get("moduleNameClaim") or {})
                           .get("module") == "payments", what="payments-md's claim recorded")
    claimed = md["status"]["moduleNameClaim"]["since"]

    mds = await tenant(api, dev_cluster.kubeconfig, namespace, "teamb-dev",
                       [rule(c.GROUP, c.MODULE_DEPLOYMENT.plural, "get", "patch",
                             names=("teamb-md",))], tmp_path,
                       probe=("patch", f"{c.MODULE_DEPLOYMENT.plural}.{c.GROUP}/teamb-md"))
    assert "forbidden" in mds.run("patch", "moduledeployment", "payments-md", "--type=merge",
                                  "-p", '{"spec":{"replicas":0}}', check=False).stderr.lower()
    mds.patch("moduledeployment", "teamb-md", {"spec": {"template": {"spec": {"module": {
        "name": "payments", "url": "http://repo.example/payments-6.6.6-ark-biz.jar",
        "version": "6.6.6"}}}}})

    def conflicted(md: dict | None) -> bool:
        failure = _failure(md)
        return failure is not None and failure["reason"] == c.REASON_MODULE_NAME_CONFLICT \
            and md["status"].get("observedGeneration") == md["metadata"]["generation"]

    await kt.wait_for(lambda: kt.get_deployment(api, namespace, "teamb-md"), conflicted,
                      timeout=MODULE_STEP, what="teamb-md refused the name payments")
    assert any(e.reason == c.REASON_MODULE_NAME_CONFLICT and e.type == "Warning"
               for e in await kt.events_for(api, namespace, "teamb-md"))
    await _nothing_of_payments_on_teamb(api, namespace)

    # Stable across a restart: the claim is read from the revisions, not from memory. A third
    # ModuleDeployment, created after the restart on teamb's base, is refused the name too.
    controller.stop()
    controller.start()
    await objects.create_namespaced_custom_object(c.GROUP, c.VERSION, namespace,
                                                  c.MODULE_DEPLOYMENT.plural,
                                                  team_md("late-md", "teamb", "payments"))
    await kt.wait_for(lambda: kt.get_deployment(api, namespace, "late-md"), conflicted,
                      timeout=MODULE_STEP, what="late-md refused the name payments")
    assert conflicted(await kt.get_deployment(api, namespace, "teamb-md"))
    md = await kt.get_deployment(api, namespace, "payments-md")
    assert md["status"]["moduleNameClaim"] == {"module": "payments", "since": claimed}
    assert _failure(md) is None
    await _nothing_of_payments_on_teamb(api, namespace)


async def _nothing_of_payments_on_teamb(api, namespace: str) -> None:
    for pod in await kt.list_pods(api, namespace, "app=teamb"):
        assert c.module_label_key("payments") not in (pod.metadata.labels or {}), pod.metadata
    assert not [m for m in await kt.list_modules(api, namespace)
                if m["spec"]["module"]["name"] == "payments"
                and m["metadata"]["labels"].get(c.LABEL_MODULE_DEPLOYMENT) != "payments-md"]


# ----------------------------------------------------------------- the right to read


SECRET_USER, SECRET_PASSWORD, SECRET_TOKEN = "deploy", "pa'ss`wd!$&()*+,;=", "s'e`c"
# A jar the module repository does not have: the base answers installBiz with the url in its
# message (FileNotFoundException), as a real Arklet does. Padded past the 1 KiB bound.
LEAKY_URL = (f"http://{SECRET_USER}:{SECRET_PASSWORD}@repo.example/{'p' * 1500}/missing-9.9.9.jar"
             f"?token={SECRET_TOKEN}&expires=1")


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


async def test_read_right_sees_no_secret_and_no_unbounded_text(
        api, namespace, controller, arklets, dev_cluster, tmp_path):
    (base,) = await bases(api, namespace, 1)
    body = md_body("leaky", 1, rollbackOnFailure=True)
    body["spec"]["progressDeadlineSeconds"] = 30
    await client.CustomObjectsApi(api).create_namespaced_custom_object(
        c.GROUP, c.VERSION, namespace, c.MODULE_DEPLOYMENT.plural, body)
    await kt.wait_progress(api, namespace, "leaky", "Completed", timeout=3 * MODULE_STEP)
    # The next release's url carries credentials; the base cannot download it.
    await patch_md(api, namespace, "leaky", {"spec": {"template": {"spec": {"module": {
        "version": "9.9.9", "url": LEAKY_URL}}}}})
    def failed_new(ms: list[dict]) -> list[dict]:
        return [m for m in ms if m["spec"]["module"]["version"] == "9.9.9"
                and kt.phase(m) == "Failed"]

    (module,) = failed_new(await kt.wait_for(lambda: live_modules(api, namespace), failed_new,
                                             timeout=MODULE_STEP, what="the new instance Failed"))
    name = module["metadata"]["name"]
    # The queue retries it; each retry fails the same way, only the attempt number differs.
    await kt.wait_for(lambda: request_log(arklets, base.status.pod_ip),
                      lambda log: len(installs(log, version="9.9.9", ok=False)) >= 4,
                      timeout=MODULE_STEP, what="three more failed installs")
    again = await kt.get_module(api, namespace, name)
    assert again["metadata"]["resourceVersion"] == module["metadata"]["resourceVersion"], \
        "status rewritten by a retry"
    message = again["status"]["message"]
    assert "FileNotFoundException" in message and len(message) < 2048, message
    events = [e for e in await kt.events_for(api, namespace, name) if e.type == "Warning"]
    assert len(events) == 1 and (events[0].count or 1) == 1, [(e.reason, e.count) for e in events]
    md = await kt.wait_for(lambda: kt.get_deployment(api, namespace, "leaky"),
                           lambda md: kt.release_status(md).get("abortedModule"),
                           timeout=2 * MODULE_STEP, what="the release given up (abortedModule)")

    reader = await tenant(api, dev_cluster.kubeconfig, namespace, "reader",
                          [rule(c.GROUP, "*", "get", "list"), rule("", "events", "get", "list")],
                          tmp_path, probe=("list", f"modules.{c.GROUP}"))
    # Everything the reader can get, but the spec's own url (the base needs it).
    shown = "\n".join(s for kind in ("modules", "moduledeployments", "modulereplicasets",
                                      "events")
                      for s in _strings(json.loads(reader.run("get", kind, "-o", "json").stdout))
                      if s != LEAKY_URL)
    shown += controller.log_text()
    for secret in (SECRET_PASSWORD, SECRET_TOKEN, f"{SECRET_USER}:", "pa'ss"):
        assert secret not in shown, secret
    assert "9.9.9@http://***@repo.example/" in kt.release_status(md)["abortedModule"]


# ----------------------------------------------------------------- the right to patch statuses


async def test_status_patch_right_does_not_take_a_module_name(
        api, namespace, controller, dev_cluster, tmp_path):
    objects = client.CustomObjectsApi(api)
    await kt.create_base_deployment(api, namespace, 1, name="teamb", app="teamb")
    await kt.create_base_deployment(api, namespace, 1, name="teama", app="teama")
    await kt.wait_ready_pods(api, namespace, "app in (teama, teamb)", 2)
    await objects.create_namespaced_custom_object(c.GROUP, c.VERSION, namespace,
                                                  c.MODULE_DEPLOYMENT.plural,
                                                  team_md("payments-md", "teama", "payments"))
    await kt.wait_progress(api, namespace, "payments-md", "Completed", timeout=3 * MODULE_STEP)
    await objects.create_namespaced_custom_object(c.GROUP, c.VERSION, namespace,
                                                  c.MODULE_DEPLOYMENT.plural,
                                                  team_md("teamb-md", "teamb", "payments"))

    def conflicted(md: dict | None) -> bool:
        failure = _failure(md)
        return failure is not None and failure["reason"] == c.REASON_MODULE_NAME_CONFLICT

    await kt.wait_for(lambda: kt.get_deployment(api, namespace, "teamb-md"), conflicted,
                      timeout=MODULE_STEP, what="teamb-md refused the name payments")

    # A tenant who may patch statuses writes an old claim for teamb-md, takes payments-md's
    # away, and clears the conflict.
    statuses = await tenant(api, dev_cluster.kubeconfig, namespace, "status-writer",
                            [rule(c.GROUP, f"{c.MODULE_DEPLOYMENT.plural}/status", "get",
                                  "patch")],
                            tmp_path, probe=("patch", f"{c.MODULE_DEPLOYMENT.plural}.{c.GROUP}",
                                             "--subresource=status"))
    for name, claim in (("teamb-md", {"module": "payments", "since": "2000-01-01T00:00:00Z"}),
                        ("payments-md", None)):
        statuses.run("patch", "moduledeployment", name, "--subresource=status", "--type=merge",
                     "-p", json.dumps({"status": {"moduleNameClaim": claim, "conditions": []}}))
    # Anything that makes the controller look again (here: the owner touching its labels).
    await patch_md(api, namespace, "teamb-md", {"metadata": {"labels": {"touched": "1"}}})
    await kt.wait_for(lambda: kt.get_deployment(api, namespace, "teamb-md"), conflicted,
                      timeout=MODULE_STEP, what="teamb-md still refused the name")
    await patch_md(api, namespace, "payments-md", {"metadata": {"labels": {"touched": "1"}}})
    await kt.wait_for(lambda: kt.get_deployment(api, namespace, "payments-md"),
                      lambda md: (md["status"].get("moduleNameClaim") or {}).get("module")
                      == "payments", timeout=MODULE_STEP, what="payments-md's claim written back")
    await _nothing_of_payments_on_teamb(api, namespace)


async def test_module_create_right_gets_no_file_url_to_a_base(
        api, namespace, controller, arklets, dev_cluster, tmp_path):
    """file:// reads the base's own disk: not handed to a base unless --url-schemes allows it;
    a url with a bidirectional control is refused by the API server itself."""
    (base,) = await bases(api, namespace, 1)
    modules = await tenant(api, dev_cluster.kubeconfig, namespace, "module-maker",
                           [rule(c.GROUP, c.MODULE.plural, "create")], tmp_path)
    body = kt.module_body("local")
    body["spec"]["module"]["url"] = "file:///var/run/secrets/provider-1.0.0-ark-biz.jar"
    modules.run("create", "-f", "-", input=json.dumps(body))
    module = await kt.wait_module_phase(api, namespace, "local", "Failed", timeout=MODULE_STEP)
    assert module["status"]["reason"] == "UrlSchemeNotAllowed", module["status"]
    assert "spec.module.url" in module["status"]["message"]
    assert not installs(await request_log(arklets, base.status.pod_ip), ok=False)

    body = kt.module_body("bidi")
    body["spec"]["module"]["url"] = "http://repo.example/provider\u202ejar.exe"
    refused = modules.run("create", "-f", "-", input=json.dumps(body), check=False)
    assert refused.returncode != 0 and "spec.module.url" in refused.stderr, refused.stderr


async def test_a_megabyte_from_a_base_is_stored_as_a_kilobyte(api, namespace, controller,
                                                              arklets, unused_tcp_port):
    """A base whose Arklet answers installBiz FAILED with a ~1 MiB message: a real HTTP server
    on the base pod's own address, on the port its arklet-port annotation names."""
    from aiohttp import web

    # Just under the client's 1 MiB reply cap (a longer reply is refused whole).
    huge = "java.lang.IllegalStateException: " + "x" * 1_000_000
    installs_seen: list[int] = []

    async def install(request: web.Request) -> web.Response:
        installs_seen.append(1)
        return web.json_response({"code": "FAILED", "message": "install biz not success!",
                                  "data": {"code": "FAILED", "message": huge}})

    async def query(request: web.Request) -> web.Response:
        return web.json_response({"code": "SUCCESS", "data": []})

    app = web.Application()
    app.router.add_post("/installBiz", install)
    app.router.add_post("/queryAllBiz", query)
    (base,) = await bases(api, namespace, 1)
    ip = base.status.pod_ip
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, ip, unused_tcp_port).start()
    try:
        # The simulator's own Arklet refuses too, in case the controller asks it before it
        # has seen the annotation.
        await arklets.set_fault(ip, "installBiz", fail_rate=1.0, fail_code="FAILED")
        await client.CoreV1Api(api).patch_namespaced_pod(base.metadata.name, namespace, {
            "metadata": {"annotations": {c.ANNOTATION_ARKLET_PORT: str(unused_tcp_port)}}})
        await kt.create_module(api, namespace, kt.module_body("m"))
        module = await kt.wait_for(
            lambda: kt.get_module(api, namespace, "m"),
            lambda m: "IllegalStateException" in ((m or {}).get("status") or {}).get(
                "message", ""), timeout=MODULE_STEP, what="the huge answer in its status")
        seen = len(installs_seen)
        await kt.wait_for(lambda: _count(installs_seen), lambda n: n >= seen + 3,
                          timeout=MODULE_STEP, what="three more failed installs")
        again = await kt.get_module(api, namespace, "m")
        assert len(json.dumps(again)) < 8 * 1024, len(json.dumps(again))
        assert len(again["status"]["message"]) < 1200, len(again["status"]["message"])
        assert again["metadata"]["resourceVersion"] == module["metadata"]["resourceVersion"]
        events = [e for e in await kt.events_for(api, namespace, "m")
                  if e.type == "Warning" and "IllegalStateException" in (e.message or "")]
        assert len(events) == 1 and len(events[0].message) <= 1024, [e.reason for e in events]
    finally:
        await runner.cleanup()


async def _count(seen: list[int]) -> int:
    return len(seen)
