"""The Helm chart (chart/): generated from the renderer's sources, in step with `make manifests`,
accepted by the real `helm lint`, and `helm template` gives the objects `module-controller
manifests` renders for the same values."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from module_controller.manifests import chart
from module_controller.manifests.render import DEFAULT_PROBES, Options, RenderError, render_options

from helm_testkit import CHART, run, template

NS = "team-a"


def key(obj):
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def test_chart_is_up_to_date_with_its_sources():
    problems = chart.stale(CHART, chart.chart_files())
    assert not problems, f"{problems}: run `make manifests`"


@pytest.mark.parametrize(("image", "split"), [
    ("module-controller:dev", ("module-controller", "dev")),
    ("registry.example.com:5000/team/mc:1.2.3", ("registry.example.com:5000/team/mc", "1.2.3")),
    ("registry.example.com:5000/team/mc", ("registry.example.com:5000/team/mc", "")),
    ("mc@sha256:" + "a" * 64, ("mc@sha256:" + "a" * 64, "")),
])
def test_images_split_into_repository_and_tag(image, split):
    assert chart.split_image(image) == split


CASES = {
    "defaults": Options(namespace=NS),
    "namespaced": Options(namespace=NS, mode="namespaced", watch_namespaces=(NS,)),
    "every-value": Options(
        namespace=NS, image="registry.example.com:5000/team/mc:1.2.3", replicas=1,
        leader_election=False, watch_namespaces=("a", "b", "a"), probe_port=9090,
        log_level="DEBUG", image_pull_policy="Always", extra_args=("--arklet-timeout=5",),
        resources={"requests": {"cpu": "50m", "memory": "96Mi"}},
        module_services="disabled", pod_deletion=False,
        probes={"startup": {"periodSeconds": 3, "timeoutSeconds": 4, "failureThreshold": 40},
                "liveness": {"periodSeconds": 11, "timeoutSeconds": 5, "failureThreshold": 2},
                "readiness": {"periodSeconds": 6, "timeoutSeconds": 2, "failureThreshold": 4}}),
    "monitoring": Options(namespace=NS, service_monitor=True, prometheus_rule=True,
                          scrape_interval="15s", release_stuck_seconds=600,
                          arklet_error_ratio=0.5, module_services="clusterip"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_helm_template_and_manifests_render_the_same_objects(helm_bin, tmp_path, case):
    options = CASES[case]
    expected = [o for o in render_options(options) if o["kind"] != "Namespace"]
    got = template(helm_bin, options.namespace, chart.chart_values(options), tmp_path)
    assert sorted(map(key, got)) == sorted(map(key, expected))
    by_key = {key(o): o for o in got}
    for obj in expected:
        assert by_key[key(obj)] == obj, key(obj)


def test_a_change_of_values_shows_in_the_comparison(helm_bin, tmp_path):
    """The comparison above can fail: other values, other objects."""
    options = CASES["defaults"]
    values = chart.chart_values(replace(options, pod_deletion=False))
    got = template(helm_bin, NS, values, tmp_path)
    assert [o for o in got if o["kind"] == "Deployment"] != [
        o for o in render_options(options) if o["kind"] == "Deployment"]


@pytest.mark.parametrize(("values", "message"), [
    ({"replicas": 2, "leaderElection": False}, "more than one replica needs leaderElection"),
    ({"mode": "namespaced", "watchNamespaces": ["other"]}, "namespaced mode serves only"),
    ({"moduleServices": "loadbalancer"}, "/moduleServices"),
    ({"mode": "clusterwide"}, "/mode"),
    # values.schema.json: wrong types and unknown names are refused, naming the field.
    ({"replicas": "two"}, "/replicas"),
    ({"replica": 3}, "'replica' not allowed"),
    ({"probes": {"startup": {"periodSeconds": 0}}}, "/probes/startup/periodSeconds"),
    ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0"),
    ({"metrics": {"prometheusRule": {"arkletErrorRatio": 2}}}, "arkletErrorRatio"),
])
def test_helm_refuses_what_the_renderer_refuses(helm_bin, tmp_path, values, message):
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))
    proc = run(helm_bin, "template", "mc", str(CHART), "--namespace", NS, "-f", str(path),
               check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_the_renderer_refuses_the_same(tmp_path):
    for options in (Options(replicas=2, leader_election=False),
                    Options(mode="namespaced", watch_namespaces=("other",)),
                    Options(module_services="loadbalancer"), Options(mode="clusterwide"),
                    Options(replicas=0), Options(watch_namespaces=("Team_A",)),
                    Options(probes={**DEFAULT_PROBES, "startup": {
                        "periodSeconds": 0, "timeoutSeconds": 1, "failureThreshold": 1}}),
                    Options(arklet_error_ratio=2.0)):
        with pytest.raises(RenderError):
            render_options(options)


@pytest.mark.parametrize("values", [{}, {"mode": "namespaced"},
                                    {"metrics": {"serviceMonitor": {"enabled": True},
                                                 "prometheusRule": {"enabled": True}}}])
def test_helm_lint_passes(helm_bin, tmp_path, values):
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))
    proc = run(helm_bin, "lint", "--strict", str(CHART), "-f", str(path), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cluster_mode_grants_view_and_edit_by_aggregation(helm_bin, tmp_path):
    objects = template(helm_bin, NS, {}, tmp_path)
    roles = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ClusterRole"}
    view = roles["module-controller-aggregate-to-view"]
    edit = roles["module-controller-aggregate-to-edit"]
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    kinds = {"moduledeployments", "modulereplicasets", "modules", "moduletemplates"}
    assert kinds <= set(view["rules"][0]["resources"])
    assert set(view["rules"][0]["verbs"]) == {"get", "list", "watch"}
    assert kinds == set(edit["rules"][0]["resources"])
    assert not any("status" in r for rule in edit["rules"] for r in rule["resources"])
