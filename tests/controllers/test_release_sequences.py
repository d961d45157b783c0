"""The sequence tier: seeded random walks of release operations and base faults on the dev
cluster, with the invariant checked after every step and while polling.

Operations, drawn from ``random.Random(seed)``: apply a spec (version, replicas, needConfirm,
batchCount, rollbackOnFailure), apply a broken one (its url serves nothing, so it fails after a
short progressDeadlineSeconds and is rolled back or stops), a rollback (a known version at a url
the module repository refuses, with rollbackOnFailure) and its fix (the same version at its
right url, applied again), pause, ``pause: false``, confirm the waiting group
(``confirmBatchNum``), abort, retry, undo to a random revision, delete (driven to the end:
offline waits at confirmation points too), re-create under the same name, a controller restart
(SIGKILL, start again), and the bases' own faults and changes:

* **reboot**: a base's JVM restarts (its fake Arklet forgets every biz, health's uptime starts
  again); the drift check (every ``DRIFT_PERIOD`` here) finds the loss and reinstalls;
* **slow**: a base's Arklet answers every call after 1-3 s for a few seconds of wall time,
  then normally again (the per-base limit of docs/behaviour.md §7.7 at work);
* **scale**: the base Deployment grows or shrinks by a pod (a release may wait for bases, and
  must wake when one comes), **capacity**: its ``max-module-count`` label set (0, 1, 2) or
  removed, and **filler**: another ModuleDeployment (another module, one instance) made or
  deleted, taking or freeing room on a base.

The invariant, whenever the ModuleDeployment's status describes its spec (``observedGeneration``
= ``generation``), read twice around the bases' listings and unchanged between:

* **Completed is true**: exactly the spec's version runs ACTIVATED, on ``replicas`` bases (the
  fake Arklets' ``queryAllBiz``), and no other version of the module is ACTIVATED anywhere;
* **Available is true**: no Module (read twice, unchanged between) reads Available for a
  version its base does not run ACTIVATED, not even for a moment after an in-place
  replacement (the replaced Module is written Superseded before its version stops);
* a base that lost its bizzes behind the controller's back (rebooted, or its pod removed) is
  excused for as long as the controller may take to notice by its own bounds
  (:data:`NOTICED`: two drift periods and a Module step, counted from the end of the base's
  slowness if it was slow meanwhile, as the drift check's calls to a slow base time out); on
  the other bases the check stays exact, and no base runs another version while Completed;
* and after the walk the release still converges: the bases made whole again (no slowness,
  ``BASES`` pods, no capacity label), confirmed, resumed, fixed if broken, retried if given up,
  it reaches Completed (a stall fails here), and the controller logged no traceback.

Sizes: ``SEQUENCE_STEPS`` (default 30 per seed) and ``SEQUENCE_SEEDS`` (comma-separated, default
one seed) for a longer run; :data:`REGRESSION_SEEDS` are walks that once failed, kept. A failing
walk prints its seed and every step taken (``-s``, or pytest's captured output). The seed fixes
the draws, not the timing: an operation reads the status it finds (the revision to abort, the
group to confirm), so a re-run may take another path, as in the chaos suite.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from dataclasses import dataclass, field

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from module_controller.api import constants as c
from module_controller.api import objects
from module_controller_dev.devcluster import testing as kt
from module_controller_dev.fakearklet import ControlError
from module_controller.plugin import view

from helpers.bodies import BASE, MODULE, SELECTOR, md_body, url_of
from helpers.cluster import bases, patch_md
from helpers.controller import running_controller
from helpers.controller_args import FAST, MODULE_STEP

pytestmark = pytest.mark.cluster

NAME = "walk"
FILLER = "filler"     # another ModuleDeployment, of another module, taking room on a base
FILLER_MODULE = "consumer"
VERSIONS = ("1.0.0", "1.0.1", "2.0.0")
BROKEN = "3.0.0"  # served by nothing: every install fails (url_of's jar name, "-missing.jar")
MISSING = "-missing.jar"
DEADLINE = 4      # spec.progressDeadlineSeconds of a broken release: it fails quickly
BASES = 3
#: The drift check's period of the walk's controller: a rebooted base is found within two.
DRIFT_PERIOD = 3.0
#: How long a base that lost its bizzes behind the controller's back may be seen lying: the
#: drift check finds the loss within two periods (docs/behaviour.md §7.5), then one Module step
#: reinstalls (or, for a removed pod, removes the Module).
NOTICED = 2 * DRIFT_PERIOD + MODULE_STEP
#: A slow base: every call answered after SLOW_LATENCY seconds, for SLOW_FOR seconds.
SLOW_LATENCY = (1.0, 3.0)
SLOW_FOR = (3.0, 15.0)
STEPS = int(os.environ.get("SEQUENCE_STEPS", "30"))
SEEDS = [int(s) for s in os.environ.get("SEQUENCE_SEEDS", "1").split(",") if s.strip()]

#: The operations of the first walks (releases, the controller's restart); kept so that their
#: regression seeds draw what they drew when they failed.
RELEASE_OPERATIONS = ("apply", "apply", "broken", "pause", "resume", "confirm", "confirm",
                      "abort", "retry", "undo", "delete", "restart")
#: ... and with the bases' faults and changes.
OPERATIONS = RELEASE_OPERATIONS + ("rollback", "fix", "reboot", "slow", "scale", "capacity",
                                   "filler")
#: Walks that once failed (seed, steps, operations); they run in every `make test`.
REGRESSION_SEEDS: list[tuple[int, int, tuple[str, ...]]] = [
    # batchCount edited mid-release resized its groups: Completed with 1 of 2 up
    (7, 33, RELEASE_OPERATIONS),
    # a Module replaced in place on its pod, then the other taken off: it read Available
    # (DEACTIVATED on the base) and the release Completed on it
    (27, 108, RELEASE_OPERATIONS),
    (28, 116, RELEASE_OPERATIONS),
    # the walk's own bug: its last step deleted the ModuleDeployment, and converging waited for
    # a release nobody created again
    (404, 120, OPERATIONS),
]


@pytest.fixture
def walk_controller(dev_cluster, namespace, tmp_path):
    with running_controller(dev_cluster, namespace, tmp_path / "controller.log",
                            [*FAST, f"--drift-check-period={DRIFT_PERIOD:g}"]) as proc:
        yield proc


@dataclass
class Walk:
    api: object
    namespace: str
    arklets: object
    controller: object
    rnd: random.Random
    operations: tuple[str, ...]
    taken: list[str] = field(default_factory=list)
    checks: int = 0
    completed_seen: int = 0
    lies: dict[str, float] = field(default_factory=dict)  # Module -> first seen lying
    lies_seen: set[str] = field(default_factory=set)
    ips: set[str] = field(default_factory=set)             # base pods' IPs, last seen
    disrupted: dict[str, float] = field(default_factory=dict)  # IP -> bizzes lost at
    slow: dict[str, float] = field(default_factory=dict)   # IP -> slow until
    excused: int = 0  # checks that excused a base the controller had not yet noticed
    longest_excuse: float = 0.0  # seconds after its loss a base still needed the excuse
    longest_why: str = ""        # ... which base, why, and what the check saw then
    causes: dict[str, str] = field(default_factory=dict)  # IP -> how it lost its bizzes
    rebooted: dict[str, dt.datetime] = field(default_factory=dict)  # IP -> when, by the clock

    # ------------------------------------------------------------- reads

    async def md(self, name: str = NAME) -> dict | None:
        return await kt.get_deployment(self.api, self.namespace, name)

    async def pods(self) -> list:
        return await kt.list_pods(self.api, self.namespace, SELECTOR)

    async def listings(self) -> dict[str, list[tuple[str, str, str]]]:
        """Per base IP: (name, version, state) of every biz; a base whose pod went, or whose
        fake Arklet is gone, is missing. Also notes the bases that went away (disrupted)."""
        now = time.monotonic()
        live = set()
        for pod in await self.pods():
            ip = pod.status.pod_ip if pod.status else None
            if ip and not pod.metadata.deletion_timestamp:
                live.add(ip)
        for ip in self.ips - live:
            self.disrupted.setdefault(ip, now)
            self.causes.setdefault(ip, f"pod gone after step {len(self.taken)}")
        self.ips = live
        out = {}
        for ip in live:
            try:
                out[ip] = [(b["bizName"], b["bizVersion"], str(b["bizState"]).upper())
                           for b in await self.arklets.bizzes(ip)]
            except ControlError as exc:
                if exc.status != 404:
                    raise
                self.disrupted.setdefault(ip, now)
                self.causes.setdefault(ip, f"Arklet gone after step {len(self.taken)}")
        return out

    async def modules(self) -> dict[str, dict]:
        return {m["metadata"]["name"]: m for m in await kt.list_modules(self.api, self.namespace)}

    # ------------------------------------------------------------- the bases' faults

    async def end_slowness(self, everywhere: bool = False) -> None:
        """Bases whose slow while is over answer normally again; the controller's drift check
        can only now find what they lost, so their excuse starts again."""
        now = time.monotonic()
        for ip, until in list(self.slow.items()):
            if everywhere or now >= until:
                del self.slow[ip]
                try:
                    await self.arklets.clear_faults(ip)
                except ControlError as exc:
                    if exc.status != 404:
                        raise
                if ip in self.disrupted:
                    self.disrupted[ip] = now
                    self.causes[ip] = f"{self.causes.get(ip)}, slow until step {len(self.taken)}"

    def excuse(self, ip: str | None) -> bool:
        """A base the controller may not have noticed losing its bizzes yet."""
        since = self.disrupted.get(ip or "")
        return since is not None and (ip in self.slow or time.monotonic() - since < NOTICED)

    def excuse_used(self, ips: set[str], seen: str) -> None:
        """Count a check that needed the excuse, and how long after the loss it still did (of
        several bases, the latest loss is taken for the cause)."""
        self.excused += 1
        ip = min(ips, key=lambda ip: time.monotonic() - self.disrupted[ip])
        took = time.monotonic() - self.disrupted[ip]
        if took > self.longest_excuse:
            self.longest_excuse = took
            self.longest_why = f"{ip}, {self.causes.get(ip)}, at step {len(self.taken)}: {seen}"

    def installed_since_reboot(self, module: dict, ip: str | None) -> bool:
        """The Module's last install was answered after its base's latest reboot: that reboot
        does not explain a missing biz."""
        installed = objects.parse_time((module.get("status") or {}).get("lastInstallTime"))
        rebooted = self.rebooted.get(ip or "")
        return installed is not None and rebooted is not None and installed > rebooted

    # ------------------------------------------------------------- the invariant

    async def check(self) -> None:
        await self.end_slowness()
        md1, modules1 = await self.md(), await self.modules()
        bizzes = await self.listings()
        md2, modules2 = await self.md(), await self.modules()
        self.checks += 1
        where = f"after steps {self.taken[-6:]}"
        lying = set()
        excused: set[str] = set()
        for name, m in modules2.items():
            before = modules1.get(name)
            if before is None or before["metadata"]["resourceVersion"] != \
                    m["metadata"]["resourceVersion"] or m["metadata"].get("deletionTimestamp"):
                continue
            if (m.get("status") or {}).get("status") != "Available":
                continue
            ip = (m["metadata"].get("labels") or {}).get(c.LABEL_BASE_INSTANCE_IP)
            module = m["spec"]["module"]
            if (module["name"], module["version"], "ACTIVATED") in bizzes.get(ip, []):
                continue
            if self.excuse(ip) and not self.installed_since_reboot(m, ip):
                excused.add(ip)
                continue
            # A Module replaced in place is written Superseded before the switch or uninstall
            # that stops its version (the Module lifecycle table), so no moment is excused.
            lying.add(name)
            self.lies_seen.add(name)
            raise AssertionError(
                f"Module {name} reads Available for {module['version']} on {ip}, which runs "
                f"{bizzes.get(ip)} ({where})")
        self.lies = {k: v for k, v in self.lies.items() if k in lying}
        if excused:
            self.excuse_used(excused, f"Module(s) Available on {sorted(excused)}")
        if md1 is None or md2 is None or \
                md1["metadata"]["resourceVersion"] != md2["metadata"]["resourceVersion"]:
            return
        status = md2.get("status") or {}
        rs = status.get("releaseStatus") or {}
        if rs.get("progress") != "Completed" or md2["metadata"].get("deletionTimestamp") or \
                status.get("observedGeneration") != md2["metadata"].get("generation"):
            return
        self.completed_seen += 1
        spec = md2["spec"]
        want = spec["template"]["spec"]["module"]["version"]
        active = sorted((ip, v) for ip, listed in bizzes.items() for n, v, s in listed
                        if n == MODULE and s == "ACTIVATED")
        assert status.get("version") == want, (status.get("version"), want, where)
        if [v for _, v in active] == [want] * spec["replicas"]:
            return
        unnoticed = {ip for ip in set(self.disrupted) | set(bizzes) if self.excuse(ip)}
        assert unnoticed, (f"Completed for {want} on {spec['replicas']} bases, but ACTIVATED: "
                           f"{active} ({where})")
        # Some base lost its bizzes and the controller may not know yet: the others are exact.
        known = [v for ip, v in active if ip not in unnoticed]
        assert set(known) <= {want} and \
            len(known) <= spec["replicas"] <= len(known) + len(unnoticed), (
                f"Completed for {want} on {spec['replicas']} bases, but ACTIVATED: {active}; "
                f"bases not yet noticed as disrupted: {sorted(unnoticed)} ({where})")
        self.excuse_used(unnoticed, f"Completed {want}x{spec['replicas']} on {active}")

    async def poll(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            await self.check()
            if time.monotonic() >= deadline:
                return

    # ------------------------------------------------------------- operations

    async def write(self, patch: dict, name: str = NAME) -> None:
        try:
            await patch_md(self.api, self.namespace, name, patch)
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise

    async def write_base(self, patch: dict) -> None:
        await client.AppsV1Api(self.api).patch_namespaced_deployment(
            BASE, self.namespace, patch)

    def spec(self, broken: bool = False, version: str | None = None, refused: bool = False,
             rollback: bool | None = None) -> dict:
        version = BROKEN if broken else version or self.rnd.choice(VERSIONS)
        url = url_of(version).replace("-ark-biz.jar", MISSING) if broken or refused else None
        if rollback is None:
            rollback = self.rnd.random() < 0.7
        body = md_body(NAME, self.rnd.randint(1, BASES), version=version, url=url,
                       batchCount=self.rnd.randint(1, 2), needConfirm=self.rnd.random() < 0.4,
                       rollbackOnFailure=rollback)
        body["spec"]["progressDeadlineSeconds"] = DEADLINE if broken or refused else 600
        return body

    async def apply(self, body: dict) -> str:
        await self.write({"spec": {k: body["spec"][k] for k in
                                   ("template", "replicas", "operationStrategy",
                                    "progressDeadlineSeconds")}})
        return f"{body['spec']['template']['spec']['module']['version']}" \
               f"x{body['spec']['replicas']} {body['spec']['operationStrategy']}"

    async def create(self) -> str:
        body = self.spec()
        await client.CustomObjectsApi(self.api).create_namespaced_custom_object(
            c.GROUP, c.VERSION, self.namespace, c.MODULE_DEPLOYMENT.plural, body)
        return f"{body['spec']['template']['spec']['module']['version']}x{body['spec']['replicas']}"

    def base_ip(self) -> str | None:
        return self.rnd.choice(sorted(self.ips)) if self.ips else None

    async def step(self) -> None:
        md = await self.md()
        gone = md is None
        rs = ((md or {}).get("status") or {}).get("releaseStatus") or {}
        running = rs.get("progress") in ("Executing", "Paused")
        operations = self.operations + (("abort", "abort") if running else ())
        op = "create" if gone else self.rnd.choice(operations)
        if op == "create":
            op += " " + await self.create()
        elif op in ("apply", "broken"):
            op += " " + await self.apply(self.spec(broken=op == "broken"))
        elif op == "rollback":
            op += " " + await self.apply(self.spec(refused=True, rollback=True))
        elif op == "fix":
            module = md["spec"]["template"]["spec"]["module"]
            if module["url"].endswith(MISSING) and module["version"] != BROKEN:
                await self.write({"spec": {"template": {"spec": {"module": {
                    "url": url_of(module["version"])}}}, "progressDeadlineSeconds": 600}})
                op += f" {module['version']}"
            else:
                op += " (nothing to fix)"
        elif op in ("pause", "resume"):
            await self.write({"spec": {"pause": op == "pause"}})
        elif op == "confirm":
            batch = int(rs.get("currentBatch") or 0)
            await self.write({"spec": {"confirmBatchNum": batch}})
            op += f" {batch}"
        elif op == "abort":
            revision = rs.get("updateRevision")
            await self.write({"metadata": {"annotations": {
                c.ANNOTATION_ABORT_REVISION: str(revision)}}})
            op += f" {revision} ({rs.get('progress')})"
        elif op == "retry":
            revision = rs.get("abortedRevision") or self.rnd.randint(1, 3)
            await self.write({"metadata": {"annotations": {
                c.ANNOTATION_RETRY_REVISION: str(revision)}}})
            op += f" {revision}"
        elif op == "undo":
            revisions = await kt.list_replicasets(self.api, self.namespace)
            revisions = [r for r in revisions if r["metadata"]["name"].startswith(f"{NAME}-")]
            if revisions:
                to = view.revision_of(self.rnd.choice(revisions))
                try:
                    change = view.undo(md, revisions, to)
                except view.ViewError:
                    change = view.Change(None, "")
                if change.patch is not None:
                    await self.write(change.patch)
                op += f" {to}"
        elif op == "delete":
            await client.CustomObjectsApi(self.api).delete_namespaced_custom_object(
                c.GROUP, c.VERSION, self.namespace, c.MODULE_DEPLOYMENT.plural, NAME)
            await self.until(lambda m: m is None, "deleted: offline to the end")
        elif op == "restart":
            self.controller.kill()
            self.controller.start()
        elif op == "reboot":
            ip = self.base_ip()
            if ip is not None:
                await self.arklets.restart(ip)
                self.disrupted[ip] = time.monotonic()
                self.rebooted[ip] = dt.datetime.now(dt.timezone.utc)
                self.causes[ip] = f"rebooted at step {len(self.taken) + 1}"
            op += f" {ip}"
        elif op == "slow":
            ip = self.base_ip()
            if ip is not None:
                latency = round(self.rnd.uniform(*SLOW_LATENCY), 1)
                seconds = round(self.rnd.uniform(*SLOW_FOR), 1)
                await self.arklets.set_fault(ip, "*", latency=latency)
                self.slow[ip] = time.monotonic() + seconds
                op += f" {ip} {latency:g}s/call for {seconds:g}s"
        elif op == "scale":
            replicas = self.rnd.randint(BASES - 1, BASES + 1)
            await self.write_base({"spec": {"replicas": replicas}})
            op += f" {replicas}"
        elif op == "capacity":
            value = self.rnd.choice((None, "0", "1", "2"))
            await self.write_base({"metadata": {"labels": {c.LABEL_MAX_MODULE_COUNT: value}}})
            op += f" {value}"
        elif op == "filler":
            if await self.md(FILLER) is None:
                body = md_body(FILLER, 1, batchCount=1, needConfirm=False)
                module = body["spec"]["template"]["spec"]["module"]
                module["name"] = FILLER_MODULE
                module["url"] = f"http://repo.example.com/modules/{FILLER_MODULE}-" \
                                f"{module['version']}-ark-biz.jar"
                await client.CustomObjectsApi(self.api).create_namespaced_custom_object(
                    c.GROUP, c.VERSION, self.namespace, c.MODULE_DEPLOYMENT.plural, body)
                op += " made"
            else:
                await client.CustomObjectsApi(self.api).delete_namespaced_custom_object(
                    c.GROUP, c.VERSION, self.namespace, c.MODULE_DEPLOYMENT.plural, FILLER)
                op += " deleted"
        self.taken.append(op)
        await self.poll(self.rnd.choice((0.3, 1.0, 2.0, 4.0)))

    async def until(self, done, what: str, timeout: float = 4 * MODULE_STEP) -> dict | None:
        """Poll (checking) until ``done(md)``, confirming and resuming whatever waits."""
        deadline = time.monotonic() + timeout
        while True:
            md = await self.md()
            if done(md):
                return md
            assert time.monotonic() < deadline, f"{what}: not after {timeout:.0f}s " \
                f"(steps {self.taken[-8:]}): {md and md.get('status')}"
            rs = ((md or {}).get("status") or {}).get("releaseStatus") or {}
            if md is not None and (md["spec"].get("pause") or rs.get("progress") == "Paused"):
                await self.write({"spec": {"pause": False}})
            await self.poll(0.3)

    async def heal(self) -> None:
        """The bases made whole: no slowness, BASES pods of no capacity limit."""
        await self.end_slowness(everywhere=True)
        await self.write_base({"spec": {"replicas": BASES},
                               "metadata": {"labels": {c.LABEL_MAX_MODULE_COUNT: None}}})
        self.taken.append("heal (converge)")

    async def converge(self) -> None:
        """The last spec is released: nothing stalls for good."""
        def settled(m: dict | None) -> bool:
            st = (m or {}).get("status") or {}
            return m is not None and st.get("observedGeneration") == m["metadata"]["generation"] \
                and (st.get("releaseStatus") or {}).get("progress") in ("Completed", "Aborted")

        await self.heal()
        md = await self.md()
        module = md["spec"]["template"]["spec"]["module"] if md is not None else {}
        if md is None:
            # the last step deleted it: the walk ends on a release, as it began
            self.taken.append("create (converge) " + await self.create())
        elif module.get("version") == BROKEN:
            # nothing releases a broken spec: the user fixes it
            self.taken.append("apply (converge) " + await self.apply(self.spec()))
        elif module.get("url", "").endswith(MISSING):
            await self.write({"spec": {"template": {"spec": {"module": {
                "url": url_of(module["version"])}}}, "progressDeadlineSeconds": 600}})
            self.taken.append(f"fix (converge) {module['version']}")
        md = await self.until(settled, "the release comes to rest")
        rs = md["status"]["releaseStatus"]
        if rs["progress"] == "Aborted":
            await self.write({"metadata": {"annotations": {
                c.ANNOTATION_RETRY_REVISION: str(rs["abortedRevision"])}}})
            self.taken.append("retry (converge)")
        md = await self.until(lambda m: settled(m) and m["status"]["releaseStatus"]["progress"]
                              == "Completed" and m["status"].get("availableReplicas")
                              == m["spec"]["replicas"], "the spec released after a retry")
        await self.check()
        assert self.completed_seen > 0


async def walk(api, namespace, arklets, controller, seed: int, steps: int,
               operations: tuple[str, ...] = OPERATIONS) -> Walk:
    pods = await bases(api, namespace, BASES)
    w = Walk(api, namespace, arklets, controller, random.Random(seed), operations,
             ips={p.status.pod_ip for p in pods})
    print(f"\n[sequence] seed {seed}, {steps} steps")
    started = time.monotonic()
    try:
        for _ in range(steps):
            await w.step()
        await w.converge()
    finally:
        print(f"[sequence] seed {seed}: {len(w.taken)} steps, {w.checks} checks "
              f"({w.completed_seen} of a Completed status; {w.excused} excusing a base not yet "
              f"noticed as disrupted, at most {w.longest_excuse:.1f}s after its loss "
              f"({w.longest_why or 'none'}); "
              f"{len(w.lies_seen)} Module(s) seen Available a moment after being replaced in "
              f"place) in {time.monotonic() - started:.0f}s: {w.taken}")
    log = controller.log_text()
    assert "Traceback" not in log, log[log.index("Traceback") - 2000:][:6000]
    return w


def _timeout(steps: int) -> pytest.MarkDecorator:
    """A long run outlasts the suite's per-test timeout; this is its own, a safety net of
    several seconds a step (slow bases and offline deletions included), not a speed claim."""
    return pytest.mark.timeout(max(600, 300 + 12 * steps))


@_timeout(STEPS)
@pytest.mark.parametrize("seed", SEEDS)
async def test_random_operation_sequences_keep_the_release_state_true(
        api, namespace, arklets, walk_controller, seed):
    await walk(api, namespace, arklets, walk_controller, seed, STEPS)


def _regression(seed: int, steps: int, operations: tuple[str, ...]):
    """A kept walk; one longer than the run's SEQUENCE_STEPS (default 30, `make test`'s few
    minutes) runs in a long run only (its fix also has a unit test)."""
    marks = [_timeout(steps)]
    if steps > max(STEPS, 40):
        marks.append(pytest.mark.skip(reason=f"{steps} steps: set SEQUENCE_STEPS>={steps}"))
    kind = "" if operations is OPERATIONS else "-releases-only"
    return pytest.param(seed, steps, operations, marks=marks, id=f"seed{seed}-{steps}steps{kind}")


@pytest.mark.parametrize("seed,steps,operations", [_regression(*r) for r in REGRESSION_SEEDS])
async def test_walks_that_once_failed(api, namespace, arklets, walk_controller, seed, steps,
                                      operations):
    await walk(api, namespace, arklets, walk_controller, seed, steps, operations)
