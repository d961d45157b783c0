"""The plugin's view model and renderers, from API objects written here (no cluster)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from module_controller.api import constants as c
from module_controller.plugin import args as cli
from module_controller.plugin import render, view

NOW = dt.datetime(2026, 1, 1, 12, 0, 30, tzinfo=dt.timezone.utc)
T0 = "2026-01-01T12:00:00Z"
URL1 = "http://repo.example/provider-1.0.2-ark-biz.jar"
URL2 = "http://repo.example/provider-2.0.0-ark-biz.jar"


def template(version: str, url: str) -> dict:
    return {"spec": {"module": {"name": "provider", "version": version, "url": url}}}


def md(progress: str | None = "Paused", current: int = 1, total: int = 2, delta: int = 2,
       pause: bool = True, confirm: int = 0, version: str = "1.0.2", url: str = URL1,
       update: int = 1, generation: int = 2, observed: int = 2, **extra_status) -> dict:
    status = {"observedGeneration": observed, "desiredReplicas": 2, "availableReplicas": 1,
              "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                              "message": "1 of 2 instances Available", "lastTransitionTime": T0}],
              **extra_status}
    if progress:
        status["releaseStatus"] = {
            "updateRevision": update, "currentBatch": current, "realBatchCount": total,
            "originalDeltaReplicas": delta, "progress": progress,
            "batchProgress": f"{current}/{total}", "lastTransitionTime": T0}
    return {
        "apiVersion": c.API_VERSION, "kind": "ModuleDeployment",
        "metadata": {"name": "sample", "namespace": "ns", "generation": generation,
                     "resourceVersion": "42", "creationTimestamp": T0},
        "spec": {"baseDeploymentName": "base", "replicas": 2, "pause": pause,
                 "confirmBatchNum": confirm, "template": template(version, url),
                 "operationStrategy": {"batchCount": 2, "needConfirm": True,
                                       "upgradePolicy": "installThenUninstall"}},
        "status": status,
    }


def mrs(revision: int, version: str, url: str, replicas: int, available: int) -> dict:
    return {
        "metadata": {"name": f"sample-replicas-{revision}", "creationTimestamp": T0,
                     "labels": {c.LABEL_MODULE_DEPLOYMENT: "sample",
                                c.LABEL_MODULE_REPLICASET_REVISION: str(revision)}},
        "spec": {"replicas": replicas, "template": template(version, url)},
        "status": {"replicas": replicas, "availableReplicas": available},
    }


def module(name: str, revision: int, version: str, pod: str, ip: str, phase: str,
           installed: str | None = None, **status) -> dict:
    return {
        "metadata": {"name": name, "creationTimestamp": T0, "labels": {
            c.LABEL_MODULE_DEPLOYMENT: "sample",
            c.LABEL_MODULE_REPLICASET: f"sample-replicas-{revision}",
            c.LABEL_MODULE_REPLICASET_REVISION: str(revision),
            c.LABEL_BASE_INSTANCE_NAME: pod, c.LABEL_BASE_INSTANCE_IP: ip}},
        "spec": {"module": {"name": "provider", "version": version, "url": URL1}},
        "status": {"status": phase, "installedVersion": installed, **status},
    }


def event(reason: str, when: str, message: str = "m") -> dict:
    return {"metadata": {"name": f"sample.{reason}"}, "type": "Normal", "reason": reason,
            "message": message, "count": 1, "lastTimestamp": when}


# ----------------------------------------------------------------------------- status


def test_paused_first_group_shows_group_2_waiting_and_the_promote_hint():
    v = view.status_view(md(), [mrs(1, "1.0.2", URL1, 1, 1)],
                         [module("m1", 1, "1.0.2", "base-a", "127.0.0.2", "Available", "1.0.2")],
                         [event("ReleaseExecuting", T0), event("ReleasePaused", "2026-01-01T12:00:10Z")],
                         now=NOW)
    assert [(g.number, g.size, g.state) for g in v.groups] == [
        (1, 1, "done"), (2, 1, "waiting-for-confirmation")]
    assert v.waiting_group == 2
    assert "group 2 of 2 waits for confirmation: kubectl module promote sample" in v.next_steps
    assert v.revisions[0].roles == ("update",)
    assert v.instances[0].base_pod == "base-a" and v.instances[0].installed_version == "1.0.2"
    assert [e.reason for e in v.events] == ["ReleaseExecuting", "ReleasePaused"]
    assert not v.done


def test_an_upgrade_mid_release_has_update_and_stable_revisions_and_running_group():
    v = view.status_view(
        md("Executing", current=2, pause=False, confirm=1, version="2.0.0", url=URL2, update=2),
        [mrs(1, "1.0.2", URL1, 1, 1), mrs(2, "2.0.0", URL2, 2, 1)],
        [module("a", 1, "1.0.2", "p1", "127.0.0.2", "Available", "1.0.2"),
         module("b", 2, "2.0.0", "p2", "127.0.0.3", "Available", "2.0.0"),
         module("c", 2, "2.0.0", "p1", "127.0.0.2", "Upgrading", "1.0.2")], now=NOW)
    assert [(r.revision, r.roles) for r in v.revisions] == [(2, ("update",)), (1, ("stable",))]
    assert [(g.number, g.state) for g in v.groups] == [(1, "done"), (2, "running")]
    assert v.groups[1].since == dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc)
    assert any("group 2 of 2 is running" in s for s in v.next_steps)
    assert [i.revision for i in v.instances] == [2, 2, 1]


def test_completed_release_is_done_and_says_nothing_to_do():
    v = view.status_view(md("Completed", current=2, pause=False), [mrs(1, "1.0.2", URL1, 2, 2)],
                         [], now=NOW)
    assert all(g.state == "done" for g in v.groups)
    assert v.revisions[0].roles == ("update", "stable")
    assert v.next_steps == ("release completed: nothing to do",)
    assert v.done
    assert not view.status_view(md("Completed", current=2, observed=1), [], [], now=NOW).done


def test_confirmed_pause_is_not_waiting_any_more():
    for obj in (md(confirm=1), md(pause=False)):
        v = view.status_view(obj, [], [], now=NOW)
        assert v.waiting_group is None
        assert v.groups[1].state == "confirmed"
        assert v.next_steps == ("confirmed: the controller starts the next group",)


def test_gray_time_and_beta_group_sizes():
    obj = md("Executing", current=2, total=3, delta=5, pause=False)
    obj["spec"]["operationStrategy"].update(useBeta=True, batchCount=3,
                                            grayTimeBetweenBatchSeconds=60)
    obj["status"]["releaseStatus"]["nextReconcileTime"] = "2026-01-01T12:01:00Z"
    v = view.status_view(obj, [], [], now=NOW)
    assert [(g.size, g.state) for g in v.groups] == [(1, "done"), (2, "gray-time"), (2, "pending")]
    assert any(s.startswith("next group in ") and "group 2 of 3 starts when the gray time ends"
               in s for s in v.next_steps)


def test_group_sizes_unknown_when_the_spec_changed_since():
    obj = md("Executing", current=1, total=3, delta=3, pause=False)  # spec says batchCount 2
    assert [g.size for g in view.status_view(obj, [], [], now=NOW).groups] == [None] * 3


def test_failed_instances_and_deadline_suggest_undo():
    obj = md("Executing", current=1, pause=False, conditions=[
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
         "message": "group 1 did not complete within 600s; still trying"}])
    v = view.status_view(obj, [], [module("m", 1, "1.0.2", "p", "127.0.0.2", "Failed",
                                          reason="InstallFailed", message="404")], now=NOW)
    assert any("1 instance(s) Failed, e.g. m on p: InstallFailed 404" == s for s in v.next_steps)
    assert "to roll back: kubectl module undo sample" in v.next_steps
    assert any(s.startswith("ProgressDeadlineExceeded") for s in v.next_steps)


def test_no_status_yet_and_unobserved_spec():
    assert "no release status yet" in view.status_view(md(None), [], [], now=NOW).next_steps[0]
    v = view.status_view(md("Completed", current=2, pause=False, generation=3), [], [], now=NOW)
    assert v.next_steps == ("the controller has not yet acted on the latest spec",)


def test_event_limit_keeps_the_latest():
    evs = [event(f"R{i}", f"2026-01-01T12:00:{i:02d}Z") for i in range(10)]
    v = view.status_view(md(), [], [], list(reversed(evs)), now=NOW, event_limit=3)
    assert [e.reason for e in v.events] == ["R7", "R8", "R9"]


# ----------------------------------------------------------------------------- writes


def test_promote_confirms_exactly_the_waiting_group_once():
    change = view.promote(md())
    assert change.patch == {"metadata": {"resourceVersion": "42"}, "spec": {"confirmBatchNum": 1}}
    again = view.promote(md(confirm=1))
    assert again.patch is None and "already confirmed" in again.message
    later = view.promote(md(current=2, total=3, delta=3, confirm=1))
    assert later.patch["spec"] == {"confirmBatchNum": 2}


def test_promote_when_nothing_waits_changes_nothing():
    for obj in (md("Executing", pause=False), md("Completed", current=2, pause=False), md(None)):
        change = view.promote(obj)
        assert change.patch is None and "nothing to promote" in change.message


def test_pause_and_resume_are_idempotent():
    assert view.set_pause(md(pause=False), True).patch["spec"] == {"pause": True}
    assert view.set_pause(md(pause=True), True).patch is None
    assert view.set_pause(md(pause=True), False).patch["spec"] == {"pause": False}


def test_undo_defaults_to_the_previous_revision_and_restores_its_template():
    revisions = [mrs(1, "1.0.2", URL1, 0, 0), mrs(2, "2.0.0", URL2, 2, 2)]
    obj = md("Completed", version="2.0.0", url=URL2, update=2)
    obj["spec"]["template"]["spec"]["module"]["md5"] = "0" * 32
    change = view.undo(obj, revisions)
    assert change.patch["spec"] == {"template": {"spec": {"module": {
        "version": "1.0.2", "url": URL1, "md5": None}}}}
    assert change.patch["metadata"] == {"resourceVersion": "42"}
    assert "revision 1 (provider:1.0.2)" in change.message
    # back at 1, undo goes to the highest other revision, as kubectl rollout undo does
    assert view.undo(md("Completed"), revisions).patch["spec"]["template"]["spec"]["module"][
        "version"] == "2.0.0"


def test_undo_errors_name_the_object():
    revisions = [mrs(1, "1.0.2", URL1, 2, 2)]
    with pytest.raises(view.ViewError, match='moduledeployment "sample" in namespace "ns" has no previous'):
        view.undo(md(), revisions)
    with pytest.raises(view.ViewError, match='revision 7 of moduledeployment "sample" not found'):
        view.undo(md(), revisions, 7)
    assert view.undo(md(), revisions, 1).patch is None
    ref = md()
    ref["spec"] = {"templateRef": {"name": "tpl"}}
    with pytest.raises(view.ViewError, match='uses moduletemplate "tpl"'):
        view.undo(ref, revisions)


def test_merge_patch_round_trips():
    old = {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}
    new = {"a": 1, "b": {"c": 5}, "f": 6}
    assert view.merge_patch(old, new) == {"b": {"c": 5, "d": None}, "e": None, "f": 6}


def test_history_marks_current_and_completed():
    revisions = [mrs(2, "2.0.0", URL2, 2, 2), mrs(1, "1.0.2", URL1, 0, 0)]
    rows = view.history(md("Completed", version="2.0.0", url=URL2, update=2), revisions)
    assert [(r.revision, r.version, r.current, r.completed, r.state) for r in rows] == [
        (1, "1.0.2", False, None, "superseded"), (2, "2.0.0", True, True, "completed")]
    rows = view.history(md("Paused", version="2.0.0", url=URL2, update=2), revisions)
    assert rows[1].completed is False and rows[1].state == "Paused 1/2"


def test_base_selector_by_ip_or_pod():
    assert view.base_selector("127.0.0.2") == f"{c.LABEL_BASE_INSTANCE_IP}=127.0.0.2"
    assert view.base_selector("base-abc") == f"{c.LABEL_BASE_INSTANCE_NAME}=base-abc"


# ----------------------------------------------------------------------------- renderers


def _paused_view():
    return view.status_view(md(), [mrs(1, "1.0.2", URL1, 1, 1)],
                            [module("m1", 1, "1.0.2", "base-a", "127.0.0.2", "Available", "1.0.2")],
                            [event("ReleasePaused", T0, "group 1/2, 1/2 Available")], now=NOW)


def test_table_shows_the_facts():
    text = render.status_table(_paused_view(), NOW)
    assert "Progress:   Paused after group 1 of 2, revision 1 (spec.pause true)" in text
    assert "  group 2 of 2 waits for confirmation: kubectl module promote sample" in text
    lines = text.splitlines()
    assert any(line.split() == ["2", "1", "waiting-for-confirmation", "30s"] for line in lines)
    assert any(line.split()[:5] == ["m1", "1", "1.0.2", "Available", "127.0.0.2"]
               for line in lines)
    wide = render.status_table(_paused_view(), NOW, wide=True).splitlines()
    assert any(line.split()[:8] == ["m1", "1", "1.0.2", "Available", "127.0.0.2", "30s", "1.0.2",
                                    "base-a"] for line in wide)
    assert any(line.split()[:3] == ["30s", "Normal", "ReleasePaused"] for line in lines)


@pytest.mark.parametrize("output", ["json", "yaml"])
def test_json_and_yaml_carry_the_same_facts(output):
    text = render.status(_paused_view(), output, NOW)
    data = json.loads(text) if output == "json" else yaml.safe_load(text)
    assert data["waitingGroup"] == 2 and data["progress"] == "Paused"
    assert data["groups"][1] == {"number": 2, "size": 1, "state": "waiting-for-confirmation",
                                 "since": T0, "notBefore": None}
    assert data["instances"][0]["installedVersion"] == "1.0.2"
    assert data["instances"][0]["basePod"] == "base-a"
    assert data["revisions"][0]["roles"] == ["update"]
    assert "kubectl module promote sample" in data["nextSteps"][0]


def test_history_and_base_tables():
    rows = view.history(md("Completed", update=1), [mrs(1, "1.0.2", URL1, 2, 2)])
    text = render.history(rows, "table", NOW)
    assert text.splitlines()[0].split() == ["REVISION", "MODULE", "VERSION", "CREATED", "CURRENT",
                                            "STATE"]
    assert text.splitlines()[1].split() == ["1", "provider", "1.0.2", "30s", "*", "completed"]
    wide = render.history(rows, "wide", NOW).splitlines()
    assert wide[1].split()[-1] == URL1
    assert render.history(rows, "name", NOW) == \
        "modulereplicaset.serverless.alipay.com/sample-replicas-1\n"
    data = json.loads(render.history(rows, "json", NOW))
    assert data["revisions"][0]["completed"] is True
    base = view.base_modules([module("m1", 1, "1.0.2", "base-a", "127.0.0.2", "Available", "1.0.2")])
    assert render.base_modules(base, "table", NOW).splitlines()[1].split()[:4] == [
        "m1", "1.0.2", "1.0.2", "Available"]
    assert render.base_modules(base, "wide", NOW).splitlines()[1].split()[-4:] == [
        "sample", "provider", "base-a", "127.0.0.2"]
    assert render.base_modules(base, "name", NOW) == "module.serverless.alipay.com/m1\n"


def test_ages_like_kubectl():
    t = NOW
    assert [render.age(t - dt.timedelta(seconds=s), t) for s in (5, 119, 185, 3600 * 3 + 120,
                                                                 86400 * 2 + 3600)] == [
        "5s", "119s", "3m5s", "3h2m", "2d1h"]
    assert render.age(None, t) == "-"


# ----------------------------------------------------------------------------- arguments


def test_flags_before_and_after_the_subcommand():
    a = cli.parse(["-n", "x", "status", "sample", "-o", "json"])
    assert (a.namespace, a.output, a.name) == ("x", "json", "sample")
    b = cli.parse(["status", "sample", "--namespace", "y", "--context", "ctx"])
    assert (b.namespace, b.context, b.output) == ("y", "ctx", "table")
    assert cli.parse(["undo", "s", "--to-revision", "3"]).to_revision == 3
    assert cli.parse(["get", "modules", "--base", "127.0.0.2"]).base == "127.0.0.2"


@pytest.mark.parametrize("argv", [[], ["status"], ["undo", "s", "--to-revision", "0"],
                                  ["get", "modules"], ["status", "s", "-o", "xml"], ["abort"],
                                  ["retry"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.parse(argv)
    assert exc.value.code == 2


def test_abort_names_the_running_revision_and_refuses_without_a_stable_one():
    from module_controller.plugin.abort import abort

    running = md("Paused", version="2.0.0", url=URL2, update=2)
    running["status"]["releaseStatus"]["stableRevision"] = 1
    change = abort(running)
    assert change.patch["metadata"]["annotations"] == {c.ANNOTATION_ABORT_REVISION: "2"}
    assert "wrote serverless.alipay.com/abort-revision=2" in change.message
    assert "return to revision 1" in change.message
    running["status"]["releaseStatus"]["abortedRevision"] = 2
    assert abort(running).patch is None, "aborted already: nothing written"
    assert abort(md("Completed", update=1)).patch is None
    first = md("Paused", update=1)
    with pytest.raises(view.ViewError, match="nothing to abort to"):
        abort(first)


def test_history_marks_an_aborted_revision():
    revisions = [mrs(2, "2.0.0", URL2, 0, 0), mrs(1, "1.0.2", URL1, 2, 2)]
    done = md("Completed", version="2.0.0", url=URL2, update=1)
    done["status"]["releaseStatus"].update(stableRevision=1, abortedRevision=2)
    for reason, state in (("Aborted", "aborted"), ("ProgressDeadlineExceeded",
                                                    "failed, rolled back")):
        done["status"]["conditions"] = [{"type": "RolledBack", "status": "True", "reason": reason}]
        rows = view.history(done, revisions)
        assert [(r.revision, r.completed, r.state) for r in rows] == [
            (1, True, "completed"), (2, False, state)]


def _aborted() -> dict:
    """2.0.0 given up, 1.0.2 runs: progress Aborted on revision 1, the spec still at 2.0.0."""
    out = md("Aborted", current=1, total=1, version="2.0.0", url=URL2, update=1, pause=False,
             version_running="1.0.2")
    out["status"]["version"] = out["status"].pop("version_running")
    out["status"]["releaseStatus"].update(stableRevision=1, abortedRevision=2,
                                          abortedModule=f"provider:2.0.0@{URL2}")
    out["status"]["conditions"].append({"type": "RolledBack", "status": "True",
                                        "reason": "Aborted", "message": "aborted by the user"})
    return out


def test_an_aborted_release_is_shown_first_and_stops_until_done():
    revisions = [mrs(2, "2.0.0", URL2, 0, 0), mrs(1, "1.0.2", URL1, 2, 2)]
    v = view.status_view(_aborted(), revisions, [], now=NOW)
    assert v.given_up == "revision 2 (2.0.0) aborted; revision 1 (1.0.2) runs"
    assert v.running_version == "1.0.2" and not v.done
    assert v.stuck and "aborted" in v.stuck
    assert any("kubectl module retry sample" in s for s in v.next_steps)
    table = render.status_table(v, NOW)
    assert "ABORTED:    revision 2 (2.0.0) aborted; revision 1 (1.0.2) runs [RolledBack: Aborted]" \
        in table and "Running:    1.0.2" in table
    rows = view.history(_aborted(), revisions)
    assert [(r.revision, r.state) for r in rows] == [(1, "completed"), (2, "aborted")]


def test_a_refused_spec_stops_until_done_with_its_reason():
    refused = md(None, observed=2)
    refused["status"]["conditions"].append({
        "type": "ReplicaFailure", "status": "True", "reason": c.REASON_MODULE_NAME_CONFLICT,
        "message": "module provider on base already belongs to ModuleDeployment other"})
    v = view.status_view(refused, [], [], now=NOW)
    assert v.stuck and "ModuleNameConflict: module provider" in v.stuck
    assert not any("is the controller running" in s for s in v.next_steps)
    assert view.status_view(md(None, observed=1), [], [], now=NOW).stuck is None


def test_retry_names_the_given_up_revision_and_undo_to_it_is_a_retry():
    from module_controller.plugin.retry import retry

    change = retry(_aborted())
    assert change.patch["metadata"]["annotations"] == {c.ANNOTATION_RETRY_REVISION: "2"}
    assert "wrote serverless.alipay.com/retry-revision=2" in change.message
    assert "release revision 2" in change.message
    assert retry(md("Completed")).patch is None
    revisions = [mrs(2, "2.0.0", URL2, 0, 0), mrs(1, "1.0.2", URL1, 2, 2)]
    undo = view.undo(_aborted(), revisions, 2)
    assert undo.patch["metadata"]["annotations"] == {c.ANNOTATION_RETRY_REVISION: "2"}
    assert "spec" not in undo.patch
    back = view.undo(_aborted(), revisions, 1)
    assert back.patch["spec"]["template"]["spec"]["module"]["version"] == "1.0.2"
