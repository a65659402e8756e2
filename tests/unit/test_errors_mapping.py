"""Every error status, error body and malformed reply, mapped to its exception type."""

from __future__ import annotations

import builtins
import email.utils
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from thinknx_async import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConnectError,
    DeviceNotFoundError,
    ExecutionError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    Site,
    ThinknxError,
    TimeoutError,
    TransportError,
)

from ._support import GUID, OTHER_GUID, command_reply, make_site, quiet_session

Reply = httpx.Response | Exception
Call = Callable[[Site], Awaitable[object]]


async def failure(reply: Reply, call: Call | None = None, **options: Any) -> ThinknxError:
    """Send one light command to a cloud site answered by ``reply``; return what it raised."""
    async with quiet_session(**options) as session:
        site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True) as router:
            if isinstance(reply, Exception):
                router.route().mock(side_effect=reply)
            else:
                router.route().mock(return_value=reply)
            with pytest.raises(ThinknxError) as caught:
                await (call or (lambda s: s.light(GUID).turn_on()))(site)
            assert router.calls.call_count == 1
    assert caught.value.attempts == 1
    return caught.value


def error_body(text: str) -> dict[str, str]:
    return {"error": text}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, error_body("params errors"), BadRequestError),
        (400, None, BadRequestError),
        (400, error_body("something new"), BadRequestError),
        (400, error_body("device not found"), DeviceNotFoundError),
        (404, error_body("device not found"), DeviceNotFoundError),
        (404, None, DeviceNotFoundError),
        (400, error_body("impossible to execute"), ExecutionError),
        (404, error_body("impossible to execute"), ExecutionError),
        (400, error_body("  Device Not Found "), DeviceNotFoundError),
        (401, None, AuthenticationError),
        (403, None, AuthenticationError),
        (403, error_body("forbidden"), AuthenticationError),
        (500, None, ServerError),
        (500, error_body("internal"), ServerError),
        (502, None, ServerError),
        (503, None, ServerError),
        (200, error_body("impossible to execute"), ExecutionError),
        (200, error_body("device not found"), DeviceNotFoundError),
        (200, error_body("params errors"), BadRequestError),
        (200, error_body("something else"), ApiError),
        (418, None, ApiError),
        (418, error_body("teapot"), ApiError),
    ],
)
async def test_error_status_and_body(status: int, body: Any, kind: type[ApiError]) -> None:
    reply = httpx.Response(status) if body is None else httpx.Response(status, json=body)
    error = await failure(reply)
    assert type(error) is kind
    assert isinstance(error, ApiError)
    assert error.status_code == status
    assert error.body == body
    assert f"HTTP {status}" in str(error)


@pytest.mark.anyio
async def test_non_json_error_body_keeps_the_status_mapping() -> None:
    error = await failure(httpx.Response(500, text="<html>Internal Server Error</html>"))
    assert type(error) is ServerError
    assert error.body is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("1.5", 1.5), ("-3", 0.0), (None, None), ("soon", None),
     ("nan", None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)  # fmt: skip
async def test_rate_limited_retry_after(header: str | None, expected: float | None) -> None:
    headers = {} if header is None else {"retry-after": header}
    error = await failure(httpx.Response(429, headers=headers, json=error_body("slow down")))
    assert type(error) is RateLimitedError
    assert error.status_code == 429
    assert error.retry_after == expected


@pytest.mark.anyio
async def test_rate_limited_retry_after_http_date_in_the_future() -> None:
    date = email.utils.formatdate(time.time() + 3600, usegmt=True)
    error = await failure(httpx.Response(429, headers={"retry-after": date}))
    assert isinstance(error, RateLimitedError)
    assert error.retry_after is not None
    assert 3500 < error.retry_after <= 3600


@pytest.mark.anyio
@pytest.mark.parametrize("status", [199, 304])
async def test_unexpected_success_status_is_a_protocol_error(status: int) -> None:
    error = await failure(httpx.Response(status, json=command_reply("power")))
    assert type(error) is ProtocolError
    assert f"HTTP {status}" in str(error)


@pytest.mark.anyio
async def test_no_content_is_a_protocol_error() -> None:
    error = await failure(httpx.Response(204))
    assert type(error) is ProtocolError


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"OK",
        b'{"namespace": "power", "guid": "1IzPs',
        b"<html><body>Thinknx</body></html>",
        b'[{"namespace": "power"}]',
        b"null",
        b"42",
        b'"power"',
        b"\xff\xfe\x00",
        b"[" * 100_000,
    ],
)
async def test_malformed_200_is_a_protocol_error(content: bytes) -> None:
    error = await failure(httpx.Response(200, content=content))
    assert type(error) is ProtocolError


@pytest.mark.anyio
@pytest.mark.parametrize(
    "body",
    [
        {"namespace": "power", "guid": GUID},
        {"namespace": "power", "comm_obj": 12},
        {"guid": GUID, "comm_obj": 12},
        {},
        {"namespace": "power", "guid": GUID, "comm_obj": " 12"},
        {"namespace": "power", "guid": GUID, "comm_obj": 12.5},
        {"namespace": "power", "guid": GUID, "comm_obj": True},
        {"namespace": "power", "guid": GUID, "comm_obj": None},
        {"namespace": "power", "guid": 123, "comm_obj": 12},
        {"namespace": ["power"], "guid": GUID, "comm_obj": 12},
        {"namespace": "power", "guid": GUID, "comm_obj": "12.5"},
        {"namespace": "power", "guid": OTHER_GUID, "comm_obj": 12},
    ],
)
async def test_missing_or_mistyped_command_fields(body: dict[str, Any]) -> None:
    error = await failure(httpx.Response(200, json=body))
    assert type(error) is ProtocolError


@pytest.mark.anyio
async def test_reply_for_another_guid_names_it() -> None:
    body = {"namespace": "power", "guid": OTHER_GUID, "comm_obj": 12}
    error = await failure(httpx.Response(200, json=body))
    assert type(error) is ProtocolError
    assert OTHER_GUID in str(error)


def light_status(site: Site) -> Awaitable[object]:
    return site.light(GUID).is_on()


def blind_height(site: Site) -> Awaitable[object]:
    return site.blind(GUID).height()


def temperature(site: Site) -> Awaitable[object]:
    return site.thermostat(GUID).temperature()


def knx_bit(site: Site) -> Awaitable[object]:
    return site.knx.send_bit("1/0/1", 1)


def server_status(site: Site) -> Awaitable[object]:
    return site.server_status()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("call", "body"),
    [
        (light_status, command_reply("powerstatus")),
        (light_status, command_reply("powerstatus", status=2)),
        (light_status, command_reply("powerstatus", status="on")),
        (light_status, command_reply("powerstatus", status=None)),
        (blind_height, command_reply("heightlevelstatus", status=101)),
        (blind_height, command_reply("heightlevelstatus", status=-1)),
        (blind_height, command_reply("heightlevelstatus", status=50.5)),
        (temperature, command_reply("actualtemp")),
        (temperature, command_reply("actualtemp", status=" 21.5")),
        (knx_bit, {"namespace": "system/sendKNXbit", "value": 1}),
        (knx_bit, {"namespace": "system/sendKNXbit", "group": "1/0/1"}),
        (knx_bit, {"namespace": "system/sendKNXbit", "group": "1/0/1", "value": "one"}),
        (knx_bit, {"namespace": "system/sendKNXbit", "group": 101, "value": 1}),
        (server_status, {"namespace": "system/serverStatus"}),
        (server_status, {**command_reply("x"), "version": 1}),
    ],
)
async def test_missing_or_mistyped_status_fields(call: Call, body: dict[str, Any]) -> None:
    error = await failure(httpx.Response(200, json=body), call)
    assert type(error) is ProtocolError


@pytest.mark.anyio
async def test_reply_over_max_reply_size_with_content_length() -> None:
    body = command_reply("power", padding="x" * 200)
    error = await failure(httpx.Response(200, json=body), max_reply_size=100)
    assert type(error) is ProtocolError
    assert "100-byte limit" in str(error)


class Chunks(httpx.AsyncByteStream):
    """A body with no Content-Length, streamed in chunks."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> Any:
        for chunk in self.chunks:
            yield chunk


@pytest.mark.anyio
async def test_streamed_reply_over_max_reply_size() -> None:
    reply = httpx.Response(200, stream=Chunks(b'{"namespace": "power", ', b" " * 90, b"}"))
    error = await failure(reply, max_reply_size=100)
    assert type(error) is ProtocolError
    assert "100-byte limit" in str(error)


@pytest.mark.anyio
async def test_streamed_reply_within_max_reply_size_is_read_whole() -> None:
    async with quiet_session(max_reply_size=200) as session:
        site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True) as router:
            chunks = (b'{"namespace": "power", ', f'"guid": "{GUID}", '.encode(), b'"comm_obj": 3}')
            router.route().mock(return_value=httpx.Response(200, stream=Chunks(*chunks)))
            result = await site.light(GUID).turn_on()
    assert result.comm_obj == 3


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("raised", "kind", "never_sent", "says"),
    [
        (
            httpx.ConnectError("[Errno 111] Connection refused"),
            ConnectError,
            True,
            "cannot connect ([Errno 111] Connection refused)",
        ),
        (
            httpx.ConnectTimeout("timed out"),
            TimeoutError,
            True,
            "opened within 4 s (connect timeout)",
        ),
        (httpx.PoolTimeout("pool"), TimeoutError, True, "pool within 4 s (pool timeout)"),
        (httpx.ReadTimeout("timed out"), TimeoutError, False, "no reply within 4 s (read timeout)"),
        (httpx.WriteTimeout(""), TimeoutError, False, "not sent within 4 s (write timeout)"),
        (
            httpx.RemoteProtocolError("Server disconnected"),
            TransportError,
            False,
            "connection failed (Server disconnected)",
        ),
        (httpx.ReadError("reset by peer"), TransportError, False, "failed (reset by peer)"),
    ],
)
async def test_transport_errors(
    raised: httpx.HTTPError, kind: type[TransportError], never_sent: bool, says: str
) -> None:
    error = await failure(raised, timeout=4)
    assert type(error) is kind
    assert isinstance(error, TransportError)
    assert error.never_sent is never_sent
    assert error.__cause__ is raised
    assert str(error).endswith(says)


@pytest.mark.anyio
async def test_timeout_error_is_also_the_builtin_timeout_error() -> None:
    error = await failure(httpx.ReadTimeout("timed out"))
    assert isinstance(error, builtins.TimeoutError)


@pytest.mark.anyio
async def test_undecodable_body_is_a_protocol_error() -> None:
    reply = httpx.Response(
        200, headers={"content-encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
    )
    error = await failure(reply)
    assert type(error) is ProtocolError
    assert isinstance(error.__cause__, httpx.DecodingError)
