"""The bytes on the wire, exactly, for each access mode and method, on both transports.

Both transports must send the same request: the same request line, the same headers in the
same order (none added by the HTTP client: no compression offered, no client banner), and the
same form body.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from thinknx_async import RetryPolicy, Session, Site

from ..conftest import Transport
from ..hardening._hostile import HostileServer

GUID = "1IzPszHWAEuvzxtXBMkzWQ"
KEY = "K3yOfTheSite42"
COMMON = (
    b"accept: application/json\r\naccept-encoding: identity\r\nuser-agent: thinknx-async/0.1\r\n"
)
BASIC = b"authorization: Basic dXNlcjpwJnNzIHc="  # base64("user:p&ss w")
FORM = b"content-type: application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


def _site(session: Session, server: HostileServer, mode: str) -> Site:
    if mode == "relay":
        return session.on_premise(server.url, KEY, allow_insecure=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the query mode's clear-text warning is tested apart
        return session.local(
            "127.0.0.1",
            port=server.port,
            username="user",
            password="p&ss w",
            auth=mode,  # type: ignore[arg-type]
        )


def _expected(mode: str, method: str, port: int, feedback: bool) -> bytes:
    path = f"/{KEY}/api/V1/power" if mode == "relay" else "/api/V1/power"
    params = f"guid={GUID}&cmd=1" + ("&fb" if feedback else "")
    if mode in ("basic", "digest"):
        params += f"&auth={mode}"
    elif mode == "query":
        params += "&auth=basic&user=user&pass=p%26ss%20w"
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    extra = BASIC + b"\r\n" if mode == "basic" else b""
    if method == "GET":
        return f"GET {path}?{params} HTTP/1.1\r\n".encode() + host + COMMON + extra + b"\r\n"
    body = params.encode()
    return (
        f"POST {path} HTTP/1.1\r\n".encode()
        + host
        + COMMON
        + extra
        + FORM
        + f"\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["relay", "basic", "query"])
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("feedback", [False, True])
async def test_the_request_bytes_are_exactly_the_documented_ones(
    server: HostileServer, transport: Transport, mode: str, method: str, feedback: bool
) -> None:
    server.use("ok")
    async with Session(
        rate_limit=None,
        retry=RetryPolicy(max_attempts=1),
        method=method,  # type: ignore[arg-type]
        transport=transport,
    ) as session:
        await _site(session, server, mode).light(GUID).turn_on(feedback=feedback)
    assert server.raw == [_expected(mode, method, server.port, feedback)]


@pytest.mark.anyio
async def test_plain_http_never_loads_the_ca_bundle(
    server: HostileServer, transport: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the system's CAs takes milliseconds: a session of plain-HTTP relays skips it."""

    def refuse(verify: object) -> None:
        raise AssertionError("a TLS context was built for plain HTTP")

    monkeypatch.setattr("thinknx_async._transport.pool._ssl_context", refuse)
    server.use("ok")
    async with Session(rate_limit=None, transport=transport, pool_size=1) as session:
        sites = [_site(session, server, mode) for mode in ("relay", "basic")]
        for site in sites * 3:
            await site.light(GUID).turn_on()
    assert len(server.raw) == 6


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_digest_sends_the_request_then_its_answer_to_the_challenge(
    server: HostileServer, transport: Transport, method: str
) -> None:
    """The first call goes out twice (the challenge, then the answer); later calls answer the
    remembered challenge at once. Only the authorization header differs from the plain bytes."""
    server.use("digest")
    async with Session(
        rate_limit=None,
        retry=RetryPolicy(max_attempts=1),
        method=method,  # type: ignore[arg-type]
        transport=transport,
    ) as session:
        light = _site(session, server, "digest").light(GUID)
        await light.turn_on()
        await light.turn_on()
    assert len(server.raw) == 3
    plain = _expected("digest", method, server.port, feedback=False)
    assert server.raw[0] == plain
    path = "/api/V1/power" + (f"?guid={GUID}&cmd=1&auth=digest" if method == "GET" else "")
    for count, sent in enumerate(server.raw[1:], start=1):
        head, _, body = sent.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        answer = lines.pop(5)  # right after user-agent, where Basic's header goes too
        assert b"\r\n".join(lines) + b"\r\n\r\n" + body == plain
        assert answer.startswith(b"authorization: Digest ")
        for part in (
            'username="user"',
            'realm="thinknx"',
            'nonce="4d2f6a8c"',
            f'uri="{path}"',
            f"nc={count:08x}",
            "qop=auth",
        ):
            assert part.encode() in answer, (part, answer)
