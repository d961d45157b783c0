"""The module repository: file-name rules, the catalogue, and the HTTP server (also as a proxy)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import aiohttp
import pytest

from module_controller_dev.fakearklet.jar import read_biz_manifest
from module_controller_dev.fakearklet.testing import raw_exchange
from module_controller_dev.modulerepo import (
    Catalogue, ModuleRepository, biz_name_of, build_biz_jar, parse_jar_name,
)

SAMPLE = ("http://serverless-opensource.oss-cn-shanghai.aliyuncs.com/module-packages/stable/"
          "dynamic-provider-1.0.2-ark-biz.jar")


@pytest.mark.parametrize(("filename", "expected"), [
    ("provider-1.0.2-ark-biz.jar", ("provider", "provider", "1.0.2")),
    ("dynamic-provider-1.0.2-ark-biz.jar", ("dynamic-provider", "provider", "1.0.2")),
    ("my-module-2-1.0.0-SNAPSHOT-ark-biz.jar", ("my-module-2", "my-module-2", "1.0.0-SNAPSHOT")),
    ("provider-1.0.2.jar", None),
    ("provider-ark-biz.jar", None),
    ("noversion-x-ark-biz.jar", None),
])
def test_jar_names(filename: str, expected: tuple[str, str, str] | None) -> None:
    name = parse_jar_name(filename)
    assert (None if name is None else (name.artifact, name.biz_name, name.version)) == expected


def test_dynamic_prefix_rule() -> None:
    assert biz_name_of("dynamic-stock") == "stock"
    assert biz_name_of("dynamic-") == "dynamic-"
    assert biz_name_of("stock") == "stock"


def test_generated_jar_is_a_zip_with_the_biz_manifest() -> None:
    data = build_biz_jar("provider", "1.0.2")
    assert data == build_biz_jar("provider", "1.0.2")  # deterministic
    with zipfile.ZipFile(io.BytesIO(data)) as jar:
        manifest = jar.read("META-INF/MANIFEST.MF").decode()
    assert "Ark-Biz-Name: provider\r\n" in manifest and "Ark-Biz-Version: 1.0.2\r\n" in manifest
    parsed = read_biz_manifest(data)
    assert (parsed.name, parsed.version) == ("provider", "1.0.2")
    assert len(data) < 2048


def test_catalogue_lookup_order(tmp_path: Path) -> None:
    real = tmp_path / "realbase-x" / "modules-2025"
    real.mkdir(parents=True)
    (real / "provider-1.0.2-ark-biz.jar").write_bytes(b"maven-built")
    (real / "sub").mkdir()
    (real / "sub" / "deep.jar").write_bytes(b"deep")
    catalogue = Catalogue([tmp_path / "realbase-*" / "modules-2025", tmp_path / "absent"])
    assert catalogue.dirs() == [real]

    by_mount = catalogue.lookup("/modules-2025/sub/deep.jar")
    assert by_mount is not None and by_mount.file == real / "sub" / "deep.jar"
    for path in ("/provider-1.0.2-ark-biz.jar", "/any/prefix/provider-1.0.2-ark-biz.jar"):
        found = catalogue.lookup(path)
        assert found is not None and found.origin == "file" and found.file is not None
        assert found.file.read_bytes() == b"maven-built"
    generated = catalogue.lookup("/x/provider-2.0.0-ark-biz.jar")
    assert generated is not None and generated.origin == "generated"
    assert catalogue.lookup("/y/provider-2.0.0-ark-biz.jar").body is generated.body  # cached
    assert catalogue.lookup("/not-a-jar/anything").origin == "not-a-jar"
    explicit = catalogue.lookup("/biz/模块 x/v2/any.jar")
    assert explicit is not None and read_biz_manifest(explicit.body).version == "v2"
    assert read_biz_manifest(explicit.body).name == "模块 x"
    for missing in ("/", "/nope.jar", "/../etc/passwd", "/modules-2025/../x-1.0-ark-biz.jar"):
        assert catalogue.lookup(missing) is None, missing


def test_directory_created_after_start_is_found(tmp_path: Path) -> None:
    catalogue = Catalogue([tmp_path / "later"])
    assert catalogue.lookup("/a.jar") is None
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "a.jar").write_bytes(b"a")
    assert catalogue.lookup("/a.jar") is not None


async def test_server_answers_origin_form_and_absolute_form(tmp_path: Path) -> None:
    (tmp_path / "file.jar").write_bytes(b"PK-ish")
    async with ModuleRepository("127.0.0.1", 0, [tmp_path]) as repo, \
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with session.get(repo.url_for("provider-1.0.2-ark-biz.jar")) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/java-archive"
            assert read_biz_manifest(await resp.read()).name == "provider"
        async with session.get(repo.url_for("file.jar")) as resp:
            assert await resp.read() == b"PK-ish"
        async with session.get(repo.url_for("nope.jar")) as resp:
            assert resp.status == 404
        async with session.get(repo.url_for("not-a-jar/x")) as resp:
            assert resp.status == 200 and resp.content_type == "text/plain"
        async with session.head(repo.url_for("a-1.0-ark-biz.jar")) as resp:
            assert resp.status == 200
        # As an HTTP proxy: the sample's url, answered by path with no network.
        async with session.get(SAMPLE, proxy=repo.url) as resp:
            assert resp.status == 200
            manifest = read_biz_manifest(await resp.read())
            assert (manifest.name, manifest.version) == ("provider", "1.0.2")
        async with session.get(f"{repo.url}/-/healthz") as resp:
            health = await resp.json()
            assert health["ready"] and health["served"]["generated"] >= 2
        # The absolute-form request line a JVM sends to its proxy.
        reply = await raw_exchange(repo.host, repo.port, (
            b"GET http://repo.example/x/provider-1.0.2-ark-biz.jar HTTP/1.1\r\n"
            b"Host: repo.example\r\nConnection: close\r\n\r\n"), timeout=5)
        assert reply.head.startswith(b"HTTP/1.1 200")
        assert read_biz_manifest(reply.body).name == "provider"
        reply = await raw_exchange(repo.host, repo.port, (
            b"POST http://repo.example/x.jar HTTP/1.1\r\nHost: repo.example\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n"), timeout=5)
        assert reply.head.startswith(b"HTTP/1.1 405")


def test_process_prints_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "module_controller_dev.modulerepo", "--port", "0",
         "--dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready" and ready["url"].startswith("http://127.0.0.1:")
        assert ready["proxy"] == ready["url"].removeprefix("http://")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


async def test_thousands_of_generated_downloads_stay_cheap() -> None:
    async with ModuleRepository() as repo, aiohttp.ClientSession() as session:
        async def fetch(i: int) -> int:
            async with session.get(repo.url_for(f"m{i % 50}-1.0.{i % 7}-ark-biz.jar")) as resp:
                return len(await resp.read())
        sizes = await asyncio.gather(*(fetch(i) for i in range(1000)))
        assert all(sizes) and repo.served["generated"] == 1000
        assert len(repo.catalogue._generated) == 350  # built once per distinct biz
