"""A pool on aiohttp's client: the fast option (``Session(transport="aiohttp")``).

Only the bytes move differently: admission control, throttling, retries and reply handling stay
the session's. URLs go out byte for byte as built (aiohttp would otherwise re-quote them), and
aiohttp's errors are mapped once to the transport contract's (:mod:`.base`).
asyncio only: aiohttp does not run on trio.

A request's rate-limit tokens ride on aiohttp's tracing: the connector awaits
``on_connection_create_start`` when it opens a new connection for the request (the tokens go
back) and ``on_connection_create_end`` once that connection, TCP and TLS, is ready and before
the request is written (they are taken again), in the request's own task, with its
``trace_request_ctx``. The read deadline stops meanwhile and starts again, whole, once the
tokens are taken: waiting for a token is not waiting for the server.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from types import SimpleNamespace

import aiohttp
import yarl

from .base import (
    ConnectFailed,
    ConnectionBroken,
    Outgoing,
    PoolStats,
    Reply,
    ReplyTooLarge,
    RequestDefaults,
    Timeout,
    Tokens,
    TransportFailure,
    certificate_reason,
    read_capped,
)
from .deadlines import Deadlines

__all__ = ["AiohttpPool"]

_ERRORS = (aiohttp.ClientError, TimeoutError)


def _failure(exc: BaseException) -> TransportFailure:
    """The transport contract's word for an aiohttp failure (raise it ``from exc``).

    aiohttp puts the request's URL (so a key, or ``pass=``) into some of its texts; the site
    masks every text it shows, and the chain it attaches as a cause.
    """
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return Timeout("connect")
    if isinstance(exc, TimeoutError | aiohttp.SocketTimeoutError | aiohttp.ServerTimeoutError):
        return Timeout("read")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectFailed(str(exc), certificate_reason(exc))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ConnectionBroken(str(exc) or "server disconnected")
    if isinstance(exc, aiohttp.ClientResponseError):  # a reply that is not valid HTTP
        return ConnectionBroken(f"invalid reply: {_one_line(exc.message)}")
    return ConnectionBroken(str(exc) or type(exc).__name__)


def _one_line(message: str) -> str:
    """aiohttp's parser message on one line, without the caret under the faulty byte."""
    return " ".join(part for part in message.split() if part.strip("^"))


async def _connecting(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    """A new connection is being opened for the request: its tokens go back meanwhile."""
    tokens = context.trace_request_ctx
    if tokens is not None:
        tokens.give_back()


async def _connected(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: object
) -> None:
    """The new connection is ready to carry the request: its tokens are taken again."""
    tokens = context.trace_request_ctx
    if tokens is not None:
        await tokens()


def _tracing() -> aiohttp.TraceConfig:
    trace = aiohttp.TraceConfig()
    trace.on_connection_create_start.append(_connecting)
    trace.on_connection_create_end.append(_connected)
    return trace


class _Unwatched:
    """A request's tokens, awaited with its read deadline stopped (a token is not the server)."""

    __slots__ = ("_deadlines", "_task", "_tokens")

    def __init__(self, tokens: Tokens, deadlines: Deadlines, task: asyncio.Task[object]) -> None:
        self._tokens = tokens
        self._deadlines = deadlines
        self._task = task

    def give_back(self) -> None:
        self._tokens.give_back()

    async def __call__(self) -> None:
        self._deadlines.end(self._task)
        try:
            await self._tokens()
        finally:
            self._deadlines.begin()


class AiohttpPool:
    """One aiohttp session with a pool of ``max_connections`` connections.

    Timeouts: the connect timeout bounds opening a connection (TCP and TLS); the read timeout,
    or the call timeout when it is shorter, bounds the whole attempt, to the reply's last byte,
    through :class:`Deadlines` (one timer for every request, where aiohttp's own read timeout
    would arm and cancel two per request).
    """

    def __init__(
        self,
        defaults: RequestDefaults,
        *,
        ssl_context: ssl.SSLContext | None,
        max_connections: int,
    ) -> None:
        self._defaults = defaults
        self._ssl = ssl_context
        self._limit = max_connections
        self._open: tuple[aiohttp.ClientSession, Deadlines] | None = None  # on first use
        # No pool wait to bound (the session admits only as many requests as there are
        # connections) and no per-read timer: see the class docstring.
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=defaults.timeouts.get("connect"), sock_read=None
        )

    def _start(self) -> tuple[aiohttp.ClientSession, Deadlines]:
        # No TLS context for a plain-HTTP origin: aiohttp would never use it.
        tls = self._ssl if self._ssl is not None else False
        connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0, ssl=tls)
        # The session's headers name every header aiohttp would add (Accept, Accept-Encoding,
        # User-Agent), so it adds none, and replies are never compressed.
        session = aiohttp.ClientSession(
            connector=connector,
            headers=self._defaults.headers,
            auto_decompress=False,
            timeout=self._timeout,
            trace_configs=[_tracing()],
        )
        # aiohttp re-sends a GET once, silently, when a kept-alive connection dies under it.
        # The server may have run the command already, and every command here is a GET: the
        # session's retry policy alone decides what is sent again.
        if not hasattr(session, "_retry_connection"):  # pragma: no cover - aiohttp changed
            raise RuntimeError("this aiohttp cannot be told not to re-send requests")
        session._retry_connection = False
        deadlines = Deadlines(asyncio.get_running_loop(), min(self._bounds()))
        self._open = (session, deadlines)
        return self._open

    async def fetch(self, request: Outgoing, tokens: Tokens | None = None) -> Reply:
        """Send one request and read its whole reply, with no httpx objects on the way."""
        session, deadlines = self._open or self._start()
        task = deadlines.begin()
        unwatched = None if tokens is None else _Unwatched(tokens, deadlines, task)
        try:
            response = await session.request(
                request.method,
                yarl.URL(request.url, encoded=True),
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
                trace_request_ctx=unwatched,
            )
            try:
                limit = self._defaults.max_reply_size
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
            raise _failure(exc) from exc
        except asyncio.CancelledError:
            if deadlines.expired(task):
                read, call = self._bounds()
                # Here the read timeout is already one of the whole exchange.
                raise (Timeout("read", read) if read <= call else Timeout("call", call)) from None
            raise
        finally:
            deadlines.end(task)
        return response.status, response.headers, content

    def _bounds(self) -> tuple[float, float]:
        """The read timeout (here: of the whole exchange) and the whole-call bound."""
        read, call = self._defaults.timeouts.get("read"), self._defaults.call_timeout
        return (math.inf if read is None else read), (math.inf if call is None else call)

    def stats(self) -> PoolStats | None:
        return None

    def held(self) -> int:
        """Connections the aiohttp connector has handed out and not taken back."""
        if self._open is None:
            return 0
        return len(getattr(self._open[0].connector, "_acquired", ()))

    async def aclose(self) -> None:
        """Close the aiohttp session (idempotent)."""
        if self._open is not None:
            session, deadlines = self._open
            self._open = None
            deadlines.close()
            await session.close()
