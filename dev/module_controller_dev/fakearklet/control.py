"""HTTP control API for fake Arklets, and an async client for it.

Tests and demos use it to look at what a fake base received and to break it on purpose.
All routes speak JSON; an unknown host is a 404 ``{"error": ...}``, a bad body a 400.

``GET /arklets``
    ``{"arklets": [{host, port, flavour, refusing, bizzes, installLatency, serializeRequests,
    baseReady}]}``
``GET /arklets/{host}/requests?since=N``
    ``{"requests": [records with seq > N], "next": M}``; poll again with ``since=M``
``GET /arklets/{host}/bizzes``
    ``{"bizzes": [...]}``, rendered as ``queryAllBiz`` renders them
``GET /arklets/{host}/faults``
    ``{"faults": {command: rule}}``
``POST /arklets/{host}/faults``
    ``{"command": "installBiz"|"*", "latency", "failRate", "failCount", "failCode", "hang"}``
    replaces the rule of that command (omitted fields take their defaults)
``DELETE /arklets/{host}/faults``
    clear every rule (``?command=X``: only X's)
``POST /arklets/{host}/refuse``
    ``{"refuse": true|false}``
``POST /arklets/{host}/restart``
    simulated JVM restart: bizzes, locks and in-flight connections are gone
``POST /arklets/{host}/latency``
    ``{"install": seconds}``: the default install latency
``POST /arklets/{host}/ready``
    ``{"ready": true|false}``: whether ``health`` reports the base ready

The app registers no other routes, so an embedding program can add its own (``/healthz`` …).
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Protocol

import aiohttp
from aiohttp import web
from yarl import URL

from .server import FakeArklet


class ArkletDirectory(Protocol):
    """What the control app needs: find a fake by host, and list them all."""

    def get(self, host: str) -> FakeArklet | None: ...

    def all(self) -> Iterable[FakeArklet]: ...


class SingleArklet:
    """An :class:`ArkletDirectory` holding exactly one fake Arklet.

    With ``any_host=True`` every ``{host}`` in a route names that one fake, which suits a
    standalone fake bound to ``0.0.0.0`` and reached under whatever address the caller knows.
    """

    def __init__(self, arklet: FakeArklet, *, any_host: bool = False) -> None:
        self.arklet = arklet
        self.any_host = any_host

    def get(self, host: str) -> FakeArklet | None:
        return self.arklet if self.any_host or host == self.arklet.host else None

    def all(self) -> list[FakeArklet]:
        return [self.arklet]


class ArkletRegistry:
    """A mutable :class:`ArkletDirectory` keyed by host, for harnesses with many bases."""

    def __init__(self, arklets: Iterable[FakeArklet] = ()) -> None:
        self._by_host: dict[str, FakeArklet] = {}
        for arklet in arklets:
            self.add(arklet)

    def add(self, arklet: FakeArklet) -> None:
        self._by_host[arklet.host] = arklet

    def remove(self, host: str) -> FakeArklet | None:
        return self._by_host.pop(host, None)

    def get(self, host: str) -> FakeArklet | None:
        return self._by_host.get(host)

    def all(self) -> list[FakeArklet]:
        return list(self._by_host.values())


DIRECTORY = web.AppKey("fakearklet_directory", ArkletDirectory)

# Control-API field name -> FaultPlan.set keyword.
_FAULT_FIELDS = {"latency": "latency", "failRate": "fail_rate", "failCount": "fail_count",
                 "failCode": "fail_code", "hang": "hang"}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _summary(arklet: FakeArklet) -> dict[str, Any]:
    return {"host": arklet.host, "port": arklet.port, "flavour": arklet.flavour,
            "refusing": arklet.refusing, "bizzes": arklet.bizzes(),
            "installLatency": arklet.install_latency,
            "serializeRequests": arklet.serialize_requests,
            "baseReady": arklet.core.base_ready}


def _arklet(request: web.Request) -> FakeArklet:
    host = request.match_info["host"]
    arklet = request.app[DIRECTORY].get(host)
    if arklet is None:
        raise web.HTTPNotFound(text=_json_text({"error": f"no fake arklet on host {host}"}),
                               content_type="application/json")
    return arklet


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text=_json_text({"error": "body must be JSON"}),
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=_json_text({"error": "body must be a JSON object"}),
                                 content_type="application/json")
    return body


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=_json_text({"error": message}),
                              content_type="application/json")


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise _bad(f"{name} must be true or false")
    return value


async def _list(request: web.Request) -> web.Response:
    return web.json_response({"arklets": [_summary(a) for a in request.app[DIRECTORY].all()]})


async def _requests(request: web.Request) -> web.Response:
    arklet = _arklet(request)
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        return _error(400, "since must be an integer")
    if since < 0:
        return _error(400, "since must be >= 0")
    records = [r.to_dict() for r in arklet.requests[since:]]
    return web.json_response({"requests": records,
                              "next": records[-1]["seq"] if records else since},
                             dumps=_json_text)


async def _bizzes(request: web.Request) -> web.Response:
    return web.json_response({"bizzes": _arklet(request).bizzes()}, dumps=_json_text)


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": _arklet(request).faults.to_dict()})


async def _set_fault(request: web.Request) -> web.Response:
    arklet = _arklet(request)
    body = await _json_object(request)
    unknown = set(body) - set(_FAULT_FIELDS) - {"command"}
    if unknown:
        return _error(400, f"unknown fault fields: {sorted(unknown)}")
    command = body.get("command", "*")
    kwargs = {_FAULT_FIELDS[k]: v for k, v in body.items() if k in _FAULT_FIELDS and v is not None}
    try:
        arklet.faults.set(command, **kwargs)
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))
    return web.json_response({"faults": arklet.faults.to_dict()})


async def _clear_faults(request: web.Request) -> web.Response:
    arklet = _arklet(request)
    arklet.faults.clear(request.query.get("command"))
    return web.json_response({"faults": arklet.faults.to_dict()})


async def _refuse(request: web.Request) -> web.Response:
    arklet = _arklet(request)
    on = _flag(await _json_object(request), "refuse")
    try:
        arklet.refuse(on)
    except (OSError, RuntimeError) as exc:
        return _error(409, f"cannot change refusal: {exc}")
    return web.json_response({"refusing": arklet.refusing})


async def _restart(request: web.Request) -> web.Response:
    arklet = _arklet(request)
    await arklet.restart_base()
    return web.json_response({"bizzes": arklet.bizzes()})


async def _latency(request: web.Request) -> web.Response:
    arklet = _arklet(request)
    seconds = (await _json_object(request)).get("install")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not math.isfinite(seconds) or seconds < 0:
        return _error(400, "install must be a number of seconds >= 0")
    arklet.install_latency = float(seconds)
    return web.json_response({"installLatency": arklet.install_latency})


async def _ready(request: web.Request) -> web.Response:
    arklet = _arklet(request)
    arklet.set_base_ready(_flag(await _json_object(request), "ready"))
    return web.json_response({"baseReady": arklet.core.base_ready})


def make_control_app(arklets: ArkletDirectory) -> web.Application:
    """The control app over ``arklets`` (anything with ``get(host)`` and ``all()``)."""
    app = web.Application()
    app[DIRECTORY] = arklets
    app.router.add_get("/arklets", _list)
    app.router.add_get("/arklets/{host}/requests", _requests)
    app.router.add_get("/arklets/{host}/bizzes", _bizzes)
    app.router.add_get("/arklets/{host}/faults", _get_faults)
    app.router.add_post("/arklets/{host}/faults", _set_fault)
    app.router.add_delete("/arklets/{host}/faults", _clear_faults)
    app.router.add_post("/arklets/{host}/refuse", _refuse)
    app.router.add_post("/arklets/{host}/restart", _restart)
    app.router.add_post("/arklets/{host}/latency", _latency)
    app.router.add_post("/arklets/{host}/ready", _ready)
    return app


class ControlError(Exception):
    """The control API answered with an error status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class ControlClient:
    """Async client for :func:`make_control_app`; every call is bounded by ``timeout`` seconds.

    Use as ``async with ControlClient(url) as c: ...`` or call :meth:`close` when done.
    """

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = URL(base_url)
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def arklets(self) -> list[dict[str, Any]]:
        arklets: list[dict[str, Any]] = (await self._call("GET", ("arklets",)))["arklets"]
        return arklets

    async def requests(self, host: str, since: int = 0) -> dict[str, Any]:
        """``{"requests": [...], "next": N}``: records with ``seq > since``."""
        page: dict[str, Any] = await self._call("GET", ("arklets", host, "requests"),
                                                params={"since": since})
        return page

    async def bizzes(self, host: str) -> list[dict[str, Any]]:
        bizzes: list[dict[str, Any]] = (await self._call("GET", ("arklets", host, "bizzes")))["bizzes"]
        return bizzes

    async def faults(self, host: str) -> dict[str, Any]:
        faults: dict[str, Any] = (await self._call("GET", ("arklets", host, "faults")))["faults"]
        return faults

    async def set_fault(
        self,
        host: str,
        command: str = "*",
        *,
        latency: float | None = None,
        fail_rate: float | None = None,
        fail_count: int | None = None,
        fail_code: str | None = None,
        hang: bool | None = None,
    ) -> dict[str, Any]:
        """Replace the fault rule for ``command``; returns all rules of that fake."""
        body: dict[str, Any] = {"command": command}
        for key, value in (("latency", latency), ("failRate", fail_rate),
                           ("failCount", fail_count), ("failCode", fail_code), ("hang", hang)):
            if value is not None:
                body[key] = value
        faults: dict[str, Any] = (await self._call("POST", ("arklets", host, "faults"),
                                                   json=body))["faults"]
        return faults

    async def clear_faults(self, host: str, command: str | None = None) -> None:
        params = {"command": command} if command is not None else None
        await self._call("DELETE", ("arklets", host, "faults"), params=params)

    async def refuse(self, host: str, on: bool) -> None:
        await self._call("POST", ("arklets", host, "refuse"), json={"refuse": on})

    async def restart(self, host: str) -> None:
        await self._call("POST", ("arklets", host, "restart"), json={})

    async def set_install_latency(self, host: str, seconds: float) -> None:
        await self._call("POST", ("arklets", host, "latency"), json={"install": seconds})

    async def set_ready(self, host: str, ready: bool) -> None:
        await self._call("POST", ("arklets", host, "ready"), json={"ready": ready})

    async def _call(self, method: str, path: tuple[str, ...], *,
                    params: dict[str, Any] | None = None, json: Any = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = self.base_url
        for segment in path:
            url = url / segment  # yarl quotes each segment (IPv6 hosts, odd characters)
        async with self._session.request(method, url, params=params, json=json) as resp:
            try:
                payload = await resp.json(content_type=None)
            except ValueError:
                payload = {"error": await resp.text()}
            if resp.status >= 400:
                message = payload.get("error") if isinstance(payload, dict) else None
                raise ControlError(resp.status, str(message or payload))
            return payload
