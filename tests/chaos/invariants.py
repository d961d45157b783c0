"""The invariants every chaos scenario ends with, written once.

After the faults stop, :func:`converge` polls :func:`violations` until there are none (or fails at
its deadline with every violation it saw last, and a dump of the state). What must hold:

1. **The final state matches the last spec exactly.** The ModuleDeployment has observed its latest
   generation, ``releaseStatus.progress`` is ``Completed``, ``spec.pause`` is false, condition
   ``Available=True``; ``replicas``, ``availableReplicas`` and ``updatedAvailableReplicas`` all
   equal the desired count (``spec.replicas``, or the ready bases in peer mode) and
   ``unavailableReplicas`` is 0. The revision of the current version has ``spec.replicas`` = the
   desired count, every other revision 0.
2. **Modules.** Exactly the desired number of live Modules of the ModuleDeployment, all of the
   current revision and version, all ``Available``, each bound to a different, existing, ready base
   pod (the bound IP is the pod's IP). No Module at all is left with a ``deletionTimestamp``.
   No Module whose ModuleReplicaSet does not exist.
3. **Bases (from the fake Arklets' ``queryAllBiz``).** A base hosting a Module runs exactly one biz
   of that module: the current version, ACTIVATED. A base hosting none runs no biz of the module
   (no orphan versions). The pod labels follow: ``module.serverless.alipay.com/<module>=true``
   exactly on the hosting bases, ``module-instance-count`` = the Modules bound there.
4. **No ModuleReplicaSet with replicas > 0 and no (existing) owner.**
5. **No duplicate install (from the request logs).** On one base, a SUCCESS ``installBiz`` of a
   ``name:version`` is only allowed if that version is not installed at that moment: an uninstall
   of it (SUCCESS) or a base restart (JVM restart, given by the test as a log position) must come
   in between two successful installs.
6. **The controller never crashed** (:func:`controller_violations`): the process is alive at the
   end (the tests only ever kill it to restart it at once), and its log has no traceback of an
   unexpected exception. What counts as expected is decided per scenario, see
   :data:`controller_tracebacks.EXPECTED`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from kubernetes_asyncio import client

from module_controller.api import constants as c
from module_controller.api import objects
from module_controller_dev.devcluster import testing as kt

from controller_tracebacks import controller_violations
from helpers.state import describe_state

GROUP, VERSION = c.GROUP, c.VERSION
#: Marks a violation that waiting cannot repair (a request log never changes its past).
PERMANENT = "[permanent]"


@dataclass(frozen=True)
class Want:
    """The last spec the test applied: what the cluster must end in."""

    name: str                 # the ModuleDeployment
    module: str
    version: str
    replicas: int             # -1: peer mode (one per ready base)
    selector: str = "app=dynamic-stock"


# ----------------------------------------------------------------- request logs (pure)

def duplicate_installs(records: Iterable[dict], restarts: Iterable[int] = ()) -> list[str]:
    """Successful installs of a ``name:version`` that was already installed on this base.

    ``records`` is one fake Arklet's request log (``seq`` order); ``restarts`` are log positions
    (``seq`` of the last record before a simulated JVM restart) after which nothing is installed.
    """
    cuts = sorted(restarts)
    installed: dict[str, int] = {}  # key -> seq of the install that put it there
    out = []
    for record in sorted(records, key=lambda r: r["seq"]):
        while cuts and record["seq"] > cuts[0]:
            installed.clear()
            cuts.pop(0)
        body = record.get("body") if isinstance(record.get("body"), dict) else {}
        key = f"{body.get('bizName')}:{body.get('bizVersion')}"
        if record.get("code") != "SUCCESS":
            continue
        if record["command"] == "installBiz":
            if key in installed:
                out.append(f"installBiz {key} succeeded again (seq {record['seq']}) while installed "
                           f"since seq {installed[key]}, with no uninstall or restart in between")
            else:
                installed[key] = record["seq"]
        elif record["command"] == "uninstallBiz":
            installed.pop(key, None)
    return out


# ----------------------------------------------------------------- cluster state

def _labels(obj: dict) -> dict:
    return obj["metadata"].get("labels") or {}


def _phase(obj: dict) -> str | None:
    return objects.phase(obj)


def _condition(obj: dict, kind: str) -> dict | None:
    return next((x for x in (obj.get("status") or {}).get("conditions") or []
                 if x.get("type") == kind), None)


@dataclass
class Snapshot:
    md: dict | None
    replicasets: list[dict]
    modules: list[dict]
    deployments: list[dict]
    pods: list                   # V1Pod of the base selector
    bizzes: dict[str, list[dict]] = field(default_factory=dict)        # pod IP -> queryAllBiz
    logs: dict[str, list[dict]] = field(default_factory=dict)          # pod IP -> request log

    def dump(self) -> str:
        return describe_state(self.md, self.replicasets, self.modules, self.pods, self.bizzes)

async def snapshot(api, arklets, namespace: str, want: Want, with_logs: bool = True) -> Snapshot:
    md = await kt.get_deployment(api, namespace, want.name)
    replicasets = await kt.list_replicasets(api, namespace)
    modules = await kt.list_modules(api, namespace)
    deployments = (await client.CustomObjectsApi(api).list_namespaced_custom_object(
        GROUP, VERSION, namespace, "moduledeployments"))["items"]
    pods = await kt.list_pods(api, namespace, want.selector)
    snap = Snapshot(md, replicasets, modules, deployments, pods)
    known = {a["host"] for a in await arklets.arklets()}
    for p in pods:
        ip = p.status.pod_ip if p.status else None
        if ip and ip in known:
            snap.bizzes[ip] = await arklets.bizzes(ip)
            if with_logs:
                snap.logs[ip] = (await arklets.requests(ip))["requests"]
    return snap


def state_violations(snap: Snapshot, want: Want,
                     restarts: dict[str, list[int]] | None = None,
                     extra_logs: dict[str, list[dict]] | None = None) -> list[str]:
    """Invariants 1–5 on one snapshot (pure: no I/O).

    ``restarts``: pod IP -> log positions of simulated JVM restarts; ``extra_logs``: request logs
    the test saved before it deleted a base (keyed by a description), checked for invariant 5.
    """
    out: list[str] = []
    md = snap.md
    ready = [p for p in snap.pods if kt.pod_ready(p)]
    desired = len(ready) if want.replicas == -1 else want.replicas

    # 1. ModuleDeployment
    if md is None:
        return [f"ModuleDeployment {want.name} does not exist"]
    module = md["spec"].get("template", {}).get("spec", {}).get("module", {})
    if (module.get("name"), module.get("version")) != (want.module, want.version):
        out.append(f"spec is not the last one applied: {module}")
    status = md.get("status") or {}
    rs = status.get("releaseStatus") or {}
    if status.get("observedGeneration") != md["metadata"].get("generation"):
        out.append(f"observedGeneration {status.get('observedGeneration')} != generation "
                   f"{md['metadata'].get('generation')}")
    if rs.get("progress") != "Completed":
        out.append(f"releaseStatus.progress is {rs.get('progress')}, not Completed")
    if md["spec"].get("pause"):
        out.append("spec.pause is still true")
    for key in ("replicas", "availableReplicas", "updatedAvailableReplicas"):
        if status.get(key) != desired:
            out.append(f"status.{key} = {status.get(key)}, want {desired}")
    if status.get("unavailableReplicas") not in (0, None):
        out.append(f"status.unavailableReplicas = {status.get('unavailableReplicas')}")
    available = _condition(md, c.CONDITION_AVAILABLE)
    if not available or available.get("status") != "True":
        out.append(f"condition Available is {available}")

    # revisions
    mine = [r for r in snap.replicasets if _labels(r).get(c.LABEL_MODULE_DEPLOYMENT) == want.name]
    current = [r for r in mine
               if r["spec"]["template"]["spec"]["module"].get("version") == want.version
               and r["spec"]["template"]["spec"]["module"].get("name") == want.module]
    if len(current) != 1:
        out.append(f"{len(current)} revisions of {want.module}:{want.version}, want 1")
    for r in mine:
        wanted = desired if r in current else 0
        if r["spec"].get("replicas") != wanted:
            out.append(f"MRS {r['metadata']['name']} spec.replicas = {r['spec'].get('replicas')}, "
                       f"want {wanted}")

    # 4. orphan ModuleReplicaSets (any in the namespace)
    md_uids = {d["metadata"]["uid"] for d in snap.deployments}
    for r in snap.replicasets:
        owners = [o for o in r["metadata"].get("ownerReferences") or []
                  if o.get("kind") == "ModuleDeployment"]
        if (r["spec"].get("replicas") or 0) > 0 and not any(o["uid"] in md_uids for o in owners):
            out.append(f"MRS {r['metadata']['name']} has replicas {r['spec']['replicas']} but no "
                       f"existing owner ({owners})")

    # 2. Modules
    mrs_names = {r["metadata"]["name"] for r in snap.replicasets}
    current_names = {r["metadata"]["name"] for r in current}
    pods_by_name = {p.metadata.name: p for p in snap.pods}
    hosting: dict[str, dict] = {}
    live_mine = []
    for m in snap.modules:
        name = m["metadata"]["name"]
        if m["metadata"].get("deletionTimestamp"):
            out.append(f"Module {name} has a deletionTimestamp (phase {_phase(m)}, "
                       f"message {(m.get('status') or {}).get('message')!r})")
            continue
        owner = _labels(m).get(c.LABEL_MODULE_REPLICASET)
        if owner and owner not in mrs_names:
            out.append(f"Module {name} belongs to MRS {owner}, which does not exist")
        if _labels(m).get(c.LABEL_MODULE_DEPLOYMENT) != want.name:
            continue
        live_mine.append(m)
        version = m["spec"]["module"].get("version")
        if version != want.version or owner not in current_names:
            out.append(f"Module {name} is {m['spec']['module'].get('name')}:{version} of {owner}, "
                       f"not of the current revision {sorted(current_names)}")
        if _phase(m) != "Available":
            out.append(f"Module {name} is {_phase(m)}: {(m.get('status') or {}).get('message')!r}")
        pod_name = _labels(m).get(c.LABEL_BASE_INSTANCE_NAME)
        pod = pods_by_name.get(pod_name or "")
        if pod is None or not kt.pod_ready(pod):
            out.append(f"Module {name} is bound to {pod_name}, which is not a ready base pod")
        elif pod.status.pod_ip != _labels(m).get(c.LABEL_BASE_INSTANCE_IP):
            out.append(f"Module {name} is bound to IP {_labels(m).get(c.LABEL_BASE_INSTANCE_IP)}, "
                       f"pod {pod_name} has {pod.status.pod_ip}")
        if pod_name in hosting:
            out.append(f"Modules {hosting[pod_name]['metadata']['name']} and {name} are both on "
                       f"{pod_name}")
        elif pod_name:
            hosting[pod_name] = m
    if len(live_mine) != desired:
        out.append(f"{len(live_mine)} live Modules, want {desired}")

    # 3. bases: bizzes and labels
    bound_count: dict[str, int] = {}
    for m in snap.modules:
        pod_name = _labels(m).get(c.LABEL_BASE_INSTANCE_NAME)
        if pod_name and not m["metadata"].get("deletionTimestamp"):
            bound_count[pod_name] = bound_count.get(pod_name, 0) + 1
    label = c.module_label_key(want.module)
    for pod in snap.pods:
        if pod.metadata.deletion_timestamp:
            continue
        ip, pname = pod.status.pod_ip, pod.metadata.name
        if ip not in snap.bizzes:
            out.append(f"no fake Arklet answers for pod {pname} ({ip})")
            continue
        got = sorted((b["bizVersion"], str(b["bizState"]).upper())
                     for b in snap.bizzes[ip] if b["bizName"] == want.module)
        expected = [(want.version, "ACTIVATED")] if pname in hosting else []
        if got != expected:
            out.append(f"base {pname} ({ip}) runs {want.module} {got}, want {expected}")
        labels = pod.metadata.labels or {}
        if (labels.get(label) == c.LABEL_TRUE) != (pname in hosting):
            out.append(f"base {pname}: label {label}={labels.get(label)!r} but hosting="
                       f"{pname in hosting}")
        count = labels.get(c.LABEL_MODULE_INSTANCE_COUNT)
        if count != str(bound_count.get(pname, 0)) and not (count is None
                                                             and not bound_count.get(pname, 0)):
            out.append(f"base {pname}: {c.LABEL_MODULE_INSTANCE_COUNT}={count!r}, "
                       f"{bound_count.get(pname, 0)} Modules bound")

    # 5. duplicate installs (live bases, and the logs the test saved of bases it deleted)
    for ip, records in snap.logs.items():
        for problem in duplicate_installs(records, (restarts or {}).get(ip, ())):
            out.append(f"{PERMANENT} base {ip}: {problem}")
    for where, records in (extra_logs or {}).items():
        for problem in duplicate_installs(records):
            out.append(f"{PERMANENT} {where}: {problem}")
    return out


async def violations(api, arklets, namespace: str, want: Want, *, controller=None,
                     allow: Iterable[str] = ("conflict",),
                     restarts: dict[str, list[int]] | None = None,
                     extra_logs: dict[str, list[dict]] | None = None) -> tuple[list[str], Snapshot]:
    snap = await snapshot(api, arklets, namespace, want)
    out = state_violations(snap, want, restarts, extra_logs)
    if controller is not None:
        out += controller_violations(controller, allow)
    return out, snap


async def converge(api, arklets, namespace: str, want: Want, *, controller=None,
                   allow: Iterable[str] = ("conflict",), timeout: float = 60.0,
                   restarts: dict[str, list[int]] | None = None,
                   extra_logs: dict[str, list[dict]] | None = None) -> Snapshot:
    """Poll until every invariant holds; fail at the deadline with what was still wrong.

    A dead controller or an unexpected traceback fails at once (waiting cannot fix those).
    """
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    allow = tuple(allow)
    while True:
        problems: list[str] = []
        snap = None
        try:
            problems, snap = await violations(api, arklets, namespace, want, restarts=restarts,
                                              extra_logs=extra_logs)
        except (client.exceptions.ApiException, OSError, asyncio.TimeoutError) as exc:
            problems = [f"could not read the state: {exc!r}"]
        fatal = controller_violations(controller, allow) if controller is not None else []
        fatal += [p for p in problems if p.startswith(PERMANENT)]
        problems = [p for p in problems if not p.startswith(PERMANENT)]
        if not problems and not fatal:
            return snap  # type: ignore[return-value]
        if fatal or time.monotonic() >= deadline:
            what = "the controller failed" if fatal else f"not converged after {timeout:.0f}s"
            raise AssertionError(
                f"invariants of {namespace}/{want.name} violated ({what}):\n  - "
                + "\n  - ".join(fatal + problems)
                + ("\n--- state ---\n" + snap.dump() if snap is not None else ""))
        await asyncio.sleep(0.25)
