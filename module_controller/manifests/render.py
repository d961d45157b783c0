"""Render the install set of the controller: one ``kubectl apply -f`` away from running.

What goes in, in apply order:

1. the Namespace (labelled for the ``restricted`` Pod Security Standard in cluster mode, where
   the namespace holds only the controller; left unlabelled in namespaced mode, where it is
   shared with the bases);
2. the four CRDs, read from the repository's ``crds/`` (generated from the API models by
   ``make crds``; a test keeps them in step with the models);
3. the ServiceAccount and RBAC, read from the repository's ``rbac/<mode>`` kustomization and put
   into the target namespace the way ``kubectl kustomize`` with a ``namespace:`` overlay would
   (a test compares the two), so ``rbac/`` stays the one source of truth of the permissions;
4. the controller Deployment, a Service for scraping ``/metrics`` and a PodDisruptionBudget,
   rendered from the jinja2 templates next to this file;
5. optionally a ServiceMonitor and a PrometheusRule (for the Prometheus operator).

The Helm chart in ``chart/`` is generated from the same templates (:mod:`.chart`): rendered here
with concrete values they give the objects; rendered there with Helm placeholders
(:class:`.templating.Helm`) they give the chart's templates, so both install the same objects.

``crds/`` and ``rbac/`` are read from the source tree (``source_dir``, by default the checkout
this package lives in): rendering is a release step run from a checkout (``make manifests``).
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

import yaml

from ..generated import stale_files, write_files
from .templating import TEMPLATES, template_text

Mode = Literal["cluster", "namespaced"]
MODES: tuple[str, ...] = ("cluster", "namespaced")

DEFAULT_NAMESPACE = "module-controller-system"
DEFAULT_IMAGE = "module-controller:dev"
NAME = "module-controller"
SERVICE_ACCOUNT = "module-controller"
PROBE_PORT = 8080
UID = 65532  # the image's non-root user (Dockerfile)
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    # The Module benchmark (200 Modules on 50 bases) peaks at 151 MB resident (README).
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
#: The kubelet's probes of /healthz (startup, liveness) and /readyz (readiness).
DEFAULT_PROBES: dict[str, dict[str, int]] = {
    "startup": {"periodSeconds": 2, "timeoutSeconds": 2, "failureThreshold": 30},
    "liveness": {"periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3},
    "readiness": {"periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3},
}
MODULE_SERVICES: tuple[str, ...] = ("nodeport", "clusterip", "disabled")

#: The checkout this package lives in (…/module_controller/manifests/render.py -> …).
SOURCE_DIR = Path(__file__).resolve().parents[2]
CRD_GROUP = "serverless.alipay.com"
CRD_KINDS = ("Module", "ModuleDeployment", "ModuleReplicaSet", "ModuleTemplate")

# Kinds that live outside namespaces; kustomize's namespace transformer leaves them alone.
CLUSTER_SCOPED = frozenset({
    "Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding",
    "PersistentVolume", "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService",
})
# What the reader of rbac/ understands; anything else in a kustomization.yaml is an error, so a
# feature added to rbac/ later cannot be silently ignored here.
_KUSTOMIZATION_KEYS = frozenset({"apiVersion", "kind", "namespace", "resources"})
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class RenderError(ValueError):
    """The options make no valid install set, or crds/ or rbac/ cannot be read."""


@dataclass(frozen=True)
class Options:
    namespace: str = DEFAULT_NAMESPACE
    image: str = DEFAULT_IMAGE
    mode: str = "cluster"
    replicas: int = 2
    leader_election: bool = True
    #: Namespaces the controller serves. Cluster mode: empty means all. Namespaced mode: always
    #: exactly its own namespace (the Role grants nothing elsewhere).
    watch_namespaces: tuple[str, ...] = ()
    probe_port: int = PROBE_PORT
    log_level: str = "INFO"
    image_pull_policy: str = "IfNotPresent"
    extra_args: tuple[str, ...] = ()
    resources: dict[str, dict[str, str]] = field(default_factory=lambda: DEFAULT_RESOURCES)
    #: --module-services: which Services serviceStrategy may make.
    module_services: str = "nodeport"
    #: --pod-deletion: may the controller delete base pods (delete-pod labels, scale-up-then-down).
    pod_deletion: bool = True
    probes: dict[str, dict[str, int]] = field(default_factory=lambda: DEFAULT_PROBES)
    #: A ServiceMonitor (Prometheus operator) for the metrics Service, scraped this often.
    service_monitor: bool = False
    scrape_interval: str = "30s"
    #: A PrometheusRule with the controller's alerts, and its thresholds.
    prometheus_rule: bool = False
    release_stuck_seconds: int = 1800
    arklet_error_ratio: float = 0.2
    source_dir: Path = SOURCE_DIR

    def validate(self) -> None:
        if not (_DNS_LABEL.match(self.namespace) and len(self.namespace) <= 63):
            raise RenderError(f"namespace {self.namespace!r} is not a DNS-1123 label")
        if not self.image or any(ch.isspace() for ch in self.image):
            raise RenderError(f"image {self.image!r} is empty or contains whitespace")
        if self.mode not in MODES:
            raise RenderError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.replicas < 1:
            raise RenderError("replicas must be at least 1")
        if self.replicas > 1 and not self.leader_election:
            raise RenderError("more than one replica needs leader election: without it every "
                              "replica would act on the same objects")
        if not 1 <= self.probe_port <= 65535:
            raise RenderError(f"probe port {self.probe_port} is not a TCP port")
        if self.image_pull_policy not in ("Always", "IfNotPresent", "Never"):
            raise RenderError(f"image pull policy {self.image_pull_policy!r} is not valid")
        for ns in self.watch_namespaces:
            if not _DNS_LABEL.match(ns):
                raise RenderError(f"watched namespace {ns!r} is not a DNS-1123 label")
        if self.module_services not in MODULE_SERVICES:
            raise RenderError(f"module services must be one of {MODULE_SERVICES}, not "
                              f"{self.module_services!r}")
        if set(self.probes) != set(DEFAULT_PROBES):
            raise RenderError(f"probes must be exactly {sorted(DEFAULT_PROBES)}")
        for probe, fields in self.probes.items():
            if set(fields) != set(DEFAULT_PROBES[probe]) or not all(
                    isinstance(v, int) and v >= 1 for v in fields.values()):
                raise RenderError(f"probes.{probe} needs {sorted(DEFAULT_PROBES[probe])}, each a "
                                  f"whole number >= 1, not {fields!r}")
        if self.release_stuck_seconds < 1:
            raise RenderError(f"release stuck seconds must be at least 1, not "
                              f"{self.release_stuck_seconds}")
        if not 0 < self.arklet_error_ratio <= 1:
            raise RenderError(f"arklet error ratio must be in (0, 1], not {self.arklet_error_ratio}")
        if self.mode == "namespaced" and set(self.watch_namespaces) - {self.namespace}:
            raise RenderError("namespaced mode serves only the namespace it is installed in; "
                              "use cluster mode to serve others")

    @property
    def served_namespaces(self) -> tuple[str, ...]:
        if self.mode == "namespaced":
            return (self.namespace,)
        return tuple(dict.fromkeys(self.watch_namespaces))

    def controller_args(self) -> list[str]:
        """The container's ``args`` (they replace the image's ``CMD ["run"]``)."""
        args = ["run"]
        args += [f"--namespace={ns}" for ns in self.served_namespaces]
        args.append(f"--probe-port={self.probe_port}")
        # The pod IP (downward API): the kubelet's probes and the metrics Service reach it there;
        # nothing else is bound (the controller's own default is loopback only).
        args.append("--probe-host=$(POD_IP)")
        args.append("--leader-election" if self.leader_election else "--no-leader-election")
        args.append(f"--log-level={self.log_level}")
        args.append(f"--module-services={self.module_services}")
        args.append("--pod-deletion" if self.pod_deletion else "--no-pod-deletion")
        args += list(self.extra_args)
        return args


# ---------------------------------------------------------------------- sources: crds/, rbac/

def load_crds(source_dir: Path = SOURCE_DIR) -> list[dict[str, Any]]:
    """The four CRDs from ``<source_dir>/crds``, in file-name order."""
    directory = Path(source_dir) / "crds"
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise RenderError(f"no CRDs in {directory}: render from a checkout of the repository "
                          "or pass source_dir / --source-dir")
    crds = []
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is None:
                continue
            if doc.get("kind") != "CustomResourceDefinition" or doc["spec"]["group"] != CRD_GROUP:
                raise RenderError(f"{path}: not a {CRD_GROUP} CRD")
            crds.append(doc)
    kinds = sorted(crd["spec"]["names"]["kind"] for crd in crds)
    if kinds != sorted(CRD_KINDS):
        raise RenderError(f"{directory} holds CRDs of {kinds}, expected {sorted(CRD_KINDS)}")
    return crds


def load_kustomization(directory: Path) -> list[dict[str, Any]]:
    """The objects of a kustomization that uses only ``resources`` and ``namespace``, with that
    namespace applied (what ``kubectl kustomize`` prints, in file order)."""
    directory = Path(directory)
    path = directory / "kustomization.yaml"
    if not path.exists():
        raise RenderError(f"{path} not found: render from a checkout of the repository or pass "
                          "source_dir / --source-dir")
    spec = yaml.safe_load(path.read_text()) or {}
    unknown = set(spec) - _KUSTOMIZATION_KEYS
    if unknown:
        raise RenderError(f"{path} uses {sorted(unknown)}, which the manifest renderer does not "
                          "implement; extend module_controller/manifests/render.py")
    objects: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            objects += load_kustomization(target)
        else:
            objects += [doc for doc in yaml.safe_load_all(target.read_text()) if doc is not None]
    if spec.get("namespace"):
        objects = set_namespace(objects, spec["namespace"])
    return objects


def set_namespace(objects: Iterable[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """Put every namespaced object into ``namespace``; binding subjects that name one of the
    ServiceAccounts among ``objects`` follow it (as kustomize's namespace transformer does)."""
    objects = [_copy(obj) for obj in objects]
    accounts = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "ServiceAccount"}
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace
        if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            for subject in obj.get("subjects", []):
                if subject.get("kind") == "ServiceAccount" and subject.get("name") in accounts:
                    subject["namespace"] = namespace
    return objects


def load_rbac(mode: str, namespace: str, source_dir: Path = SOURCE_DIR) -> list[dict[str, Any]]:
    """ServiceAccount, roles and bindings of ``rbac/<mode>``, in ``namespace``."""
    if mode not in MODES:
        raise RenderError(f"mode must be one of {MODES}, not {mode!r}")
    objects = set_namespace(load_kustomization(Path(source_dir) / "rbac" / mode), namespace)
    order = {"ServiceAccount": 0, "ClusterRole": 1, "Role": 2, "ClusterRoleBinding": 3,
             "RoleBinding": 4}
    return sorted(objects, key=lambda obj: order.get(obj["kind"], 9))  # stable: file order kept


def _copy(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {key: _copy(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_copy(value) for value in obj]
    return obj


# ---------------------------------------------------------------------- templates

def _template(template: str, /, **values: Any) -> list[dict[str, Any]]:
    text = template_text(template, **values)
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


SELECTOR = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "controller"}
LABELS = {**SELECTOR, "app.kubernetes.io/part-of": "module-controller"}


def template_values(options: Options) -> dict[str, Any]:
    """What the templates are rendered with, for concrete options."""
    return dict(
        name=NAME, namespace=options.namespace, image=options.image, replicas=options.replicas,
        labels=LABELS, selector=SELECTOR, service_account=SERVICE_ACCOUNT, uid=UID,
        probe_port=options.probe_port, image_pull_policy=options.image_pull_policy,
        args=options.controller_args(), resources=options.resources, probes=options.probes,
        anti_affinity=options.replicas > 1, dedicated_namespace=options.mode == "cluster",
        service_monitor=options.service_monitor, scrape_interval=options.scrape_interval,
        prometheus_rule=options.prometheus_rule,
        release_stuck_seconds=options.release_stuck_seconds,
        arklet_error_ratio=options.arklet_error_ratio,
    )


def render_options(options: Options) -> list[dict[str, Any]]:
    options.validate()
    values = template_values(options)
    objects = _template("namespace.yaml.j2", **values)
    objects += load_crds(options.source_dir)
    objects += load_rbac(options.mode, options.namespace, options.source_dir)
    for template in TEMPLATES:
        objects += _template(template, **values)
    return objects


def render(namespace: str, image: str, *, mode: Mode = "cluster", replicas: int = 2,
           leader_election: bool = True, watch_namespaces: Sequence[str] = (),
           probe_port: int = PROBE_PORT, log_level: str = "INFO",
           image_pull_policy: str = "IfNotPresent", extra_args: Sequence[str] = (),
           resources: dict[str, dict[str, str]] | None = None,
           source_dir: Path | str = SOURCE_DIR) -> list[dict[str, Any]]:
    """Every object of the install set, in apply order (see the module docstring).

    Raises :class:`RenderError` for options that make no working install (e.g. two replicas
    without leader election, a namespaced install serving other namespaces).
    """
    return render_options(Options(
        namespace=namespace, image=image, mode=mode, replicas=replicas,
        leader_election=leader_election, watch_namespaces=tuple(watch_namespaces),
        probe_port=probe_port, log_level=log_level, image_pull_policy=image_pull_policy,
        extra_args=tuple(extra_args),
        resources=resources if resources is not None else DEFAULT_RESOURCES,
        source_dir=Path(source_dir)))


# ---------------------------------------------------------------------- files

#: Output files, applied by ``kubectl apply -f DIR`` in this (lexical) order.
FILES = ("00-namespace.yaml", "01-crds.yaml", "02-rbac.yaml", "03-controller.yaml")
_FILE_OF_KIND = {
    "Namespace": FILES[0], "CustomResourceDefinition": FILES[1], "ServiceAccount": FILES[2],
    "ClusterRole": FILES[2], "ClusterRoleBinding": FILES[2], "Role": FILES[2],
    "RoleBinding": FILES[2],
}


def command_line(options: Options) -> str:
    """The command that renders ``options`` (without --out), for the files' header."""
    parts = ["module-controller manifests", f"--namespace {options.namespace}",
             f"--image {options.image}"]
    if options.mode != "cluster":
        parts.append(f"--mode {options.mode}")
    if options.replicas != 2:
        parts.append(f"--replicas {options.replicas}")
    if not options.leader_election:
        parts.append("--no-leader-election")
    parts += [f"--watch-namespace {ns}" for ns in options.watch_namespaces]
    if options.probe_port != PROBE_PORT:
        parts.append(f"--probe-port {options.probe_port}")
    if options.log_level != "INFO":
        parts.append(f"--log-level {options.log_level}")
    if options.image_pull_policy != "IfNotPresent":
        parts.append(f"--image-pull-policy {options.image_pull_policy}")
    if options.module_services != "nodeport":
        parts.append(f"--module-services {options.module_services}")
    if not options.pod_deletion:
        parts.append("--no-pod-deletion")
    if options.service_monitor:
        parts.append("--service-monitor")
    if options.prometheus_rule:
        parts.append("--prometheus-rule")
    parts += [f"--extra-arg={arg}" for arg in options.extra_args]
    return " ".join(parts)


def _header(command: str) -> str:
    return (f"# Generated by `{command}`.\n"
            "# Do not edit: change module_controller/manifests/templates, rbac/ or crds/ and "
            "run `make manifests`.\n")


def to_stream(objects: Sequence[dict[str, Any]], command: str) -> str:
    """One YAML stream of all objects (for ``| kubectl apply -f -``)."""
    return _header(command) + "".join("---\n" + dump(obj) for obj in objects)


def to_files(objects: Sequence[dict[str, Any]], command: str) -> dict[str, str]:
    """File name -> YAML text (one document per object, a header naming the command)."""
    header = _header(command)
    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in FILES}
    for obj in objects:
        grouped[_FILE_OF_KIND.get(obj["kind"], FILES[3])].append(obj)
    return {name: header + "".join("---\n" + dump(obj) for obj in docs)
            for name, docs in grouped.items() if docs}


def dump(obj: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(obj, sort_keys=False, default_flow_style=False,
                               allow_unicode=True, width=100)
    return text


# ---------------------------------------------------------------------- command line

def parse_args(argv: Sequence[str] | None = None
               ) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="module-controller manifests",
        description="Render the controller's install set (Namespace, CRDs, RBAC, Deployment) "
                    "for `kubectl apply -f`.")
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE,
                        help=f"namespace the controller runs in (default: {DEFAULT_NAMESPACE})")
    parser.add_argument("--image", default=DEFAULT_IMAGE,
                        help=f"controller image (default: {DEFAULT_IMAGE})")
    parser.add_argument("--mode", choices=MODES, default="cluster",
                        help="RBAC mode: cluster (all namespaces, ClusterRole) or namespaced "
                             "(only its own namespace, Role); default: cluster")
    parser.add_argument("--replicas", type=int, default=2, help="controller replicas (default: 2)")
    parser.add_argument("--leader-election", action=argparse.BooleanOptionalAction, default=True,
                        help="run with leader election (default: on; off needs --replicas 1)")
    parser.add_argument("--watch-namespace", action="append", default=[], metavar="NS",
                        help="cluster mode: serve only these namespaces (repeatable; default: all)")
    parser.add_argument("--probe-port", type=int, default=PROBE_PORT,
                        help=f"port of /healthz, /readyz and /metrics (default: {PROBE_PORT})")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--image-pull-policy", default="IfNotPresent",
                        choices=("Always", "IfNotPresent", "Never"))
    parser.add_argument("--module-services", choices=MODULE_SERVICES, default="nodeport",
                        help="Services that serviceStrategy may make (default: nodeport)")
    parser.add_argument("--pod-deletion", action=argparse.BooleanOptionalAction, default=True,
                        help="may the controller delete base pods (default: yes)")
    parser.add_argument("--service-monitor", action="store_true",
                        help="add a ServiceMonitor (Prometheus operator) for /metrics")
    parser.add_argument("--prometheus-rule", action="store_true",
                        help="add a PrometheusRule with the controller's alerts")
    parser.add_argument("--extra-arg", action="append", default=[], metavar="ARG",
                        help="one more controller argument, e.g. --extra-arg=--arklet-timeout=5 "
                             "(repeatable)")
    parser.add_argument("--source-dir", type=Path, default=SOURCE_DIR,
                        help="checkout holding crds/ and rbac/ (default: the one this package "
                             "lives in)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="write the files into DIR (default: one YAML stream to stdout)")
    parser.add_argument("--check", action="store_true",
                        help="with --out: write nothing, exit 1 when DIR is out of date")
    return parser, parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import sys

    parser, args = parse_args(argv)
    if args.check and args.out is None:
        parser.error("--check needs --out DIR")
    options = Options(
        namespace=args.namespace, image=args.image, mode=args.mode, replicas=args.replicas,
        leader_election=args.leader_election, watch_namespaces=tuple(args.watch_namespace),
        probe_port=args.probe_port, log_level=args.log_level,
        image_pull_policy=args.image_pull_policy, extra_args=tuple(args.extra_arg),
        module_services=args.module_services, pod_deletion=args.pod_deletion,
        service_monitor=args.service_monitor, prometheus_rule=args.prometheus_rule,
        source_dir=args.source_dir)
    try:
        objects = render_options(options)
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(to_stream(objects, command_line(options)))
        return 0
    files = to_files(objects, command_line(options))
    if args.check:
        problems = stale_files(args.out, files)
        for name, problem in sorted(problems.items()):
            print(f"{args.out / name}: {problem}", file=sys.stderr)
        if problems:
            print("run `make manifests` to regenerate", file=sys.stderr)
        return 1 if problems else 0
    for path in write_files(args.out, files):
        print(path)
    return 0
