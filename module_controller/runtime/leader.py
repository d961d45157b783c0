"""Lease-based leader election: of several controller replicas exactly one reconciles.

Why a Lease and not kopf's peering: a Lease (coordination.k8s.io) is what every Kubernetes
controller uses, needs no extra CRD, shows the holder with ``kubectl get lease``, and hands over
after a bounded time (lease duration + retry period ≈ 12 s with the defaults here) when the
leader dies without a goodbye. kopf's peering needs its own CRDs and decides by priority, which
is not a lease with an expiry.

The standby keeps watching (its caches stay warm, so it takes over at once) but starts no
reconciler. A leader that cannot renew stops the process: continuing as a possible second
leader is worse than a restart.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any, Callable, Coroutine

from kubernetes_asyncio import client
from kubernetes_asyncio.leaderelection import electionconfig, leaderelection
from kubernetes_asyncio.leaderelection.resourcelock.leaselock import LeaseLock

log = logging.getLogger(__name__)

LEASE_DURATION = 10  # ints: the Lease stores whole seconds
RENEW_DEADLINE = 8
RETRY_PERIOD = 2


def identity() -> str:
    return os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"


async def elect(api: client.ApiClient, namespace: str, name: str,
                on_leading: Callable[[], Coroutine[Any, Any, None]],
                on_lost: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Campaign until leading, run ``on_leading``; call ``on_lost`` if the lease is lost."""
    lock = LeaseLock(name, namespace, identity(), api)
    config = electionconfig.Config(
        lock, lease_duration=LEASE_DURATION, renew_deadline=RENEW_DEADLINE,
        retry_period=RETRY_PERIOD, onstarted_leading=on_leading, onstopped_leading=on_lost)
    log.info("campaigning for lease %s/%s as %s", namespace, name, lock.identity)
    await leaderelection.LeaderElection(config).run()


