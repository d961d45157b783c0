"""Fixtures for the Arklet client tests: fake Arklets that are always stopped, fast clients.

Every client built here has short timeouts and backoffs, so a test that exercises the retry
path finishes in well under a second, and records each HTTP attempt through ``on_call``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, AsyncIterator

import pytest_asyncio
from arklet_testkit import FAST, CallLog, MakeArklet, MakeClient

from module_controller.arklet import ArkletClient
from module_controller_dev.fakearklet import FakeArklet
from module_controller_dev.fakearklet.testing import fake_arklets
from module_controller_dev.modulerepo import ModuleRepository


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def repo() -> AsyncIterator[ModuleRepository]:
    """One module repository for the session: the fakes' HTTP proxy for every jar url."""
    async with ModuleRepository("127.0.0.1", 0) as repository:
        yield repository


@pytest_asyncio.fixture(loop_scope="session")
async def make_arklet(repo: ModuleRepository) -> AsyncIterator[MakeArklet]:
    """``await make_arklet(host="127.0.0.1", **kwargs)``: a started fake on a free port that
    downloads ``bizUrl`` through ``repo`` (so ``http://repo/<artifact>-<version>-ark-biz.jar``
    is a generated jar of that identity)."""
    async with fake_arklets(repo.proxy) as make:
        yield make


@pytest_asyncio.fixture(loop_scope="session")
async def arklet(make_arklet: MakeArklet) -> FakeArklet:
    """A 2023 fake Arklet on 127.0.0.1."""
    return await make_arklet()


@pytest_asyncio.fixture(loop_scope="session")
async def make_client() -> AsyncIterator[MakeClient]:
    """``make_client(**overrides)`` → ``(client, calls)`` with :data:`FAST` settings."""
    clients: list[ArkletClient] = []

    def make(**overrides: Any) -> tuple[ArkletClient, CallLog]:
        calls = CallLog()
        client = ArkletClient(dataclasses.replace(FAST, **overrides), on_call=calls)
        clients.append(client)
        return client, calls

    yield make
    for client in clients:
        await client.close()
