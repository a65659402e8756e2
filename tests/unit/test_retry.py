"""What is retried: idempotent commands on 5xx and dropped replies; everything on 429 and on a
connection that never opened; and how many attempts the raised error reports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
import respx

from thinknx_async import (
    BadRequestError,
    ConnectError,
    DeviceNotFoundError,
    ProtocolError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    Site,
    ThinknxError,
    TimeoutError,
    TransportError,
)

from ._support import GUID, make_site, quiet_session

Call = Callable[[Site], Awaitable[object]]

REPLIES = {
    "power": {"namespace": "power", "guid": GUID, "comm_obj": 1},
    "status": {"namespace": "x", "guid": GUID, "comm_obj": 1, "status": 1},
    "knx": {"namespace": "system/sendKNXbit", "group": "1/0/1", "value": 1},
    "server": {
        "namespace": "system/serverStatus", "version": "1", "process_uptime": "1 min",
        "server_uptime": "1 min", "config_time": "00:00:00 2024-01-01",
        "connected_clients": 0, "pbx_users": "",
    },
}  # fmt: skip

IDEMPOTENT: dict[str, tuple[Call, str]] = {
    "power": (lambda s: s.light(GUID).turn_on(feedback=True), "status"),
    "powerstatus": (lambda s: s.light(GUID).is_on(), "status"),
    "powerlevel": (lambda s: s.light(GUID).set_level(10), "status"),
    "updown": (lambda s: s.blind(GUID).down(), "power"),
    "stop": (lambda s: s.blind(GUID).stop(), "power"),
    "heightlevel": (lambda s: s.blind(GUID).set_height(10), "power"),
    "heightlevelstatus": (lambda s: s.blind(GUID).height(), "status"),
    "blindangle": (lambda s: s.blind(GUID).set_angle(10), "power"),
    "actualtemp": (lambda s: s.thermostat(GUID).temperature(), "status"),
    "setpoint": (lambda s: s.thermostat(GUID).set_setpoint(21), "power"),
    "hvacpower": (lambda s: s.hvac(GUID).turn_off(), "power"),
    "serverStatus": (lambda s: s.server_status(), "server"),
    "call-idempotent": (lambda s: s.call("modality", {"guid": GUID}, idempotent=True), "power"),
}
NOT_IDEMPOTENT: dict[str, tuple[Call, str]] = {
    "scenelaunch-start": (lambda s: s.scene(GUID).launch(), "power"),
    "scenelaunch-stop": (lambda s: s.scene(GUID).stop(), "power"),
    "trigger": (lambda s: s.button(GUID).trigger(), "power"),
    "sendKNXbit": (lambda s: s.knx.send_bit("1/0/1", 1), "knx"),
    "sendKNXbyte": (lambda s: s.knx.send_byte("1/0/1", 1), "knx"),
    "sendKNXfloat2bytes": (lambda s: s.knx.send_float("1/0/1", 1.5), "knx"),
    "call": (lambda s: s.call("modality", {"guid": GUID}), "power"),
}
ALL = {**IDEMPOTENT, **NOT_IDEMPOTENT}

Outcome = httpx.Response | Exception


def retrying(max_attempts: int = 3) -> RetryPolicy:
    return RetryPolicy(max_attempts=max_attempts, backoff=0.001, max_backoff=0.001)


async def run(
    call: Call, outcomes: list[Outcome], *, max_attempts: int = 3
) -> tuple[object | ThinknxError, int]:
    """Run ``call`` against a cloud site answering ``outcomes`` in turn (the last one repeats)."""
    async with quiet_session(retry=retrying(max_attempts)) as session:
        site = make_site(session, "cloud")
        pending = list(outcomes)
        with respx.mock(assert_all_mocked=True) as router:

            def answer(request: httpx.Request) -> httpx.Response:
                outcome = pending.pop(0) if len(pending) > 1 else pending[0]
                if isinstance(outcome, Exception):
                    raise outcome
                return outcome

            router.route().mock(side_effect=answer)
            try:
                value: object | ThinknxError = await call(site)
            except ThinknxError as error:
                value = error
            return value, router.calls.call_count


def ok(kind: str) -> httpx.Response:
    return httpx.Response(200, json=REPLIES[kind])


@pytest.mark.anyio
@pytest.mark.parametrize("name", IDEMPOTENT)
async def test_idempotent_command_is_retried_on_500(name: str) -> None:
    call, kind = IDEMPOTENT[name]
    value, sent = await run(call, [httpx.Response(500), ok(kind)])
    assert not isinstance(value, ThinknxError)
    assert sent == 2


@pytest.mark.anyio
@pytest.mark.parametrize("name", IDEMPOTENT)
async def test_idempotent_command_gives_up_after_max_attempts(name: str) -> None:
    call, _ = IDEMPOTENT[name]
    error, sent = await run(call, [httpx.Response(503)])
    assert isinstance(error, ServerError)
    assert sent == 3
    assert error.attempts == 3


@pytest.mark.anyio
@pytest.mark.parametrize("name", NOT_IDEMPOTENT)
async def test_non_idempotent_command_is_not_retried_on_500(name: str) -> None:
    call, kind = NOT_IDEMPOTENT[name]
    error, sent = await run(call, [httpx.Response(500), ok(kind)])
    assert isinstance(error, ServerError)
    assert sent == 1
    assert error.attempts == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "raised",
    [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("Server disconnected")],
    ids=["ReadTimeout", "RemoteProtocolError"],
)
@pytest.mark.parametrize("name", NOT_IDEMPOTENT)
async def test_non_idempotent_command_is_not_retried_when_it_may_have_run(
    name: str, raised: Exception
) -> None:
    call, kind = NOT_IDEMPOTENT[name]
    error, sent = await run(call, [raised, ok(kind)])
    assert isinstance(error, TransportError)
    assert error.__cause__ is raised
    assert sent == 1
    assert error.attempts == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    "raised",
    [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("Server disconnected")],
    ids=["ReadTimeout", "RemoteProtocolError"],
)
async def test_idempotent_command_is_retried_when_the_reply_was_lost(raised: Exception) -> None:
    value, sent = await run(lambda s: s.light(GUID).set_level(5), [raised, ok("power")])
    assert not isinstance(value, ThinknxError)
    assert sent == 2


@pytest.mark.anyio
@pytest.mark.parametrize("name", ALL)
async def test_429_is_retried_for_every_command(name: str) -> None:
    call, kind = ALL[name]
    value, sent = await run(call, [httpx.Response(429, headers={"retry-after": "0"}), ok(kind)])
    assert not isinstance(value, ThinknxError)
    assert sent == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    "raised",
    [httpx.ConnectError("[Errno 111] Connection refused"), httpx.ConnectTimeout("timed out")],
    ids=["ConnectError", "ConnectTimeout"],
)
@pytest.mark.parametrize("name", ALL)
async def test_connection_never_opened_is_retried_for_every_command(
    name: str, raised: Exception
) -> None:
    call, kind = ALL[name]
    value, sent = await run(call, [raised, ok(kind)])
    assert not isinstance(value, ThinknxError)
    assert sent == 2


@pytest.mark.anyio
async def test_persistent_429_reports_every_attempt() -> None:
    error, sent = await run(
        lambda s: s.button(GUID).trigger(), [httpx.Response(429)], max_attempts=4
    )
    assert isinstance(error, RateLimitedError)
    assert sent == 4
    assert error.attempts == 4


@pytest.mark.anyio
async def test_persistent_connect_error_reports_every_attempt() -> None:
    raised = httpx.ConnectError("[Errno 111] Connection refused")
    error, sent = await run(lambda s: s.scene(GUID).launch(), [raised])
    assert isinstance(error, ConnectError)
    assert isinstance(error.__cause__, httpx.ConnectError)
    assert sent == 3
    assert error.attempts == 3


@pytest.mark.anyio
async def test_the_last_error_is_raised() -> None:
    outcomes: list[Outcome] = [httpx.ConnectTimeout("t"), httpx.Response(502)]
    error, sent = await run(lambda s: s.light(GUID).turn_on(), outcomes)
    assert isinstance(error, ServerError)
    assert error.status_code == 502
    assert sent == 3
    assert error.attempts == 3


@pytest.mark.anyio
async def test_429_asking_for_a_long_wait_is_raised_at_once() -> None:
    reply = httpx.Response(429, headers={"retry-after": "3600"})
    error, sent = await run(lambda s: s.light(GUID).turn_on(), [reply, ok("power")])
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 3600.0
    assert sent == 1
    assert error.attempts == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        (httpx.Response(400, json={"error": "params errors"}), BadRequestError),
        (httpx.Response(404), DeviceNotFoundError),
        (httpx.Response(200, text="not json"), ProtocolError),
    ],
)
async def test_client_errors_are_never_retried(
    reply: httpx.Response, kind: type[Exception]
) -> None:
    error, sent = await run(lambda s: s.light(GUID).turn_on(), [reply, ok("power")])
    assert type(error) is kind
    assert sent == 1
    assert isinstance(error, ThinknxError)
    assert error.attempts == 1


@pytest.mark.anyio
async def test_a_timeout_that_never_connected_is_retried_for_a_trigger() -> None:
    error, sent = await run(lambda s: s.button(GUID).trigger(), [httpx.PoolTimeout("pool")])
    assert isinstance(error, TimeoutError)
    assert sent == 3


@pytest.mark.anyio
async def test_no_retry_with_a_single_attempt() -> None:
    error, sent = await run(
        lambda s: s.light(GUID).turn_on(), [httpx.Response(500)], max_attempts=1
    )
    assert isinstance(error, ServerError)
    assert sent == 1
    assert error.attempts == 1
