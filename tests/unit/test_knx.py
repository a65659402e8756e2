"""KNX group addresses: the 3-level and 2-level forms, their ranges, and garbage refused."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from thinknx_async import GroupAddress, Site, ValidationError

from ._support import make_site, quiet_session

THREE_LEVEL = re.compile(r"([0-9]{1,4})/([0-9]{1,4})/([0-9]{1,4})")
TWO_LEVEL = re.compile(r"([0-9]{1,4})/([0-9]{1,4})")


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("1/0/1", (1, 0, 1)),
        ("0/0/0", (0, 0, 0)),
        ("31/7/255", (31, 7, 255)),
        ("1/2047", (1, None, 2047)),
        ("31/0", (31, None, 0)),
        ("0/0", (0, None, 0)),
        ("1/0", (1, None, 0)),
    ],
)
def test_valid_addresses(text: str, parts: tuple[int, int | None, int]) -> None:
    address = GroupAddress.parse(text)
    assert (address.main, address.middle, address.sub) == parts
    assert str(address) == text
    assert GroupAddress.parse(address) is address


def test_leading_zeros_are_normalised() -> None:
    assert str(GroupAddress.parse("01/00/001")) == "1/0/1"


BAD = [
    "1/0/1&x=2", " 1/0/1", "1/0/1 ", "1 /0/1", "+1/0/1", "-1/0/1", "\uff11/0/1", "1/0/\uff11",
    "1/0/1/2", "1", "", "/", "1//1", "1/0/", "/0/1", "a/b/c", "1.0/0/1", "1/0/1\n",
    "32/0/0", "0/8/0", "0/0/256", "32/0", "0/2048", "00001/0/1", "1\\0\\1", "1/0/0x1",
    "1%2F0%2F1", "٣/0/1",
]  # fmt: skip


@pytest.mark.parametrize("text", BAD)
def test_garbage_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        GroupAddress.parse(text)


@pytest.mark.parametrize("text", [None, 101, 1.5, b"1/0/1", ("1", "0", "1")])
def test_non_strings_refused(text: Any) -> None:
    with pytest.raises(ValidationError):
        GroupAddress.parse(text)


@pytest.mark.parametrize(
    "parts",
    [(32, 0, 0), (-1, 0, 0), (0, 8, 0), (0, -1, 0), (0, 0, 256), (0, 0, -1), (0, None, 2048),
     (True, 0, 1), (1, 0, 1.0), (1, False, 1), (1, None, "1")],
)  # fmt: skip
def test_constructor_checks_every_part(parts: tuple[Any, Any, Any]) -> None:
    with pytest.raises(ValidationError):
        GroupAddress(*parts)


@given(st.integers(0, 31), st.integers(0, 7), st.integers(0, 255))
def test_every_three_level_address_round_trips(main: int, middle: int, sub: int) -> None:
    text = f"{main}/{middle}/{sub}"
    assert str(GroupAddress.parse(text)) == text


@given(st.integers(0, 31), st.integers(0, 2047))
def test_every_two_level_address_round_trips(main: int, sub: int) -> None:
    text = f"{main}/{sub}"
    assert str(GroupAddress.parse(text)) == text


@given(st.integers(), st.integers(), st.integers())
def test_three_level_out_of_range_refused(main: int, middle: int, sub: int) -> None:
    valid = 0 <= main <= 31 and 0 <= middle <= 7 and 0 <= sub <= 255
    text = f"{main}/{middle}/{sub}"
    if valid:
        assert str(GroupAddress.parse(text)) == text
    else:
        with pytest.raises(ValidationError):
            GroupAddress.parse(text)


@given(st.text(alphabet="0123456789/ +-&=\uff11\u0663\t.x", max_size=14))
def test_anything_parsed_is_a_valid_address(text: str) -> None:
    """Whatever is accepted has the plain ASCII form and is within range; nothing else is."""
    try:
        address = GroupAddress.parse(text)
    except ValidationError:
        three, two = THREE_LEVEL.fullmatch(text), TWO_LEVEL.fullmatch(text)
        if three:
            main, middle, sub = map(int, three.groups())
            assert not (main <= 31 and middle <= 7 and sub <= 255)
        elif two:
            main, sub = map(int, two.groups())
            assert not (main <= 31 and sub <= 2047)
        return
    assert text.isascii()
    assert THREE_LEVEL.fullmatch(text) or TWO_LEVEL.fullmatch(text)
    assert GroupAddress.parse(str(address)) == address


SENDS = {
    "bit": lambda s, g: s.knx.send_bit(g, 1),
    "byte": lambda s, g: s.knx.send_byte(g, 1),
    "float": lambda s, g: s.knx.send_float(g, 1.5),
}


@pytest.mark.anyio
@pytest.mark.parametrize("send", SENDS)
@pytest.mark.parametrize("group", [*BAD, None, 101])
async def test_bad_group_refused_before_sending(send: str, group: Any) -> None:
    async with quiet_session() as session:
        site: Site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            router.route().mock(return_value=httpx.Response(500))
            with pytest.raises(ValidationError):
                await SENDS[send](site, group)
            assert router.calls.call_count == 0


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("group", "sent"),
    [(GroupAddress(2, 3, 4), "2/3/4"), (GroupAddress(5, None, 1000), "5/1000"),
     ("1/2047", "1/2047"), ("07/1/1", "7/1/1")],
)  # fmt: skip
async def test_group_is_sent_in_its_plain_form(group: GroupAddress | str, sent: str) -> None:
    async with quiet_session() as session:
        site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True) as router:
            body = {"namespace": "system/sendKNXbyte", "group": sent, "value": 9}
            router.route().mock(return_value=httpx.Response(200, json=body))
            result = await site.knx.send_byte(group, 9)
            assert router.calls.last.request.url.query == f"group={sent}&value=9".encode()
    assert result.group == sent
    assert result.value == 9


@pytest.mark.anyio
@pytest.mark.parametrize("send", SENDS)
@pytest.mark.parametrize("group", ["0/0/0", "0/0", GroupAddress(0, 0, 0), "00/0/000"])
async def test_broadcast_needs_an_explicit_opt_in(send: str, group: Any) -> None:
    """0/0/0 reaches every device on the bus: refused unless allow_broadcast=True."""
    async with quiet_session() as session:
        site: Site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            router.route().mock(return_value=httpx.Response(500))
            with pytest.raises(ValidationError, match=r"broadcast.*allow_broadcast=True"):
                await SENDS[send](site, group)
            assert router.calls.call_count == 0


@pytest.mark.anyio
async def test_broadcast_is_sent_when_allowed() -> None:
    async with quiet_session() as session:
        site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True) as router:
            body = {"namespace": "system/sendKNXbit", "group": "0/0/0", "value": 1}
            router.route().mock(return_value=httpx.Response(200, json=body))
            result = await site.knx.send_bit("0/0/0", 1, allow_broadcast=True)
            assert router.calls.last.request.url.query == b"group=0/0/0&value=1"
    assert result.group == "0/0/0"


@pytest.mark.parametrize(
    ("text", "broadcast"),
    [("0/0/0", True), ("0/0", True), ("0/0/1", False), ("0/1/0", False), ("1/0/0", False),
     ("0/1", False)],
)  # fmt: skip
def test_is_broadcast(text: str, broadcast: bool) -> None:
    assert GroupAddress.parse(text).is_broadcast is broadcast


def test_addresses_are_hashable_values() -> None:
    assert GroupAddress.parse("1/0/1") == GroupAddress(1, 0, 1)
    assert len({GroupAddress.parse("1/0/1"), GroupAddress(1, 0, 1), GroupAddress(1, None, 1)}) == 2
