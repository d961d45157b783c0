"""Client for Arklet, the HTTP agent inside every base pod (docs/arklet.md).

Functional core, imperative shell:

* :mod:`.protocol` — pure: request bodies, reply parsing into typed results, state
  normalisation, health interpretation for both Arklet generations, URLs and ports;
* the retry wait policy (capped exponential backoff with jitter) is :mod:`..runtime.backoff`;
* :mod:`.locks` — keyed asyncio locks that are dropped when idle;
* :mod:`.client` — :class:`ArkletClient`, the aiohttp/tenacity shell.

Failures come in two kinds: :class:`ArkletUnavailable` (no usable answer even after retries; what
the base did is unknown) and business answers (:class:`ArkletResult` with an :class:`Outcome`,
never retried by the client; :class:`ArkletError` where a method needs a success).
"""

from ..runtime.backoff import CappedJitterBackoff
from .client import ArkletClient
from .errors import ArkletBusy, ArkletError, ArkletUnavailable
from .protocol import (
    ARKLET_PORT_ANNOTATION, ArkletResult, BizInfo, BizRef, Health, Outcome, ProtocolError,
    arklet_port, base_url, installed_identity,
)
from .settings import ArkletSettings

__all__ = [
    "ARKLET_PORT_ANNOTATION",
    "ArkletBusy",
    "ArkletClient",
    "ArkletError",
    "ArkletResult",
    "ArkletSettings",
    "ArkletUnavailable",
    "BizInfo",
    "BizRef",
    "CappedJitterBackoff",
    "Health",
    "Outcome",
    "ProtocolError",
    "installed_identity",
    "arklet_port",
    "base_url",
]
