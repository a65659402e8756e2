"""Every value rule of the API (spec section 6), refused before anything is sent."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thinknx_async import Site, ValidationError
from thinknx_async.knx import DPT9_MAX, DPT9_MIN

from ._support import GUID, command_reply, make_site, quiet_session

PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

Call = Callable[[Site], Awaitable[object]]


def echo(request: httpx.Request) -> httpx.Response:
    """Answer any command with a well-formed reply (KNX replies echo the group and value)."""
    query = dict(
        part.split("=", 1) for part in request.url.query.decode().split("&") if "=" in part
    )
    if "group" in query:
        body: dict[str, Any] = {"namespace": "knx", "group": query["group"], "value": 1}
    else:
        body = command_reply("x", status=1)
    return httpx.Response(200, json=body)


@asynccontextmanager
async def cloud_site() -> AsyncIterator[tuple[Site, respx.MockRouter]]:
    async with quiet_session() as session:
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            router.route().mock(side_effect=echo)
            yield make_site(session, "cloud"), router


async def assert_refused(call: Call) -> ValidationError:
    async with cloud_site() as (site, router):
        with pytest.raises(ValidationError) as caught:
            await call(site)
        assert router.calls.call_count == 0
    assert isinstance(caught.value, ValueError)
    assert caught.value.attempts == 0
    return caught.value


async def sent_query(call: Call) -> str:
    async with cloud_site() as (site, router):
        await call(site)
        assert router.calls.call_count == 1
        return router.calls.last.request.url.query.decode("ascii")


def param(query: str, name: str) -> str:
    values = [p.split("=", 1)[1] for p in query.split("&") if p.startswith(f"{name}=")]
    assert len(values) == 1, query
    return values[0]


# Percentages: powerlevel, heightlevel, blindangle ---------------------------------------------

PERCENT: dict[str, tuple[Callable[[Site, Any], Awaitable[object]], str]] = {
    "powerlevel": (lambda s, v: s.light(GUID).set_level(v), "cmd"),
    "heightlevel": (lambda s, v: s.blind(GUID).set_height(v), "val"),
    "blindangle": (lambda s, v: s.blind(GUID).set_angle(v), "cmd"),
}
NOT_A_PERCENT = st.one_of(
    st.integers().filter(lambda v: not 0 <= v <= 100),
    st.booleans(),
    st.floats(),
    st.decimals(),
    st.text(max_size=5),
    st.none(),
)


@pytest.mark.anyio
@pytest.mark.parametrize("endpoint", PERCENT)
@SETTINGS
@given(value=st.integers(0, 100))
async def test_percent_in_range_is_sent_as_an_integer(endpoint: str, value: int) -> None:
    method, name = PERCENT[endpoint]
    query = await sent_query(lambda s: method(s, value))
    assert query == f"guid={GUID}&{name}={value}"


@pytest.mark.anyio
@pytest.mark.parametrize("endpoint", PERCENT)
@SETTINGS
@given(value=NOT_A_PERCENT)
async def test_percent_refused(endpoint: str, value: object) -> None:
    method, _ = PERCENT[endpoint]
    await assert_refused(lambda s: method(s, value))


@pytest.mark.anyio
@pytest.mark.parametrize("endpoint", PERCENT)
@pytest.mark.parametrize("value", [-1, 101, 50.0, True, False, "50", None, Decimal(50)])
async def test_percent_refused_examples(endpoint: str, value: object) -> None:
    method, _ = PERCENT[endpoint]
    await assert_refused(lambda s: method(s, value))


# DPT 1 and DPT 5 --------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("value", "sent"), [(0, "0"), (1, "1"), (True, "1"), (False, "0")])
async def test_bit_values(value: int, sent: str) -> None:
    query = await sent_query(lambda s: s.knx.send_bit("1/0/1", value))
    assert query == f"group=1/0/1&value={sent}"


@pytest.mark.anyio
@pytest.mark.parametrize("value", [2, -1, 1.0, 0.0, "1", None, Decimal(1)])
async def test_bit_refused(value: Any) -> None:
    await assert_refused(lambda s: s.knx.send_bit("1/0/1", value))


@pytest.mark.anyio
@SETTINGS
@given(value=st.integers(0, 255))
async def test_byte_in_range(value: int) -> None:
    query = await sent_query(lambda s: s.knx.send_byte("1/0/1", value))
    assert query == f"group=1/0/1&value={value}"


@pytest.mark.anyio
@SETTINGS
@given(
    value=st.one_of(
        st.integers().filter(lambda v: not 0 <= v <= 255),
        st.booleans(),
        st.floats(),
        st.text(max_size=4),
        st.none(),
    )
)
async def test_byte_refused(value: Any) -> None:
    await assert_refused(lambda s: s.knx.send_byte("1/0/1", value))


# DPT 9 and setpoints: plain decimals ------------------------------------------------------------


def assert_plain(text: str, number: float | int | Decimal) -> None:
    assert PLAIN_DECIMAL.fullmatch(text), text
    expected = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    assert Decimal(text) == expected


@pytest.mark.anyio
@SETTINGS
@given(value=st.floats(min_value=DPT9_MIN, max_value=DPT9_MAX))
async def test_dpt9_float_is_sent_as_a_plain_decimal(value: float) -> None:
    query = await sent_query(lambda s: s.knx.send_float("1/0/1", value))
    assert query.startswith("group=1/0/1&value=")
    assert_plain(param(query, "value"), value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (85.235, "85.235"),
        (DPT9_MAX, "670760.96"),
        (DPT9_MIN, "-671088.64"),
        (Decimal("670760.96"), "670760.96"),
        (Decimal("-671088.64"), "-671088.64"),
        (1e-05, "0.00001"),
        (-0.0, "0"),
        (0, "0"),
        (-20, "-20"),
        (100.0, "100"),
        (Decimal("1E+2"), "100"),
        (Decimal("2.50"), "2.5"),
    ],
)
async def test_dpt9_examples(value: float | int | Decimal, sent: str) -> None:
    query = await sent_query(lambda s: s.knx.send_float("1/0/1", value))
    assert query == f"group=1/0/1&value={sent}"


@pytest.mark.anyio
@SETTINGS
@given(
    value=st.one_of(
        st.floats().filter(lambda v: math.isnan(v) or not DPT9_MIN <= v <= DPT9_MAX),
        st.integers().filter(lambda v: not DPT9_MIN <= v <= DPT9_MAX),
    )
)
async def test_dpt9_out_of_range_refused(value: float | int) -> None:
    await assert_refused(lambda s: s.knx.send_float("1/0/1", value))


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value",
    [
        math.nan, math.inf, -math.inf, 670760.97, -671088.65, 670760.9600000001,
        Decimal("670760.960000000001"), Decimal("-671088.640000000001"), Decimal("NaN"),
        Decimal("sNaN"), Decimal("Infinity"), True, False, "85.2", None, [1],
    ],
)  # fmt: skip
async def test_dpt9_refused_examples(value: Any) -> None:
    await assert_refused(lambda s: s.knx.send_float("1/0/1", value))


@pytest.mark.anyio
@SETTINGS
@given(value=st.floats(min_value=-273, max_value=670760))
async def test_setpoint_is_sent_as_a_plain_decimal(value: float) -> None:
    query = await sent_query(lambda s: s.thermostat(GUID).set_setpoint(value))
    assert query.startswith(f"guid={GUID}&cmd=")
    assert_plain(param(query, "cmd"), value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("value", "sent"),
    [(20.5, "20.5"), (21, "21"), (670760, "670760"), (-273, "-273"), (-5.25, "-5.25"),
     (Decimal("19.0"), "19"), (0.1 + 0.2, "0.30000000000000004"), (1e-5, "0.00001")],
)  # fmt: skip
async def test_setpoint_examples(value: float | int | Decimal, sent: str) -> None:
    query = await sent_query(lambda s: s.thermostat(GUID).set_setpoint(value))
    assert query == f"guid={GUID}&cmd={sent}"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, Decimal("NaN"), True, "20.5", "20,5", None, 1e300, -1000,
     1e22, -273.01, 670760.5, Decimal("-273.0000001"), pytest.param(10**5000, id="10**5000")],
)  # fmt: skip
async def test_setpoint_refused(value: Any) -> None:
    await assert_refused(lambda s: s.thermostat(GUID).set_setpoint(value))


@pytest.mark.anyio
async def test_setpoint_message_stays_short() -> None:
    """A setpoint of 1e300 is refused with a readable number, not its 301 digits."""
    async with quiet_session() as session:
        refused = r"setpoint 1\.000e\+300 is outside -273\.\.670760"
        with pytest.raises(ValidationError, match=refused):
            await make_site(session, "cloud").thermostat(GUID).set_setpoint(1e300)


# GUIDs ----------------------------------------------------------------------------------------

SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
PROXIES: dict[str, Callable[[Site, Any], object]] = {
    "light": lambda s, g: s.light(g),
    "blind": lambda s, g: s.blind(g),
    "thermostat": lambda s, g: s.thermostat(g),
    "hvac": lambda s, g: s.hvac(g),
    "scene": lambda s, g: s.scene(g),
    "button": lambda s, g: s.button(g),
}
BAD_GUIDS = [
    "", "x" * 129, "a&b", "a?b", "a=b", "a#b", "a%b", "a b", "a/b", "a+b", "a.b", "a\nb",
    "é", "\uff21", "\uff11", "a\x00b", " abc", "abc ",
]  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize("kind", PROXIES)
@pytest.mark.parametrize("guid", [*BAD_GUIDS, None, 123, b"abc"])
async def test_bad_guid_refused(kind: str, guid: Any) -> None:
    async with cloud_site() as (site, router):
        with pytest.raises(ValidationError):
            PROXIES[kind](site, guid)
        assert router.calls.call_count == 0


@pytest.mark.anyio
@SETTINGS
@given(guid=st.text(min_size=1, max_size=40).filter(lambda g: any(c not in SAFE for c in g)))
async def test_guid_with_any_unsafe_character_refused(guid: str) -> None:
    async with cloud_site() as (site, router):
        with pytest.raises(ValidationError):
            site.light(guid)
        assert router.calls.call_count == 0


@pytest.mark.anyio
@SETTINGS
@given(guid=st.text(alphabet=SAFE, min_size=1, max_size=128))
async def test_url_safe_guid_is_sent_verbatim(guid: str) -> None:
    async with cloud_site() as (site, router):
        router.route().mock(
            return_value=httpx.Response(200, json={"namespace": "x", "guid": guid, "comm_obj": 1})
        )
        await site.light(guid).turn_on()
        assert router.calls.last.request.url.query == f"guid={guid}&cmd=1".encode()
