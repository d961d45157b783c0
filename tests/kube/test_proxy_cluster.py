"""$HTTPS_PROXY honoured as kubectl does, end to end: the controller's (and the plugin's) API
client reaches the dev cluster's API server through a real HTTP CONNECT proxy.

The kubeconfig names the API server ``kubernetes.default.svc`` (a name in its serving
certificate): the client never resolves it, the proxy (started here, on loopback) maps it to the
API server's loopback port, so nothing leaves the machine and no name is looked up. A loopback
address would not do: kubectl, and this client, never proxy loopback.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
import yaml
from kubernetes_asyncio import client

from module_controller.kube.client import make_api_client

pytestmark = pytest.mark.cluster

NAME = "kubernetes.default.svc"


class ConnectProxy:
    """An HTTP CONNECT proxy that sends ``NAME:port`` to ``127.0.0.1:port`` and refuses the
    rest; it records every CONNECT target."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode()
            method, target, _ = request.split("\r\n", 1)[0].split(" ", 2)
            self.targets.append(f"{method} {target}")
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host != NAME:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
                return
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", int(port)), 10)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        finally:
            dst.close()


async def test_the_api_client_goes_through_the_environments_proxy(dev_cluster, tmp_path,
                                                                  monkeypatch):
    config = yaml.safe_load(dev_cluster.kubeconfig.read_text())
    port = urlsplit(config["clusters"][0]["cluster"]["server"]).port
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://{NAME}:{port}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))

    proxy = ConnectProxy()
    proxy_port = await proxy.start()
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        api = await make_api_client(str(kubeconfig))
        try:
            namespaces = await client.CoreV1Api(api).list_namespace()
        finally:
            await api.close()
    finally:
        await proxy.stop()
    assert "default" in {ns.metadata.name for ns in namespaces.items}
    assert proxy.targets and set(proxy.targets) == {f"CONNECT {NAME}:{port}"}
