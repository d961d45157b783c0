"""The rendered install set, without a cluster: contents, security settings, agreement with
rbac/ and crds/, the controller's flags, and config/deploy/ in step with `make manifests`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from module_controller_dev.devcluster.kubectl import Kubectl
from module_controller.manifests.render import CLUSTER_SCOPED, FILES, RenderError, main, render

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DEPLOY = REPO / "config" / "deploy"
NS = "mc-test"
IMAGE = "registry.example.com:5000/team/module-controller:1.2.3"
#: Flags the manifests pass that the controller does not have yet (see docs/deploy.md).
def by_kind(objects, kind):
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects, kind):
    found = by_kind(objects, kind)
    assert len(found) == 1, f"{len(found)} objects of kind {kind}"
    return found[0]


def container(objects):
    deployment = one(objects, "Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def key(obj):
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


@pytest.mark.parametrize("mode", ["cluster", "namespaced"])
def test_the_set_has_every_part_in_apply_order(mode):
    objects = render(NS, IMAGE, mode=mode)
    kinds = [obj["kind"] for obj in objects]
    assert kinds[0] == "Namespace"
    assert kinds[1:5] == ["CustomResourceDefinition"] * 4
    assert kinds[5] == "ServiceAccount"
    assert kinds.index("Deployment") > max(i for i, k in enumerate(kinds) if "Role" in k)
    assert {"Service", "PodDisruptionBudget"} <= set(kinds)
    assert len(set(map(key, objects))) == len(objects)  # no duplicates
    for obj in objects:
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in obj["metadata"], key(obj)
        else:
            assert obj["metadata"]["namespace"] == NS, key(obj)
    assert "module-controller-system" not in yaml.safe_dump(objects)


def test_the_crds_are_those_of_crds_dir():
    rendered = by_kind(render(NS, IMAGE), "CustomResourceDefinition")
    on_disk = [yaml.safe_load(path.read_text()) for path in sorted((REPO / "crds").glob("*.yaml"))]
    assert rendered == on_disk
    assert sorted(c["spec"]["names"]["kind"] for c in rendered) == [
        "Module", "ModuleDeployment", "ModuleReplicaSet", "ModuleTemplate"]


@pytest.mark.parametrize("mode", ["cluster", "namespaced"])
def test_rbac_is_what_kustomize_makes_of_rbac_dir(mode, tmp_path):
    """One source of truth: the rendered RBAC equals `kubectl kustomize` of an overlay that puts
    rbac/<mode> into the namespace."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    base = os.path.relpath(REPO / "rbac" / mode, overlay)
    (overlay / "kustomization.yaml").write_text(
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"namespace: {NS}\nresources:\n- {base}\n")
    result = Kubectl().run("kustomize", str(overlay))
    expected = sorted(yaml.safe_load_all(result.stdout), key=key)
    rbac_kinds = {"ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
    rendered = sorted((o for o in render(NS, IMAGE, mode=mode) if o["kind"] in rbac_kinds), key=key)
    assert rendered == expected
    # The Deployment runs as the ServiceAccount the bindings grant.
    sa = one(rendered, "ServiceAccount")["metadata"]["name"]
    deployment = one(render(NS, IMAGE, mode=mode), "Deployment")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == sa
    for binding in by_kind(rendered, "RoleBinding") + by_kind(rendered, "ClusterRoleBinding"):
        assert {"kind": "ServiceAccount", "name": sa, "namespace": NS} in binding["subjects"]


def test_an_unsupported_kustomization_feature_is_an_error_not_ignored(tmp_path):
    source = tmp_path / "src"
    (source / "rbac" / "cluster").mkdir(parents=True)
    (source / "crds").symlink_to(REPO / "crds")
    (source / "rbac" / "cluster" / "kustomization.yaml").write_text(
        "resources: []\nnameSuffix: -x\n")
    with pytest.raises(RenderError, match="nameSuffix"):
        render(NS, IMAGE, source_dir=source)


def test_deployment_security_settings():
    objects = render(NS, IMAGE)
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    c = container(objects)
    assert deployment["spec"]["replicas"] == 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["runAsNonRoot"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    for part in ("requests", "limits"):
        assert set(c["resources"][part]) == {"cpu", "memory"}
    # The only writable path is /tmp, an emptyDir.
    assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"][0]["name"] == "tmp" and "emptyDir" in pod["volumes"][0]
    assert c["image"] == IMAGE and c["imagePullPolicy"] == "IfNotPresent"


def test_probes_metrics_and_downward_api():
    objects = render(NS, IMAGE)
    c = container(objects)
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert c["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"]}
    assert env == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace",
                   "POD_IP": "status.podIP"}
    # The probe server binds the pod IP, where the kubelet probes; the env var comes first, as
    # Kubernetes expands $(VAR) in args only from variables the container defines.
    assert "--probe-host=$(POD_IP)" in c["args"]
    service = one(objects, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    annotations = one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == "8080"
    assert "--probe-port=8080" in c["args"]
    other = container(render(NS, IMAGE, probe_port=9090))
    assert other["ports"][0]["containerPort"] == 9090 and "--probe-port=9090" in other["args"]


def test_controller_args_per_mode():
    cluster = container(render(NS, IMAGE))["args"]
    assert cluster[0] == "run" and "--no-dev" not in cluster
    assert not [a for a in cluster if a.startswith("--namespace")]  # all namespaces
    assert "--leader-election" in cluster
    namespaced = container(render(NS, IMAGE, mode="namespaced"))["args"]
    assert [a for a in namespaced if a.startswith("--namespace")] == [f"--namespace={NS}"]
    some = container(render(NS, IMAGE, watch_namespaces=["a", "b"]))["args"]
    assert [a for a in some if a.startswith("--namespace")] == ["--namespace=a", "--namespace=b"]
    single = container(render(NS, IMAGE, replicas=1, leader_election=False))["args"]
    assert "--no-leader-election" in single and "--leader-election" not in single
    extra = container(render(NS, IMAGE, extra_args=["--arklet-timeout=5"]))["args"]
    assert extra[-1] == "--arklet-timeout=5"


def test_controller_args_are_flags_the_controller_has():
    """Every flag in the Deployment is one `module-controller run` accepts today; a renamed or
    removed flag fails here, not in a cluster."""
    result = subprocess.run([str(BIN / "module-controller"), "run", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    known = set(re.findall(r"(--[a-z][a-z0-9-]*)", result.stdout))
    assert "--namespace" in known and "--no-dev" in known
    args = container(render(NS, IMAGE, mode="namespaced", extra_args=["--arklet-timeout=5"]))["args"]
    flags = {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}
    assert args[0] == "run"
    assert flags <= known, f"unknown flags: {flags - known}"


@pytest.mark.parametrize("kwargs, message", [
    ({"replicas": 2, "leader_election": False}, "leader election"),
    ({"replicas": 0}, "at least 1"),
    ({"mode": "everywhere"}, "mode"),
    ({"mode": "namespaced", "watch_namespaces": ["other"]}, "namespaced mode"),
    ({"probe_port": 70000}, "port"),
    ({"watch_namespaces": ["Not_A_Label"]}, "DNS-1123"),
])
def test_options_that_cannot_work_are_refused(kwargs, message):
    with pytest.raises(RenderError, match=message):
        render(NS, IMAGE, **kwargs)


@pytest.mark.parametrize("namespace, image", [("Bad_NS", IMAGE), (NS, ""), (NS, "a b")])
def test_bad_namespace_or_image_is_refused(namespace, image):
    with pytest.raises(RenderError):
        render(namespace, image)


def test_values_are_quoted_not_pasted_into_yaml():
    # A value that would break naive interpolation (YAML syntax, a jinja-escaped character).
    image = "reg.example.com/x:1.0@sha256:" + "a" * 64
    c = container(render(NS, image, log_level="debug: <&>"))
    assert c["image"] == image
    assert "--log-level=debug: <&>" in c["args"]


def test_namespace_labels_only_where_the_namespace_is_the_controllers():
    cluster = one(render(NS, IMAGE), "Namespace")["metadata"]
    assert cluster["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    namespaced = one(render(NS, IMAGE, mode="namespaced"), "Namespace")["metadata"]
    assert "labels" not in namespaced  # shared with the bases: not ours to label


def test_cli_writes_files_and_stdout_stream(tmp_path, capsys):
    assert main(["--namespace", NS, "--image", IMAGE, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    from_files = [doc for name in FILES
                  for doc in yaml.safe_load_all((tmp_path / name).read_text()) if doc]
    assert from_files == render(NS, IMAGE)
    assert main(["--namespace", NS, "--image", IMAGE, "--mode", "namespaced"]) == 0
    stream = [doc for doc in yaml.safe_load_all(capsys.readouterr().out) if doc]
    assert stream == render(NS, IMAGE, mode="namespaced")
    assert main(["--namespace", NS, "--image", IMAGE, "--replicas", "2",
                 "--no-leader-election"]) == 2
    assert "leader election" in capsys.readouterr().err


def test_cli_check_mode(tmp_path, capsys):
    args = ["--namespace", NS, "--image", IMAGE, "--out", str(tmp_path)]
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    controller = tmp_path / "03-controller.yaml"
    controller.write_text(controller.read_text().replace("readOnlyRootFilesystem: true",
                                                         "readOnlyRootFilesystem: false"))
    (tmp_path / "99-leftover.yaml").write_text("{}\n")
    capsys.readouterr()
    assert main([*args, "--check"]) == 1
    err = capsys.readouterr().err
    assert "03-controller.yaml: differs" in err and "99-leftover.yaml: not generated" in err
    assert main(args) == 0  # writing again repairs the directory
    assert main([*args, "--check"]) == 0
    assert not (tmp_path / "99-leftover.yaml").exists()


def test_config_deploy_is_what_make_manifests_writes(tmp_path):
    """config/deploy/ is checked in; it must be exactly what `make manifests` renders (the
    Makefile's own defaults), else run `make manifests`."""
    out = tmp_path / "deploy"
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "manifests",
         f"MANIFESTS_DIR={out}", f"BIN={BIN}"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    written = {p.name: p.read_text() for p in out.iterdir()}
    checked_in = {p.name: p.read_text() for p in DEPLOY.iterdir()}
    assert sorted(written) == sorted(FILES)
    stale = sorted(name for name in written.keys() | checked_in.keys()
                   if written.get(name) != checked_in.get(name))
    assert not stale, f"config/deploy/ is out of date ({stale}): run `make manifests`"
    # And the defaults are the documented ones.
    deployment = one([d for d in yaml.safe_load_all(written["03-controller.yaml"]) if d],
                     "Deployment")
    assert deployment["metadata"]["namespace"] == "module-controller-system"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "module-controller:dev"


def test_templates_are_package_data():
    """A non-editable install (the image) gets the templates only through package-data."""
    import fnmatch

    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["module_controller.manifests"]
    templates = REPO / "module_controller" / "manifests" / "templates"
    names = [p.relative_to(templates.parent).as_posix() for p in templates.rglob("*")
             if p.is_file()]
    assert names
    for name in names:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
