"""The connection pool behind the session's one httpx client.

Stock httpx slows down badly when requests queue inside its pool, and more so the larger the
pool (its bookkeeping grows with connections x queued requests). So this transport admits only as
many requests as there are connections (the rest wait here, FIFO and cancellably, never inside
httpx), and gives each origin its own small pools, adding one more as load needs it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import anyio
import attrs
import httpx

__all__ = ["PoolStats", "ReplyTooLarge", "ShardedTransport"]

Origin = tuple[bytes, bytes, int | None]
_httpx_log = logging.getLogger("httpx")  # the line httpx's client would log, kept as it was


@attrs.frozen(slots=True)
class PoolStats:
    """A snapshot of the pool: requests in flight and waiting, pools open per origin."""

    in_flight: int
    waiting: int
    max_connections: int
    pools: int


class ReplyTooLarge(Exception):
    """A reply body is over the size limit; ``length`` is its Content-Length when it had one."""

    def __init__(self, length: int | None) -> None:
        super().__init__(length)
        self.length = length


Reply = tuple[int, Mapping[str, str], bytes]
"""A whole reply: status, headers (case-insensitive) and body."""


class _Shard:
    __slots__ = ("fetch", "in_use", "transport")

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport
        self.in_use = 0
        # A transport that can send without httpx's request and response objects (aiohttp).
        self.fetch: Callable[..., Any] | None = getattr(transport, "fetch", None)


class _Origin:
    """The pools of one origin, and those of them with a free connection (a LIFO stack: the
    most recently used connections, still warm, are reused first)."""

    __slots__ = ("free", "shards")

    def __init__(self) -> None:
        self.shards: list[_Shard] = []
        self.free: list[_Shard] = []


async def _read(stream: httpx.AsyncByteStream, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise ReplyTooLarge(None)
        chunks.append(chunk)
    return b"".join(chunks)


class _LeasedStream(httpx.AsyncByteStream):
    """A response body that gives its connection slot back when closed (once)."""

    __slots__ = ("_release", "_stream")

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


class ShardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that never lets a request queue inside an httpx pool.

    ``make_pool(size)`` builds one pool of ``size`` connections (keep-alive included);
    ``max_connections`` bounds requests in flight over all origins.
    """

    def __init__(
        self,
        make_pool: Callable[[int], httpx.AsyncBaseTransport],
        *,
        max_connections: int,
        pool_size: int,
    ) -> None:
        self._make_pool = make_pool
        self._max_connections = max_connections
        self._pool_size = max(1, min(pool_size, max_connections))
        self._slots = anyio.Semaphore(max_connections, fast_acquire=True)
        self._origins: dict[Origin | str, _Origin] = {}
        self._closed = False

    def stats(self) -> PoolStats:
        """Counts taken now: every slot comes back when its response is closed."""
        statistics = self._slots.statistics()
        return PoolStats(
            in_flight=self._max_connections - self._slots.value,
            waiting=statistics.tasks_waiting,
            max_connections=self._max_connections,
            pools=sum(len(origin.shards) for origin in self._origins.values()),
        )

    async def _lease(self, key: Origin | str) -> tuple[_Origin, _Shard]:
        """Wait for a free connection slot, then take a non-full pool of ``key`` (O(1))."""
        await self._slots.acquire()
        if self._closed:  # closed before or while this request waited: open no new pool
            self._slots.release()
            raise RuntimeError("the transport is closed")
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin()
        if origin.free:
            shard = origin.free[-1]
        else:
            # Every pool of this origin is busy and a slot is free: open one more small pool.
            shard = _Shard(self._make_pool(self._pool_size))
            origin.shards.append(shard)
            origin.free.append(shard)
        shard.in_use += 1
        if shard.in_use >= self._pool_size:
            origin.free.pop()
        return origin, shard

    def _give_back(self, origin: _Origin, shard: _Shard) -> None:
        if shard.in_use >= self._pool_size:
            origin.free.append(shard)
        shard.in_use -= 1
        self._slots.release()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Wait for a free connection slot here, then hand the request to a non-full pool."""
        url = request.url
        origin, shard = await self._lease((url.raw_scheme, url.raw_host, url.port))
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            self._give_back(origin, shard)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_LeasedStream(response.stream, lambda: self._give_back(origin, shard)),
            extensions=response.extensions,
        )

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        extensions: dict[str, Any],
        limit: int,
    ) -> Reply:
        """Send one request and read its whole reply (at most ``limit`` bytes), slot included.

        The library's own request path: no client-level machinery (cookies, hooks, redirects,
        wrapped streams) and, with a transport that offers it (aiohttp), no httpx objects at
        all. ``url`` is absolute and already encoded. Raises httpx's exceptions, or
        :class:`ReplyTooLarge`.
        """
        origin, shard = await self._lease(url[: url.find("/", url.find("//") + 2)])
        try:
            if shard.fetch is not None:
                reply: Reply = await shard.fetch(method, url, headers, body, extensions, limit)
            else:
                reply = await self._fetch_httpx(
                    shard, method, url, headers, body, extensions, limit
                )
        finally:
            self._give_back(origin, shard)
        if _httpx_log.isEnabledFor(logging.INFO):
            status = reply[0]
            reason = httpx.codes.get_reason_phrase(status)
            _httpx_log.info('HTTP Request: %s %s "HTTP/1.1 %d %s"', method, url, status, reason)
        return reply

    @staticmethod
    async def _fetch_httpx(
        shard: _Shard,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        extensions: dict[str, Any],
        limit: int,
    ) -> Reply:
        request = httpx.Request(method, url, headers=headers, content=body, extensions=extensions)
        response = await shard.transport.handle_async_request(request)
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        try:
            length = response.headers.get("content-length")
            if length is not None and length.isdecimal() and int(length) > limit:
                raise ReplyTooLarge(int(length))
            content = await _read(stream, limit)
        finally:
            await stream.aclose()
        return response.status_code, response.headers, content

    async def aclose(self) -> None:
        """Close every pool (idempotent)."""
        self._closed = True
        shards = [shard for origin in self._origins.values() for shard in origin.shards]
        self._origins.clear()
        for shard in shards:
            await shard.transport.aclose()
