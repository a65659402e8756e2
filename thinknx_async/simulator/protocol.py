"""The HTTP protocol the runner serves: uvicorn's, counting TCP connections, doing TLS itself.

TLS is negotiated here (``loop.start_tls``) rather than by the listening server, so that a
personality can hold each handshake back by ``tls_handshake_delay`` seconds without
blocking the event loop (on asyncio's loop: the handshake needs the raw transport to stay
paused until ``start_tls`` takes it over, and uvloop resumes reading after
``connection_made``). An HTTP/1.0 personality rewrites the status line of every reply
written on connections opened while it is in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

from .simulator import Simulator

_HTTP11 = b"HTTP/1.1 "
_HTTP10 = b"HTTP/1.0 "


class Http10Transport:
    """A transport whose replies carry the status line ``HTTP/1.0``."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write ``data``, rewriting a status line at its start."""
        if data[:9] == _HTTP11:
            data = _HTTP10 + bytes(data[9:])
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def protocol_class(
    sim: Simulator, tls: ssl.SSLContext | None = None
) -> tuple[type[asyncio.Protocol], set[asyncio.Task[None]]]:
    """uvicorn's fastest HTTP protocol, counting connections, with ``tls`` done per connection.

    Returns the class and the set of handshakes under way (the runner cancels them on stop).
    """
    base: type[Any]
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:  # pragma: no cover - httptools is part of the sim extra
        from uvicorn.protocols.http.h11_impl import H11Protocol as base

    counters = sim.counters
    handshakes: set[asyncio.Task[None]] = set()

    class CountingProtocol(base):  # type: ignore[misc]
        _serving = False
        _counted = False

        def connection_made(self, transport: Any) -> None:
            self._counted = True
            self._early: list[bytes | None] = []
            peer = transport.get_extra_info("peername")
            self._counted_peer = (str(peer[0]), int(peer[1])) if peer else None
            counters.connection_made()
            personality = sim.personality
            self._http10 = personality.http10
            if tls is None:
                self._serve(transport)
                return
            transport.pause_reading()
            task = self.loop.create_task(
                self._handshake(transport, tls, personality.tls_handshake_delay)
            )
            handshakes.add(task)
            task.add_done_callback(handshakes.discard)

        async def _handshake(self, raw: Any, context: ssl.SSLContext, delay: float) -> None:
            try:
                if delay > 0:
                    await asyncio.sleep(delay)
                if raw.is_closing():
                    return
                transport = await self.loop.start_tls(raw, self, context, server_side=True)
            except (OSError, ssl.SSLError, asyncio.CancelledError):
                raw.abort()
                if not self._serving:  # connection_lost will not come through uvicorn
                    self.connection_lost(None)
                return
            if transport is None:  # pragma: no cover - start_tls returns one on success
                raw.abort()
                return
            self._serve(transport)

        def _serve(self, transport: Any) -> None:
            self._serving = True
            super().connection_made(Http10Transport(transport) if self._http10 else transport)
            for data in self._early:
                if data is None:
                    super().eof_received()
                else:
                    super().data_received(data)
            self._early.clear()

        def data_received(self, data: bytes) -> None:
            if self._serving:
                super().data_received(data)
            else:  # decrypted before the handshake task resumed: replayed by _serve
                self._early.append(data)

        def eof_received(self) -> Any:
            if self._serving:
                return super().eof_received()
            self._early.append(None)
            return True

        def connection_lost(self, exc: Exception | None) -> None:
            if not self._counted:
                return
            self._counted = False
            counters.connection_lost(self._counted_peer)
            if self._serving:
                super().connection_lost(exc)

    return CountingProtocol, handshakes


async def cancel_handshakes(handshakes: set[asyncio.Task[None]]) -> None:
    """Cancel the TLS handshakes still waiting (their connections are aborted)."""
    tasks = list(handshakes)
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
