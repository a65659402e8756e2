"""Tolerant on form, strict on meaning: the forms of a reply the library accepts and refuses.

Numbers may come as JSON numbers or as strings holding exactly one; any 2xx without an
``error`` is a success; an unreadable optional field is ``None`` with the body kept in ``raw``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from thinknx_async import (
    ApiError,
    CommandResult,
    DeviceNotFoundError,
    KnxResult,
    ProtocolError,
    Site,
)
from thinknx_async._numbers import exact_int, parse_number
from thinknx_async._replies import decode_reply
from thinknx_async.models import structure, structure_server_status

from ._support import GUID, make_site, quiet_session
from .test_models import BODY as STATUS_BODY

# The reading rule, by itself ----------------------------------------------------------------

READ: list[tuple[Any, Any]] = [
    (0, 0), (-3, -3), (21.5, 21.5), (10**30, 10**30),
    ("0", 0), ("1", 1), ("-0", 0), ("-12", -12), ("20.5", 20.5), ("-0.25", -0.25),
    ("1.0", 1.0), ("1e2", 100.0), ("2.5E-1", 0.25), ("9" * 40, int("9" * 40)),
]  # fmt: skip
REFUSED: list[Any] = [
    None, True, False, [], [1], {}, {"v": 1}, float("nan"), float("inf"), -float("inf"),
    "", " ", " 20.5 ", "20.5 ", " 1", "1\n", "+1", "01", "1.", ".5", "1e", "1e+", "--1", "0x1",
    "1_000", "1,5", "NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "-1e999", "true",
    "\u0661", "\uff11", "1\u00a0", "abc", "20.5abc", "1" * 5000,
]  # fmt: skip


@pytest.mark.parametrize(("value", "expected"), READ)
def test_numbers_read_exactly(value: Any, expected: Any) -> None:
    number = parse_number(value)
    assert number == expected
    assert type(number) is type(expected)


@pytest.mark.parametrize("value", REFUSED)
def test_numbers_refused(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        parse_number(value)


@given(st.integers() | st.floats(allow_nan=False, allow_infinity=False))
def test_a_number_as_text_reads_as_the_number(number: int | float) -> None:
    text = json.dumps(number)
    assert parse_number(text) == json.loads(text) == number
    assert type(parse_number(text)) is type(number)
    assert parse_number(number) == number


@given(st.text(max_size=12))
def test_any_accepted_text_is_a_json_number_with_nothing_around_it(text: str) -> None:
    try:
        number = parse_number(text)
    except (TypeError, ValueError):
        return
    assert text == text.strip() and text.isascii()
    decoded = json.loads(text)
    assert type(decoded) in (int, float) and decoded == number and math.isfinite(number)


@pytest.mark.parametrize(
    ("number", "expected"),
    [(3, 3), (3.0, 3), (-0.0, 0), (0.0, 0), (-7.0, -7), (2.0**53, 2**53), (10**30, 10**30),
     (5.7, None), (0.5, None), (-1.25, None), (2.0**53 * 2, None), (1e20, None)],
)  # fmt: skip
def test_exact_int(number: int | float, expected: int | None) -> None:
    whole = exact_int(number)
    assert whole == expected
    assert whole is None or type(whole) is int


# Fields of the models ------------------------------------------------------------------------


def command(**fields: Any) -> dict[str, Any]:
    return {"namespace": "power", "guid": GUID, "comm_obj": 12, **fields}


@pytest.mark.parametrize(
    ("comm_obj", "expected"), [(12, 12), ("12", 12), (12.0, 12), ("12.0", 12), ("1.2e1", 12)]
)
def test_integer_field_takes_every_form_of_a_whole_number(comm_obj: Any, expected: int) -> None:
    result = structure(command(comm_obj=comm_obj), CommandResult, what="power reply")
    assert result.comm_obj == expected
    assert type(result.comm_obj) is int


@pytest.mark.parametrize(
    "comm_obj",
    [5.7, "5.7", "12.5", 1e20, "1e20", True, "true", None, "", " 12", "12 ", "NaN", "1e999",
     float("nan"), float("inf"), "abc", [12], {"n": 12}],
)  # fmt: skip
def test_integer_field_refuses_anything_else(comm_obj: Any) -> None:
    with pytest.raises(ProtocolError) as caught:
        structure(command(comm_obj=comm_obj), CommandResult, what="power reply")
    assert "comm_obj" in str(caught.value)
    assert caught.value.attempts == 1


def test_a_refused_string_is_not_quoted_in_the_message() -> None:
    with pytest.raises(ProtocolError) as caught:
        structure(command(comm_obj="hunter2"), CommandResult, what="power reply")
    assert "hunter2" not in str(caught.value)
    assert "not" in str(caught.value)


def test_a_fraction_in_an_integer_field_is_named() -> None:
    with pytest.raises(ProtocolError) as caught:
        structure(command(comm_obj="5.7"), CommandResult, what="power reply")
    assert str(caught.value) == "power reply: expected an integer, got 5.7 @ reply.comm_obj"


@pytest.mark.parametrize(
    ("status", "expected"),
    [(1, 1), ("1", 1), ("0", 0), (20.5, 20.5), ("20.5", 20.5), ("-3.25", -3.25), (None, None)],
)
def test_status_numbers(status: Any, expected: Any) -> None:
    result = structure(command(status=status), CommandResult, what="r")
    assert result.status == expected
    assert type(result.status) is type(expected)


@pytest.mark.parametrize(
    "status", ["on", "", " 1", True, False, [1], {"v": 1}, float("nan"), "1e999", "Infinity"]
)
def test_an_unreadable_status_is_none_and_kept_raw(status: Any) -> None:
    body = command(status=status)
    result = structure(body, CommandResult, what="r")
    assert result == CommandResult("power", GUID, 12, None)
    assert result.raw is body
    assert result.raw["status"] is status


@pytest.mark.parametrize(("value", "expected"), [(1, 1), ("1", 1), ("85.235", 85.235), (30, 30)])
def test_knx_value_forms(value: Any, expected: int | float) -> None:
    body = {"namespace": "system/sendKNXbyte", "group": "1/0/1", "value": value}
    result = structure(body, KnxResult, what="r")
    assert result.value == expected and type(result.value) is type(expected)


@pytest.mark.parametrize("value", ["one", True, None, " 1", "NaN", [1]])
def test_knx_value_is_required(value: Any) -> None:
    body = {"namespace": "system/sendKNXbit", "group": "1/0/1", "value": value}
    with pytest.raises(ProtocolError) as caught:
        structure(body, KnxResult, what="r")
    assert "value" in str(caught.value)


def test_raw_is_outside_equality_hash_and_repr() -> None:
    plain = CommandResult("power", GUID, 12, 1)
    kept = structure(command(status="1", serial="X1"), CommandResult, what="r")
    assert kept == plain and hash(kept) == hash(plain)
    assert repr(kept) == repr(plain)
    assert "X1" not in repr(kept)
    assert kept.raw["serial"] == "X1"
    assert plain.raw == {}


def test_server_status_keeps_its_raw_body() -> None:
    body = {**STATUS_BODY, "connected_clients": "4", "serial": "X1"}
    status = structure_server_status(body)
    assert status.connected_clients == 4
    assert status.raw is body


# The reply as a whole: statuses and the error member ----------------------------------------


@pytest.mark.parametrize("status", [200, 201, 202, 203, 206, 226, 299])
def test_every_2xx_with_a_body_is_a_success(status: int) -> None:
    content = json.dumps(command(status="1")).encode()
    assert decode_reply(status, {}, content, "s: power") == command(status="1")


@pytest.mark.parametrize("status", [200, 201, 204])
def test_an_empty_2xx_is_a_protocol_error_naming_the_status(status: int) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_reply(status, {}, b"", "s: power")
    assert str(caught.value) == f"s: power: HTTP {status} with an empty body: no result to read"


@pytest.mark.parametrize("error", [None, False, "", 0, 0.0, "0", "0.0", "-0"])
def test_an_error_member_that_says_no_error(error: Any) -> None:
    body = command(error=error)
    assert decode_reply(200, {}, json.dumps(body).encode(), "s: power") == body


@pytest.mark.parametrize("error", [True, 1, "1", "x", " ", {"code": 3}, [], ["x"], 0.5])
def test_any_other_error_member_is_an_error(error: Any) -> None:
    with pytest.raises(ApiError) as caught:
        decode_reply(201, {}, json.dumps(command(error=error)).encode(), "s: power")
    assert caught.value.status_code == 201
    assert str(caught.value).startswith("s: power: HTTP 201")


@pytest.mark.parametrize("status", [200, 202])
def test_a_known_error_text_in_any_2xx(status: int) -> None:
    content = json.dumps({"error": "device not found"}).encode()
    with pytest.raises(DeviceNotFoundError):
        decode_reply(status, {}, content, "s: power")


@pytest.mark.parametrize("status", [100, 199, 300, 304])
def test_statuses_outside_2xx_stay_protocol_errors(status: int) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_reply(status, {}, json.dumps(command()).encode(), "s: power")
    assert f"HTTP {status}" in str(caught.value)


# On the wire, through the whole request path ------------------------------------------------

Call = Callable[[Site], Awaitable[Any]]


async def answer(content: bytes | dict[str, Any], call: Call, status: int = 200) -> Any:
    """What ``call`` returns from a cloud site whose server answers ``content``."""
    raw = content if isinstance(content, bytes) else json.dumps(content).encode()
    async with quiet_session() as session:
        site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True) as router:
            route = router.route().mock(return_value=httpx.Response(status, content=raw))
            result = await call(site)
            assert route.call_count == 1
    return result


def all_text(namespace: str, **fields: str) -> dict[str, str]:
    return {"namespace": namespace, "guid": GUID, "comm_obj": "12", **fields}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "call", "expected"),
    [
        (all_text("powerstatus", status="1"), lambda s: s.light(GUID).is_on(), True),
        (all_text("powerstatus", status="0"), lambda s: s.light(GUID).is_on(), False),
        (command(namespace="powerstatus", status=1.0), lambda s: s.light(GUID).is_on(), True),
        (all_text("heightlevelstatus", status="40"), lambda s: s.blind(GUID).height(), 40),
        (command(namespace="heightlevelstatus", status=40.0), lambda s: s.blind(GUID).height(), 40),
        (all_text("actualtemp", status="20.5"), lambda s: s.thermostat(GUID).temperature(), 20.5),
        (all_text("actualtemp", status="21"), lambda s: s.thermostat(GUID).temperature(), 21.0),
        (
            all_text("power", status="1"),
            lambda s: s.light(GUID).turn_on(feedback=True),
            CommandResult("power", GUID, 12, 1),
        ),
        (
            {"namespace": "system/sendKNXfloat2bytes", "group": "1/0/1", "value": "85.235"},
            lambda s: s.knx.send_float("1/0/1", 85.235),
            KnxResult("system/sendKNXfloat2bytes", "1/0/1", 85.235),
        ),
    ],
)
async def test_numbers_as_text_on_the_wire(body: dict[str, Any], call: Call, expected: Any) -> None:
    result = await answer(body, call)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.anyio
async def test_server_status_with_numbers_as_text_on_the_wire() -> None:
    status = await answer({**STATUS_BODY, "connected_clients": "4"}, lambda s: s.server_status())
    assert status.connected_clients == 4


@pytest.mark.anyio
@pytest.mark.parametrize(
    "content",
    [
        b'{"namespace": "power", "guid": "%s", "comm_obj": 12, "status": "on"}',
        b'{"namespace": "power", "guid": "%s", "comm_obj": 12, "status": NaN}',
        b'{"namespace": "power", "guid": "%s", "comm_obj": "12", "status": true, "error": null}',
        b'{"namespace": "power", "guid": "%s", "comm_obj": 12, "status": [1], "x": {"y": 1}}',
    ],
)
async def test_a_command_that_ran_is_never_an_error_for_its_status(content: bytes) -> None:
    raw = content.replace(b"%s", GUID.encode())
    result = await answer(raw, lambda s: s.light(GUID).turn_on(feedback=True))
    assert result == CommandResult("power", GUID, 12, None)
    assert "status" in result.raw


@pytest.mark.anyio
@pytest.mark.parametrize("status", ["on", True, [1]])
async def test_a_read_with_an_unreadable_status_is_a_protocol_error(status: Any) -> None:
    with pytest.raises(ProtocolError) as caught:
        await answer(
            command(namespace="powerstatus", status=status), lambda s: s.light(GUID).is_on()
        )
    assert str(caught.value).endswith("powerstatus reply has a 'status' that is not a number")
    assert caught.value.attempts == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "call"),
    [(0.5, lambda s: s.light(GUID).is_on()), ("40.5", lambda s: s.blind(GUID).height()),
     (2.0, lambda s: s.light(GUID).is_on()), ("101", lambda s: s.blind(GUID).height())],
)  # fmt: skip
async def test_a_read_never_rounds_its_status(status: Any, call: Call) -> None:
    with pytest.raises(ProtocolError):
        await answer(command(namespace="x", status=status), call)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [201, 202, 203])
async def test_other_2xx_on_the_wire(status: int) -> None:
    result = await answer(command(), lambda s: s.scene(GUID).launch(), status=status)
    assert result == CommandResult("power", GUID, 12)


@pytest.mark.anyio
async def test_the_escape_hatch_returns_the_body_as_sent() -> None:
    body = {"namespace": "fanspeed", "guid": GUID, "comm_obj": "3", "speed": "2"}
    assert await answer(body, lambda s: s.call("fanspeed", {"guid": GUID}), status=202) == body
