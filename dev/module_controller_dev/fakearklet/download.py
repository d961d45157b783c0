"""Fetching ``bizUrl`` like a JVM's ``java.net.URL`` would: the I/O shell of an install.

``http(s)://`` urls are fetched with aiohttp, through ``proxy`` (``host:port``, the dev cluster's
module repository) unless the host is local: a JVM's default ``http.nonProxyHosts`` is
``localhost|127.*|[::1]``, so those go direct, as they would on a real base. ``file://`` urls are
read from disk. Every failure becomes :class:`DownloadError` whose text is the Java exception a
real base puts into its answer (``java.io.FileNotFoundException: <url>`` for 404,
``java.net.ConnectException: Connection refused``, ...); :func:`status_error` and
:func:`url_error` are the pure parts of that mapping.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp

#: Bigger bodies are cut off (no module of a test is anywhere near this).
MAX_JAR = 256 * 1024 * 1024
_KNOWN_SCHEMES = ("http", "https", "file")


class DownloadError(Exception):
    """The url could not be fetched; ``str(exc)`` is the Java exception text."""


def url_error(url: str) -> str | None:
    """The ``MalformedURLException`` text ``new URL(url)`` would throw, or None."""
    scheme, sep, _ = url.partition(":")
    valid = bool(sep) and scheme[:1].isalpha() and all(
        c.isalnum() or c in "+-." for c in scheme)
    if not valid:
        return f"java.net.MalformedURLException: no protocol: {url}"
    if scheme.lower() not in _KNOWN_SCHEMES:
        return f"java.net.MalformedURLException: unknown protocol: {scheme.lower()}"
    return None


def status_error(url: str, status: int) -> str | None:
    """What ``URL.openStream()`` throws for an HTTP status, or None for a success."""
    if status < 400:
        return None
    if status in (404, 410):
        return f"java.io.FileNotFoundException: {url}"
    return f"java.io.IOException: Server returned HTTP response code: {status} for URL: {url}"


def bypasses_proxy(host: str) -> bool:
    """True for hosts a JVM's default ``http.nonProxyHosts`` exempts from the proxy."""
    host = host.lower().strip("[]")
    return host == "localhost" or host.startswith("127.") or host == "::1"


def proxy_url(proxy: str | None) -> str | None:
    if not proxy:
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


class Downloader:
    """One HTTP client session (keep-alive to the repository) for a fake Arklet's installs."""

    def __init__(self, proxy: str | None = None, timeout: float = 10.0) -> None:
        self.proxy = proxy_url(proxy)
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def fetch(self, url: str) -> bytes:
        """The bytes at ``url``; raises :class:`DownloadError` with the JVM's text."""
        problem = url_error(url)
        if problem is not None:
            raise DownloadError(problem)
        parts = urlsplit(url)
        if parts.scheme.lower() == "file":
            return await asyncio.to_thread(_read_file, unquote(parts.path))
        host = parts.hostname or ""
        proxy = None if bypasses_proxy(host) else self.proxy
        try:
            async with self._client().get(url, proxy=proxy, allow_redirects=True) as resp:
                error = status_error(url, resp.status)
                if error is not None:
                    raise DownloadError(error)
                data = await resp.content.read(MAX_JAR)
                return data
        except DownloadError:
            raise
        except asyncio.TimeoutError:
            raise DownloadError("java.net.SocketTimeoutException: Read timed out") from None
        except aiohttp.ClientConnectorDNSError:
            raise DownloadError(f"java.net.UnknownHostException: {host}") from None
        except aiohttp.ClientProxyConnectionError:
            raise DownloadError("java.net.ConnectException: Connection refused") from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, ConnectionRefusedError):
                raise DownloadError("java.net.ConnectException: Connection refused") from None
            raise DownloadError(f"java.net.ConnectException: {exc.os_error}") from None
        except aiohttp.ClientResponseError as exc:
            raise DownloadError(status_error(url, exc.status)
                                or f"java.io.IOException: {exc.message}") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise DownloadError(f"java.io.IOException: {exc}") from None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=0),
                trust_env=False,
            )
        return self._session


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(MAX_JAR)
    except FileNotFoundError:
        raise DownloadError(
            f"java.io.FileNotFoundException: {path} (No such file or directory)") from None
    except IsADirectoryError:
        # A JVM lists a directory as text; reading that as a jar fails like any non-zip.
        return Path(path).name.encode() + b"\n"
    except OSError as exc:
        raise DownloadError(f"java.io.FileNotFoundException: {path} ({exc.strerror})") from None
