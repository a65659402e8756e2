"""``site.call``: any controller by name, its parameter encoding, and what it refuses."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from thinknx_async import ProtocolError, Site, ValidationError

from ._support import BASE, GUID, MODES, SUFFIX, Mode, make_site, quiet_session, responder

REPLY = {"namespace": "fanspeed", "guid": GUID, "comm_obj": 4, "extra": [1, 2]}


async def call_query(
    params: dict[str, Any] | None, *, controller: str = "fanspeed", **options: Any
) -> tuple[dict[str, Any], httpx.Request]:
    async with quiet_session() as session:
        site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(return_value=httpx.Response(200, json=REPLY))
            body = await site.call(controller, params, **options)
            return body, router.calls.last.request


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "query"),
    [
        ({"guid": GUID, "cmd": "1"}, f"guid={GUID}&cmd=1"),
        ({"guid": GUID, "cmd": 1}, f"guid={GUID}&cmd=1"),
        ({"guid": GUID, "flag": None}, f"guid={GUID}&flag"),
        ({"on": True, "off": False}, "on=1&off=0"),
        ({"v": 20.5}, "v=20.5"),
        ({"v": 1e-05}, "v=0.00001"),
        ({"v": 1e22}, "v=10000000000000000000000"),
        ({"v": -0.0}, "v=0"),
        ({"v": -3}, "v=-3"),
        ({"v": Decimal("1E+3")}, "v=1000"),
        ({"v": Decimal("-2.50")}, "v=-2.5"),
        ({"s": "a b&c=d+e#f?g%h"}, "s=a%20b%26c%3Dd%2Be%23f%3Fg%25h"),
        ({"s": "é"}, "s=%C3%A9"),
        ({"s": "1/0/1"}, "s=1/0/1"),
        ({"s": ""}, "s="),
        ({"s": "-_.~"}, "s=-_.~"),
        ({"z": "1", "a": "2", "m": None}, "z=1&a=2&m"),
        ({}, ""),
        (None, ""),
    ],
)
async def test_parameter_encoding(params: dict[str, Any] | None, query: str) -> None:
    body, request = await call_query(params)
    assert body == REPLY
    assert request.url.query == query.encode("ascii")
    assert str(request.url.copy_with(query=None)) == f"{BASE['cloud']}fanspeed"


@pytest.mark.anyio
async def test_feedback_is_a_bare_flag_before_the_auth_parameters() -> None:
    _, request = await call_query({"guid": GUID, "cmd": 2}, feedback=True)
    assert request.url.query == f"guid={GUID}&cmd=2&fb".encode()
    _, request = await call_query(None, feedback=True)
    assert request.url.query == b"fb"


@pytest.mark.anyio
async def test_system_controller() -> None:
    _, request = await call_query(None, controller="system/serverStatus")
    assert str(request.url) == f"{BASE['cloud']}system/serverStatus"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_call_in_every_mode(mode: Mode, method: str) -> None:
    async with quiet_session() as session:
        site = make_site(session, mode, method=method)
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(side_effect=responder(REPLY, digest=mode == "digest"))
            await site.call("modality", {"guid": GUID, "mode": "comfort"}, feedback=True)
            request = router.calls.last.request
    params = "&".join(filter(None, [f"guid={GUID}&mode=comfort&fb", SUFFIX[mode]]))
    if method == "GET":
        assert str(request.url) == f"{BASE[mode]}modality?{params}"
    else:
        assert str(request.url) == f"{BASE[mode]}modality"
        assert request.content == params.encode()
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"


async def assert_call_refused(controller: Any, params: Any) -> None:
    async with quiet_session() as session:
        site: Site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            router.route().mock(return_value=httpx.Response(200, json=REPLY))
            with pytest.raises(ValidationError):
                await site.call(controller, params)
            assert router.calls.call_count == 0


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["auth", "user", "pass", "fb", "AUTH", "Pass", "Fb", "uSeR"])
async def test_reserved_parameter_names_refused(name: str) -> None:
    await assert_call_refused("fanspeed", {"guid": GUID, name: "x"})
    await assert_call_refused("fanspeed", {name: None})


@pytest.mark.anyio
@pytest.mark.parametrize(
    "controller",
    ["", "power?x=1", "power&x=1", "../power", "/power", "power/", "a/b/c", "1power", "pow er",
     "pöwer", "power#", "power%2F", "system//x", "system/", "power\n", None, 5, b"power"],
)  # fmt: skip
async def test_bad_controller_names_refused(controller: Any) -> None:
    await assert_call_refused(controller, {"guid": GUID})


@pytest.mark.anyio
@pytest.mark.parametrize(
    "name", ["", "a b", "a=b", "a&b", "a?b", "é", "1a", "a-b", "a.b", "a\n", 1, None, b"a"]
)
async def test_bad_parameter_names_refused(name: Any) -> None:
    await assert_call_refused("fanspeed", {name: "1"})


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value", [[1], {"a": 1}, b"1", (1,), float("nan"), float("inf"), Decimal("NaN"), object()]
)
async def test_unsupported_parameter_values_refused(value: Any) -> None:
    await assert_call_refused("fanspeed", {"guid": GUID, "v": value})


@pytest.mark.anyio
async def test_a_non_object_reply_is_a_protocol_error() -> None:
    async with quiet_session() as session:
        site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(return_value=httpx.Response(200, json=[1, 2]))
            with pytest.raises(ProtocolError):
                await site.call("fanspeed", {"guid": GUID})
