"""A connection that dies after the server ran a command never makes a transport send it again:
only the session's retry policy decides that, and it does not for such commands.

The server here is a few lines over a raw socket, because the failure that matters is one no
HTTP framework will produce on purpose: the server reads a request on a kept-alive connection,
runs it, and closes the connection without a word.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from thinknx_async import RetryPolicy, Session, TransportError

GUID = "Button0000000000000001"
OK = b'{"namespace":"trigger","guid":"' + GUID.encode() + b'","comm_obj":1}'


class SilentCloser:
    """Answers the first request of each connection; runs the second, then hangs up."""

    def __init__(self) -> None:
        self.executed: Counter[str] = Counter()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for number in (1, 2):
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode()
                self.executed[target.split("?")[0].rsplit("/", 1)[-1]] += 1
                if number == 2:
                    break  # ran it, and says nothing
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(OK), OK)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
async def test_a_silent_hang_up_never_resends_a_trigger(transport: str) -> None:
    closer = SilentCloser()
    server = await asyncio.start_server(closer.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    retry = RetryPolicy(max_attempts=5, backoff=0.001)
    try:
        async with Session(
            rate_limit=None,
            retry=retry,
            transport=transport,  # type: ignore[arg-type]
            max_in_flight=1,
            max_connections=1,
        ) as session:
            site = session.on_premise(f"http://127.0.0.1:{port}", "Key1", allow_insecure=True)
            button = site.button(GUID)
            await button.trigger()  # opens the connection, which is kept alive
            with pytest.raises(TransportError) as hung_up:
                await button.trigger()  # runs on the server, whose reply never comes
            assert hung_up.value.attempts == 1
    finally:
        server.close()
        await server.wait_closed()
    assert closer.executed["trigger"] == 2  # one each: the second was never sent again
