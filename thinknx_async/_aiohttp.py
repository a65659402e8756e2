"""An httpx transport on aiohttp's client: the fast option (``Session(transport="aiohttp")``).

Only the transport changes: the session's admission control, throttling, retries and reply
handling stay the same. URLs go out byte for byte as built (aiohttp would otherwise re-quote
them), and aiohttp's errors are mapped to httpx's so the rest of the path sees one vocabulary.
asyncio only: aiohttp does not run on trio.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import aiohttp
import httpx
import yarl

from ._pool import Reply, ReplyTooLarge

__all__ = ["AiohttpTransport"]

_ERRORS = (aiohttp.ClientError, TimeoutError)


def _httpx_error(exc: BaseException) -> httpx.TransportError:
    """httpx's word for an aiohttp failure (the rest of the path speaks httpx)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(str(exc))
    if isinstance(exc, TimeoutError | aiohttp.SocketTimeoutError | aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(str(exc))
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(str(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(str(exc) or "server disconnected")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(str(exc))
    return httpx.ReadError(str(exc))


@contextmanager
def _mapped_errors() -> Iterator[None]:
    try:
        yield
    except _ERRORS as exc:
        raise _httpx_error(exc) from exc


class _Body(httpx.AsyncByteStream):
    __slots__ = ("_response",)

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped_errors():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session with a pool of ``max_connections`` connections."""

    def __init__(self, *, ssl_context: ssl.SSLContext, max_connections: int) -> None:
        self._ssl = ssl_context
        self._limit = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: tuple[object, aiohttp.ClientTimeout] | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0, ssl=self._ssl)
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
        return self._session

    def _timeout(self, timeout: dict[str, Any]) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for httpx's (the session passes the same dict every time)."""
        cached = self._timeouts
        if cached is not None and cached[0] is timeout:
            return cached[1]
        client_timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeout.get("pool"),
            sock_connect=timeout.get("connect"),
            sock_read=timeout.get("read"),
        )
        self._timeouts = (timeout, client_timeout)
        return client_timeout

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        extensions: dict[str, Any],
        limit: int,
    ) -> Reply:
        """Send one request and read its whole reply: the fast path, with no httpx objects.

        ``url`` goes out byte for byte. Raises httpx's exceptions, or :class:`ReplyTooLarge`.
        """
        try:
            response = await self._client().request(
                method,
                yarl.URL(url, encoded=True),
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=self._timeout(extensions.get("timeout", {})),
            )
            try:
                length = response.content_length
                if length is not None and length <= limit:
                    content = await response.read()
                elif length is not None:
                    raise ReplyTooLarge(length)
                else:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.content.iter_any():
                        size += len(chunk)
                        if size > limit:
                            raise ReplyTooLarge(None)
                        chunks.append(chunk)
                    content = b"".join(chunks)
            finally:
                response.release()
        except _ERRORS as exc:
            raise _httpx_error(exc) from exc
        return response.status, response.headers, content

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through aiohttp, exactly as httpx built it."""
        client_timeout = self._timeout(request.extensions.get("timeout", {}))
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw]
        body = await request.aread()
        with _mapped_errors():
            response = await self._client().request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=client_timeout,
            )
        return httpx.Response(
            status_code=response.status,
            headers=[(k, v) for k, v in response.raw_headers],
            stream=_Body(response),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        """Close the aiohttp session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
