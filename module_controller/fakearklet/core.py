"""The pure Arklet protocol state machine: no sockets, no clocks, no asyncio.

Everything the fake Arklet *decides* lives here; :mod:`.server` only moves bytes and waits.
Time is an input (``now``, seconds since the epoch) so the same calls always give the same
answers, which is what lets the unit tests drive the machine without a network.

A command goes through :meth:`ArkletCore.handle`:

* most commands answer at once with a :class:`Reply` (the JSON envelope);
* ``installBiz``, ``uninstallBiz`` and ``switchBiz`` return a :class:`PendingOp` instead. That op
  holds the per ``name:version`` lock (the real Arklet's "unfinished command" guard), and the
  shell may wait (download/start latency) before calling :meth:`ArkletCore.finish`, which applies
  the change, releases the lock and renders the reply. A second op on the same ``name:version``
  while the first is pending is answered ``FAILED`` with "conflict, exist unfinished command".

Biz states are stored upper-case and rendered per flavour: the 2023 Arklet writes
``ACTIVATED``, the 2025 one ``activated``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

FLAVOURS: tuple[str, ...] = ("2023", "2025")

INSTALL = "installBiz"
UNINSTALL = "uninstallBiz"
SWITCH = "switchBiz"
QUERY_ALL = "queryAllBiz"
HEALTH = "health"
QUERY_OPS = "queryBizOps"
HELP = "help"

#: Every command the fake dispatches, with the text ``help`` shows for it.
COMMANDS: dict[str, str] = {
    HELP: "list all supported commands",
    INSTALL: "install one biz from bizUrl (bizName and bizVersion optional, both or neither)",
    UNINSTALL: "uninstall one biz by bizName and bizVersion",
    SWITCH: "activate one biz version and deactivate the other versions of that name",
    QUERY_ALL: "list all installed bizzes (the base itself is not listed)",
    HEALTH: "health of the base: jvm, cpu, master biz, bizzes and plugins",
    QUERY_OPS: "status of an operation submitted with a requestId",
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

# Generic top-level messages of a FAILED envelope; the real reason goes in data.message.
_FAILED_MESSAGES = {
    INSTALL: "install biz not success!",
    UNINSTALL: "uninstall biz not success!",
    SWITCH: "switch biz not success!",
    QUERY_OPS: "query biz ops not success!",
}

# Names of the Java packages each generation's exceptions come from; only used to make
# errorStackTrace look like what a JVM prints.
_EXCEPTION_PACKAGE = {
    "2023": "com.alipay.sofa.serverless.arklet.core.common.exception",
    "2025": "com.alipay.sofa.koupleless.arklet.core.common.exception",
}

_ALLOWED_SCHEMES = frozenset({"file", "http", "https"})

# "<name>-<version>" where the version starts with dotted digits and may carry qualifiers:
# provider-1.0.2, my-module-2-1.0.0 (name "my-module-2"), demo-1.0.0-SNAPSHOT.
_JAR_NAME = re.compile(r"^(?P<name>.+?)-(?P<version>\d+(?:\.\d+)+(?:[-.][0-9A-Za-z]+)*)$")
_JAR_SUFFIXES = ("-ark-biz",)


class CommandError(Exception):
    """A request the real Arklet rejects with ``CMD_PROCESS_INTERNAL_ERROR``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StateRecord:
    """One biz state change, as the 2025 Arklet reports in ``bizStateRecords``."""

    at: float
    state: str
    reason: str
    message: str


@dataclass
class Biz:
    """One installed module (biz) on the base."""

    name: str
    version: str
    state: str
    biz_url: str
    installed_seq: int
    records: list[StateRecord] = field(default_factory=list)

    @property
    def key(self) -> str:
        return biz_key(self.name, self.version)

    def set_state(self, state: str, *, now: float, reason: str, message: str) -> None:
        self.state = state
        self.records.append(StateRecord(now, state, reason, message))


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


@dataclass(frozen=True)
class PendingOp:
    """An install/uninstall/switch that holds its ``name:version`` lock until finished."""

    command: str
    name: str
    version: str
    generation: int
    started_at: float
    biz_url: str = ""
    strategy: str = INSTALL_ONLY
    request_id: str | None = None
    asynchronous: bool = False

    @property
    def key(self) -> str:
        return biz_key(self.name, self.version)


Step = Reply | PendingOp


def biz_key(name: str, version: str) -> str:
    """The lock and identity key the real Arklet uses: ``name:version``."""
    return f"{name}:{version}"


def parse_body(raw: bytes) -> dict[str, Any] | None:
    """Decode a request body; ``None`` means "malformed", which the shell never answers.

    An empty (or all-whitespace) body counts as ``{}``: clients commonly send nothing for
    ``health``. Anything that is not a JSON *object* (invalid UTF-8, invalid JSON, an array, a
    number, ``null``) is malformed: the real Arklet throws while parsing and never replies.
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


def derive_biz_identity(biz_url: str) -> tuple[str, str] | None:
    """Guess ``(bizName, bizVersion)`` from a jar URL, as the fake's stand-in for the manifest.

    The real Arklet reads the name and version from the jar's manifest. The fake cannot open the
    jar, so it uses the Maven file-name convention instead: take the last path segment, drop a
    ``.jar`` suffix and then an ``-ark-biz`` suffix, and split ``<name>-<version>`` where the
    version is the *last* part that starts with dotted digits (``1.0.2``, ``1.0.0-SNAPSHOT``).
    ``http://repo/provider-1.0.2-ark-biz.jar`` gives ``("provider", "1.0.2")``. Returns ``None``
    when the name does not follow the convention (the install then fails as invalid input).
    """
    path = unquote(urlsplit(biz_url).path)
    stem = path.rstrip("/").rsplit("/", 1)[-1]
    if stem.lower().endswith(".jar"):
        stem = stem[:-4]
    for suffix in _JAR_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    match = _JAR_NAME.match(stem)
    if match is None:
        return None
    return match.group("name"), match.group("version")


def format_change_time(now: float) -> str:
    """``yyyy-MM-dd HH:mm:ss.SSS`` in UTC, the layout the 2025 Arklet uses for changeTime."""
    millis = int(round(now * 1000)) % 1000
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f".{millis:03d}"


def _optional_str(body: Mapping[str, Any], name: str) -> str | None:
    """A string field; absent, ``null`` or blank count as missing (Java's ``isBlank``)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CommandError(f"{name} should be a string")
    return value if value.strip() else None


def _required_str(body: Mapping[str, Any], name: str) -> str:
    value = _optional_str(body, name)
    if value is None:
        raise CommandError(f"{name} should not be blank")
    return value


class ArkletCore:
    """The state of one base's Arklet and the rules of its protocol.

    ``base_ready`` drives ``health``: when false the master biz is ``RESOLVED`` and (2023) the
    readiness state is ``REFUSING_TRAFFIC``, i.e. a base that is up but not ready for modules.
    ``promote_on_uninstall``: when the ACTIVATED version of a name is uninstalled and other
    versions remain, the most recently installed DEACTIVATED one becomes ACTIVATED (the spec's
    "the old one stays ACTIVATED until switchBiz or the old one is uninstalled").
    """

    def __init__(
        self,
        flavour: str = "2023",
        base_name: str = "base",
        base_version: str = "1.0.0",
        base_identity: str | None = None,
    ) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
        self.flavour = flavour
        self.base_name = base_name
        self.base_version = base_version
        self.base_identity = base_identity or f"{base_name}:{base_version}"
        self.base_ready = True
        self.promote_on_uninstall = True
        self._bizzes: dict[str, Biz] = {}
        self._locks: dict[str, str] = {}  # name:version -> command holding it
        self._ops: dict[str, dict[str, Any]] = {}  # requestId -> op record
        self._install_seq = 0
        self._generation = 0

    # ------------------------------------------------------------------ public entry points

    def handle(self, command: str, body: Mapping[str, Any], *, now: float = 0.0) -> Step:
        """Process one dispatched command (``body`` is the parsed JSON object)."""
        if command not in COMMANDS:
            return self._envelope(CMD_NOT_FOUND, message="please follow the doc")
        try:
            if command in LOCKING_COMMANDS:
                return self._begin(command, body, now)
            if command == QUERY_ALL:
                return self._envelope(SUCCESS, data=self.bizzes())
            if command == HEALTH:
                return self._health(body)
            if command == QUERY_OPS:
                return self._query_ops(body)
            return self._envelope(
                SUCCESS, data=[{"id": name, "desc": desc} for name, desc in COMMANDS.items()]
            )
        except CommandError as exc:
            return self.internal_error(command, exc.reason)

    def finish(self, op: PendingOp, *, now: float = 0.0) -> Reply:
        """Apply a pending op, release its lock, record it for ``queryBizOps`` and answer."""
        if op.generation != self._generation:
            # The base restarted while this op was in flight: nothing of it survives.
            return self._failed(op.command, FAILED, f"base restarted while {op.command} of "
                                f"{op.key} was running")
        try:
            if op.command == INSTALL:
                reply = self._finish_install(op, now)
            elif op.command == UNINSTALL:
                reply = self._finish_uninstall(op, now)
            else:
                reply = self._finish_switch(op, now)
        finally:
            self._release(op)
        self._record_op_result(op, reply, now)
        return reply

    def abandon(self, op: PendingOp, *, now: float = 0.0, reason: str = "abandoned") -> None:
        """Release a pending op without applying it (its connection was torn down)."""
        if op.generation != self._generation:
            return
        self._release(op)
        if op.request_id is not None and op.request_id in self._ops:
            rec = self._ops[op.request_id]
            rec.update(status="FAILED", endTime=int(now * 1000),
                       result={"code": FAILED, "message": reason})

    def accepted(self, op: PendingOp) -> Reply:
        """The immediate answer to an ``async`` install: accepted, poll ``queryBizOps``."""
        return self._envelope(SUCCESS, data={
            "code": SUCCESS,
            "message": f"Install biz: {op.key} accepted, requestId: {op.request_id}",
            "requestId": op.request_id,
            "status": self._ops[op.request_id]["status"] if op.request_id in self._ops
            else "INITIALIZED",
        })

    def mark_executing(self, op: PendingOp) -> None:
        """An accepted async op has started running (INITIALIZED -> EXECUTING)."""
        if op.generation == self._generation and op.request_id in self._ops:
            self._ops[op.request_id]["status"] = "EXECUTING"

    def injected_failure(self, command: str, kind: str, reason: str = "injected fault") -> Reply:
        """The envelope for a fault-plan failure: ``FAILED`` or ``CMD_PROCESS_INTERNAL_ERROR``."""
        if kind == FAILED:
            return self._failed(command, FAILED, reason)
        if kind == INTERNAL_ERROR:
            return self.internal_error(command, reason)
        raise ValueError(f"not an envelope failure kind: {kind!r}")

    def internal_error(self, command: str, reason: str) -> Reply:
        """``CMD_PROCESS_INTERNAL_ERROR`` with ``Internal Error: <reason>`` and a JVM-ish trace."""
        package = _EXCEPTION_PACKAGE[self.flavour]
        trace = (
            f"{package}.CommandValidationException: {reason}\n"
            f"\tat fakearklet.command.{command}.validate(FakeArklet)\n"
            f"\tat fakearklet.command.CommandService.process(FakeArklet)\n"
            f"\tat fakearklet.tunnel.HttpTunnel.dispatch(FakeArklet)\n"
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
        """The installed bizzes as ``queryAllBiz`` renders them, in install order."""
        return [self._render_biz(b) for b in self._bizzes.values()]

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
        biz.set_state(state, now=now, reason="Forced", message="state set by the test harness")

    def render_state(self, state: str) -> str:
        return state.lower() if self.flavour == "2025" else state.upper()

    # ------------------------------------------------------------------ locking commands

    def _begin(self, command: str, body: Mapping[str, Any], now: float) -> Step:
        if command == INSTALL:
            op = self._validate_install(body, now)
        else:
            op = PendingOp(
                command=command,
                name=_required_str(body, "bizName"),
                version=_required_str(body, "bizVersion"),
                generation=self._generation,
                started_at=now,
                request_id=_optional_str(body, "requestId"),
            )
        holder = self._locks.get(op.key)
        if holder is not None:
            message = f"conflict, exist unfinished command({holder}) for this biz: {op.key}"
            return self._envelope(FAILED, message=message,
                                  data={"code": FAILED, "message": message})
        self._locks[op.key] = command
        if op.request_id is not None:
            self._ops[op.request_id] = {
                "requestId": op.request_id,
                "command": command,
                "bizName": op.name,
                "bizVersion": op.version,
                "status": "INITIALIZED" if op.asynchronous else "EXECUTING",
                "startTime": int(now * 1000),
            }
        return op

    def _validate_install(self, body: Mapping[str, Any], now: float) -> PendingOp:
        url = _required_str(body, "bizUrl")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _ALLOWED_SCHEMES or (scheme != "file" and not parts.netloc):
            raise CommandError(f"bizUrl should be a file:// or http(s):// URL, got: {url}")
        name = _optional_str(body, "bizName")
        version = _optional_str(body, "bizVersion")
        if (name is None) != (version is None):
            raise CommandError("bizName and bizVersion should be given together or not at all")
        if name is None or version is None:
            derived = derive_biz_identity(url)
            if derived is None:
                raise CommandError(f"cannot read bizName and bizVersion from biz file: {url}")
            name, version = derived
        asynchronous = body.get("async", False)
        if asynchronous is None:
            asynchronous = False
        if not isinstance(asynchronous, bool):
            raise CommandError("async should be a boolean")
        request_id = _optional_str(body, "requestId")
        if asynchronous and request_id is None:
            raise CommandError("requestId should not be blank when async is true")
        strategy = INSTALL_ONLY
        if self.flavour == "2025":
            # The 2023 Arklet does not know these fields and, like any unknown field, ignores them.
            strategy = _optional_str(body, "installStrategy") or INSTALL_ONLY
            if strategy not in (INSTALL_ONLY, UNINSTALL_THEN_INSTALL):
                raise CommandError(f"installStrategy should be {INSTALL_ONLY} or "
                                   f"{UNINSTALL_THEN_INSTALL}, got: {strategy}")
            args = body.get("args")
            if args is not None and not (
                isinstance(args, list) and all(isinstance(a, str) for a in args)
            ):
                raise CommandError("args should be a list of strings")
            envs = body.get("envs")
            if envs is not None and not (
                isinstance(envs, dict) and all(isinstance(v, str) for v in envs.values())
            ):
                raise CommandError("envs should be an object of strings")
        return PendingOp(
            command=INSTALL, name=name, version=version, generation=self._generation,
            started_at=now, biz_url=url, strategy=strategy, request_id=request_id,
            asynchronous=asynchronous,
        )

    def _finish_install(self, op: PendingOp, now: float) -> Reply:
        if op.key in self._bizzes:
            return self._failed(INSTALL, REPEAT_BIZ,
                                f"Biz: {op.key} has been installed or registered.")
        if op.strategy == UNINSTALL_THEN_INSTALL:
            for other in [b for b in self._bizzes.values() if b.name == op.name]:
                del self._bizzes[other.key]
        active = any(b.name == op.name and b.state == "ACTIVATED" for b in self._bizzes.values())
        self._install_seq += 1
        biz = Biz(op.name, op.version, "RESOLVED", op.biz_url, self._install_seq)
        biz.records.append(StateRecord(now, "RESOLVED", "BizCreated",
                                       f"biz created from {op.biz_url}"))
        if active:
            biz.set_state("DEACTIVATED", now=now, reason="BizDeactivated",
                          message=f"another version of {op.name} is active")
        else:
            biz.set_state("ACTIVATED", now=now, reason="BizActivated",
                          message="biz started and activated")
        self._bizzes[biz.key] = biz
        elapsed = max(0, int(round((now - op.started_at) * 1000)))
        return self._envelope(SUCCESS, data={
            "code": SUCCESS,
            "message": f"Install Biz: {op.key} success, cost: {elapsed} ms",
            "elapsedSpace": elapsed,
            "bizInfos": [self._render_biz(biz)],
        })

    def _finish_uninstall(self, op: PendingOp, now: float) -> Reply:
        biz = self._bizzes.pop(op.key, None)
        if biz is None:
            return self._failed(UNINSTALL, NOT_FOUND_BIZ, f"Uninstall biz: {op.key} not found.")
        if biz.state == "ACTIVATED" and self.promote_on_uninstall:
            waiting = [b for b in self._bizzes.values()
                       if b.name == op.name and b.state == "DEACTIVATED"]
            if waiting:
                heir = max(waiting, key=lambda b: b.installed_seq)
                heir.set_state("ACTIVATED", now=now, reason="BizActivated",
                               message=f"active version {op.version} was uninstalled")
        return self._envelope(SUCCESS, data={
            "code": SUCCESS, "message": f"Uninstall biz: {op.key} success.",
        })

    def _finish_switch(self, op: PendingOp, now: float) -> Reply:
        target = self._bizzes.get(op.key)
        if target is None:
            return self._failed(SWITCH, NOT_FOUND_BIZ, f"Switch biz: {op.key} not found.")
        if target.state not in ("ACTIVATED", "DEACTIVATED"):
            return self._failed(SWITCH, ILLEGAL_STATE_BIZ,
                                f"Switch biz: {op.key} is in illegal state "
                                f"{self.render_state(target.state)}.")
        for other in self._bizzes.values():
            if other.name == op.name and other is not target and other.state == "ACTIVATED":
                other.set_state("DEACTIVATED", now=now, reason="BizSwitched",
                                message=f"switched to {op.key}")
        if target.state != "ACTIVATED":
            target.set_state("ACTIVATED", now=now, reason="BizSwitched",
                             message=f"switched to {op.key}")
        return self._envelope(SUCCESS, data={
            "code": SUCCESS, "message": f"Switch biz: {op.key} is activated.",
        })

    def _release(self, op: PendingOp) -> None:
        if self._locks.get(op.key) == op.command:
            del self._locks[op.key]

    def _record_op_result(self, op: PendingOp, reply: Reply, now: float) -> None:
        if op.request_id is None or op.request_id not in self._ops:
            return
        data = reply.data if isinstance(reply.data, dict) else {}
        self._ops[op.request_id].update(
            status="SUCCEEDED" if reply.code == SUCCESS else "FAILED",
            endTime=int(now * 1000),
            result={"code": data.get("code", reply.code),
                    "message": data.get("message", reply.envelope.get("message", ""))},
        )

    # ------------------------------------------------------------------ read-only commands

    def _health(self, body: Mapping[str, Any]) -> Reply:
        kind = _optional_str(body, "type")
        master = {
            "bizName": self.base_name,
            "bizVersion": self.base_version,
            "bizState": self.render_state("ACTIVATED" if self.base_ready else "RESOLVED"),
            "mainClass": "com.example.base.BaseApplication",
            "webContextPath": "/",
        }
        jvm = {
            "javaVersion": "17.0.10" if self.flavour == "2025" else "1.8.0_392",
            "usedMemoryM": 256.0 + 32.0 * len(self._bizzes),
            "committedMemoryM": 1024.0,
            "maxMemoryM": 2048.0,
            "loadedClassCount": 9000 + 1500 * len(self._bizzes),
        }
        cpu = {"count": 4, "type": "fake", "totalUsed": 12.5, "userUsed": 8.0,
               "systemUsed": 4.5, "free": 87.5}
        system: dict[str, Any] = {"jvm": jvm, "cpu": cpu, "masterBizInfo": master}
        if self.flavour == "2023":
            system["masterBizHealth"] = {
                "readinessState": "ACCEPTING_TRAFFIC" if self.base_ready else "REFUSING_TRAFFIC",
            }
        if kind is None:
            health = {**system, "bizListInfo": self.bizzes(), "pluginListInfo": []}
        elif kind == "system":
            health = system
        elif kind == "biz":
            health = {"bizListInfo": self.bizzes()}
        elif kind == "plugin":
            health = {"pluginListInfo": []}
        else:
            raise CommandError(f"health type should be system, biz or plugin, got: {kind}")
        return self._envelope(SUCCESS, data={"healthData": health})

    def _query_ops(self, body: Mapping[str, Any]) -> Reply:
        request_id = _required_str(body, "requestId")
        record = self._ops.get(request_id)
        if record is None:
            return self._failed(QUERY_OPS, FAILED, f"no operation with requestId {request_id}")
        return self._envelope(SUCCESS, data=dict(record))

    # ------------------------------------------------------------------ rendering

    def _render_biz(self, biz: Biz) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bizName": biz.name,
            "bizVersion": biz.version,
            "bizState": self.render_state(biz.state),
            "mainClass": "com.example.fakebiz.BizApplication",
            "webContextPath": biz.name,
        }
        if self.flavour == "2025":
            out["bizStateRecords"] = [
                {"changeTime": format_change_time(r.at), "state": self.render_state(r.state),
                 "reason": r.reason, "message": r.message}
                for r in biz.records
            ]
        return out

    def _failed(self, command: str, data_code: str, message: str) -> Reply:
        return self._envelope(
            FAILED,
            message=_FAILED_MESSAGES.get(command, f"{command} not success!"),
            data={"code": data_code, "message": message},
        )

    def _envelope(
        self,
        code: str,
        *,
        message: str | None = None,
        data: Any = None,
        error_stack_trace: str | None = None,
    ) -> Reply:
        # Null fields are omitted, as the JVM's serialiser does.
        env: dict[str, Any] = {"code": code}
        if message is not None:
            env["message"] = message
        if data is not None:
            env["data"] = data
        if error_stack_trace is not None:
            env["errorStackTrace"] = error_stack_trace
        if self.flavour == "2025":
            env["baseIdentity"] = self.base_identity
        return Reply(env)
