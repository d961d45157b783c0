"""The probe server: ``/metrics``, ``/healthz`` and ``/readyz`` on one HTTP port.

* ``GET /metrics``: the :class:`~.metrics.Metrics` registry, served by prometheus_client's own
  aiohttp handler: Prometheus text format, OpenMetrics when the scraper's ``Accept`` header asks
  for it, gzip when ``Accept-Encoding`` allows it.
* ``GET /healthz``: 200 whenever the process's event loop runs. The handler runs on that loop, so
  a loop that is blocked or dead cannot answer, and the kubelet's liveness probe times out.
* ``GET /readyz``: 200 when ``ready()`` returns ``(True, reason)``, else 503; both with a JSON
  body ``{"ready": bool, "reason": str}``. ``ready`` is called on the event loop for every probe:
  it must be quick and must not block.

The server runs on the caller's event loop (aiohttp), without an access log (probes come every
few seconds).
"""

from __future__ import annotations

import logging
from typing import Callable

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from .metrics import Metrics

log = logging.getLogger(__name__)

#: ``() -> (ready, reason)``
ReadyCheck = Callable[[], tuple[bool, str]]

_METRICS = web.AppKey("metrics", Metrics)
_READY: web.AppKey[ReadyCheck] = web.AppKey("ready")


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    check = request.app[_READY]
    try:
        answer = check()
        if isinstance(answer, bool):
            ready, reason = answer, ""
        else:
            ready, reason = answer
        ready = bool(ready)
        reason = str(reason)
    except Exception as exc:  # a broken check means "not ready", never a 500
        log.exception("readiness check failed")
        ready, reason = False, f"readiness check failed: {exc!r}"
    return web.json_response({"ready": ready, "reason": reason}, status=200 if ready else 503)


def make_probe_app(metrics: Metrics, ready: ReadyCheck) -> web.Application:
    """The aiohttp application; for embedding into another server or an aiohttp test client."""
    app = web.Application()
    app[_METRICS] = metrics
    app[_READY] = ready
    app.router.add_get("/metrics", make_aiohttp_handler(metrics.registry))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    return app


class ProbeRunner(web.AppRunner):
    """An :class:`aiohttp.web.AppRunner` that knows where it listens; stop it with
    ``await runner.cleanup()``."""

    @property
    def host(self) -> str:
        return str(self.addresses[0][0])

    @property
    def port(self) -> int:
        """The bound port (the real one when port 0 was asked for)."""
        return int(self.addresses[0][1])

    @property
    def url(self) -> str:
        host = self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


async def start_probe_server(host: str, port: int, metrics: Metrics,
                             ready: ReadyCheck) -> ProbeRunner:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``host:port`` (0: any free port).

    Returns once the socket listens. Raises ``OSError`` when the address is taken (and leaves
    nothing running).
    """
    runner = ProbeRunner(make_probe_app(metrics, ready), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    log.info("probe server listening on %s (/metrics, /healthz, /readyz)", runner.url)
    return runner
