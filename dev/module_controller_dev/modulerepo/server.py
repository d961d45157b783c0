"""The module repository's HTTP server (aiohttp): the I/O around :class:`.catalogue.Catalogue`.

Answers ``GET``/``HEAD`` for any path (see :mod:`.catalogue` for the rules) and also accepts
requests in *absolute form* (``GET http://repo.example/x.jar HTTP/1.1``), which is what an HTTP
client sends to its proxy: aiohttp parses such a target and ``request.path`` is its path, so the
answer comes from the same catalogue whatever host the url names. Bases configured with this
server as their HTTP proxy therefore fetch ``http://repo.example/...`` or the koupleless samples'
``http://serverless-opensource.oss-cn-shanghai.aliyuncs.com/...`` without any network. ``CONNECT``
(HTTPS through a proxy) is not supported: answered ``405``.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Sequence

from aiohttp import web

from .catalogue import Catalogue

log = logging.getLogger(__name__)


class ModuleRepository:
    """An aiohttp server for :class:`Catalogue`; ``port=0`` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 dirs: Sequence[str | Path] = ()) -> None:
        self.host = host
        self.port = port
        self.catalogue = Catalogue(dirs)
        #: Answers given, by origin ("file", "generated", "not-a-jar", "missing").
        self.served: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/-/healthz", self._healthz)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("ModuleRepository already started")
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> "ModuleRepository":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Base url for origin-form requests: ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def proxy(self) -> str:
        """``host:port``, the value for a client's HTTP proxy setting."""
        return f"{self.host}:{self.port}"

    def url_for(self, filename: str) -> str:
        return f"{self.url}/{filename.lstrip('/')}"

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"ready": True, "served": dict(self.served),
                                  "dirs": [str(d) for d in self.catalogue.dirs()]})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, text=f"{request.method} not supported\n")
        found = self.catalogue.lookup(request.path)
        if found is None:
            self.served["missing"] += 1
            return web.Response(status=404, text=f"no such module file: {request.path}\n")
        self.served[found.origin] += 1
        if found.file is not None:
            return web.FileResponse(found.file, headers={"Content-Type": found.content_type})
        return web.Response(body=found.body, headers={"Content-Type": found.content_type})
