"""What only a kubelet does to a base: restart a crashed JVM in place, terminate a pod gracefully."""

from __future__ import annotations

import os
import signal
import time

from module_controller.api import constants as c
from module_controller_dev.devcluster.kubectl import Kubectl

from . import node


def _module_on(kubectl: Kubectl, pod: str) -> dict:
    found = [m for m in node.modules(kubectl)
             if m["metadata"].get("labels", {}).get(c.LABEL_BASE_INSTANCE_NAME) == pod]
    assert len(found) == 1, f"{len(found)} Modules on {pod}"
    return found[0]


def test_jvm_crash_restarts_in_place_and_the_module_comes_back(kubectl: Kubectl,
                                                               controller: str) -> None:
    node.wait_bases(kubectl)
    kubectl.apply(node.md_body("crash", node.BASES), namespace="default")
    node.poll(lambda: node.progress(kubectl, "crash"), lambda p: p == "Completed",
              timeout=node.release_deadline(node.BASES), what="crash release Completed")
    pod = node.base_pods(kubectl)[0]
    name, uid, ip = pod["metadata"]["name"], pod["metadata"]["uid"], pod["status"]["podIP"]
    restarts = pod["status"]["containerStatuses"][0]["restartCount"]
    before = _module_on(kubectl, name)
    installs = before["status"].get("installs", 1)
    assert [b[:2] for b in node.modules_on(ip)] == [("provider", "1.0.2")]

    os.kill(node.java_pid(pod), signal.SIGKILL)

    # Until it reinstalls, the controller must not claim the module runs where Arklet says it
    # does not: every answer of the restarted base without the module is checked against the
    # Module read right after it.
    saw_empty = saw_not_available = False
    deadline = time.monotonic() + node.BASE_START + node.DRIFT_PERIOD + node.MODULE_STEP
    while True:
        module = _module_on(kubectl, name)
        status = module.get("status") or {}
        if status.get("status") != "Available":
            saw_not_available = True
        try:
            running = node.modules_on(ip)
        except (OSError, AssertionError):
            running = None  # the JVM is down or Arklet is not up yet
        if running == []:
            saw_empty = True
            module = _module_on(kubectl, name)
            claims = (module.get("status") or {}).get("status") == "Available"
            assert not (claims and module["status"].get("installs", 1) == installs), \
                f"Module says Available on {name} while its base runs nothing: {module['status']}"
        if running and status.get("status") == "Available" and status.get("installs") == installs + 1:
            break
        assert time.monotonic() < deadline, f"not reinstalled on {name}; last status {status}"
        time.sleep(0.3)
    assert saw_not_available, "the Module never left Available although its JVM died"
    pod = kubectl.get_json("pod", "-n", "default", name)
    assert pod["metadata"]["uid"] == uid and pod["status"]["podIP"] == ip  # same pod, same IP
    assert pod["status"]["containerStatuses"][0]["restartCount"] == restarts + 1
    assert [b[:2] for b in node.modules_on(ip)] == [("provider", "1.0.2")]
    print(f"restarted base answered with an empty Arklet: {saw_empty}")
    node.delete_release(kubectl, "crash")


def test_graceful_deletion_moves_the_module_to_another_base(kubectl: Kubectl,
                                                            controller: str) -> None:
    node.wait_bases(kubectl)
    kubectl.apply(node.md_body("moving", 2), namespace="default")
    node.poll(lambda: node.progress(kubectl, "moving"), lambda p: p == "Completed",
              timeout=node.release_deadline(2), what="moving release Completed")
    hosting = sorted({pod for pod, _ in node.instances(kubectl)})
    assert len(hosting) == 2
    kubectl.run("delete", "pod", "-n", "default", hosting[0], "--wait=true", timeout=120)

    def placed() -> list:
        found = node.instances(kubectl)
        return found if hosting[0] not in {p for p, _ in found} else []
    found = node.poll(placed, lambda f: len(f) == 2 and len({p for p, _ in f}) == 2,
                      timeout=node.BASE_START + node.release_deadline(2),
                      what="2 instances on 2 live bases, none on the deleted pod")
    assert hosting[1] in {p for p, _ in found}
    node.delete_release(kubectl, "moving")
