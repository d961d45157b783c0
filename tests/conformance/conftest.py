"""Partners of the conformance suite: two fake Arklets and two real base JVMs, shared per session.

Every test of ``tests/conformance`` runs once per partner (``fake-2023``, ``fake-2025``,
``real-2023``, ``real-2025``) with the same assertions. All four get their jar urls from one
in-process module repository on 127.0.0.1 that serves the Maven-built jars (``/modules-2025/…``,
``/modules-2023/…``): the real bases load them, the fakes read their manifests. The real JVMs use
the repository as their HTTP proxy (as on the dev cluster); the fakes fetch ``127.*`` directly,
as a JVM's default ``http.nonProxyHosts`` would.

The JVMs are launched once, as soon as the first conformance test starts, for the generations the
collected tests need (``-m "not realbase"`` starts none); the fake partners' tests run first, so
they overlap with the JVMs' start-up. Both JVMs are stopped at the end of the session.

Each test must leave its partner as it found it: it names every biz it may install to the
``cleanup`` fixture (before installing), which uninstalls them after the test. The ``partner``
fixture checks that the partner lists no biz before the test and, after ``cleanup``, that none is
left (it uninstalls a leftover and fails the test, so the next test still starts clean).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio

from module_controller.arklet import ArkletClient, ArkletSettings
from module_controller_dev.fakearklet import FakeArklet
from module_controller_dev.modulerepo import ModuleRepository
from module_controller_dev.realbase import jvm
from module_controller_dev.realbase.build import GENERATIONS, Jars
from module_controller_dev.realbase.testing import ensure_jars

from conformance_kit import Cleanup, Partner

HERE = Path(__file__).resolve().parent
PARTNERS: tuple[str, ...] = ("fake-2023", "fake-2025", "real-2023", "real-2025")
HOST = "127.0.0.1"
#: Bounds of a real JVM's start (launch to health ready) on a busy 2-core machine.
START_TIMEOUT = jvm.DEFAULT_START_TIMEOUT
READY_TIMEOUT = 30.0
START_ATTEMPTS = 3  # a port found free can be taken before the JVM binds it

#: One client for every partner, as the controller would use it, but never retrying: a transport
#: failure must fail the assertion, not be hidden by a second attempt.
SETTINGS = ArkletSettings(connect_timeout=5.0, timeout=30.0, install_timeout=120.0, attempts=1,
                          backoff_initial=0.0, backoff_max=0.0)


def _param(name: str):
    marks = (pytest.mark.realbase,) if name.startswith("real-") else ()
    return pytest.param(name, marks=marks, id=name)


# ---------------------------------------------------------------- collection


def _is_ours(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().parent == HERE


def _partner_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return callspec.params.get("partner") if callspec is not None else None


#: Where the fake Arklet is known to differ from the real bases (the real ones are right): test
#: name → why. The fake partners' runs of these tests are strict xfails, so the suite stays green
#: and turns red the day the fake is fixed and the entry must go.
FAKE_DIFFERS: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the known fake discrepancies; run this folder's tests grouped by partner, fakes
    first (stable otherwise), in the slots they already hold: the fakes' tests then run while
    the JVMs start."""
    for item in items:
        partner = _partner_of(item) if _is_ours(item) else None
        reason = FAKE_DIFFERS.get(getattr(item, "originalname", ""))
        if partner and partner.startswith("fake-") and reason:
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"fake differs: {reason}"))
    slots = [i for i, item in enumerate(items) if _is_ours(item) and _partner_of(item)]
    ordered = sorted((items[i] for i in slots), key=lambda it: PARTNERS.index(_partner_of(it)))
    for slot, item in zip(slots, ordered):
        items[slot] = item


# ---------------------------------------------------------------- shared resources


@pytest.fixture(scope="session")
def real_jars() -> Jars:
    """The Maven-built jars (found in the cache, or built once); missing Java/Maven fails."""
    return ensure_jars()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def repo(real_jars: Jars) -> AsyncIterator[ModuleRepository]:
    """The module repository every partner's jar urls point at: the real jars of both
    generations under ``/modules-2025/`` and ``/modules-2023/``."""
    dirs = [real_jars.dir / f"modules-{g}" for g in GENERATIONS]
    async with ModuleRepository(HOST, 0, dirs) as repository:
        yield repository
    # Every jar a partner fetched was a Maven-built one, never a generated stand-in.
    assert repository.served["generated"] == 0, dict(repository.served)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def client() -> AsyncIterator[ArkletClient]:
    async with ArkletClient(SETTINGS) as arklet_client:
        yield arklet_client


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fakes(repo: ModuleRepository) -> AsyncIterator[dict[str, FakeArklet]]:
    """One fake Arklet per flavour on 127.0.0.1, downloading through the repository."""
    started: dict[str, FakeArklet] = {}
    try:
        for flavour in GENERATIONS:
            fake = FakeArklet(HOST, 0, flavour=flavour, seed=1, module_proxy=repo.proxy)
            await fake.start()
            started[flavour] = fake
        yield started
    finally:
        await asyncio.gather(*(f.stop() for f in started.values()))


class RealBases:
    """The real base JVMs of this session: launched early, awaited when first needed."""

    def __init__(self, jars: Jars, workdir: Path, proxy: str) -> None:
        self.jars = jars
        self.workdir = workdir
        self.proxy = proxy
        self.jvms: dict[str, jvm.BaseJvm] = {}
        self.stopped: list[jvm.BaseJvm] = []
        self._ready: dict[str, asyncio.Task[jvm.BaseJvm]] = {}

    def launch(self, generation: str, attempt: int = 1) -> jvm.BaseJvm:
        # From the main thread: the JVM's parent-death signal follows the launching thread.
        base = jvm.launch(self.jars.base(generation), generation,
                          self.workdir / f"base-{generation}-{attempt}", proxy=self.proxy)
        self.jvms[generation] = base
        return base

    def start(self, generation: str) -> None:
        if generation not in self._ready:
            self.launch(generation)
            self._ready[generation] = asyncio.ensure_future(self._wait(generation))

    async def _wait(self, generation: str) -> jvm.BaseJvm:
        for attempt in range(1, START_ATTEMPTS + 1):
            base = self.jvms[generation]
            try:
                # wait_healthy polls with its own deadline; a thread keeps the loop (and so the
                # fakes and the repository) running meanwhile.
                await asyncio.to_thread(base.wait_healthy, START_TIMEOUT)
                return base
            except jvm.PortTaken:
                self.stopped.append(base)
                if attempt == START_ATTEMPTS:
                    raise
                self.launch(generation, attempt + 1)
        raise AssertionError("unreachable")

    async def ready(self, generation: str) -> jvm.BaseJvm:
        self.start(generation)
        try:
            return await self._ready[generation]
        except jvm.RealBaseUnavailable as exc:
            pytest.fail(f"real base {generation} did not start: {exc}", pytrace=False)

    def stop(self) -> None:
        for base in [*self.jvms.values(), *self.stopped]:
            base.stop()
        for task in self._ready.values():
            task.cancel()
        left = [b.pid for b in [*self.jvms.values(), *self.stopped] if b.alive()]
        assert not left, f"base JVMs still running: {left}"


@pytest_asyncio.fixture(scope="session", loop_scope="session", autouse=True)
async def real_bases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                     repo: ModuleRepository) -> AsyncIterator[RealBases]:
    """Launches the JVMs the collected tests need at once, before any test of this folder runs,
    and stops every one of them when the session ends."""
    wanted = {_partner_of(item) for item in request.session.items if _is_ours(item)}
    bases = RealBases(ensure_jars(), tmp_path_factory.mktemp("conformance-jvms"), repo.proxy)
    try:
        for generation in GENERATIONS:
            if f"real-{generation}" in wanted:
                bases.start(generation)
        yield bases
    finally:
        bases.stop()
        for base in bases.jvms.values():
            print(f"[conformance] real-{base.generation}: health after "
                  f"{base.healthy_after or float('nan'):.1f} s", file=sys.stderr)


async def _wait_ready(client: ArkletClient, host: str, port: int, what: str) -> None:
    """Poll ``health`` until ready (a 2023 base first answers REFUSING_TRAFFIC for ~0.2 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT
    while True:
        health = await client.health(host, port=port)
        if health.ready:
            return
        if loop.time() >= deadline:
            pytest.fail(f"{what} not ready within {READY_TIMEOUT:.0f} s: {health}", pytrace=False)
        await asyncio.sleep(0.05)


# ---------------------------------------------------------------- per test


@pytest_asyncio.fixture(loop_scope="session", params=[_param(p) for p in PARTNERS])
async def partner(request: pytest.FixtureRequest, client: ArkletClient, repo: ModuleRepository,
                  fakes: dict[str, FakeArklet], real_bases: RealBases) -> AsyncIterator[Partner]:
    """The partner named by the test's parameter, empty; emptied again after the test."""
    name: str = request.param
    kind, generation = name.split("-")
    if kind == "fake":
        port = fakes[generation].port
    else:
        port = (await real_bases.ready(generation)).port
    found = Partner(name, generation, HOST, port, repo.url)
    await _wait_ready(client, HOST, port, name)
    left = await client.query_all(HOST, port=port)
    assert not left, f"{name} was not empty before the test (a previous test left {left})"
    yield found
    left = await client.query_all(HOST, port=port)
    for biz in left:
        await client.uninstall(HOST, biz.name, biz.version, port=port)
    assert not left, f"the test left {left} installed on {name} (now uninstalled)"



@pytest_asyncio.fixture(loop_scope="session")
async def cleanup(client: ArkletClient, partner: Partner) -> AsyncIterator[Cleanup]:
    registered = Cleanup()
    yield registered
    for name, version in registered.identities:
        result = await client.uninstall(partner.host, name, version, port=partner.port)
        assert result.ok, f"cleanup of {name}:{version} on {partner.name}: {result}"
