"""The httpx side of the pools: one small httpcore pool, and a caller's own client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import httpx

from ._pool import PoolStats, Reply, RequestDefaults, check_length, read_capped

__all__ = ["ClientPool", "HttpxPool", "read_whole"]


class _Requests:
    """Builds httpx requests: the session's headers, then the request's own."""

    __slots__ = ("_extensions", "_headers")

    def __init__(self, defaults: RequestDefaults) -> None:
        self._headers = list(defaults.headers.items())
        self._extensions = {"timeout": defaults.timeouts}

    def build(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> httpx.Request:
        merged = self._headers if headers is None else [*self._headers, *headers.items()]
        return httpx.Request(method, url, headers=merged, content=body, extensions=self._extensions)


async def read_whole(response: httpx.Response, limit: int) -> Reply:
    """Read an httpx response (at most ``limit`` bytes of body) and close it."""
    try:
        check_length(response.headers, limit)
        content = await read_capped(response.aiter_bytes(), limit)
    finally:
        # Interrupted, httpcore's close would leave the connection marked busy for good.
        with anyio.CancelScope(shield=True):
            await response.aclose()
    return response.status_code, response.headers, content


class HttpxPool:
    """One small httpx (httpcore) pool of ``size`` connections, keep-alive included."""

    __slots__ = ("_limit", "_requests", "_transport")

    def __init__(self, defaults: RequestDefaults, size: int, verify: Any) -> None:
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
        self._requests = _Requests(defaults)
        self._limit = defaults.max_reply_size

    async def fetch(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> Reply:
        request = self._requests.build(method, url, headers, body)
        return await read_whole(await self._transport.handle_async_request(request), self._limit)

    def stats(self) -> PoolStats | None:
        return None

    def held(self) -> int:
        """Requests inside httpcore's pool, or its connections not idle (in use, or stranded
        half-open), whichever is more (a request being served counts in both).

        ``_requests`` is httpcore's own queue: no public name gives it.
        """
        pool = self._transport._pool
        busy = sum(not (c.is_idle() or c.is_closed()) for c in pool.connections)
        return max(busy, len(getattr(pool, "_requests", ())))

    async def aclose(self) -> None:
        await self._transport.aclose()


class ClientPool:
    """An ``httpx.AsyncClient`` of the caller's: used as is (its timeouts too), never closed
    by the library."""

    __slots__ = ("_limit", "_requests", "client")

    def __init__(self, client: httpx.AsyncClient, defaults: RequestDefaults) -> None:
        self.client = client
        self._requests = _Requests(defaults)
        self._limit = defaults.max_reply_size

    async def fetch(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> Reply:
        request = self._requests.build(method, url, headers, body)
        response = await self.client.send(request, stream=True, follow_redirects=False)
        return await read_whole(response, self._limit)

    def stats(self) -> PoolStats | None:
        return None

    def held(self) -> int:
        return 0  # the caller's client: not ours to look into

    async def aclose(self) -> None:
        """Nothing: the client belongs to the caller."""
