"""What the over-HTTP tests of the fake Arklet share: install bodies and the bizzes' states
(test_fakearklet_http.py, test_fakearklet_http_faults.py)."""

from __future__ import annotations

from module_controller_dev.fakearklet import FakeArklet

JAR = "http://repo/provider-1.0.2-ark-biz.jar"


def install_body(name: str = "provider", version: str = "1.0.2", **extra: object) -> dict:
    return {"bizName": name, "bizVersion": version,
            "bizUrl": f"http://repo/{name}-{version}-ark-biz.jar", **extra}


def states(arklet: FakeArklet) -> dict[tuple[str, str], str]:
    return {(b["bizName"], b["bizVersion"]): b["bizState"] for b in arklet.bizzes()}
