"""Raw ASGI responses: pre-encoded bodies, plain, trickled and dropped replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

from .counters import Counters
from .personality import PROXY_SERVER, proxy_page

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

PARAMS_ERRORS = b'{"error":"params errors"}'
DEVICE_NOT_FOUND = b'{"error":"device not found"}'
IMPOSSIBLE = b'{"error":"impossible to execute"}'
WRONG_AUTH = b'{"error":"wrong authentication information"}'
RATE_LIMITED = b'{"error":"rate limit exceeded"}'
INTERNAL_ERROR = b'{"error":"internal error"}'
METHOD_NOT_ALLOWED = b'{"error":"method not allowed"}'

_JSON = (b"content-type", b"application/json")
_LENGTHS = {n: str(n).encode() for n in range(512)}


class ConnectionDropped(Exception):
    """Raised by the application to abort a response mid-way (a simulated dropped connection).

    Under a real server the connection is closed after the headers; in-process (ASGI
    transport) the exception reaches the caller.
    """


def _start(status: int, length: int, headers: Headers | None) -> Message:
    size = _LENGTHS.get(length) or str(length).encode()
    base = [_JSON, (b"content-length", size)]
    if headers:
        base.extend(headers)
    return {"type": "http.response.start", "status": status, "headers": base}


async def send_json(
    send: Send, counters: Counters, status: int, body: bytes, headers: Headers | None = None
) -> None:
    """Send a complete JSON response."""
    counters.record_response(status)
    await send(_start(status, len(body), headers))
    await send({"type": "http.response.body", "body": body})


async def send_proxy_page(send: Send, counters: Counters, status: int) -> None:
    """Send a reverse proxy's own HTML error page (502, 503 or 504)."""
    page = proxy_page(status)
    counters.record_response(status)
    headers = [
        (b"server", PROXY_SERVER),
        (b"content-type", b"text/html"),
        (b"content-length", str(len(page)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": page})


def with_headers(send: Send, extra: Headers) -> Send:
    """``send`` adding ``extra`` to the response's headers."""

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message["headers"], *extra]}
        await send(message)

    return sender


async def send_slowly(
    send: Send, counters: Counters, status: int, body: bytes, seconds: float, chunks: int = 8
) -> None:
    """Send a JSON response whose body trickles in over ``seconds``."""
    counters.record_response(status)
    await send(_start(status, len(body), None))
    step = max(1, -(-len(body) // chunks))
    pieces = [body[i : i + step] for i in range(0, len(body), step)]
    for i, piece in enumerate(pieces):
        await anyio.sleep(seconds / len(pieces))
        await send({"type": "http.response.body", "body": piece, "more_body": i < len(pieces) - 1})


async def drop(send: Send, counters: Counters, status: int, body: bytes) -> None:
    """Announce a response, send part of it, then abort the connection.

    Counted under status 0: the client never gets a complete response.
    """
    counters.record_response(0)
    await send(_start(status, len(body), None))
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    raise ConnectionDropped("simulated dropped connection")
