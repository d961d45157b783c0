"""The pure Arklet protocol state machine: no sockets, no clocks, no asyncio.

Everything the fake Arklet *decides* lives here; :mod:`.server` only moves bytes, downloads and
waits. Time is an input (``now``, seconds since the epoch) so the same calls always give the same
answers. The reference for every answer is the real bases recorded in
``shared/arklet-captures`` (2023: sofa-serverless 0.5.6, 2025: koupleless 2.1.6); the table in
``docs/arklet.md`` ("The fake Arklet against the real bases") lists the behaviours one by one.

A command goes through :meth:`ArkletCore.handle`:

* most commands answer at once with a :class:`Reply` (the JSON envelope);
* ``installBiz``, ``uninstallBiz`` and ``switchBiz`` return a :class:`PendingOp`, which holds the
  per ``name:version`` lock of the *request* (the real Arklet's "unfinished command" guard). A
  second op on a locked key is answered at once: top-level ``FAILED``, no ``data``,
  ``FAILED:<key> <command> conflict, exist unfinished command(<holder>) for this biz``.
* An install then goes: the shell downloads ``bizUrl`` and calls :meth:`ArkletCore.unpacked`
  with the bytes (or :meth:`ArkletCore.download_failed` with the JVM's exception text). The
  identity comes from the jar's manifest, not the request: an identity already there is
  ``REPEAT_BIZ`` at once; otherwise the biz is registered ``RESOLVED`` (visible in ``queryAllBiz``
  and ``health``, as on a real base while the module starts), the shell waits the install
  latency and :meth:`ArkletCore.finish` activates it.

Biz states are stored upper-case and rendered per flavour: 2023 ``ACTIVATED``, 2025
``activated``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Mapping, TypeVar

from . import javaorder
from .download import url_error
from .jar import BizManifest, JarError, read_biz_manifest

FLAVOURS: tuple[str, ...] = ("2023", "2025")

INSTALL = "installBiz"
UNINSTALL = "uninstallBiz"
SWITCH = "switchBiz"
QUERY_ALL = "queryAllBiz"
HEALTH = "health"
QUERY_OPS = "queryBizOps"
HELP = "help"

#: Every command, with the text ``help`` shows for it, in the order the real bases list them.
COMMANDS: dict[str, str] = {
    HEALTH: "get all health info",
    QUERY_ALL: "query all ark biz(including master biz)",
    HELP: "list all supported commands",
    UNINSTALL: "uninstall one ark biz",
    SWITCH: "switch one ark biz",
    INSTALL: "install one ark biz",
    QUERY_OPS: "query ark biz ops",
}

#: Commands that take the per ``name:version`` lock and therefore answer via :class:`PendingOp`.
LOCKING_COMMANDS = frozenset({INSTALL, UNINSTALL, SWITCH})

BIZ_STATES: tuple[str, ...] = (
    "UNRESOLVED", "RESOLVED", "ACTIVATED", "DEACTIVATED", "BROKEN", "STOPPED",
)

# Envelope codes (top level) and result codes (``data.code``).
SUCCESS = "SUCCESS"
FAILED = "FAILED"
CMD_NOT_FOUND = "CMD_NOT_FOUND"
INTERNAL_ERROR = "CMD_PROCESS_INTERNAL_ERROR"
REPEAT_BIZ = "REPEAT_BIZ"
NOT_FOUND_BIZ = "NOT_FOUND_BIZ"
ILLEGAL_STATE_BIZ = "ILLEGAL_STATE_BIZ"

INSTALL_ONLY = "installOnly"
UNINSTALL_THEN_INSTALL = "uninstallThenInstall"

MASTER_BIZ_MESSAGE = "Master biz must not be uninstalled."
OPS_NOT_FOUND_MESSAGE = "Not found the corresponding ops record."

# Generic top-level messages of a FAILED envelope; the real reason goes in data.message.
_FAILED_MESSAGES = {
    INSTALL: "install biz not success!",
    UNINSTALL: "uninstall biz not success!",
    SWITCH: "switch biz not success!",
}

# Java package of each generation's Arklet, for exception class names in errorStackTrace.
_ARKLET_PACKAGE = {
    "2023": "com.alipay.sofa.serverless.arklet.core",
    "2025": "com.alipay.sofa.koupleless.arklet.core",
}

# Kinds of CMD_PROCESS_INTERNAL_ERROR, as the real handlers throw them.
VALIDATION = "CommandValidationException"   # validate(): message is the reason itself
RUNTIME = "ArkletRuntimeException"          # handle(): message is the cause's Java text
NPE = "NullPointerException"                # empty install body

_WORK_DIR = "/home/admin/sofa-ark"


class CommandError(Exception):
    """A request the real Arklet rejects in ``validate()`` (``CMD_PROCESS_INTERNAL_ERROR``)."""

    def __init__(self, reason: str, kind: str = VALIDATION) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass
class Biz:
    """One installed module (biz) on the base. ``records`` counts state changes."""

    name: str
    version: str
    state: str
    biz_url: str
    installed_seq: int
    main_class: str = ""
    web_context_path: str = ""
    priority: int = 100
    work_dir: str = ""
    records: int = 0

    @property
    def key(self) -> str:
        return biz_key(self.name, self.version)

    def set_state(self, state: str) -> None:
        self.state = state
        self.records += 1


@dataclass(frozen=True)
class Reply:
    """A complete answer: the shell sends it as ``HTTP/1.1 200 OK`` plus this JSON body."""

    envelope: Mapping[str, Any]

    @property
    def code(self) -> str:
        return str(self.envelope["code"])

    @property
    def data(self) -> Any:
        return self.envelope.get("data")

    def body(self) -> bytes:
        """The wire body: UTF-8 JSON, non-ASCII left as is (like the JVM's fastjson)."""
        return json.dumps(self.envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class PendingOp:
    """An install/uninstall/switch that holds its request's ``name:version`` lock until done.

    ``name``/``version`` are what the request asked (``None`` for an install without them, which
    takes no lock). ``biz`` is the key of the biz an install registered from the jar manifest.
    """

    command: str
    name: str | None
    version: str | None
    generation: int
    started_at: float
    biz_url: str = ""
    strategy: str = INSTALL_ONLY
    request_id: str | None = None
    asynchronous: bool = False
    biz: str | None = None
    done: bool = False

    @property
    def key(self) -> str | None:
        """The lock key of the request, ``name:version``; None when the request names none."""
        if self.name is None or self.version is None:
            return None
        return biz_key(self.name, self.version)


@dataclass(frozen=True)
class Started:
    """An install whose jar was read and whose biz is registered RESOLVED: wait, then finish."""

    op: PendingOp


Step = Reply | PendingOp


def biz_key(name: str, version: str) -> str:
    """The lock and identity key the real Arklet uses: ``name:version``."""
    return f"{name}:{version}"


def parse_body(raw: bytes) -> dict[str, Any] | None:
    """Decode a request body; ``None`` means "malformed", which the shell never answers.

    An empty (or all-whitespace) body is returned as ``{}`` here; the shell tells the core about
    emptiness separately (``handle(..., empty=True)``), because an empty ``installBiz`` body is a
    NullPointerException on a real base. Anything that is not a JSON *object* (invalid UTF-8,
    invalid JSON, an array, a number, ``null``) is malformed: the real Arklet never replies.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def format_started_at(now: float) -> str:
    """``HH:mm:ss,SSS`` local time, as in "Install Biz: ... started at: 13:15:17,437"."""
    millis = int(now * 1000) % 1000
    return time.strftime("%H:%M:%S", time.localtime(now)) + f",{millis:03d}"


def _stamp(now: float) -> str:
    """``yyyyMMddHHmmssSSS``, the time in an unpack directory's name."""
    return time.strftime("%Y%m%d%H%M%S", time.localtime(now)) + f"{int(now * 1000) % 1000:03d}"


def _optional_str(body: Mapping[str, Any], name: str) -> str | None:
    """A string field; absent, ``null`` or blank count as missing (Java's ``isBlank``)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)  # fastjson coerces scalars into String fields
    return value if value.strip() else None


def _required_str(body: Mapping[str, Any], name: str) -> str:
    value = _optional_str(body, name)
    if value is None:
        raise CommandError(f"{name} should not be blank")
    return value


T = TypeVar("T")


def registry_order(entries: list[tuple[str, str, T]]) -> list[T]:
    """``(name, version, item)`` in registration order → the items as sofa-ark lists them: names
    by hash bin, then each name's versions by hash bin (see :mod:`.javaorder`)."""
    by_name: dict[str, dict[str, T]] = {}
    for name, version, item in entries:
        by_name.setdefault(name, {})[version] = item
    return [by_name[name][version]
            for name in javaorder.iteration_order(by_name)
            for version in javaorder.iteration_order(by_name[name])]

class ArkletCore:
    """The state of one base's Arklet and the rules of its protocol.

    ``base_ready`` drives ``health`` during start-up: when false, the 2023 base answers its
    master biz ACTIVATED with ``masterBizHealth.readinessState`` ``REFUSING_TRAFFIC`` (recorded
    for ~0.2 s after its first answer); the 2025 base has no such state (its first answer is
    already the ready one), so there ``base_ready`` changes nothing.
    """

    def __init__(self, flavour: str = "2023", base_name: str = "base",
                 base_version: str = "1.0.0") -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
        self.flavour = flavour
        self.base_name = base_name
        self.base_version = base_version
        self.base_ready = True
        self._bizzes: dict[str, Biz] = {}
        self._locks: dict[str, str] = {}  # name:version -> command holding it
        self._ops: dict[str, dict[str, Any]] = {}  # requestId -> process record (async installs)
        self._install_seq = 0
        self._thread_seq = 0
        self._generation = 0

    @property
    def master_key(self) -> str:
        return biz_key(self.base_name, self.base_version)

    # ------------------------------------------------------------------ public entry points

    def handle(self, command: str, body: Mapping[str, Any], *, now: float = 0.0,
               empty: bool = False) -> Step:
        """Process one dispatched command (``body`` is the parsed JSON object).

        ``empty``: the request had no body at all (only ``installBiz`` cares: an NPE).
        """
        if command not in COMMANDS:
            return self._envelope(CMD_NOT_FOUND, message="please follow the doc")
        try:
            if command in LOCKING_COMMANDS:
                return self._begin(command, body, now, empty)
            if command == QUERY_ALL:
                return self._envelope(SUCCESS, data=[self._render_biz(b)
                                                     for b in self._in_registry_order()])
            if command == HEALTH:
                return self._health(body)
            if command == QUERY_OPS:
                return self._query_ops(body)
            return self._envelope(
                SUCCESS, data=[{"desc": desc, "id": name} for name, desc in COMMANDS.items()]
            )
        except CommandError as exc:
            return self.internal_error(command, exc.reason, exc.kind)

    def download_failed(self, op: PendingOp, java_text: str, *, now: float = 0.0) -> Reply:
        """The jar could not be fetched: ``CMD_PROCESS_INTERNAL_ERROR`` naming the cause."""
        reply = self.internal_error(INSTALL, java_text, RUNTIME)
        self._end(op, reply, now)
        return reply

    def unpacked(self, op: PendingOp, jar: bytes, *, now: float = 0.0) -> Reply | Started:
        """The jar arrived: read its manifest, answer REPEAT_BIZ or register the biz RESOLVED."""
        if op.generation != self._generation:
            return self._restarted(op)
        try:
            manifest = read_biz_manifest(jar)
        except JarError as exc:
            return self.download_failed(op, str(exc), now=now)
        key = biz_key(manifest.name, manifest.version)
        if key in self._bizzes or key == self.master_key:
            reply = self._failed(INSTALL, REPEAT_BIZ,
                                 f"Biz: {key} has been installed or registered.",
                                 elapsed_space=_repeat_space(key))
            self._end(op, reply, now)
            return reply
        if op.strategy == UNINSTALL_THEN_INSTALL:
            for other in [b for b in self._bizzes.values() if b.name == manifest.name]:
                del self._bizzes[other.key]
        self._register(op, manifest, now)
        return Started(op)

    def finish(self, op: PendingOp, *, now: float = 0.0) -> Reply:
        """Complete a pending op (an install after :meth:`unpacked`), release its lock, answer."""
        if op.generation != self._generation:
            return self._restarted(op)
        if op.command == INSTALL:
            reply = self._finish_install(op, now)
        elif op.command == UNINSTALL:
            reply = self._finish_uninstall(op)
        else:
            reply = self._finish_switch(op)
        self._end(op, reply, now)
        return reply

    def abandon(self, op: PendingOp, *, now: float = 0.0, reason: str = "abandoned") -> None:
        """Release a pending op without completing it (the fake is being stopped)."""
        if op.generation != self._generation or op.done:
            return
        if op.biz is not None:
            biz = self._bizzes.get(op.biz)
            if biz is not None and biz.state == "RESOLVED":
                del self._bizzes[op.biz]
        self._end(op, self._failed(op.command, FAILED, reason), now)

    def accepted(self, op: PendingOp) -> Reply:
        """The immediate answer to an ``async`` install: its process record."""
        record = self._ops.get(op.request_id or "")
        return self._envelope(SUCCESS, data=dict(record) if record is not None else None)

    def mark_executing(self, op: PendingOp) -> None:
        """An accepted async op has started running on a worker thread (2025: INITIALIZED →
        EXECUTING; the 2023 record is EXECUTING from the start)."""
        if op.generation != self._generation or op.request_id not in self._ops:
            return
        record = self._ops[op.request_id]
        record["status"] = "EXECUTING"
        record.setdefault("threadName", self._thread_name())

    def injected_failure(self, command: str, kind: str, reason: str = "injected fault") -> Reply:
        """The envelope for a fault-plan failure: ``FAILED`` or ``CMD_PROCESS_INTERNAL_ERROR``."""
        if kind == FAILED:
            return self._failed(command, FAILED, reason)
        if kind == INTERNAL_ERROR:
            return self.internal_error(command, reason)
        raise ValueError(f"not an envelope failure kind: {kind!r}")

    def internal_error(self, command: str, reason: str, kind: str = VALIDATION) -> Reply:
        """``CMD_PROCESS_INTERNAL_ERROR``: ``Internal Error: <reason>`` plus a JVM-like trace.

        ``kind`` picks the first trace line as the real handlers throw it: a validation
        exception with the reason, an ``ArkletRuntimeException`` wrapping a Java cause
        (``reason`` is that cause's text), or a bare NullPointerException.
        """
        package = _ARKLET_PACKAGE[self.flavour]
        if kind == NPE:
            first = f"java.lang.NullPointerException: {reason}"
        else:
            first = f"{package}.common.exception.{kind}: {reason}"
        handler = command[:1].upper() + command[1:] + "Handler"
        step = "validate" if kind == VALIDATION else "handle"
        trace = (
            f"{first}\n"
            f"\tat {package}.command.builtin.handler.{handler}.{step}({handler}.java)\n"
            f"\tat {package}.command.CommandServiceImpl.process(CommandServiceImpl.java)\n"
            f"\tat {package}.api.tunnel.http.netty.NettyHttpServer$NettyHttpHandler"
            f".channelRead0(NettyHttpServer.java)\n"
        )
        return self._envelope(INTERNAL_ERROR, message=f"Internal Error: {reason}",
                              error_stack_trace=trace)

    def restart(self) -> None:
        """The base JVM restarted: every biz, lock and op record is gone."""
        self._bizzes.clear()
        self._locks.clear()
        self._ops.clear()
        self._generation += 1

    def bizzes(self) -> list[dict[str, Any]]:
        """The installed bizzes as ``queryAllBiz`` renders them, in the real bases' order."""
        return [self._render_biz(b) for b in self._in_registry_order()]

    def busy_keys(self) -> frozenset[str]:
        """``name:version`` keys currently locked by an unfinished command."""
        return frozenset(self._locks)

    def get_biz(self, name: str, version: str) -> Biz | None:
        return self._bizzes.get(biz_key(name, version))

    def set_biz_state(self, name: str, version: str, state: str, *, now: float = 0.0) -> None:
        """Force a biz into a state (test hook, e.g. BROKEN to provoke ILLEGAL_STATE_BIZ)."""
        state = state.upper()
        if state not in BIZ_STATES:
            raise ValueError(f"unknown biz state {state!r}")
        biz = self._bizzes.get(biz_key(name, version))
        if biz is None:
            raise KeyError(biz_key(name, version))
        biz.set_state(state)

    def forget_installed(self, reply: Reply) -> None:
        """Drop the biz a successful install ``reply`` names from the registry, leaving the reply
        as it is (the ``unlisted`` fault: the answer claims a biz that is never listed)."""
        data = reply.data if isinstance(reply.data, Mapping) else {}
        for info in data.get("bizInfos") or []:
            self._bizzes.pop(biz_key(info.get("bizName", ""), info.get("bizVersion", "")), None)

    def render_state(self, state: str) -> str:
        return state.lower() if self.flavour == "2025" else state.upper()

    # ------------------------------------------------------------------ locking commands

    def _begin(self, command: str, body: Mapping[str, Any], now: float, empty: bool) -> Step:
        if command == INSTALL:
            if empty:
                iface = f"{_ARKLET_PACKAGE[self.flavour]}.command.builtin.handler." \
                        "InstallBizHandler$Input"
                raise CommandError(f'Cannot invoke "{iface}.isAsync()" because "input" is null',
                                   NPE)
            op = self._validate_install(body, now)
        else:
            op = PendingOp(
                command=command,
                name=_required_str(body, "bizName"),
                version=_required_str(body, "bizVersion"),
                generation=self._generation,
                started_at=now,
            )
        key = op.key
        if key is not None:
            holder = self._locks.get(key)
            if holder is not None:
                return self._envelope(FAILED, message=f"FAILED:{key} {command} conflict, exist "
                                                      f"unfinished command({holder}) for this biz")
            self._locks[key] = command
        if command == INSTALL:
            problem = url_error(op.biz_url)
            if problem is not None:
                reply = self.internal_error(INSTALL, problem, RUNTIME)
                self._end(op, reply, now)
                return reply
        if op.asynchronous and op.request_id is not None:
            self._ops[op.request_id] = self._new_record(op, body, now)
        return op

    def _validate_install(self, body: Mapping[str, Any], now: float) -> PendingOp:
        url = _required_str(body, "bizUrl")
        name = _optional_str(body, "bizName")
        version = _optional_str(body, "bizVersion")
        if (name is None) != (version is None):
            raise CommandError("bizName and bizVersion should be both blank or both not blank.")
        asynchronous = body.get("async") is True
        request_id = _optional_str(body, "requestId")
        if asynchronous and request_id is None:
            raise CommandError("requestId should not be blank")
        strategy = INSTALL_ONLY
        if self.flavour == "2025":
            # The 2023 Arklet does not know this field and, like any unknown field, ignores it.
            strategy = _optional_str(body, "installStrategy") or INSTALL_ONLY
            if strategy not in (INSTALL_ONLY, UNINSTALL_THEN_INSTALL):
                raise CommandError(f"installStrategy: {strategy} can not be found")
        return PendingOp(
            command=INSTALL, name=name, version=version, generation=self._generation,
            started_at=now, biz_url=url, strategy=strategy, request_id=request_id,
            asynchronous=asynchronous,
        )

    def _register(self, op: PendingOp, manifest: BizManifest, now: float) -> None:
        self._install_seq += 1
        if self.flavour == "2025":
            work_dir = f"{_WORK_DIR}/{manifest.name}-{manifest.version}-{_stamp(now)}-unpack"
        else:
            work_dir = f"{_WORK_DIR}/null-null-{_stamp(now)}-unpack"  # sic, as 0.5.6 names it
        biz = Biz(manifest.name, manifest.version, "RESOLVED", op.biz_url, self._install_seq,
                  main_class=manifest.main_class, web_context_path=manifest.web_context_path,
                  priority=manifest.priority, work_dir=work_dir)
        biz.set_state("RESOLVED")
        self._bizzes[biz.key] = biz
        op.biz = biz.key

    def _finish_install(self, op: PendingOp, now: float) -> Reply:
        biz = self._bizzes.get(op.biz or "")
        if biz is None:
            return self._failed(INSTALL, FAILED, f"biz {op.biz} disappeared while starting")
        active = any(b.name == biz.name and b.state == "ACTIVATED" and b is not biz
                     for b in self._bizzes.values())
        biz.set_state("DEACTIVATED" if active else "ACTIVATED")
        cost = max(0, int(round((now - op.started_at) * 1000)))
        return self._envelope(SUCCESS, data={
            "bizInfos": [self._render_biz_model(biz)],
            "code": SUCCESS,
            "elapsedSpace": _install_space(biz.key),
            "message": f"Install Biz: {biz.key} success, cost: {cost} ms, "
                       f"started at: {format_started_at(op.started_at)}",
        })

    def _finish_uninstall(self, op: PendingOp) -> Reply:
        key = op.key or ""
        if key == self.master_key:
            return self._failed(UNINSTALL, FAILED, MASTER_BIZ_MESSAGE)
        biz = self._bizzes.get(key)
        if biz is None:
            return self._failed(UNINSTALL, NOT_FOUND_BIZ, f"Uninstall biz: {key} not found.")
        # No promotion: another version of the name keeps its state (DEACTIVATED stays so).
        del self._bizzes[key]
        return self._envelope(SUCCESS, data={
            "code": SUCCESS, "message": f"Uninstall biz: {key} success.",
        })

    def _finish_switch(self, op: PendingOp) -> Reply:
        key = op.key or ""
        target = self._bizzes.get(key)
        if target is None:
            return self._failed(SWITCH, NOT_FOUND_BIZ, f"Switch biz: {key} not found.")
        if target.state not in ("ACTIVATED", "DEACTIVATED"):
            return self._failed(SWITCH, ILLEGAL_STATE_BIZ,
                                f"Switch biz: {key} is in illegal state "
                                f"{self.render_state(target.state)}.")
        for other in self._bizzes.values():
            if other.name == target.name and other is not target and other.state == "ACTIVATED":
                other.set_state("DEACTIVATED")
        if target.state != "ACTIVATED":
            target.set_state("ACTIVATED")
        return self._envelope(SUCCESS, data={
            "code": SUCCESS, "message": f"Switch biz: {key} is activated.",
        })

    def _end(self, op: PendingOp, reply: Reply, now: float) -> None:
        """Release the op's lock and close its process record (once)."""
        if op.done:
            return
        op.done = True
        key = op.key
        if key is not None and self._locks.get(key) == op.command:
            del self._locks[key]
        record = self._ops.get(op.request_id or "") if op.asynchronous else None
        if record is not None and op.generation == self._generation:
            end = int(now * 1000)
            record.update(
                status="SUCCEEDED" if reply.code == SUCCESS else "FAILED",
                elapsedTime=max(0, end - record["startTime"]),
                endTime=end, endTimestamp=end,
            )
            record.setdefault("threadName", self._thread_name())
            if reply.code != SUCCESS and reply.envelope.get("message"):
                record["message"] = reply.envelope["message"]

    def _restarted(self, op: PendingOp) -> Reply:
        op.done = True
        return self._failed(op.command, FAILED,
                            f"base restarted while {op.command} of {op.key or op.biz_url} "
                            f"was running")

    def _new_record(self, op: PendingOp, body: Mapping[str, Any], now: float) -> dict[str, Any]:
        meta: dict[str, Any] = {"async": True}
        for name in ("bizName", "bizUrl", "bizVersion"):
            value = _optional_str(body, name)
            if value is not None:
                meta[name] = value
        if self.flavour == "2025":
            meta["installStrategy"] = op.strategy
        meta["requestId"] = op.request_id
        start = int(now * 1000)
        record: dict[str, Any] = {
            "arkBizMeta": dict(sorted(meta.items())),
            "elapsedTime": 0,
            "endTimestamp": 0,
            "requestId": op.request_id,
            "startTime": start,
            "startTimestamp": start,
            "status": "INITIALIZED",
        }
        if self.flavour == "2023":
            record["status"] = "EXECUTING"  # 0.5.6 answers with the worker already running
            record["threadName"] = self._thread_name()
        return record

    def _thread_name(self) -> str:
        self._thread_seq += 1
        return f"ARKLET-ark-biz-ops-0-T{self._thread_seq}"

    # ------------------------------------------------------------------ read-only commands

    def _health(self, body: Mapping[str, Any]) -> Reply:
        kind = _optional_str(body, "type")
        master = {
            "bizName": self.base_name,
            "bizState": self.render_state("ACTIVATED"),
            "bizVersion": self.base_version,
            "webContextPath": "/",
        }
        # The base registered itself before any module, and is listed where its name falls.
        bizzes = sorted(self._bizzes.values(), key=lambda b: b.installed_seq)
        biz_list = registry_order(
            [(self.base_name, self.base_version, master)]
            + [(b.name, b.version, self._render_biz_brief(b)) for b in bizzes])
        system: dict[str, Any] = {"jvm": self._jvm(), "cpu": _CPU, "masterBizInfo": master}
        plugins = _PLUGINS[self.flavour]
        if kind is None:
            health: dict[str, Any] = {**system, "pluginListInfo": plugins}
            if self.flavour == "2023":
                health["masterBizHealth"] = self._readiness()
            health["bizListInfo"] = biz_list
        elif kind == "system":
            health = dict(system)
            if self.flavour == "2023":
                health["masterBizHealth"] = self._readiness()
        elif kind == "biz":
            health = {"bizListInfo": biz_list}
        elif kind == "plugin":
            health = {"pluginListInfo": plugins}
        else:
            raise CommandError(f"type: {kind} can not be found")
        return self._envelope(SUCCESS, data={"healthData": health})

    def _readiness(self) -> dict[str, str]:
        return {"readinessState": "ACCEPTING_TRAFFIC" if self.base_ready else "REFUSING_TRAFFIC"}

    def _jvm(self) -> dict[str, Any]:
        n = len(self._bizzes)
        used = 48.0 + 33.5 * n
        jvm: dict[str, Any] = {
            "max non heap memory(M)": -9.5367431640625e-07,
            "java version": "17.0.15",
            "max memory(M)": 6028.0,
            "max heap memory(M)": 6028.0,
            "used heap memory(M)": used,
            "used non heap memory(M)": 79.5 + 0.7 * n,
            "loaded class count": 11648 + 8 * n,
            "init non heap memory(M)": 7.3125,
            "total memory(M)": 176.0,
            "free memory(M)": max(0.0, 176.0 - used),
            "unload class count": 2,
            "total class count": 11650 + 8 * n,
            "committed heap memory(M)": 176.0,
            "java home": "/opt/java",
            "init heap memory(M)": 380.0,
            "committed non heap memory(M)": 81.6875,
            "run time(s)": 141.745,
        }
        if self.flavour == "2025":  # 2.1.6 adds metaspace figures, in bytes
            jvm["java max metaspace"] = -1
            jvm["java committed metaspace"] = 58130432 + 131072 * n
            jvm["java used metaspace"] = 57513712 + 131072 * n
        return jvm

    def _query_ops(self, body: Mapping[str, Any]) -> Reply:
        request_id = _required_str(body, "requestId")
        record = self._ops.get(request_id)
        if record is None:
            return self._envelope(FAILED, message=OPS_NOT_FOUND_MESSAGE)
        return self._envelope(SUCCESS, data=dict(sorted(record.items())))

    # ------------------------------------------------------------------ rendering

    def _in_registry_order(self) -> list[Biz]:
        """The bizzes in sofa-ark's registry order (see :func:`registry_order`)."""
        bizzes = sorted(self._bizzes.values(), key=lambda b: b.installed_seq)
        return registry_order([(b.name, b.version, b) for b in bizzes])

    def _render_biz(self, biz: Biz) -> dict[str, Any]:
        """A ``queryAllBiz`` entry (2.1.6's ``bizStateRecords`` are empty objects, sic)."""
        out: dict[str, Any] = {"bizName": biz.name, "bizState": self.render_state(biz.state)}
        if self.flavour == "2025":
            out["bizStateRecords"] = [{} for _ in range(biz.records)]
        out.update(bizVersion=biz.version, mainClass=biz.main_class,
                   webContextPath=biz.web_context_path)
        return out

    def _render_biz_brief(self, biz: Biz) -> dict[str, Any]:
        """A ``health`` ``bizListInfo`` entry."""
        return {"bizName": biz.name, "bizState": self.render_state(biz.state),
                "bizVersion": biz.version, "webContextPath": biz.web_context_path}

    def _render_biz_model(self, biz: Biz) -> dict[str, Any]:
        """The whole biz model an install success carries in ``bizInfos``."""
        unpacked = f"file:{biz.work_dir}/"
        out: dict[str, Any] = {"attributes": {}, "bizName": biz.name,
                               "bizState": self.render_state(biz.state)}
        if self.flavour == "2025":
            out["bizStateRecords"] = [{} for _ in range(biz.records)]
        out["bizTempWorkDir"] = biz.work_dir
        if self.flavour == "2025":
            out["bizUrl"] = unpacked
        out.update({
            "bizVersion": biz.version,
            "classPath": [unpacked, f"{unpacked}lib"],
            "declaredMode": True,
            "denyImportClasses": [],
            "denyImportPackageNodes": [],
            "denyImportPackageStems": [],
            "denyImportPackages": [],
            "denyImportResources": [],
            "denyPrefixImportResourceStems": [],
            "denySuffixImportResourceStems": [],
            "identity": biz.key,
            "injectExportPackages": [],
            "injectPluginDependencies": [],
            "mainClass": biz.main_class,
            "priority": biz.priority,
            "webContextPath": biz.web_context_path,
        })
        return out

    def _failed(self, command: str, data_code: str, message: str,
                elapsed_space: int | None = None) -> Reply:
        data: dict[str, Any] = {"code": data_code}
        if elapsed_space is not None:
            data["elapsedSpace"] = elapsed_space
        data["message"] = message
        return self._envelope(
            FAILED, data=data,
            message=_FAILED_MESSAGES.get(command, f"{command} not success!"),
        )

    def _envelope(self, code: str, *, message: str | None = None, data: Any = None,
                  error_stack_trace: str | None = None) -> Reply:
        # Null fields are omitted and keys come sorted, as the JVM's serialiser writes them.
        env: dict[str, Any] = {"code": code}
        if data is not None:
            env["data"] = data
        if error_stack_trace is not None:
            env["errorStackTrace"] = error_stack_trace
        if message is not None:
            env["message"] = message
        return Reply(env)


def _install_space(key: str) -> int:
    """``elapsedSpace`` of a success: not a time (1.3 s installs report ~120000); a number of
    the recorded magnitude, stable per biz."""
    return 70000 + sum(key.encode()) * 37 % 60000


def _repeat_space(key: str) -> int:
    """``elapsedSpace`` of a REPEAT_BIZ answer (recorded: 768-8512)."""
    return 700 + sum(key.encode()) * 13 % 1500


_CPU: dict[str, Any] = {
    "count": 2, "total used (%)": 242570.0, "type": "fake", "user used (%)": 73.4,
    "free (%)": 5.7, "system used (%)": 19.1,
}

_PLUGINS: dict[str, list[dict[str, str]]] = {
    "2025": [{
        "artifactId": "koupleless-base-plugin", "groupId": "com.alipay.sofa.koupleless",
        "pluginActivator": "com.alipay.sofa.koupleless.plugin.ServerlessRuntimeActivator",
        "pluginName": "koupleless-base-plugin",
        "pluginUrl": "file:/app/base.jar!/BOOT-INF/lib/koupleless-base-plugin-2.1.6.jar!/",
        "pluginVersion": "2.1.6",
    }],
    "2023": [{
        "artifactId": "sofa-serverless-adapter-log4j2", "groupId": "com.alipay.sofa.serverless",
        "pluginActivator": "com.alipay.sofa.serverless.adapter.Log4j2AdapterActivator",
        "pluginName": "sofa-serverless-adapter-log4j2",
        "pluginUrl": "file:/app/base.jar!/BOOT-INF/lib/sofa-serverless-adapter-log4j2-0.5.6.jar!/",
        "pluginVersion": "0.5.6",
    }, {
        "artifactId": "sofa-serverless-base-plugin", "groupId": "com.alipay.sofa.serverless",
        "pluginActivator": "com.alipay.sofa.serverless.plugin.ServerlessRuntimeActivator",
        "pluginName": "sofa-serverless-base-plugin",
        "pluginUrl": "file:/app/base.jar!/BOOT-INF/lib/sofa-serverless-base-plugin-0.5.6.jar!/",
        "pluginVersion": "0.5.6",
    }],
}
