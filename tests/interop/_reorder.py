"""A TCP relay that makes two requests reach a server in the opposite order of their sending.

Between a client and a server on loopback: the first connection's first request passes; its
*second* request (a Digest client's answer to the challenge it just got) is held until another
connection has sent a request and begun receiving its reply. No timing is involved: the hold
ends on an event, so the order the server sees is the same on any machine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from anyio.abc import ByteStream, SocketStream

__all__ = ["Reorder", "reorder"]


class Reorder:
    """The relay's state: where it listens and the two moments a test waits for."""

    def __init__(self) -> None:
        self.port = 0
        self.held = anyio.Event()
        """Set when the first connection's second request is being held."""
        self.overtaken = anyio.Event()
        """Set when another connection's request has reached the server and been answered."""
        self._connections = 0

    async def _pump(self, source: ByteStream, sink: ByteStream, hold_second: bool) -> None:
        seen = b""  # requests without a body (GET): a header block's end is the request's end
        try:
            async for chunk in source:
                if hold_second and b"\r\n\r\n" in seen:
                    self.held.set()
                    await self.overtaken.wait()
                    hold_second = False
                seen += chunk
                await sink.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            await sink.aclose()

    async def _replies(self, source: ByteStream, sink: ByteStream) -> None:
        try:
            async for chunk in source:
                await sink.send(chunk)
                self.overtaken.set()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            await sink.aclose()

    async def serve(self, client: SocketStream, server_port: int) -> None:
        """Relay one client connection to the server."""
        self._connections += 1
        first = self._connections == 1
        server = await anyio.connect_tcp("127.0.0.1", server_port)
        async with client, server, anyio.create_task_group() as group:
            group.start_soon(self._pump, client, server, first)
            if first:
                group.start_soon(self._pump, server, client, False)
            else:
                group.start_soon(self._replies, server, client)


@asynccontextmanager
async def reorder(server_port: int) -> AsyncIterator[Reorder]:
    """Relay 127.0.0.1:<free port> to ``server_port`` for the block (see the module doc)."""
    state = Reorder()
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    state.port = int(listener.extra(anyio.abc.SocketAttribute.local_port))
    async with listener, anyio.create_task_group() as group:

        async def handle(client: SocketStream) -> None:
            await state.serve(client, server_port)

        group.start_soon(listener.serve, handle)
        try:
            yield state
        finally:
            group.cancel_scope.cancel()
