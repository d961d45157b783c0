"""The process records of ``async`` installs, as ``queryBizOps`` shows them.

An ``installBiz`` with ``"async": true`` is answered at once with a record keyed by its
``requestId``; the client then polls ``queryBizOps`` until the record says ``SUCCEEDED`` or
``FAILED``. The record's life (created, running on a worker thread, closed with the outcome) is
book-keeping beside the protocol rules of :class:`~.core.ArkletCore`, so it lives here. Pure like
the core: time is an input.

Recorded shapes: 0.5.6 (2023) answers with the worker already running (``EXECUTING`` and a
``threadName`` from the start); 2.1.6 (2025) answers ``INITIALIZED`` and names the thread once the
op runs, and adds ``installStrategy`` to ``arkBizMeta``.
"""

from __future__ import annotations

from typing import Any, Mapping

from .vocabulary import SUCCESS, PendingOp, Reply, optional_str


class OpRecords:
    """Every ``async`` op's record since the base (JVM) started, by ``requestId``."""

    def __init__(self, flavour: str) -> None:
        self.flavour = flavour
        self._records: dict[str, dict[str, Any]] = {}
        self._thread_seq = 0

    def open(self, op: PendingOp, body: Mapping[str, Any], now: float) -> None:
        """An async op was accepted: create its record (``now``: seconds since the epoch)."""
        meta: dict[str, Any] = {"async": True}
        for name in ("bizName", "bizUrl", "bizVersion"):
            value = optional_str(body, name)
            if value is not None:
                meta[name] = value
        if self.flavour == "2025":
            meta["installStrategy"] = op.strategy
        meta["requestId"] = op.request_id
        start = int(now * 1000)
        record: dict[str, Any] = {
            "arkBizMeta": dict(sorted(meta.items())),
            "elapsedTime": 0,
            "endTimestamp": 0,
            "requestId": op.request_id,
            "startTime": start,
            "startTimestamp": start,
            "status": "INITIALIZED",
        }
        if self.flavour == "2023":
            record["status"] = "EXECUTING"  # 0.5.6 answers with the worker already running
            record["threadName"] = self._thread_name()
        self._records[op.request_id or ""] = record

    def get(self, request_id: str) -> dict[str, Any] | None:
        """A copy of the record of ``request_id`` (keys sorted), or ``None`` if unknown."""
        record = self._records.get(request_id)
        return dict(sorted(record.items())) if record is not None else None

    def executing(self, op: PendingOp) -> None:
        """The op has started on a worker thread (2025: INITIALIZED → EXECUTING)."""
        record = self._records.get(op.request_id or "")
        if record is None:
            return
        record["status"] = "EXECUTING"
        record.setdefault("threadName", self._thread_name())

    def close(self, op: PendingOp, reply: Reply, now: float) -> None:
        """The op ended with ``reply``: the record takes its outcome, end time and message."""
        record = self._records.get(op.request_id or "")
        if record is None:
            return
        end = int(now * 1000)
        record.update(
            status="SUCCEEDED" if reply.code == SUCCESS else "FAILED",
            elapsedTime=max(0, end - record["startTime"]),
            endTime=end, endTimestamp=end,
        )
        record.setdefault("threadName", self._thread_name())
        if reply.code != SUCCESS and reply.envelope.get("message"):
            record["message"] = reply.envelope["message"]

    def clear(self) -> None:
        """The base restarted: no record survives (the thread numbering goes on, harmlessly)."""
        self._records.clear()

    def _thread_name(self) -> str:
        self._thread_seq += 1
        return f"ARKLET-ark-biz-ops-0-T{self._thread_seq}"
