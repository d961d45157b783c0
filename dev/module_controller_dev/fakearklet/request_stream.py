"""Reading one request's bytes off an accepted connection (the I/O half of :mod:`.wire`).

:mod:`.wire` parses and frames bytes without touching a socket; these coroutines pull the bytes
from the stream for it: the body as ``Content-Length`` or ``Transfer-Encoding: chunked`` framed
it, and, where the real Arklet never answers, whatever the client sends until it gives up.
"""

from __future__ import annotations

import asyncio

from . import wire


async def read_body(head: wire.RequestHead, reader: asyncio.StreamReader) -> bytes:
    """The request body after ``head``; raises :class:`wire.TooLarge` past Arklet's limit and
    :class:`wire.WireError` on framing the fake does not handle."""
    if head.chunked:
        parts: list[bytes] = []
        total = 0
        while True:
            size = wire.parse_chunk_size(await reader.readuntil(b"\r\n"))
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers are ignored
                return b"".join(parts)
            total += size
            if total > wire.MAX_ARKLET_BODY:
                raise wire.TooLarge()
            parts.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise wire.WireError("chunk not terminated by CRLF")
    if head.header("transfer-encoding") is not None:
        raise wire.WireError("unsupported Transfer-Encoding")
    length = head.content_length()
    return await reader.readexactly(length) if length else b""


async def wait_for_eof(reader: asyncio.StreamReader) -> None:
    """Read and drop everything until the client closes the connection."""
    while await reader.read(65536):
        pass  # anything after the request is ignored, like the real Arklet does
