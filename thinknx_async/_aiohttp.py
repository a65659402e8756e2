"""A pool on aiohttp's client: the fast option (``Session(transport="aiohttp")``).

Only the bytes move differently: admission control, throttling, retries and reply handling stay
the session's. URLs go out byte for byte as built (aiohttp would otherwise re-quote them), and
aiohttp's errors are mapped to httpx's so the rest of the path sees one vocabulary.
asyncio only: aiohttp does not run on trio.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx
import yarl

from ._pool import PoolStats, Reply, ReplyTooLarge, read_capped

__all__ = ["AiohttpPool"]

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


class AiohttpPool:
    """One aiohttp session with a pool of ``max_connections`` connections."""

    def __init__(self, *, ssl_context: ssl.SSLContext, max_connections: int) -> None:
        self._ssl = ssl_context
        self._limit = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: tuple[object, aiohttp.ClientTimeout] | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0, ssl=self._ssl)
            session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
            # aiohttp re-sends a GET once, silently, when a kept-alive connection dies under
            # it. The server may have run the command already, and every command here is a
            # GET: the session's retry policy alone decides what is sent again.
            if not hasattr(session, "_retry_connection"):  # pragma: no cover - aiohttp changed
                raise RuntimeError("this aiohttp cannot be told not to re-send requests")
            session._retry_connection = False
            self._session = session
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
        timeouts: dict[str, Any],
        limit: int,
    ) -> Reply:
        """Send one request and read its whole reply, with no httpx objects on the way."""
        try:
            response = await self._client().request(
                method,
                yarl.URL(url, encoded=True),
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=self._timeout(timeouts),
            )
            try:
                length = response.content_length
                if length is not None and length > limit:
                    raise ReplyTooLarge(length)
                if length is not None:
                    content = await response.read()
                else:
                    content = await read_capped(response.content.iter_any(), limit)
            finally:
                response.release()
        except _ERRORS as exc:
            raise _httpx_error(exc) from exc
        return response.status, response.headers, content

    def stats(self) -> PoolStats | None:
        return None

    async def aclose(self) -> None:
        """Close the aiohttp session (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None
