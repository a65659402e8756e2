"""A server trickling its reply, one byte at a time within every read timeout, still ends the
call at the whole-call bound, on both transports, and the connection is not reused."""

from __future__ import annotations

import math
import socket
import time

import anyio
import pytest

from thinknx_async import RetryPolicy, Session, TimeoutError, ValidationError

from ..conftest import Transport
from ._hostile import Case, HostileServer

KEY = "TrickleKey1"
BOUND = 0.4  # the whole-call bound: each byte comes far sooner than this, the whole far later
GAP = 0.05  # between two bytes: 100 bytes take 5 s


def _trickle(sock: socket.socket, server: HostileServer, data: bytes) -> None:
    """Send ``data`` a byte every GAP seconds until done, the client leaves, or the end."""
    for n in range(len(data)):
        if server.stopping.is_set():
            return
        try:
            sock.sendall(data[n : n + 1])
        except OSError:
            return
        server.chunks_sent += 1
        time.sleep(GAP)


BODY = b'{"namespace":"power","guid":"G1","comm_obj":1}' + b" " * 60
HEAD = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"


def trickle_headers(sock: socket.socket, target: str, server: HostileServer) -> bool:
    _trickle(sock, server, HEAD.encode() + b"X-Pad: " + b"y" * 200 + b"\r\n\r\n" + BODY)
    return False


def trickle_body(sock: socket.socket, target: str, server: HostileServer) -> bool:
    sock.sendall(HEAD.encode())
    _trickle(sock, server, BODY)
    return False


def endless_chunks(sock: socket.socket, target: str, server: HostileServer) -> bool:
    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    _trickle(sock, server, b"1\r\n \r\n" * 1000)
    return False


CASES: dict[str, Case] = {
    "headers": trickle_headers,
    "body": trickle_body,
    "endless chunked body": endless_chunks,
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES)
async def test_a_trickling_reply_ends_at_the_whole_call_bound(
    hostile: HostileServer, transport: Transport, case: str
) -> None:
    hostile.use(CASES[case])
    hostile.chunks_sent = 0
    # Read timeouts far above the gap between bytes: only the whole-call bound can fire.
    async with Session(rate_limit=None, retry=RetryPolicy(max_attempts=1), timeout=5.0,
                       call_timeout=BOUND, transport=transport) as session:  # fmt: skip
        light = session.on_premise(hostile.url, KEY, allow_insecure=True).light("G1")
        with anyio.fail_after(10):  # a hang guard only
            with pytest.raises(TimeoutError, match=rf"no whole reply within {BOUND:g} s \(call"):
                await light.turn_on()
    # The server was still sending when the client gave up, and the client closed the socket.
    assert hostile.chunks_sent < 100
    assert hostile.wait_closed() == 0


@pytest.mark.anyio
async def test_the_bound_defaults_to_a_connect_and_a_read(transport: Transport) -> None:
    async with Session(timeout=3.0, transport=transport) as session:
        assert session.call_timeout == 6.0
    async with Session(timeout=3.0, call_timeout=math.inf, transport=transport) as session:
        assert session.call_timeout == math.inf


@pytest.mark.parametrize("value", [0, -1, "1", math.nan])
def test_a_bad_bound_is_refused(value: object) -> None:
    with pytest.raises(ValidationError, match="call_timeout"):
        Session(call_timeout=value)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_a_reply_within_the_bound_is_untouched(
    hostile: HostileServer, transport: Transport
) -> None:
    hostile.use("ok")
    async with Session(rate_limit=None, call_timeout=5.0, transport=transport) as session:
        light = session.on_premise(hostile.url, KEY, allow_insecure=True).light("G2")
        for _ in range(3):
            assert (await light.turn_on()).guid == "G2"
