"""The fake Arklet: a protocol-faithful simulator of the agent inside every base JVM pod.

It speaks the wire protocol of ``shared/spec/arklet-protocol.md`` in both generations
(``flavour="2023"`` and ``"2025"``), quirks included, so the controller can be tested against
something that fails the way a real base does.

Layout (functional core, imperative shell):

* :mod:`.core` — the pure protocol state machine (biz store, per ``name:version`` locks, envelope
  rendering per flavour). No I/O; time is passed in.
* :mod:`.faults` — :class:`FaultPlan`, pure fault decisions (latency, fail rate/count, hang, …).
* :mod:`.wire` — pure HTTP/1.1 framing helpers.
* :mod:`.server` — :class:`FakeArklet`, the asyncio TCP server around the core.
* :mod:`.control` — the JSON control API (:func:`make_control_app`) and :class:`ControlClient`.
* ``python -m module_controller.fakearklet`` — one fake plus its control API, for demos.

Decisions where the protocol document is silent:

* A body that is empty counts as ``{}``; a body that is not a JSON object (invalid JSON or UTF-8,
  an array, a number, ``null``) is "malformed JSON" and is never answered.
* ``installBiz`` without ``bizName``/``bizVersion`` derives them from the jar file name (see
  :func:`.core.derive_biz_identity`): ``provider-1.0.2-ark-biz.jar`` is ``provider``/``1.0.2``.
  A name that does not follow ``<name>-<dotted version>`` is ``CMD_PROCESS_INTERNAL_ERROR``.
  Blank strings count as missing; non-string names are invalid.
* ``REPEAT_BIZ`` is decided when an install *finishes* (after its latency), as the real Arklet
  downloads the jar before it registers the biz.
* Uninstalling the ACTIVATED version of a name promotes the most recently installed DEACTIVATED
  version of that name to ACTIVATED (``ArkletCore.promote_on_uninstall``).
* The conflict answer carries "conflict, exist unfinished command" both in the top-level
  ``message`` and in ``data.message`` (``data.code`` is ``FAILED``).
* ``async: true`` (install only, needs ``requestId``) answers at once and installs in the
  background; ``queryBizOps`` reports INITIALIZED → EXECUTING → SUCCEEDED/FAILED. A synchronous
  op that carries a ``requestId`` is recorded too.
* ``health`` accepts ``type`` = ``system`` | ``biz`` | ``plugin``; any other value is
  ``CMD_PROCESS_INTERNAL_ERROR``.
* 2025 ``baseIdentity`` is a stable UUID string derived from host, base name and version;
  ``bizStateRecords[].changeTime`` is ``yyyy-MM-dd HH:mm:ss.SSS`` in UTC.
* The HTTP 500 for non-POST methods (and the ``http500`` fault) has ``Content-Type: text/plain``
  and no Content-Length; like every reply, it ends by closing the connection.
* A fault-injected failure never runs the command; a ``latency`` fault counts as processing time
  (inside the per-base serialisation), a ``hang`` does not hold it.
"""

from .control import ArkletRegistry, ControlClient, ControlError, SingleArklet, make_control_app
from .core import FLAVOURS, ArkletCore
from .faults import FAIL_CODES, FaultDecision, FaultPlan, FaultRule
from .server import FakeArklet, RequestRecord

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
