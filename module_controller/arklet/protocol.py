"""The Arklet wire protocol as pure functions: no sockets, no clocks, no asyncio.

Everything the client *decides* lives here, so it can be unit-tested without a network:

* request bodies (:func:`install_body`, …) are typed dicts, turned into bytes only by
  :func:`encode_body` (``json.dumps``, never string formatting, so quotes or non-ASCII in a
  module name cannot break the request);
* :func:`decode_reply` turns the bytes of an HTTP 200 into JSON, :func:`parse_envelope` turns the
  JSON into a typed :class:`ArkletResult` (business outcome, the *real* reason, bizzes);
* :func:`parse_health` interprets ``health`` for both Arklet generations;
* :func:`base_url` / :func:`arklet_port` say where a base's Arklet listens.

Anything that is not a well-formed reply raises :class:`ProtocolError`; the client treats that
like a transport error (retried, then :class:`~.errors.ArkletUnavailable`), because a garbled
answer says nothing about what the base did.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, TypedDict

# --- Commands (the path after the slash, case-sensitive) -------------------------------------
INSTALL = "installBiz"
UNINSTALL = "uninstallBiz"
SWITCH = "switchBiz"
QUERY_ALL = "queryAllBiz"
HEALTH = "health"

# --- Envelope codes (top level) and result codes (``data.code``) -----------------------------
SUCCESS = "SUCCESS"
FAILED = "FAILED"
CMD_NOT_FOUND = "CMD_NOT_FOUND"
CMD_PROCESS_INTERNAL_ERROR = "CMD_PROCESS_INTERNAL_ERROR"
REPEAT_BIZ = "REPEAT_BIZ"
NOT_FOUND_BIZ = "NOT_FOUND_BIZ"
ILLEGAL_STATE_BIZ = "ILLEGAL_STATE_BIZ"

#: Arklet's per ``name:version`` guard answers FAILED with this text (matched case-insensitively).
CONFLICT_MARKER = "conflict, exist unfinished command"
#: Both real generations refuse to uninstall the base itself with this text (data.code FAILED).
MASTER_BIZ_MARKER = "master biz must not be uninstalled"
#: A REPEAT_BIZ answer names the identity that is there, taken from the jar's manifest, whatever
#: name and version the request gave: "Biz: provider:1.0.2 has been installed or registered."
_REPEAT_IDENTITY = re.compile(r"Biz:\s*(\S+?)\s+has been installed")

# --- Biz states (normalised to upper case; the 2025 Arklet writes them lower-case) -----------
ACTIVATED = "ACTIVATED"
DEACTIVATED = "DEACTIVATED"
RESOLVED = "RESOLVED"
UNRESOLVED = "UNRESOLVED"
BROKEN = "BROKEN"
STOPPED = "STOPPED"
#: Stand-in when a reply carries no usable state, so :attr:`BizInfo.state` is always a string.
STATE_UNKNOWN = "UNKNOWN"

ACCEPTING_TRAFFIC = "ACCEPTING_TRAFFIC"

#: Pod annotation that overrides the Arklet port (the base may not get 1238 if it is taken).
ARKLET_PORT_ANNOTATION = "serverless.alipay.com/arklet-port"
DEFAULT_PORT = 1238

_PORT_TEXT = re.compile(r"[0-9]{1,5}")


class ProtocolError(ValueError):
    """A reply that is not a valid Arklet answer (not JSON, not an envelope, wrong shapes)."""


class Outcome(enum.Enum):
    """What an Arklet answer means to the controller."""

    SUCCESS = "SUCCESS"
    REPEAT_BIZ = "REPEAT_BIZ"  # install: this name:version is already there
    NOT_FOUND_BIZ = "NOT_FOUND_BIZ"  # uninstall/switch: no such biz
    ILLEGAL_STATE_BIZ = "ILLEGAL_STATE_BIZ"  # switch: the biz is not in a switchable state
    CONFLICT = "CONFLICT"  # another command on this name:version is still running
    MASTER_BIZ = "MASTER_BIZ"  # uninstall: the name:version is the base itself
    FAILED = "FAILED"  # any other FAILED answer
    INTERNAL_ERROR = "INTERNAL_ERROR"  # CMD_PROCESS_INTERNAL_ERROR (bad input, download failure)
    CMD_NOT_FOUND = "CMD_NOT_FOUND"  # the base's Arklet does not know the command


@dataclass(frozen=True)
class BizRef:
    """A module to act on: name, version and (for install) the jar URL."""

    name: str
    version: str
    url: str | None = None


@dataclass(frozen=True)
class BizInfo:
    """One biz as Arklet lists it; ``state`` is upper case whatever the generation wrote."""

    name: str
    version: str
    state: str

    @property
    def activated(self) -> bool:
        return self.state == ACTIVATED


@dataclass(frozen=True)
class ArkletResult:
    """A business answer from Arklet (HTTP 200 with a JSON envelope)."""

    command: str
    outcome: Outcome
    code: str  # top-level envelope code, as sent
    data_code: str | None  # ``data.code`` when present
    message: str  # the real reason: data.message when present, else the top-level message
    biz_infos: tuple[BizInfo, ...] = ()
    raw: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """The command achieved what was asked.

        Uninstalling something that is not there leaves the base as the caller wants it, so
        ``NOT_FOUND_BIZ`` counts as success for ``uninstallBiz`` (and only there).
        """
        if self.outcome is Outcome.SUCCESS:
            return True
        return self.command == UNINSTALL and self.outcome is Outcome.NOT_FOUND_BIZ


@dataclass(frozen=True)
class Health:
    """A base's ``health`` answer, interpreted."""

    ready: bool  # ready for modules (see parse_health)
    master_state: str | None  # base's own biz state, upper case; None if absent
    readiness: str | None  # 2023 ``masterBizHealth.readinessState``, upper case; None on 2025
    raw: dict[str, Any]
    #: The JVM's uptime in seconds (``jvm["run time(s)"]``, both generations); None if absent.
    #: It starts again when the base restarts, which tells a restart from a base that drops bizzes.
    run_time: float | None = None


# --- Addresses -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=16384)
def normalise_host(host: str) -> str:
    """Canonical spelling of a host: brackets dropped, IP addresses in compressed form.

    ``"[::1]"``, ``"::1"`` and ``"0:0::1"`` are one base; using the canonical form as the lock
    key makes sure calls to it are serialised whichever way the caller spelled it. Cached: it
    runs twice per Arklet call (lock key, URL), and parsing an address each time was ~1 % of
    the controller's CPU in a release; a cache entry per base is ~100 bytes.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text:
        raise ValueError("host must not be empty")
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text.lower()  # a DNS name: case-insensitive


def base_url(host: str, port: int) -> str:
    """``http://<host>:<port>``, with IPv6 hosts bracketed (``http://[::1]:1238``)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an integer in 1..65535, got {port!r}")
    name = normalise_host(host)
    if ":" in name:
        # RFC 6874: a zone id ("fe80::1%eth0") needs its "%" escaped inside the brackets.
        name = "[" + name.replace("%", "%25") + "]"
    return f"http://{name}:{port}"


def command_url(host: str, port: int, command: str) -> str:
    """The URL a command is POSTed to."""
    if not command or "/" in command:
        raise ValueError(f"not an Arklet command: {command!r}")
    return f"{base_url(host, port)}/{command}"


def arklet_port(annotations: Mapping[str, str] | None, default: int) -> int:
    """The Arklet port of a pod: its ``serverless.alipay.com/arklet-port`` annotation, if valid.

    A missing annotation, or one that is not a plain decimal port in 1..65535, gives
    ``default``: a typo in an annotation must not make the controller call port 0 or crash.
    """
    if not annotations:
        return default
    value = annotations.get(ARKLET_PORT_ANNOTATION)
    if not isinstance(value, str):
        return default
    text = value.strip()
    if not _PORT_TEXT.fullmatch(text):
        return default
    port = int(text)
    return port if 0 < port < 65536 else default


# --- Requests --------------------------------------------------------------------------------

def _require(value: str | None, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


class BizBody(TypedDict):
    """The body of ``uninstallBiz`` and ``switchBiz``."""

    bizName: str
    bizVersion: str


class InstallBody(BizBody):
    """The body of ``installBiz``."""

    bizUrl: str


def install_body(biz: BizRef) -> InstallBody:
    """``installBiz``: name and version are always sent, so Arklet never has to guess them."""
    return {
        "bizName": _require(biz.name, "bizName"),
        "bizVersion": _require(biz.version, "bizVersion"),
        "bizUrl": _require(biz.url, "bizUrl (BizRef.url, required for install)"),
    }


def biz_body(name: str, version: str) -> BizBody:
    """``uninstallBiz`` / ``switchBiz``."""
    return {"bizName": _require(name, "bizName"), "bizVersion": _require(version, "bizVersion")}


def empty_body() -> dict[str, str]:
    """``queryAllBiz`` / ``health``: an empty object (not an empty body, which some reject)."""
    return {}


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Serialise a request body.

    ASCII-only JSON (non-ASCII as ``\\uXXXX`` escapes): the bytes mean the same whatever charset
    the base's JVM decodes them with, so a module name like ``模块`` arrives intact.
    """
    return json.dumps(dict(body), ensure_ascii=True, separators=(",", ":")).encode("ascii")


# --- Replies ---------------------------------------------------------------------------------

def decode_reply(raw: bytes) -> dict[str, Any]:
    """Bytes of an HTTP 200 body → the JSON envelope (an object with a string ``code``)."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"reply is not JSON: {_preview(raw)}") from exc
    if not isinstance(value, dict):
        raise ProtocolError(f"reply is not a JSON object: {_preview(raw)}")
    if not isinstance(value.get("code"), str):
        raise ProtocolError(f"reply has no envelope code: {_preview(raw)}")
    return value


def _preview(raw: bytes, limit: int = 120) -> str:
    text = raw[:limit].decode("utf-8", errors="replace")
    return repr(text + ("…" if len(raw) > limit else ""))


def normalise_state(state: Any) -> str:
    """Biz state in upper case (2023 writes ``ACTIVATED``, 2025 ``activated``)."""
    if isinstance(state, str) and state.strip():
        return state.strip().upper()
    return STATE_UNKNOWN


def parse_biz_info(item: Any) -> BizInfo:
    """One ``{bizName, bizVersion, bizState, …}`` entry."""
    if not isinstance(item, dict):
        raise ProtocolError(bounded(f"biz entry is not an object: {item!r}"))
    name, version = item.get("bizName"), item.get("bizVersion")
    if not isinstance(name, str) or not isinstance(version, str):
        raise ProtocolError(bounded(f"biz entry without bizName/bizVersion: {item!r}"))
    return BizInfo(name, version, normalise_state(item.get("bizState")))


def parse_biz_list(items: Any) -> tuple[BizInfo, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ProtocolError(bounded(f"biz list is not an array: {items!r}"))
    return tuple(parse_biz_info(item) for item in items)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


#: How much free text of a base's answer (an envelope's message, a stack trace, a biz entry
#: shown in an error) the controller keeps: cut here, before it reaches a status, an Event, a
#: log line or memory. 1 KiB names the reason of any real Arklet answer; a base answering a
#: megabyte must not make every Module object a megabyte (docs/security.md).
TEXT_BOUND = 1024


def bounded(text: str, limit: int = TEXT_BOUND) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters cut)"


def classify(code: str, data_code: str | None, messages: tuple[str, ...]) -> Outcome:
    """Map an envelope to an :class:`Outcome`.

    Unknown top-level codes count as ``FAILED``: the base did *answer*, so the call must not be
    retried blindly (it may have acted), and a caller that does not recognise the answer will
    report it rather than assume success.
    """
    if code == SUCCESS:
        return Outcome.SUCCESS
    if code == CMD_PROCESS_INTERNAL_ERROR:
        return Outcome.INTERNAL_ERROR
    if code == CMD_NOT_FOUND:
        return Outcome.CMD_NOT_FOUND
    if data_code == REPEAT_BIZ:
        return Outcome.REPEAT_BIZ
    if data_code == NOT_FOUND_BIZ:
        return Outcome.NOT_FOUND_BIZ
    if data_code == ILLEGAL_STATE_BIZ:
        return Outcome.ILLEGAL_STATE_BIZ
    if any(CONFLICT_MARKER in m.lower() for m in messages):
        return Outcome.CONFLICT
    if any(MASTER_BIZ_MARKER in m.lower() for m in messages):
        return Outcome.MASTER_BIZ
    return Outcome.FAILED


def installed_identity(result: ArkletResult) -> tuple[str, str] | None:
    """The ``(name, version)`` an install answer says is on the base, if it names one.

    A real Arklet takes a biz's identity from the jar's manifest (``Ark-Biz-Name``,
    ``Ark-Biz-Version``), not from the request: asked for ``provider:3.0.0`` with a url that
    serves the 2.0.0 jar it installs ``provider:2.0.0`` and says so in ``data.bizInfos``, and a
    REPEAT_BIZ answer names the identity it found in its message. None when the answer names
    none (then only ``queryAllBiz`` can tell).
    """
    if result.command != INSTALL:
        return None
    if result.outcome is Outcome.SUCCESS and result.biz_infos:
        first = result.biz_infos[0]
        return first.name, first.version
    if result.outcome is Outcome.REPEAT_BIZ:
        match = _REPEAT_IDENTITY.search(result.message)
        if match:
            name, sep, version = match.group(1).rpartition(":")
            if sep and name and version:
                return name, version
    return None


def parse_envelope(command: str, envelope: Mapping[str, Any]) -> ArkletResult:
    """Interpret a decoded envelope as the answer to ``command``.

    ``biz_infos`` comes from ``data`` itself for ``queryAllBiz`` (an array) and from
    ``data.bizInfos`` for an install. Raises :class:`ProtocolError` on impossible shapes.
    """
    code = envelope.get("code")
    if not isinstance(code, str):
        raise ProtocolError(bounded(f"envelope has no code: {dict(envelope)!r}"))
    data = envelope.get("data")
    top_message = _text(envelope.get("message"))
    data_code: str | None = None
    data_message: str | None = None
    infos: tuple[BizInfo, ...] = ()
    if isinstance(data, dict):
        data_code = _text(data.get("code"))
        data_message = _text(data.get("message"))
        if code == SUCCESS and "bizInfos" in data:
            infos = parse_biz_list(data.get("bizInfos"))
    if command == QUERY_ALL and code == SUCCESS:
        infos = parse_biz_list(data)
    messages = tuple(m for m in (data_message, top_message) if m)
    return ArkletResult(
        command=command,
        outcome=classify(code, data_code, messages),
        code=code,
        data_code=data_code,
        # Classified on the whole text above; kept cut to the bound.
        message=bounded(data_message or top_message or ""),
        biz_infos=infos,
        raw=dict(envelope),
    )


def parse_health(envelope: Mapping[str, Any]) -> Health:
    """Interpret a ``health`` envelope (both generations).

    A base is ready for modules when the answer is ``SUCCESS``, the master biz (the base itself)
    is ACTIVATED and, where the base reports it (2023 Arklet: ``masterBizHealth.
    readinessState``), it is ACCEPTING_TRAFFIC. Missing pieces make a base *not ready* rather
    than an error: an open port alone proves nothing.
    """
    data = envelope.get("data")
    health = data.get("healthData") if isinstance(data, dict) else None
    master_state: str | None = None
    readiness: str | None = None
    if isinstance(health, dict):
        master = health.get("masterBizInfo")
        if isinstance(master, dict) and master.get("bizState") is not None:
            master_state = normalise_state(master.get("bizState"))
        probe = health.get("masterBizHealth")
        if isinstance(probe, dict) and probe.get("readinessState") is not None:
            readiness = normalise_state(probe.get("readinessState"))
    run_time: float | None = None
    jvm = health.get("jvm") if isinstance(health, dict) else None
    if isinstance(jvm, dict):
        value = jvm.get("run time(s)")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            run_time = float(value)
    ready = (
        envelope.get("code") == SUCCESS
        and master_state == ACTIVATED
        and (readiness is None or readiness == ACCEPTING_TRAFFIC)
    )
    return Health(ready=ready, master_state=master_state, readiness=readiness, raw=dict(envelope),
                  run_time=run_time)
