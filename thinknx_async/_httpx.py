"""The httpx side of the pools: one small httpcore pool, and a caller's own client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from ._pool import PoolStats, Reply, check_length, read_capped

__all__ = ["ClientPool", "HttpxPool", "read_whole"]


def _request(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeouts: dict[str, Any]
) -> httpx.Request:
    return httpx.Request(
        method, url, headers=headers, content=body, extensions={"timeout": timeouts}
    )


async def read_whole(response: httpx.Response, limit: int) -> Reply:
    """Read an httpx response (at most ``limit`` bytes of body) and close it."""
    try:
        check_length(response.headers, limit)
        content = await read_capped(response.aiter_bytes(), limit)
    finally:
        await response.aclose()
    return response.status_code, response.headers, content


class HttpxPool:
    """One small httpx (httpcore) pool of ``size`` connections, keep-alive included."""

    __slots__ = ("_transport",)

    def __init__(self, size: int, verify: Any) -> None:
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: dict[str, Any],
        limit: int,
    ) -> Reply:
        request = _request(method, url, headers, body, timeouts)
        return await read_whole(await self._transport.handle_async_request(request), limit)

    def stats(self) -> PoolStats | None:
        return None

    async def aclose(self) -> None:
        await self._transport.aclose()


class ClientPool:
    """An ``httpx.AsyncClient`` of the caller's: used as is, never closed by the library."""

    __slots__ = ("client",)

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeouts: dict[str, Any],
        limit: int,
    ) -> Reply:
        request = _request(method, url, headers, body, timeouts)
        response = await self.client.send(request, stream=True, follow_redirects=False)
        return await read_whole(response, limit)

    def stats(self) -> PoolStats | None:
        return None

    async def aclose(self) -> None:
        """Nothing: the client belongs to the caller."""
