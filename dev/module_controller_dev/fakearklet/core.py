"""The pure Arklet protocol state machine: no sockets, no clocks, no asyncio.

Everything the fake Arklet *decides* lives here; :mod:`.server` only moves bytes, downloads and
waits. Time is an input (``now``, seconds since the epoch) so the same calls always give the same
answers. The reference for every answer is the real bases (2023: sofa-serverless 0.5.6,
2025: koupleless 2.1.6, both recorded); the table in
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
* An ``async`` install is answered at once with its process record (:mod:`.op_records`), which
  ``queryBizOps`` shows until and after the install ends.

Biz states are stored upper-case and rendered per flavour (:mod:`.answers`): 2023 ``ACTIVATED``,
2025 ``activated``. The names, codes and records are in :mod:`.vocabulary`.
"""

from __future__ import annotations

from typing import Any, Mapping

from . import answers
from .answers import biz_brief, biz_entry, biz_model, envelope, failed
from .download import url_error
from .jar import BizManifest, JarError, read_biz_manifest
from .op_records import OpRecords
from .vocabulary import (BIZ_STATES, CMD_NOT_FOUND, COMMANDS, FAILED, FLAVOURS, HEALTH,
                         ILLEGAL_STATE_BIZ, INSTALL, INSTALL_ONLY, INTERNAL_ERROR,
                         LOCKING_COMMANDS, MASTER_BIZ_MESSAGE, NOT_FOUND_BIZ, NPE,
                         OPS_NOT_FOUND_MESSAGE, QUERY_ALL, QUERY_OPS, REPEAT_BIZ, RUNTIME,
                         SUCCESS, SWITCH, UNINSTALL, UNINSTALL_THEN_INSTALL, VALIDATION, Biz,
                         CommandError, PendingOp, Reply, Started, Step, biz_key, optional_str,
                         registry_order, required_str)


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
        self._ops = OpRecords(flavour)  # async installs' process records, by requestId
        self._install_seq = 0
        self._generation = 0
        #: When the simulated JVM started (seconds since the epoch); set by the first request
        #: that carries a time, as if the JVM had run as long as in the recording.
        self._started: float | None = None

    @property
    def master_key(self) -> str:
        return biz_key(self.base_name, self.base_version)

    # ------------------------------------------------------------------ public entry points

    def handle(self, command: str, body: Mapping[str, Any], *, now: float = 0.0,
               empty: bool = False) -> Step:
        """Process one dispatched command (``body`` is the parsed JSON object).

        ``empty``: the request had no body at all (only ``installBiz`` cares: an NPE).
        """
        if self._started is None:
            self._started = now - answers.RECORDED_RUN_TIME
        if command not in COMMANDS:
            return envelope(CMD_NOT_FOUND, message="please follow the doc")
        try:
            if command in LOCKING_COMMANDS:
                return self._begin(command, body, now, empty)
            if command == QUERY_ALL:
                return envelope(SUCCESS, data=[biz_entry(self.flavour, b)
                                                     for b in self._in_registry_order()])
            if command == HEALTH:
                return self._health(body, now)
            if command == QUERY_OPS:
                return self._query_ops(body)
            return envelope(
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
            reply = failed(INSTALL, REPEAT_BIZ,
                                 f"Biz: {key} has been installed or registered.",
                                 elapsed_space=answers.repeat_space(key))
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
        self._end(op, failed(op.command, FAILED, reason), now)

    def accepted(self, op: PendingOp) -> Reply:
        """The immediate answer to an ``async`` install: its process record."""
        return envelope(SUCCESS, data=self._ops.get(op.request_id or ""))

    def mark_executing(self, op: PendingOp) -> None:
        """An accepted async op has started running on a worker thread (2025: INITIALIZED →
        EXECUTING; the 2023 record is EXECUTING from the start)."""
        if op.generation == self._generation:
            self._ops.executing(op)

    def injected_failure(self, command: str, kind: str, reason: str = "injected fault") -> Reply:
        """The envelope for a fault-plan failure: ``FAILED`` or ``CMD_PROCESS_INTERNAL_ERROR``."""
        if kind == FAILED:
            return failed(command, FAILED, reason)
        if kind == INTERNAL_ERROR:
            return self.internal_error(command, reason)
        raise ValueError(f"not an envelope failure kind: {kind!r}")

    def internal_error(self, command: str, reason: str, kind: str = VALIDATION) -> Reply:
        """``CMD_PROCESS_INTERNAL_ERROR`` naming ``reason`` (see :func:`.answers.internal_error`)."""
        return answers.internal_error(self.flavour, command, reason, kind)

    def restart(self, now: float | None = None) -> None:
        """The base JVM restarted: every biz, lock and op record is gone, and its uptime
        (health's ``run time(s)``) starts again from ``now``."""
        self._started = now
        self._bizzes.clear()
        self._locks.clear()
        self._ops.clear()
        self._generation += 1

    def bizzes(self) -> list[dict[str, Any]]:
        """The installed bizzes as ``queryAllBiz`` renders them, in the real bases' order."""
        return [biz_entry(self.flavour, b) for b in self._in_registry_order()]

    def op_record(self, request_id: str) -> dict[str, Any] | None:
        """The process record of the async op ``request_id`` (as ``queryBizOps`` shows it)."""
        return self._ops.get(request_id)

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
        return answers.render_state(self.flavour, state)

    # ------------------------------------------------------------------ locking commands

    def _begin(self, command: str, body: Mapping[str, Any], now: float, empty: bool) -> Step:
        if command == INSTALL:
            if empty:
                iface = f"{answers.ARKLET_PACKAGE[self.flavour]}.command.builtin.handler." \
                        "InstallBizHandler$Input"
                raise CommandError(f'Cannot invoke "{iface}.isAsync()" because "input" is null',
                                   NPE)
            op = self._validate_install(body, now)
        else:
            op = PendingOp(
                command=command,
                name=required_str(body, "bizName"),
                version=required_str(body, "bizVersion"),
                generation=self._generation,
                started_at=now,
            )
        key = op.key
        if key is not None:
            holder = self._locks.get(key)
            if holder is not None:
                return envelope(FAILED, message=f"FAILED:{key} {command} conflict, exist "
                                                      f"unfinished command({holder}) for this biz")
            self._locks[key] = command
        if command == INSTALL:
            problem = url_error(op.biz_url)
            if problem is not None:
                reply = self.internal_error(INSTALL, problem, RUNTIME)
                self._end(op, reply, now)
                return reply
        if op.asynchronous and op.request_id is not None:
            self._ops.open(op, body, now)
        return op

    def _validate_install(self, body: Mapping[str, Any], now: float) -> PendingOp:
        url = required_str(body, "bizUrl")
        name = optional_str(body, "bizName")
        version = optional_str(body, "bizVersion")
        if (name is None) != (version is None):
            raise CommandError("bizName and bizVersion should be both blank or both not blank.")
        asynchronous = body.get("async") is True
        request_id = optional_str(body, "requestId")
        if asynchronous and request_id is None:
            raise CommandError("requestId should not be blank")
        strategy = INSTALL_ONLY
        if self.flavour == "2025":
            # The 2023 Arklet does not know this field and, like any unknown field, ignores it.
            strategy = optional_str(body, "installStrategy") or INSTALL_ONLY
            if strategy not in (INSTALL_ONLY, UNINSTALL_THEN_INSTALL):
                raise CommandError(f"installStrategy: {strategy} can not be found")
        return PendingOp(
            command=INSTALL, name=name, version=version, generation=self._generation,
            started_at=now, biz_url=url, strategy=strategy, request_id=request_id,
            asynchronous=asynchronous,
        )

    def _register(self, op: PendingOp, manifest: BizManifest, now: float) -> None:
        self._install_seq += 1
        work_dir = answers.unpack_dir(self.flavour, manifest.name, manifest.version, now)
        biz = Biz(manifest.name, manifest.version, "RESOLVED", op.biz_url, self._install_seq,
                  main_class=manifest.main_class, web_context_path=manifest.web_context_path,
                  priority=manifest.priority, work_dir=work_dir)
        biz.set_state("RESOLVED")
        self._bizzes[biz.key] = biz
        op.biz = biz.key

    def _finish_install(self, op: PendingOp, now: float) -> Reply:
        biz = self._bizzes.get(op.biz or "")
        if biz is None:
            return failed(INSTALL, FAILED, f"biz {op.biz} disappeared while starting")
        active = any(b.name == biz.name and b.state == "ACTIVATED" and b is not biz
                     for b in self._bizzes.values())
        biz.set_state("DEACTIVATED" if active else "ACTIVATED")
        cost = max(0, int(round((now - op.started_at) * 1000)))
        return envelope(SUCCESS, data={
            "bizInfos": [biz_model(self.flavour, biz)],
            "code": SUCCESS,
            "elapsedSpace": answers.install_space(biz.key),
            "message": f"Install Biz: {biz.key} success, cost: {cost} ms, "
                       f"started at: {answers.format_started_at(op.started_at)}",
        })

    def _finish_uninstall(self, op: PendingOp) -> Reply:
        key = op.key or ""
        if key == self.master_key:
            return failed(UNINSTALL, FAILED, MASTER_BIZ_MESSAGE)
        biz = self._bizzes.get(key)
        if biz is None:
            return failed(UNINSTALL, NOT_FOUND_BIZ, f"Uninstall biz: {key} not found.")
        # No promotion: another version of the name keeps its state (DEACTIVATED stays so).
        del self._bizzes[key]
        return envelope(SUCCESS, data={
            "code": SUCCESS, "message": f"Uninstall biz: {key} success.",
        })

    def _finish_switch(self, op: PendingOp) -> Reply:
        key = op.key or ""
        target = self._bizzes.get(key)
        if target is None:
            return failed(SWITCH, NOT_FOUND_BIZ, f"Switch biz: {key} not found.")
        if target.state not in ("ACTIVATED", "DEACTIVATED"):
            return failed(SWITCH, ILLEGAL_STATE_BIZ,
                                f"Switch biz: {key} is in illegal state "
                                f"{self.render_state(target.state)}.")
        for other in self._bizzes.values():
            if other.name == target.name and other is not target and other.state == "ACTIVATED":
                other.set_state("DEACTIVATED")
        if target.state != "ACTIVATED":
            target.set_state("ACTIVATED")
        return envelope(SUCCESS, data={
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
        if op.asynchronous and op.generation == self._generation:
            self._ops.close(op, reply, now)

    def _restarted(self, op: PendingOp) -> Reply:
        op.done = True
        return failed(op.command, FAILED,
                            f"base restarted while {op.command} of {op.key or op.biz_url} "
                            f"was running")

    # ------------------------------------------------------------------ read-only commands

    def _health(self, body: Mapping[str, Any], now: float) -> Reply:
        kind = optional_str(body, "type")
        master = answers.master_biz(self.flavour, self.base_name, self.base_version)
        # The base registered itself before any module, and is listed where its name falls.
        bizzes = sorted(self._bizzes.values(), key=lambda b: b.installed_seq)
        biz_list = registry_order(
            [(self.base_name, self.base_version, master)]
            + [(b.name, b.version, biz_brief(self.flavour, b)) for b in bizzes])
        started = now if self._started is None else self._started
        health = answers.health_data(self.flavour, kind, master, biz_list, ready=self.base_ready,
                                     run_time=max(0.0, now - started))
        if health is None:
            raise CommandError(f"type: {kind} can not be found")
        return envelope(SUCCESS, data={"healthData": health})

    def _query_ops(self, body: Mapping[str, Any]) -> Reply:
        request_id = required_str(body, "requestId")
        record = self._ops.get(request_id)
        if record is None:
            return envelope(FAILED, message=OPS_NOT_FOUND_MESSAGE)
        return envelope(SUCCESS, data=record)

    # ------------------------------------------------------------------ rendering

    def _in_registry_order(self) -> list[Biz]:
        """The bizzes in sofa-ark's registry order (see :func:`registry_order`)."""
        bizzes = sorted(self._bizzes.values(), key=lambda b: b.installed_seq)
        return registry_order([(b.name, b.version, b) for b in bizzes])

