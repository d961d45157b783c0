"""Tunables of the Arklet client."""

from __future__ import annotations

from dataclasses import dataclass

from ..runtime.backoff import CappedJitterBackoff
from .protocol import DEFAULT_PORT


@dataclass(frozen=True)
class ArkletSettings:
    """Timeouts in seconds; ``attempts`` counts the first try.

    ``timeout`` bounds every call but install, which gets ``install_timeout`` because Arklet
    answers an install only after the jar is downloaded and the module started.
    Only an attempt that got no connection (nothing was sent) is tried again, up to
    ``attempts`` in all; retry waits grow from ``backoff_initial`` and never exceed
    ``backoff_max``. :meth:`longest_call` is the resulting bound of one call.
    ``concurrency`` bounds HTTP requests in flight across all bases; ``per_base`` those of one
    base, with at most ``per_base_queue`` calls waiting behind them, each for at most
    :attr:`slot_wait` seconds (``queue_wait``, by default the query ``timeout``), see
    :mod:`.base_slots`. A call that timed out keeps its slot until the base answers it, at most
    its own timeout longer (:meth:`slot_held`): the base is still working on it.
    ``max_reply_bytes`` bounds the body of one reply: a longer one is a protocol error and its
    connection is dropped, so one hostile or broken base cannot make the controller buffer an
    arbitrary amount of memory for every namespace it serves.
    """

    port: int = DEFAULT_PORT
    connect_timeout: float = 2.0
    timeout: float = 10.0
    install_timeout: float = 120.0
    attempts: int = 4
    backoff_initial: float = 0.2
    backoff_max: float = 5.0
    concurrency: int = 256
    #: A base's Arklet serves a few requests at once (Netty: 2 x cores event loops; 4 on the
    #: 2-core bases measured), and a request beyond them waits inside the base.
    per_base: int = 4
    per_base_queue: int = 16
    queue_wait: float | None = None
    #: 1 MiB. The largest honest reply is ``queryAllBiz`` of a crowded base: a biz entry (name,
    #: version, state, main class, a few state records) is a few hundred bytes, so 100 modules
    #: answer in ~50 kB and 1 MiB is 20x headroom. The bound that matters is the worst case:
    #: ``concurrency`` (256) hostile replies buffered at once stay under 256 MiB, inside the
    #: controller Deployment's 512 Mi limit; 4 MiB would not be.
    max_reply_bytes: int = 1024 * 1024

    @property
    def slot_wait(self) -> float:
        """How long a call waits for a slot of its base before it is refused (nothing sent)."""
        return self.timeout if self.queue_wait is None else self.queue_wait

    def longest_call(self, timeout: float) -> float:
        """How long one call whose attempt timeout is ``timeout`` can take at most (docs/arklet.md,
        "How long one call can take"): the wait for a slot of its base, then only attempts that
        got no connection are retried, each failing within ``connect_timeout``, with the retry
        waits between them; the one attempt that connects ends within ``timeout`` whatever
        happens next."""
        policy = CappedJitterBackoff(self.backoff_initial, self.backoff_max)
        waits = sum(policy.bounds(n)[1] for n in range(1, self.attempts))
        return self.slot_wait + (self.attempts - 1) * min(self.connect_timeout, timeout) \
            + waits + timeout

    @staticmethod
    def slot_held(timeout: float) -> float:
        """How long one attempt whose timeout is ``timeout`` may occupy a slot of its base: its
        timeout, then as long again for a late answer (the base is still busy with it)."""
        return 2 * timeout

    def __post_init__(self) -> None:
        # Fail at construction (i.e. at controller start-up), not on the first call to a base.
        if isinstance(self.port, bool) or not isinstance(self.port, int) \
                or not 0 < self.port < 65536:
            raise ValueError(f"port must be in 1..65535, got {self.port!r}")
        for name in ("connect_timeout", "timeout", "install_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 <= self.backoff_initial <= self.backoff_max:
            raise ValueError("need 0 <= backoff_initial <= backoff_max, got "
                             f"{self.backoff_initial!r} and {self.backoff_max!r}")
        if isinstance(self.attempts, bool) or not isinstance(self.attempts, int) \
                or self.attempts < 1:
            raise ValueError(f"attempts must be an integer >= 1, got {self.attempts!r}")
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) \
                or self.concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {self.concurrency!r}")
        for name in ("per_base", "per_base_queue"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) \
                    or value < (1 if name == "per_base" else 0):
                raise ValueError(f"{name} must be an integer >= "
                                 f"{1 if name == 'per_base' else 0}, got {value!r}")
        if self.queue_wait is not None and not self.queue_wait >= 0:
            raise ValueError(f"queue_wait must be >= 0, got {self.queue_wait!r}")
        if isinstance(self.max_reply_bytes, bool) or not isinstance(self.max_reply_bytes, int) \
                or self.max_reply_bytes < 1:
            raise ValueError("max_reply_bytes must be an integer >= 1, "
                             f"got {self.max_reply_bytes!r}")
