"""The exact request every endpoint puts on the wire, in every access mode, as GET and POST."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
import pytest
import respx

from thinknx_async import AuthenticationError, CommandResult, KnxResult, ServerStatus, Site

from ._support import (
    BASE,
    BASIC_TOKEN,
    CHALLENGE,
    GUID,
    MODES,
    SUFFIX,
    Mode,
    check_digest,
    command_reply,
    make_site,
    quiet_session,
    responder,
)

Call = Callable[[Site, bool], Awaitable[object]]


@dataclass(frozen=True)
class Case:
    """One device method: the controller and query it must send, and what it returns."""

    name: str
    controller: str
    query: str
    call: Call
    reply: dict[str, Any]
    expect: object
    takes_fb: bool = False
    fb_reply: dict[str, Any] = field(default_factory=dict)
    fb_expect: object = None


STATUS_BODY = {
    "namespace": "system/serverStatus",
    "version": "01.02.03.04",
    "process_uptime": "2 days 3 hours 4 min",
    "server_uptime": "10 days 0 hours 1 min",
    "config_time": "14:03:22 2024-05-17",
    "connected_clients": 3,
    "pbx_users": "101,102",
}
STATUS = ServerStatus(
    namespace="system/serverStatus",
    version="01.02.03.04",
    process_uptime=timedelta(days=2, hours=3, minutes=4),
    server_uptime=timedelta(days=10, minutes=1),
    config_time=datetime(2024, 5, 17, 14, 3, 22),
    connected_clients=3,
    pbx_users=("101", "102"),
    process_uptime_text="2 days 3 hours 4 min",
    server_uptime_text="10 days 0 hours 1 min",
    config_time_text="14:03:22 2024-05-17",
)


def result(namespace: str, status: int | float | None = None) -> CommandResult:
    return CommandResult(namespace=namespace, guid=GUID, comm_obj=12, status=status)


def knx_reply(controller: str, value: int | float) -> dict[str, Any]:
    return {"namespace": controller, "group": "1/0/1", "value": value}


CASES = [
    Case(
        "power-on", "power", f"guid={GUID}&cmd=1",
        lambda s, fb: s.light(GUID).turn_on(feedback=fb),
        command_reply("power"), result("power"),
        True, command_reply("power", status=1), result("power", 1),
    ),
    Case(
        "power-off", "power", f"guid={GUID}&cmd=0",
        lambda s, fb: s.light(GUID).turn_off(feedback=fb),
        command_reply("power"), result("power"),
        True, command_reply("power", status=0), result("power", 0),
    ),
    Case(
        "powerstatus", "powerstatus", f"guid={GUID}",
        lambda s, fb: s.light(GUID).is_on(),
        command_reply("powerstatus", status=1), True,
    ),
    Case(
        "powerlevel", "powerlevel", f"guid={GUID}&cmd=50",
        lambda s, fb: s.light(GUID).set_level(50, feedback=fb),
        command_reply("powerlevel"), result("powerlevel"),
        True, command_reply("powerlevel", status=50), result("powerlevel", 50),
    ),
    Case(
        "updown-up", "updown", f"guid={GUID}&cmd=0",
        lambda s, fb: s.blind(GUID).up(),
        command_reply("updown"), result("updown"),
    ),
    Case(
        "updown-down", "updown", f"guid={GUID}&cmd=1",
        lambda s, fb: s.blind(GUID).down(),
        command_reply("updown"), result("updown"),
    ),
    Case(
        "stop", "stop", f"guid={GUID}&cmd=1",
        lambda s, fb: s.blind(GUID).stop(),
        command_reply("stop"), result("stop"),
    ),
    Case(
        "heightlevel", "heightlevel", f"guid={GUID}&val=40",
        lambda s, fb: s.blind(GUID).set_height(40, feedback=fb),
        command_reply("heightlevel"), result("heightlevel"),
        True, command_reply("heightlevel", status=40), result("heightlevel", 40),
    ),
    Case(
        "heightlevelstatus", "heightlevelstatus", f"guid={GUID}",
        lambda s, fb: s.blind(GUID).height(),
        command_reply("heightlevelstatus", status=75), 75,
    ),
    Case(
        "blindangle", "blindangle", f"guid={GUID}&cmd=30",
        lambda s, fb: s.blind(GUID).set_angle(30, feedback=fb),
        command_reply("blindangle"), result("blindangle"),
        True, command_reply("blindangle", status=30), result("blindangle", 30),
    ),
    Case(
        "actualtemp", "actualtemp", f"guid={GUID}",
        lambda s, fb: s.thermostat(GUID).temperature(),
        command_reply("actualtemp", status=21.5), 21.5,
    ),
    Case(
        "setpoint", "setpoint", f"guid={GUID}&cmd=20.5",
        lambda s, fb: s.thermostat(GUID).set_setpoint(20.5, feedback=fb),
        command_reply("setpoint"), result("setpoint"),
        True, command_reply("setpoint", status=20.5), result("setpoint", 20.5),
    ),
    Case(
        "hvacpower-on", "hvacpower", f"guid={GUID}&cmd=1",
        lambda s, fb: s.hvac(GUID).turn_on(feedback=fb),
        command_reply("hvacpower"), result("hvacpower"),
        True, command_reply("hvacpower", status=1), result("hvacpower", 1),
    ),
    Case(
        "hvacpower-off", "hvacpower", f"guid={GUID}&cmd=0",
        lambda s, fb: s.hvac(GUID).turn_off(feedback=fb),
        command_reply("hvacpower"), result("hvacpower"),
        True, command_reply("hvacpower", status=0), result("hvacpower", 0),
    ),
    Case(
        "scenelaunch-start", "scenelaunch", f"guid={GUID}&cmd=1",
        lambda s, fb: s.scene(GUID).launch(),
        command_reply("scenelaunch"), result("scenelaunch"),
    ),
    Case(
        "scenelaunch-stop", "scenelaunch", f"guid={GUID}&cmd=0",
        lambda s, fb: s.scene(GUID).stop(),
        command_reply("scenelaunch"), result("scenelaunch"),
    ),
    Case(
        "trigger", "trigger", f"guid={GUID}&cmd=1",
        lambda s, fb: s.button(GUID).trigger(),
        command_reply("trigger"), result("trigger"),
    ),
    Case(
        "sendKNXbit", "system/sendKNXbit", "group=1/0/1&value=1",
        lambda s, fb: s.knx.send_bit("1/0/1", 1),
        knx_reply("system/sendKNXbit", 1), KnxResult("system/sendKNXbit", "1/0/1", 1),
    ),
    Case(
        "sendKNXbyte", "system/sendKNXbyte", "group=1/0/1&value=30",
        lambda s, fb: s.knx.send_byte("1/0/1", 30),
        knx_reply("system/sendKNXbyte", 30), KnxResult("system/sendKNXbyte", "1/0/1", 30),
    ),
    Case(
        "sendKNXfloat2bytes", "system/sendKNXfloat2bytes", "group=1/0/1&value=85.235",
        lambda s, fb: s.knx.send_float("1/0/1", 85.235),
        knx_reply("system/sendKNXfloat2bytes", 85.235),
        KnxResult("system/sendKNXfloat2bytes", "1/0/1", 85.235),
    ),
    Case(
        "serverStatus", "system/serverStatus", "",
        lambda s, fb: s.server_status(),
        STATUS_BODY, STATUS,
    ),
]  # fmt: skip

CONTROLLERS = {case.controller for case in CASES}
PARAMS = [
    pytest.param(case, fb, id=f"{case.name}{'-fb' if fb else ''}")
    for case in CASES
    for fb in ((False, True) if case.takes_fb else (False,))
]
Method = Literal["GET", "POST-session", "POST-site"]


def expected_params(case: Case, feedback: bool, mode: Mode) -> str:
    parts = [case.query] if case.query else []
    if feedback:
        parts.append("fb")  # a bare flag: no '=' and no value
    if SUFFIX[mode]:
        parts.append(SUFFIX[mode])
    return "&".join(parts)


def test_every_endpoint_is_covered() -> None:
    assert {
        "power", "powerstatus", "powerlevel", "updown", "stop", "heightlevel",
        "heightlevelstatus", "blindangle", "actualtemp", "setpoint", "hvacpower",
        "scenelaunch", "trigger", "system/sendKNXbit", "system/sendKNXbyte",
        "system/sendKNXfloat2bytes", "system/serverStatus",
    } == CONTROLLERS  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["GET", "POST-session", "POST-site"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("case", "feedback"), PARAMS)
async def test_request_on_the_wire(case: Case, feedback: bool, mode: Mode, method: Method) -> None:
    reply = case.fb_reply if feedback else case.reply
    session_method: Literal["GET", "POST"] = "POST" if method == "POST-session" else "GET"
    async with quiet_session(method=session_method) as session:
        site_options = {"method": "POST"} if method == "POST-site" else {}
        site = make_site(session, mode, **site_options)
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(side_effect=responder(reply, digest=mode == "digest"))
            value = await case.call(site, feedback)
            requests = [call.request for call in router.calls]

    assert value == (case.fb_expect if feedback else case.expect)
    params = expected_params(case, feedback, mode)
    path = BASE[mode] + case.controller
    assert len(requests) == (2 if mode == "digest" else 1)
    for request in requests:
        if method == "GET":
            assert request.method == "GET"
            assert str(request.url) == (f"{path}?{params}" if params else path)
            assert request.url.query == params.encode("ascii")
            assert "content-type" not in request.headers
            assert request.content == b""
        else:
            assert request.method == "POST"
            assert str(request.url) == path
            assert request.url.query == b""
            assert request.headers["content-type"] == "application/x-www-form-urlencoded"
            assert request.content == params.encode("ascii")
            assert request.headers["content-length"] == str(len(params))

    last = requests[-1]
    if mode == "digest":
        assert "authorization" not in requests[0].headers
        check_digest(last)
    elif mode == "basic":
        assert last.headers["authorization"] == f"Basic {BASIC_TOKEN}"
    else:
        assert "authorization" not in last.headers


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_site_get_overrides_a_post_session(mode: Mode) -> None:
    async with quiet_session(method="POST") as session:
        site = make_site(session, mode, method="GET")
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(
                side_effect=responder(command_reply("power"), digest=mode == "digest")
            )
            await site.light(GUID).turn_on(feedback=True)
            request = router.calls.last.request
    params = expected_params(CASES[0], True, mode)
    assert request.method == "GET"
    assert str(request.url) == f"{BASE[mode]}power?{params}"


@pytest.mark.anyio
async def test_digest_handshake_happens_once_per_site() -> None:
    """The challenge is answered once; later requests carry Authorization from the start."""
    async with quiet_session() as session:
        site = make_site(session, "digest")
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(side_effect=responder(command_reply("power"), digest=True))
            await site.light(GUID).turn_on()
            await site.light(GUID).turn_off()
            requests = [call.request for call in router.calls]
    assert [r.url.query for r in requests] == [
        f"guid={GUID}&cmd=1&auth=digest".encode(),
        f"guid={GUID}&cmd=1&auth=digest".encode(),
        f"guid={GUID}&cmd=0&auth=digest".encode(),
    ]
    assert "authorization" not in requests[0].headers
    check_digest(requests[1])
    check_digest(requests[2])


@pytest.mark.anyio
async def test_digest_wrong_password_is_an_authentication_error() -> None:
    def always_challenge(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"www-authenticate": CHALLENGE})

    async with quiet_session() as session:
        site = make_site(session, "digest")
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(side_effect=always_challenge)
            with pytest.raises(AuthenticationError) as caught:
                await site.light(GUID).turn_on()
            # The bare request, its answer, and one more answer (an answer can be overtaken).
            assert router.calls.call_count == 3
    assert caught.value.status_code == 401


@pytest.mark.anyio
async def test_local_site_custom_port_and_https() -> None:
    async with quiet_session() as session:
        site = session.local(
            "nas.lan", username="admin", password="Nas-Secret-42", auth="basic", port=8443,
            scheme="https",
        )  # fmt: skip
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(side_effect=responder(command_reply("power")))
            await site.light(GUID).turn_on()
            request = router.calls.last.request
    assert str(request.url) == f"https://nas.lan:8443/api/V1/power?guid={GUID}&cmd=1&auth=basic"


@pytest.mark.anyio
async def test_relay_with_port_and_trailing_slash() -> None:
    async with quiet_session() as session:
        site = session.on_premise("https://relay.example.com:8443/", "K3y")
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(side_effect=responder(command_reply("power")))
            await site.light(GUID).turn_on()
            request = router.calls.last.request
    assert str(request.url) == f"https://relay.example.com:8443/K3y/api/V1/power?guid={GUID}&cmd=1"
