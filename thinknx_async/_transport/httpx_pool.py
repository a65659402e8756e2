"""The httpx side of the pools: one small httpcore pool, and a caller's own client.

A request's rate-limit tokens ride on httpcore's ``trace`` request extension: httpcore awaits
an async trace callback at each step of a request, in the request's own task. Its
``connection.connect_tcp.started`` step says a new connection is being opened for the request
(the tokens go back), and ``send_request_headers.started`` comes once that connection, TCP and
TLS, is ready and before the first byte is written (the tokens are taken again). No network
backend of our own is needed.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx

from .base import (
    BadReply,
    ConnectFailed,
    ConnectionBroken,
    Outgoing,
    PoolStats,
    Reply,
    RequestDefaults,
    Timeout,
    Tokens,
    TransportFailure,
    certificate_reason,
    check_length,
    first_message,
    read_capped,
)

# httpcore's trace steps: a new connection begins; a request's first byte is next (HTTP/1.1, 2).
_CONNECTING = "connection.connect_tcp.started"
_ON_THE_WIRE = frozenset(
    {"http11.send_request_headers.started", "http2.send_request_headers.started"}
)


class _AtTheWire:
    """httpcore's ``trace`` callback that hands a request's tokens the two steps they need.

    The wait for the tokens is the rate limit's, not the server's: it is kept off the call's
    whole-call bound (``scope``), which is pushed back by as long as it took.
    """

    __slots__ = ("_scope", "_tokens")

    def __init__(self, tokens: Tokens, scope: anyio.CancelScope | None) -> None:
        self._tokens = tokens
        self._scope = scope

    async def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if event == _CONNECTING:
            self._tokens.give_back()
        elif event in _ON_THE_WIRE:
            scope = self._scope
            if scope is None:
                await self._tokens()
                return
            deadline, scope.deadline = scope.deadline, math.inf
            started = anyio.current_time()
            try:
                await self._tokens()
            finally:
                scope.deadline = deadline + (anyio.current_time() - started)


__all__ = ["ClientPool", "HttpxPool", "failure_of", "read_whole"]

_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.PoolTimeout: "pool",
    httpx.WriteTimeout: "write",
    httpx.ReadTimeout: "read",
}


def failure_of(exc: httpx.HTTPError) -> TransportFailure:
    """The transport contract's word for an httpx failure (raise it ``from exc``)."""
    text = first_message(exc)
    if isinstance(exc, httpx.TimeoutException):
        phase = next((p for kind, p in _PHASES.items() if isinstance(exc, kind)), "read")
        return Timeout(phase, text=text)  # type: ignore[arg-type]
    if isinstance(exc, httpx.ConnectError):
        return ConnectFailed(text, certificate_reason(exc))
    if isinstance(exc, httpx.TransportError):
        return ConnectionBroken(text)
    return BadReply(text or type(exc).__name__)


class _Requests:
    """Builds httpx requests: the session's headers, then the request's own."""

    __slots__ = ("_extensions", "_headers")

    def __init__(self, defaults: RequestDefaults) -> None:
        self._headers = list(defaults.headers.items())
        self._extensions: dict[str, Any] = {"timeout": defaults.timeouts}

    def build(
        self, outgoing: Outgoing, tokens: Tokens | None, scope: anyio.CancelScope | None
    ) -> httpx.Request:
        own = outgoing.headers
        merged = self._headers if own is None else [*self._headers, *own.items()]
        extensions: dict[str, Any] = self._extensions
        if tokens is not None:
            extensions = {**extensions, "trace": _AtTheWire(tokens, scope)}
        return httpx.Request(
            outgoing.method, outgoing.url, headers=merged, content=outgoing.body,
            extensions=extensions,
        )  # fmt: skip


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


def _bound(seconds: float | None) -> float:
    return math.inf if seconds is None else seconds


async def _within(
    seconds: float, send: Callable[[anyio.CancelScope | None], Awaitable[Reply]]
) -> Reply:
    """``send(scope)`` within the whole-call bound: every attempt ends within ``seconds``, from
    opening a connection to the reply's last byte, however slowly the server trickles. httpx's
    failures come out in the transport contract's words.

    An anyio cancel scope per call (the aiohttp pool's one-timer :class:`Deadlines` cancels
    tasks natively, which httpcore's own anyio scopes and shields can mistake for theirs). The
    connection of a call cut short is closed, never reused: httpcore's rule for a request it
    did not finish.
    """
    try:
        if seconds == math.inf:
            return await send(None)
        with anyio.CancelScope(deadline=anyio.current_time() + seconds) as scope:
            return await send(scope)
    except httpx.HTTPError as exc:
        raise failure_of(exc) from exc
    raise Timeout("call", seconds)


class _HttpxBased:
    """What both httpx pools share: requests built once per session, the whole-call bound,
    replies read whole and capped."""

    __slots__ = ("_call_timeout", "_limit", "_requests")

    #: Whether a request's tokens ride on httpcore's trace steps (only where httpcore is sure).
    _traced = True

    def __init__(self, defaults: RequestDefaults) -> None:
        self._requests = _Requests(defaults)
        self._limit = defaults.max_reply_size
        self._call_timeout = _bound(defaults.call_timeout)

    async def fetch(self, request: Outgoing, tokens: Tokens | None = None) -> Reply:
        traced = tokens if self._traced else None

        async def send(scope: anyio.CancelScope | None) -> Reply:
            built = self._requests.build(request, traced, scope)
            return await read_whole(await self._response(built), self._limit)

        return await _within(self._call_timeout, send)

    async def _response(self, request: httpx.Request) -> httpx.Response:
        raise NotImplementedError


class HttpxPool(_HttpxBased):
    """One small httpx (httpcore) pool of ``size`` connections, keep-alive included."""

    __slots__ = ("_transport",)

    def __init__(self, defaults: RequestDefaults, size: int, verify: Any) -> None:
        super().__init__(defaults)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)

    async def _response(self, request: httpx.Request) -> httpx.Response:
        return await self._transport.handle_async_request(request)

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


class ClientPool(_HttpxBased):
    """An ``httpx.AsyncClient`` of the caller's: used as is (its timeouts too), never closed
    by the library. Its requests hold their tokens over any connection the client opens: its
    transport may not be httpcore's (a mock, a caller's own)."""

    __slots__ = ("client",)
    _traced = False

    def __init__(self, client: httpx.AsyncClient, defaults: RequestDefaults) -> None:
        super().__init__(defaults)
        self.client = client

    async def _response(self, request: httpx.Request) -> httpx.Response:
        return await self.client.send(request, stream=True, follow_redirects=False)

    def stats(self) -> PoolStats | None:
        return None

    def held(self) -> int:
        return 0  # the caller's client: not ours to look into

    async def aclose(self) -> None:
        """Nothing: the client belongs to the caller."""
