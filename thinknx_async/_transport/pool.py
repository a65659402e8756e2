"""The connection pool every request of a session goes through.

Stock httpx slows down badly when requests queue inside its pool, and more so the larger the
pool (its bookkeeping grows with connections x queued requests). So :class:`ConnectionPool`
admits only as many requests as there are connections (the rest wait here, FIFO and
cancellably, never inside httpx), and gives each origin its own small pools, adding one more as
load needs it. It also skips httpx's client layer (request and response objects, cookies, hooks,
redirects, wrapped streams), which costs more than the rest of a request's path together.

A pool only moves bytes: :meth:`fetch` sends one request and returns the whole reply. A request
may bring its rate-limit tokens (:class:`Tokens`, a :class:`thinknx_async._turn.Turn`): a
pool that holds it up (no free connection slot, or a connection to open) gives them back, and
awaits them once the connection is ready and before the request's first byte is written, so
no token is held over a wait for a slot or a handshake.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Callable

import anyio
import httpx

from ..errors import ValidationError
from .base import Outgoing, Pool, PoolClosed, PoolStats, Reply, RequestDefaults, Tokens
from .httpx_pool import HttpxPool

__all__ = ["ConnectionPool", "open_pool"]

_httpx_log = logging.getLogger("httpx")  # the line httpx's client would log, kept as it was
_log = logging.getLogger("thinknx_async")


class _Shard:
    __slots__ = ("in_use", "pool", "suspect")

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.in_use = 0
        self.suspect = False  # a request through it ended in an error or a cancellation


class _Origin:
    """The pools of one origin, and those of them with a free connection (a LIFO stack: the
    most recently used connections, still warm, are reused first)."""

    __slots__ = ("free", "shards")

    def __init__(self) -> None:
        self.shards: list[_Shard] = []
        self.free: list[_Shard] = []


def _origin(url: str) -> str:
    return url[: url.find("/", url.find("//") + 2)]


class ConnectionPool:
    """The session's own pool: admission control over small per-origin pools.

    ``make_pool(size, https)`` opens one small pool (:class:`HttpxPool`, or aiohttp's) for an
    origin, https or not; ``max_connections`` bounds requests in flight over all origins.
    """

    def __init__(
        self, make_pool: Callable[[int, bool], Pool], *, max_connections: int, pool_size: int
    ) -> None:
        self._make_pool = make_pool
        self._max_connections = max_connections
        self._pool_size = max(1, min(pool_size, max_connections))
        self._slots = anyio.Semaphore(max_connections, fast_acquire=True)
        self._origins: dict[str, _Origin] = {}
        self._closed = False
        self._replaced = 0
        self._retired: list[Pool] = []  # replaced pools whose closing was interrupted

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has run."""
        return self._closed

    def stats(self) -> PoolStats:
        """Counts taken now: every slot comes back when its reply has been read."""
        return PoolStats(
            in_flight=self._max_connections - self._slots.value,
            waiting=self._slots.statistics().tasks_waiting,
            max_connections=self._max_connections,
            pools=sum(len(origin.shards) for origin in self._origins.values()),
            held=self.held(),
            replaced=self._replaced,
        )

    def held(self) -> int:
        """What the transports of every small pool hold now (see :class:`PoolStats`)."""
        return sum(shard.pool.held() for o in self._origins.values() for shard in o.shards)

    async def fetch(self, request: Outgoing, tokens: Tokens | None = None) -> Reply:
        """Wait for a free connection slot, then send through a non-full pool of the origin
        (``tokens``: see :meth:`Pool.fetch`)."""
        slots = self._slots
        held_up = False
        try:  # a free slot means nobody waits (a release hands its slot to the first waiter)
            slots.acquire_nowait()
        except anyio.WouldBlock:
            held_up = tokens is not None
            if tokens is not None:
                tokens.give_back()  # no token is held while waiting for a slot
            await slots.acquire()
        try:
            if held_up and tokens is not None:
                await tokens()  # taken again, now that a connection is near
            if self._closed:  # closed before or while this request waited: open no new pool
                raise PoolClosed
            origin = self._origins.get(key := _origin(request.url))
            if origin is None:
                origin = self._origins[key] = _Origin()
            if origin.free:
                shard = origin.free[-1]
            else:  # every pool of this origin is busy and a slot is free: open one more
                shard = _Shard(self._make_pool(self._pool_size, key.startswith("https:")))
                origin.shards.append(shard)
                origin.free.append(shard)
            shard.in_use += 1
            if shard.in_use == self._pool_size:
                origin.free.pop()
            try:
                reply = await shard.pool.fetch(request, tokens)
            except BaseException:
                shard.suspect = True
                raise
            finally:
                if shard.in_use == self._pool_size:
                    origin.free.append(shard)
                shard.in_use -= 1
                if shard.suspect and shard.in_use == 0:
                    await self._check(shard, key)
        finally:
            slots.release()
        if _httpx_log.isEnabledFor(logging.INFO):
            status = reply[0]
            reason = httpx.codes.get_reason_phrase(status)
            line = 'HTTP Request: %s %s "HTTP/1.1 %d %s"'
            _httpx_log.info(line, request.method, request.url, status, reason)
        return reply

    async def _check(self, shard: _Shard, origin: str) -> None:
        """With none of our requests in ``shard``, its transport must hold nothing: if it
        does, a cancellation left a connection stranded there, so the pool is replaced."""
        shard.suspect = False
        if self._closed or shard.pool.held() == 0:  # a closed pool opens nothing new
            return
        stranded, shard.pool = shard.pool, self._make_pool(self._pool_size, origin[:6] == "https:")
        self._replaced += 1
        _log.info("replaced a connection pool of %s left holding a cancelled request", origin)
        try:
            with anyio.CancelScope(shield=True):
                await stranded.aclose()
        except BaseException:  # cancelled again (asyncio's own cancel ignores the shield)
            self._retired.append(stranded)
            raise

    async def aclose(self) -> None:
        """Close every pool (idempotent)."""
        self._closed = True
        pools = [shard.pool for origin in self._origins.values() for shard in origin.shards]
        pools += self._retired
        self._origins.clear()
        self._retired = []
        for pool in pools:
            await pool.aclose()


def _ssl_context(verify: bool | str | ssl.SSLContext) -> ssl.SSLContext:
    """One context for every pool (building one per pool would cost milliseconds each)."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, str):
        try:
            return ssl.create_default_context(cafile=verify)
        except (OSError, ssl.SSLError) as exc:
            raise ValidationError(f"cannot read the CA file {verify!r}: {exc}") from exc
    if isinstance(verify, bool):
        return httpx.create_ssl_context(verify=verify)
    raise ValidationError("verify must be True, False, a CA file path or an ssl.SSLContext")


def open_pool(
    transport: str,
    defaults: RequestDefaults,
    verify: bool | str | ssl.SSLContext,
    max_connections: int,
    pool_size: int,
) -> ConnectionPool:
    """The session's own pool on ``transport`` (``"httpx"`` or ``"aiohttp"``).

    Every pool of an https origin shares one TLS context, built with the first of them (loading
    the system's CA bundle takes milliseconds a session of plain-HTTP relays never needs); a CA
    file is read at once, so a wrong path fails here.
    """

    @functools.cache
    def context() -> ssl.SSLContext:
        return _ssl_context(verify)

    if not isinstance(verify, bool):
        context()

    if transport == "aiohttp":
        try:
            from .aiohttp_pool import AiohttpPool
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ValidationError(
                "transport='aiohttp' needs the extra: pip install 'thinknx-async[aiohttp]'"
            ) from exc

        def make_aiohttp(size: int, https: bool) -> Pool:
            tls = context() if https else None
            return AiohttpPool(defaults, ssl_context=tls, max_connections=size)

        # aiohttp's own pool stays fast when large: one per origin.
        size = max_connections
        return ConnectionPool(make_aiohttp, max_connections=max_connections, pool_size=size)

    # httpx wants a TLS context even for plain HTTP, and making one costs about 0.15 ms: the
    # plain-HTTP pools share one, which they never use.
    @functools.cache
    def plain() -> ssl.SSLContext:
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)

    def make_httpx(size: int, https: bool) -> Pool:
        return HttpxPool(defaults, size, context() if https else plain())

    return ConnectionPool(make_httpx, max_connections=max_connections, pool_size=pool_size)
