"""Run-time settings of the controller (flags and environment variables map onto these)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .arklet import ArkletSettings
from .controllers.queue import Backoff


@dataclass(frozen=True)
class Settings:
    arklet: ArkletSettings = field(default_factory=ArkletSettings)
    #: Namespaces to watch; empty means all (cluster-wide).
    namespaces: tuple[str, ...] = ()
    #: Concurrent Module reconciles (each may wait on a slow installBiz).
    module_workers: int = 32
    #: Retry schedule of a Module whose install keeps failing (and of any failed reconcile).
    retry_backoff: Backoff = field(default_factory=lambda: Backoff(initial=1.0, maximum=60.0))
    #: An install that has not answered after this long is shown as phase Upgrading; quicker
    #: ones go straight to Available, saving a status write per Module.
    slow_status_after: float = 1.0
