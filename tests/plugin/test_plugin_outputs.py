"""The plugin without a cluster: what ``--help`` loads, one group numbering, the new commands'
changes (``promote --full``, ``set version``, ``list``), messages that say what was written,
``-o wide|name`` and the 120-column default tables, the gray-time countdown."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys

import pytest

from module_controller.plugin import args as cli
from module_controller.plugin import render, view

from test_plugin_view import NOW, T0, URL1, URL2, event, md, module, mrs

HEAVY = ("kopf", "kubernetes_asyncio", "pydantic", "aiohttp", "yaml", "module_controller.api",
         "asyncio")


@pytest.mark.parametrize("argv", [["--help"], ["status", "--help"], ["set", "version", "--help"],
                                  ["promote"]])
def test_help_and_usage_errors_load_no_client_library(argv):
    """What ``kubectl module --help`` imports, not how long it takes (bench/plugin_startup.py
    measures that): nothing of the client, the framework or the API models."""
    probe = ("import sys\nfrom module_controller.plugin.main import main\n"
             f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=60)
    assert ran.stdout.strip().splitlines()[-1] == "[]", ran.stdout + ran.stderr


def test_one_group_numbering_in_status_promote_and_help():
    """Group k done and paused, group k+1 waits: status, promote and the help all say so, and
    promote writes confirmBatchNum=k (behaviour §2.3.4)."""
    paused = md(current=2, total=3, delta=3)
    v = view.status_view(paused, [], [], now=NOW)
    assert v.where == "Paused after group 2 of 3"
    assert [(g.number, g.state) for g in v.groups] == [
        (1, "done"), (2, "done"), (3, "waiting-for-confirmation")]
    assert "group 3 of 3 waits for confirmation: kubectl module promote sample" in v.next_steps
    change = view.promote(paused)
    assert change.patch["spec"] == {"confirmBatchNum": 2}
    assert change.message == ("moduledeployment sample: wrote spec.confirmBatchNum=2 (confirms "
                              "the pause after group 2 of 3: group 3 may start)")
    assert "spec.confirmBatchNum=k confirms that pause, so group k+1 starts" in \
        " ".join(cli.parser().format_help().split())
    running = md("Executing", current=2, total=3, delta=3, pause=False)
    assert view.status_view(running, [], [], now=NOW).where == "Executing, group 2 of 3"


def test_promote_full_confirms_every_remaining_pause():
    change = view.promote(md(current=1, total=4, delta=4), full=True)
    assert change.patch["spec"] == {"confirmBatchNum": 3, "pause": False}
    assert "wrote spec.confirmBatchNum=3 and spec.pause=false" in change.message
    assert "pauses after groups 1 to 3 of 4" in change.message
    # Running without pauses to come: nothing to write; no release: nothing either.
    done = view.promote(md("Executing", current=2, total=4, delta=4, pause=False, confirm=3),
                        full=True)
    assert done.patch is None and "confirmed already" in done.message
    assert view.promote(md("Completed", current=2, pause=False), full=True).patch is None


def test_set_version_writes_version_and_url_and_refuses_a_stale_url():
    change = view.set_version(md(), "2.0.0", URL2, keep_url=False)
    assert change.patch["spec"] == {"template": {"spec": {"module": {"version": "2.0.0",
                                                                      "url": URL2}}}}
    assert change.message == (f"moduledeployment sample: wrote spec.template.spec.module.version="
                              f"2.0.0 and url={URL2} (was 1.0.2)")
    with pytest.raises(view.ViewError, match="names version 1.0.2: pass --url"):
        view.set_version(md(), "2.0.0", None, keep_url=False)
    kept = view.set_version(md(), "2.0.0", None, keep_url=True)
    assert kept.patch["spec"]["template"]["spec"]["module"] == {"version": "2.0.0"}
    assert view.set_version(md(), "1.0.2", None, keep_url=False).patch is None


def test_undo_says_it_wrote_the_spec_not_that_it_rolled_back():
    obj = md("Completed", current=2, pause=False, version="2.0.0", url=URL2, update=2)
    change = view.undo(obj, [mrs(1, "1.0.2", URL1, 0, 0), mrs(2, "2.0.0", URL2, 2, 2)])
    assert "rolled back" not in change.message
    assert change.message.startswith("moduledeployment sample: wrote the template of revision 1 "
                                     "(provider:1.0.2) into the spec")


def test_list_rows_and_outputs():
    other = md("Executing", current=1, total=2, pause=False, version="2.0.0", url=URL2, update=2)
    other["metadata"] = {**other["metadata"], "name": "other", "namespace": "ns2"}
    rows = view.deployments([other, md()])
    table = render.deployments(rows, "table", NOW, all_namespaces=True).splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "MODULE", "VERSION", "RUNNING", "PROGRESS",
                                "DESIRED", "AVAILABLE", "AGE"]
    assert "Paused after group 1 of 2" in table[1] and table[1].split()[:4] == [
        "ns", "sample", "provider", "1.0.2"]
    assert "Executing, group 1 of 2" in table[2]
    assert render.deployments(rows, "name", NOW, False) == (
        "moduledeployment.serverless.alipay.com/sample\n"
        "moduledeployment.serverless.alipay.com/other\n")
    assert render.deployments(rows, "wide", NOW, False).splitlines()[0].split()[-3:] == [
        "UPDATED", "REVISION", "URL"]
    items = json.loads(render.deployments(rows, "json", NOW, False))["items"]
    assert [(i["name"], i["progress"]) for i in items] == [
        ("sample", "Paused after group 1 of 2"), ("other", "Executing, group 1 of 2")]


def test_default_status_table_fits_120_columns_and_wide_shows_everything():
    long_pod = "dynamic-stock-deployment-997456866-k98fv"
    instance = module("moduledeployment-sample-replicas-1-provider-49z6s", 1, "1.0.2", long_pod,
                      "127.163.0.2", "Available", "1.0.2")
    message = ("revision 1, group 1/2: 1 Module Installed; latest moduledeployment-sample-"
               "replicas-1-provider-49z6s: provider:1.0.2 is ACTIVATED on " + long_pod)
    v = view.status_view(md(), [mrs(1, "1.0.2", URL1, 1, 1)], [instance],
                         [event("Installed", T0, message)], now=NOW)
    narrow = render.status(v, "table", NOW)
    assert max(len(line) for line in narrow.splitlines()
               if not line.startswith("URL:")) <= render.WIDTH
    assert "…" in narrow
    wide = render.status(v, "wide", NOW)
    assert message in wide and long_pod in wide and URL1 in wide.split("Revisions:")[1]
    assert render.status(v, "name", NOW) == "moduledeployment.serverless.alipay.com/sample\n"


def test_gray_time_is_a_countdown():
    obj = md("Executing", current=2, total=3, delta=3, pause=False)
    obj["spec"]["operationStrategy"].update(batchCount=3, grayTimeBetweenBatchSeconds=60)
    obj["status"]["releaseStatus"]["nextReconcileTime"] = "2026-01-01T12:01:12Z"
    v = view.status_view(obj, [], [], now=NOW)
    assert "next group in 42s: group 2 of 3 starts when the gray time ends" in v.next_steps
    table = render.status_table(v, NOW)
    assert any(line.split() == ["2", "1", "gray-time", "30s", "42s"] for line in table.splitlines())
    assert view.countdown(NOW + dt.timedelta(seconds=185), NOW) == "3m5s"
    # JSON keeps the absolute time (programs compute their own countdown).
    data = view.to_data(v)
    assert data["groups"][1]["notBefore"] == "2026-01-01T12:01:12Z"
    assert dataclasses.is_dataclass(v)
