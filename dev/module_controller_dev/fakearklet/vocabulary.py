"""The fake Arklet's vocabulary: command names, result codes, and the records a command passes
through (the installed :class:`Biz`, the :class:`Reply` envelope, the :class:`PendingOp` of a
locking command), plus the readers of request fields as the real Arklet reads them.

Pure data and pure functions; the rules that use them are in :mod:`.core`, the JSON shapes of the
answers in :mod:`.answers`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, TypeVar

from . import javaorder

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

# Kinds of CMD_PROCESS_INTERNAL_ERROR, as the real handlers throw them.
VALIDATION = "CommandValidationException"   # validate(): message is the reason itself
RUNTIME = "ArkletRuntimeException"          # handle(): message is the cause's Java text
NPE = "NullPointerException"                # empty install body


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


def optional_str(body: Mapping[str, Any], name: str) -> str | None:
    """A string field; absent, ``null`` or blank count as missing (Java's ``isBlank``)."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)  # fastjson coerces scalars into String fields
    return value if value.strip() else None


def required_str(body: Mapping[str, Any], name: str) -> str:
    value = optional_str(body, name)
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
