"""The transport contract: what a site sends through, and the only failures a backend raises.

A pool moves bytes: :meth:`Pool.fetch` sends one request and returns the whole reply. Each
backend (httpcore's pools, aiohttp's, a caller's own ``httpx.AsyncClient``) maps its own
exceptions to :class:`TransportFailure`'s small set once, where it calls its library; the site
maps that set to the library's error tree once (:func:`thinknx_async._failures.transport_error`).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterable, Awaitable, Mapping
from typing import Literal, Protocol

import attrs

from .._secrets import redact

__all__ = [
    "BadReply",
    "ConnectFailed",
    "ConnectionBroken",
    "Outgoing",
    "Pool",
    "PoolClosed",
    "PoolStats",
    "Reply",
    "ReplyTooLarge",
    "RequestDefaults",
    "Timeout",
    "Tokens",
    "TransportFailure",
    "certificate_reason",
    "check_length",
    "first_message",
    "read_capped",
]

Reply = tuple[int, Mapping[str, str], bytes]
"""A whole reply: status, headers (case-insensitive) and body."""


class Outgoing:
    """One request as it goes out: method, URL (absolute and encoded), its own headers (beyond
    the pool's defaults) and body.

    Held in one object so that a traceback's locals show it masked: its repr never shows the
    raw URL, headers or body (they carry keys, passwords and Basic credentials).
    """

    __slots__ = ("body", "headers", "method", "url")

    def __init__(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body

    def with_headers(self, headers: Mapping[str, str] | None) -> Outgoing:
        """The same request with other headers of its own."""
        return Outgoing(self.method, self.url, headers, self.body)

    def __repr__(self) -> str:
        return f"<Outgoing {self.method} {redact(self.url)}>"


Phase = Literal["connect", "write", "read", "pool", "call"]


class TransportFailure(Exception):
    """A request that did not complete at the HTTP level: the one family a backend raises.

    ``never_sent``: the request certainly never reached the server. The text is the backend's
    own (secrets and all): only the site's masking makes it fit for a user.
    """

    never_sent = False


class PoolClosed(TransportFailure):
    """The pool was closed before the request could be sent."""

    never_sent = True

    def __init__(self) -> None:
        super().__init__("the connection pool is closed")


class ReplyTooLarge(TransportFailure):
    """A reply body is over the size limit; ``length`` is its Content-Length when it had one."""

    def __init__(self, length: int | None) -> None:
        super().__init__(f"reply over the size limit ({length})")
        self.length = length


class ConnectFailed(TransportFailure):
    """No connection could be opened: refused, unreachable, DNS, TLS handshake.

    ``certificate`` is OpenSSL's reason when the server's certificate was rejected.
    """

    never_sent = True

    def __init__(self, text: str, certificate: str | None = None) -> None:
        super().__init__(text)
        self.certificate = certificate


class Timeout(TransportFailure):
    """A phase ran out of time: ``connect``, ``write``, ``read``, ``pool``, or the whole
    ``call``; ``seconds`` is its bound when the backend knows it."""

    def __init__(self, phase: Phase, seconds: float | None = None, text: str = "") -> None:
        super().__init__(text or f"{phase} timeout")
        self.phase: Phase = phase
        self.seconds = seconds
        self.never_sent = phase in ("connect", "pool")


class ConnectionBroken(TransportFailure):
    """The connection failed mid-exchange, or the reply was not valid HTTP."""


class BadReply(TransportFailure):
    """A whole reply arrived, but its body could not be decoded (a broken content encoding)."""


class Tokens(Protocol):
    """A request's rate-limit tokens, as a pool sees them."""

    def give_back(self) -> None:
        """The request is held up before the wire (waiting for a connection, or opening one)."""

    def __call__(self) -> Awaitable[None]:
        """Awaited once the request's connection is ready, before its first byte is written.

        Raises :class:`PoolClosed` when the session closed meanwhile.
        """


@attrs.frozen(slots=True)
class PoolStats:
    """A snapshot of the pool: requests in flight and waiting, small pools open."""

    in_flight: int
    """Requests holding one of the session's connection slots now (a slot comes back once its
    reply has been read)."""
    waiting: int
    """Requests waiting for a free slot, all ``max_connections`` being taken."""
    max_connections: int
    """The session's bound on requests in flight at once, over all sites."""
    pools: int
    """Small pools open now, over all origins (each of ``pool_size`` connections at most)."""
    held: int = 0
    """What the transports themselves hold now (connections in use, requests queued in
    them): it equals ``in_flight`` when every connection is where the session thinks it is."""
    replaced: int = 0
    """Small pools found holding a connection nobody was using (a request cancelled at the
    wrong moment can leave one so in httpcore) and replaced, since the session opened."""


@attrs.frozen(slots=True)
class RequestDefaults:
    """What every request of a session shares, given to its pools once."""

    headers: Mapping[str, str]
    """Sent with every request, before the request's own."""
    timeouts: dict[str, float | None]
    """Seconds per phase, in httpx's words: ``connect``, ``read``, ``write``, ``pool``."""
    max_reply_size: int
    """Bytes of reply body read at most."""
    call_timeout: float | None = None
    """Seconds one attempt may take in all, from opening a connection to the reply's last byte
    (``None``: no bound beyond the per-phase ones)."""


class Pool(Protocol):
    """What a site sends through: one request in, one whole reply out."""

    async def fetch(self, request: Outgoing, tokens: Tokens | None = None) -> Reply:
        """Send ``request`` with the pool's default headers before its own; read at most the
        pool's ``max_reply_size`` bytes of reply.

        ``tokens``, when the request brings them: given back when a new connection must be
        opened for it, and then awaited once that connection is ready, before any of the
        request's bytes are written. Raises :class:`TransportFailure` and nothing else.
        """

    def stats(self) -> PoolStats | None:
        """The pool's own counts, when it keeps any."""

    def held(self) -> int:
        """Connections in use and requests queued inside the transport right now."""

    async def aclose(self) -> None:
        """Close what the pool owns."""


def check_length(headers: Mapping[str, str], limit: int) -> None:
    """Refuse a reply whose Content-Length says it is over ``limit``, before reading it."""
    length = headers.get("content-length")
    if length is not None and length.isdecimal() and int(length) > limit:
        raise ReplyTooLarge(int(length))


async def read_capped(chunks: AsyncIterable[bytes], limit: int) -> bytes:
    """The body from ``chunks``, refused once it passes ``limit`` bytes (a reply is tiny)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise ReplyTooLarge(None)
        parts.append(chunk)
    return b"".join(parts)


def first_message(exc: BaseException) -> str:
    """The first non-empty message along ``exc``'s causes (under trio a TLS failure reaches
    httpx as an empty ``ConnectError`` whose cause says what went wrong)."""
    link: BaseException | None = exc
    for _ in range(8):
        if link is None:
            break
        text = str(link)
        if text:
            return text
        link = link.__cause__ or link.__context__
    return ""


def certificate_reason(exc: BaseException) -> str | None:
    """OpenSSL's reason, when a certificate rejection is along ``exc``'s causes."""
    link: BaseException | None = exc
    for _ in range(8):
        if link is None:
            break
        # aiohttp's own certificate error subclasses ssl's but has no verify_message: go on
        # to the ssl error it was raised from.
        if isinstance(link, ssl.SSLCertVerificationError) and hasattr(link, "verify_message"):
            return str(link.verify_message or link.reason or "certificate verify failed")
        link = link.__cause__ or link.__context__
    return None
