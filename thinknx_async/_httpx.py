"""The httpx side of the pools: one small httpcore pool, and a caller's own client."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Mapping
from typing import Any

import anyio
import httpx

from ._pool import CallTimeout, PoolStats, Reply, RequestDefaults, check_length, read_capped

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
        # httpcore shields this close itself; asyncio's own task.cancel() can still interrupt
        # it and strand the connection: ConnectionPool then replaces the small pool.
        await response.aclose()
    return response.status_code, response.headers, content


class CallDeadline:
    """The whole-call bound of one pool: every attempt ends within ``seconds``, from opening a
    connection to the last byte of the reply, however slowly the server trickles.

    An anyio cancel scope per call. (The aiohttp pool's one-timer :class:`Deadlines` cancels
    tasks natively, which httpcore's own anyio scopes and shields can mistake for theirs.) The
    connection of a call cut short is closed, never reused: httpcore's rule for a request it
    did not finish.
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: float | None) -> None:
        self.seconds = math.inf if seconds is None else seconds

    async def run(self, call: Awaitable[Reply]) -> Reply:
        """Await ``call`` within the bound; over it, :class:`CallTimeout`."""
        if self.seconds == math.inf:
            return await call
        with anyio.move_on_after(self.seconds):
            return await call
        raise CallTimeout(self.seconds)


class HttpxPool:
    """One small httpx (httpcore) pool of ``size`` connections, keep-alive included."""

    __slots__ = ("_deadline", "_limit", "_requests", "_transport")

    def __init__(self, defaults: RequestDefaults, size: int, verify: Any) -> None:
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
        self._requests = _Requests(defaults)
        self._limit = defaults.max_reply_size
        self._deadline = CallDeadline(defaults.call_timeout)

    async def fetch(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> Reply:
        request = self._requests.build(method, url, headers, body)
        return await self._deadline.run(self._send(request))

    async def _send(self, request: httpx.Request) -> Reply:
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

    __slots__ = ("_deadline", "_limit", "_requests", "client")

    def __init__(self, client: httpx.AsyncClient, defaults: RequestDefaults) -> None:
        self.client = client
        self._requests = _Requests(defaults)
        self._limit = defaults.max_reply_size
        self._deadline = CallDeadline(defaults.call_timeout)

    async def fetch(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> Reply:
        request = self._requests.build(method, url, headers, body)
        return await self._deadline.run(self._send(request))

    async def _send(self, request: httpx.Request) -> Reply:
        response = await self.client.send(request, stream=True, follow_redirects=False)
        return await read_whole(response, self._limit)

    def stats(self) -> PoolStats | None:
        return None

    def held(self) -> int:
        return 0  # the caller's client: not ours to look into

    async def aclose(self) -> None:
        """Nothing: the client belongs to the caller."""
