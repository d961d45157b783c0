"""The fake Arklet: a protocol-faithful simulator of the agent inside every base JVM pod.

It speaks the Arklet wire protocol (docs/arklet.md) in both generations
(``flavour="2023"`` and ``"2025"``), quirks included, so the controller can be tested against
something that fails the way a real base does.

Layout (functional core, imperative shell):

* :mod:`.core` — the pure protocol state machine (biz store, per ``name:version`` locks). No
  I/O; time is passed in. Its words (commands, codes, records) are in :mod:`.vocabulary`, the
  JSON of its answers per flavour in :mod:`.answers`.
* :mod:`.jar` — pure: the biz identity from a jar's ``META-INF/MANIFEST.MF``.
* :mod:`.download` — fetching ``bizUrl`` (HTTP through the module repository as proxy, or
  ``file://``), failures as the JVM's exception texts.
* :mod:`.faults` — :class:`FaultPlan`, pure fault decisions (latency, fail rate/count, hang, …).
* :mod:`.wire` — pure HTTP/1.1 framing helpers (and the recorded 500/413 bytes).
* :mod:`.server` — :class:`FakeArklet`, the asyncio TCP server around the core.
* :mod:`.control` — the JSON control API (:func:`make_control_app`) and :class:`ControlClient`.
* ``python -m module_controller_dev.fakearklet`` — one fake plus its control API, for demos.

The reference is the real bases recorded in ``tests/fakearklet/captures`` (2023: sofa-serverless
0.5.6, 2025: koupleless 2.1.6); ``docs/arklet.md`` ("The fake Arklet against the real bases")
lists every behaviour that matters to a client and what the fake does. Decisions where the
recordings are silent:

* A body that is empty counts as ``{}`` (but an empty ``installBiz`` body is the recorded
  NullPointerException); a body that is not a JSON object is never answered.
* Only ``async`` installs get a ``queryBizOps`` record.
* Uninstalling the master biz is refused in both generations (only 2025 was recorded).
* A jar without ``Ark-Biz-Name``/``Ark-Biz-Version`` is ``CMD_PROCESS_INTERNAL_ERROR``.
* The HTTP 500 of the ``http500`` fault has ``Content-Type: text/plain``; it ends by closing.
* A fault-injected failure never runs the command; a ``latency`` fault counts as processing time
  (on the connection's event loop), a ``hang`` does not hold it.
"""

from .control import ArkletRegistry, ControlClient, ControlError, SingleArklet, make_control_app
from .core import ArkletCore
from .faults import FAIL_CODES, FaultDecision, FaultPlan, FaultRule
from .server import FakeArklet, RequestRecord
from .vocabulary import FLAVOURS

__all__ = [
    "FLAVOURS",
    "FAIL_CODES",
    "ArkletCore",
    "ArkletRegistry",
    "ControlClient",
    "ControlError",
    "FakeArklet",
    "FaultDecision",
    "FaultPlan",
    "FaultRule",
    "RequestRecord",
    "SingleArklet",
    "make_control_app",
]
