"""Fixtures for the fake Arklet tests: fakes that are always stopped, and an HTTP client."""

from __future__ import annotations

from typing import AsyncIterator

import aiohttp
import pytest_asyncio

from module_controller_dev.fakearklet import FakeArklet
from module_controller_dev.fakearklet.testing import ArkletHttp, MakeArklet, fake_arklets
from module_controller_dev.modulerepo import ModuleRepository


@pytest_asyncio.fixture
async def repo() -> AsyncIterator[ModuleRepository]:
    """A module repository on 127.0.0.1; every fake made here downloads through it (proxy)."""
    async with ModuleRepository("127.0.0.1", 0) as repository:
        yield repository


@pytest_asyncio.fixture
async def http() -> AsyncIterator[ArkletHttp]:
    # force_close: Arklet closes after every reply, so never keep connections around.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield ArkletHttp(session)


@pytest_asyncio.fixture
async def make_arklet(repo: ModuleRepository) -> AsyncIterator[MakeArklet]:
    """Factory: ``await make_arklet(host="127.0.0.1", port=0, **kwargs)``; all are stopped.

    Fakes download jars through ``repo`` as their HTTP proxy, so any ``http://<host>/<file>``
    url works (``<artifact>-<version>-ark-biz.jar`` names a generated jar).
    """
    async with fake_arklets(repo.proxy, check_closed=True) as make:
        yield make


@pytest_asyncio.fixture
async def arklet(make_arklet: MakeArklet) -> FakeArklet:
    """A 2023 fake Arklet on 127.0.0.1 and a free port."""
    return await make_arklet()


@pytest_asyncio.fixture
async def arklet25(make_arklet: MakeArklet) -> FakeArklet:
    """A 2025 fake Arklet on 127.0.0.1 and a free port."""
    return await make_arklet(flavour="2025")
