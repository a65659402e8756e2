"""The connection pool behind the session's one httpx client.

Stock httpx slows down badly when requests queue inside its pool, and more so the larger the
pool (its bookkeeping grows with connections x queued requests). So this transport admits only as
many requests as there are connections (the rest wait here, FIFO and cancellably, never inside
httpx), and gives each origin its own small pools, adding one more as load needs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio
import attrs
import httpx

__all__ = ["PoolStats", "ShardedTransport"]

Origin = tuple[bytes, bytes, int | None]


@attrs.frozen(slots=True)
class PoolStats:
    """A snapshot of the pool: requests in flight and waiting, pools open per origin."""

    in_flight: int
    waiting: int
    max_connections: int
    pools: int


class _Shard:
    __slots__ = ("in_use", "transport")

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport
        self.in_use = 0


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
        self._origins: dict[Origin, list[_Shard]] = {}
        self._closed = False

    def stats(self) -> PoolStats:
        """Counts taken now: every slot comes back when its response is closed."""
        statistics = self._slots.statistics()
        return PoolStats(
            in_flight=self._max_connections - self._slots.value,
            waiting=statistics.tasks_waiting,
            max_connections=self._max_connections,
            pools=sum(len(shards) for shards in self._origins.values()),
        )

    def _shard_for(self, url: httpx.URL) -> _Shard:
        origin = (url.raw_scheme, url.raw_host, url.port)
        shards = self._origins.get(origin)
        if shards is None:
            shards = self._origins[origin] = []
        for shard in shards:
            if shard.in_use < self._pool_size:
                return shard
        # Every pool of this origin is busy and a slot is free: open one more small pool.
        shard = _Shard(self._make_pool(self._pool_size))
        shards.append(shard)
        return shard

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Wait for a free connection slot here, then hand the request to a non-full pool."""
        await self._slots.acquire()
        if self._closed:  # closed before or while this request waited: open no new pool
            self._slots.release()
            raise RuntimeError("the transport is closed")
        shard = self._shard_for(request.url)
        shard.in_use += 1

        def release() -> None:
            shard.in_use -= 1
            self._slots.release()

        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_LeasedStream(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close every pool (idempotent)."""
        self._closed = True
        shards = [shard for group in self._origins.values() for shard in group]
        self._origins.clear()
        for shard in shards:
            await shard.transport.aclose()
