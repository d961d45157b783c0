"""HTTP/1.1 framing for the fake Arklet, pure functions only.

The fake needs byte-level control over its replies (no Content-Length, no Content-Type, close
after the body; silence on malformed JSON), which is why it does not use an HTTP framework. Only
what Arklet's clients send is supported: one request per connection, a body framed by
``Content-Length`` or ``Transfer-Encoding: chunked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
#: Netty's ``HttpObjectAggregator`` limit in Arklet: a bigger body is answered 413.
MAX_ARKLET_BODY = 1024 * 1024


class WireError(Exception):
    """The bytes are not an HTTP/1.x request the fake can handle; it closes the connection."""


class TooLarge(Exception):
    """The request body is over :data:`MAX_ARKLET_BODY`: 413, connection left open."""


@dataclass(frozen=True)
class RequestHead:
    """Request line and headers (names lower-cased, in arrival order)."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        """The last value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        found = None
        for key, value in self.headers:
            if key == wanted:
                found = value
        return found

    @property
    def command(self) -> str:
        return command_of(self.target)

    @property
    def chunked(self) -> bool:
        encoding = self.header("transfer-encoding")
        return encoding is not None and encoding.lower().split(",")[-1].strip() == "chunked"

    def content_length(self) -> int:
        """The declared body length (0 when absent); raises :class:`WireError` if invalid."""
        value = self.header("content-length")
        if value is None:
            return 0
        if not value.strip().isdigit():
            raise WireError(f"bad Content-Length: {value!r}")
        return int(value)


def command_of(target: str) -> str:
    """The Arklet command of a request target: the path without its leading ``/``.

    The query string is ignored and the match is exact (case-sensitive, no trailing-slash
    folding). An absolute-form target (``http://host/health``) is reduced to its path first.
    """
    if "://" in target:
        target = urlsplit(target).path or "/"
    path = target.split("?", 1)[0].split("#", 1)[0]
    return path[1:] if path.startswith("/") else path


def parse_head(raw: bytes) -> RequestHead:
    """Parse the request line and headers (``raw`` ends with the blank line)."""
    try:
        text = raw.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise WireError(str(exc)) from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[2].startswith("HTTP/1."):
        raise WireError(f"bad request line: {lines[0][:100]!r}")
    method, target, version = parts
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise WireError(f"bad header line: {line[:100]!r}")
        headers.append((name.lower(), value.strip()))
    return RequestHead(method, target, version, tuple(headers))


def parse_chunk_size(line: bytes) -> int:
    """The size from a chunk-size line (``1a;ext=x\\r\\n``)."""
    size_text = line.split(b";", 1)[0].strip()
    try:
        size = int(size_text, 16)
    except ValueError as exc:
        raise WireError(f"bad chunk size: {line[:40]!r}") from exc
    if size < 0 or size > MAX_BODY:
        raise WireError(f"bad chunk size: {size}")
    return size


def ok_response(body: bytes) -> bytes:
    """Arklet's reply: status line, *no headers at all*, blank line, JSON body; then close."""
    return b"HTTP/1.1 200 OK\r\n\r\n" + body


def non_post_response() -> bytes:
    """What both real generations answer to any method but POST, byte for byte: a 500 whose
    only header is the misspelt ``Content_Length: 42`` (so clients see no length at all), then
    close."""
    return (b"HTTP/1.1 500 Internal Server Error\r\nContent_Length: 42\r\n\r\n"
            b"POST http request only supported by arklet")


def too_large_response() -> bytes:
    """Netty's answer to a body over 1 MiB (the connection is then left open)."""
    return b"HTTP/1.1 413 Request Entity Too Large\r\ncontent-length: 0\r\n\r\n"


def error_response(text: str) -> bytes:
    """HTTP 500 with a plain-text body (the ``http500`` fault)."""
    return (b"HTTP/1.1 500 Internal Server Error\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode("utf-8"))
