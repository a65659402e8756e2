"""Reply models: ServerStatus parsing (English and Italian), and the strict command replies."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from thinknx_async import CommandResult, KnxResult, ProtocolError, ServerStatus
from thinknx_async.models import parse_uptime, structure, structure_server_status

from ._support import make_site, quiet_session

BODY: dict[str, Any] = {
    "namespace": "system/serverStatus",
    "version": "02.01.07.13",
    "process_uptime": "2 days 3 hours 4 min",
    "server_uptime": "15 giorni 22 ore 59 min",
    "config_time": "14:03:22 2024-05-17",
    "connected_clients": 4,
    "pbx_users": "101,102, 205",
}


@pytest.mark.anyio
async def test_server_status_from_the_wire() -> None:
    async with quiet_session() as session:
        site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(return_value=httpx.Response(200, json={**BODY, "serial": "X1"}))
            status = await site.server_status()
    assert status == ServerStatus(
        namespace="system/serverStatus",
        version="02.01.07.13",
        process_uptime=timedelta(days=2, hours=3, minutes=4),
        server_uptime=timedelta(days=15, hours=22, minutes=59),
        config_time=datetime(2024, 5, 17, 14, 3, 22),
        connected_clients=4,
        pbx_users=("101", "102", "205"),
        process_uptime_text="2 days 3 hours 4 min",
        server_uptime_text="15 giorni 22 ore 59 min",
        config_time_text="14:03:22 2024-05-17",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0 days 0 hours 0 min", timedelta(0)),
        ("1 day 1 hour 1 min", timedelta(days=1, hours=1, minutes=1)),
        ("1 giorno 1 ora 1 minuto", timedelta(days=1, hours=1, minutes=1)),
        ("3 giorni 4 ore 5 min", timedelta(days=3, hours=4, minutes=5)),
        ("3 Days 4 Hours 5 Min", timedelta(days=3, hours=4, minutes=5)),
        ("3 days, 4 hours, 5 min.", timedelta(days=3, hours=4, minutes=5)),
        ("12 min", timedelta(minutes=12)),
        ("5 hours 30 sec", timedelta(hours=5, seconds=30)),
        ("2d 3h 4m", timedelta(days=2, hours=3, minutes=4)),
        ("  7 days  ", timedelta(days=7)),
        ("400 days 0 hours 0 min", timedelta(days=400)),
    ],
)
def test_uptime_parsing(text: str, expected: timedelta) -> None:
    assert parse_uptime(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "forever", "3 weeks", "3", "days 3", "3 days and 4 hours", "-1 days", "3 days x"],
)
def test_unknown_uptime_forms_give_none(text: str) -> None:
    assert parse_uptime(text) is None


def test_unknown_forms_keep_the_raw_text() -> None:
    body = {**BODY, "process_uptime": "up a while", "server_uptime": "", "config_time": "soon"}
    status = structure_server_status(body)
    assert status.process_uptime is None
    assert status.process_uptime_text == "up a while"
    assert status.server_uptime is None
    assert status.server_uptime_text == ""
    assert status.config_time is None
    assert status.config_time_text == "soon"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:00 2000-01-01", datetime(2000, 1, 1)),
        ("23:59:59 2024-12-31", datetime(2024, 12, 31, 23, 59, 59)),
        ("2024-12-31 23:59:59", datetime(2024, 12, 31, 23, 59, 59)),
        (" 08:15:00 2023-02-28 ", datetime(2023, 2, 28, 8, 15)),
    ],
)
def test_config_time(text: str, expected: datetime) -> None:
    assert structure_server_status({**BODY, "config_time": text}).config_time == expected


@pytest.mark.parametrize("text", ["25:00:00 2024-01-01", "10:00:00 2024-02-30", "2024", ""])
def test_impossible_config_time_gives_none(text: str) -> None:
    status = structure_server_status({**BODY, "config_time": text})
    assert status.config_time is None
    assert status.config_time_text == text


@pytest.mark.parametrize(
    ("users", "expected"),
    [
        ("", ()),
        ("101", ("101",)),
        ("101,102", ("101", "102")),
        (" 101 , 102 ,, ", ("101", "102")),
        (["101", 102], ("101", "102")),
        ([], ()),
    ],
)
def test_pbx_users(users: Any, expected: tuple[str, ...]) -> None:
    assert structure_server_status({**BODY, "pbx_users": users}).pbx_users == expected


def test_missing_pbx_users_is_empty() -> None:
    body = {k: v for k, v in BODY.items() if k != "pbx_users"}
    assert structure_server_status(body).pbx_users == ()


@pytest.mark.parametrize(("clients", "expected"), [("7", 7), (7.0, 7), ("7.0", 7), ("0", 0)])
def test_connected_clients_in_other_forms(clients: Any, expected: int) -> None:
    status = structure_server_status({**BODY, "connected_clients": clients})
    assert status.connected_clients == expected
    assert type(status.connected_clients) is int
    assert status.raw["connected_clients"] == clients


def test_unknown_fields_tolerated() -> None:
    status = structure_server_status({**BODY, "cpu": 12.5, "serial": None, "nested": {"a": 1}})
    assert status.version == "02.01.07.13"


@pytest.mark.parametrize(
    "change",
    [
        {"version": None},
        {"version": 2},
        {"namespace": None},
        {"process_uptime": 5},
        {"server_uptime": None},
        {"config_time": 1700000000},
        {"connected_clients": None},
        {"connected_clients": 4.5},
        {"connected_clients": "4.5"},
        {"connected_clients": True},
        {"connected_clients": "-1"},
        {"connected_clients": "four"},
        {"pbx_users": 101},
        {"pbx_users": {"a": 1}},
        {"pbx_users": [None]},
        {"pbx_users": None},
    ],
)
def test_server_status_broken_fields(change: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as caught:
        structure_server_status({**BODY, **change})
    assert caught.value.attempts == 1


@pytest.mark.parametrize("field", ["namespace", "version", "process_uptime", "connected_clients"])
def test_server_status_missing_fields(field: str) -> None:
    body = {k: v for k, v in BODY.items() if k != field}
    with pytest.raises(ProtocolError):
        structure_server_status(body)


@pytest.mark.parametrize("data", [[], "x", None, 3])
def test_server_status_not_an_object(data: Any) -> None:
    with pytest.raises(ProtocolError):
        structure_server_status(data)


def test_command_result_from_json() -> None:
    body = {"namespace": "power", "guid": "g", "comm_obj": 3, "status": 1, "unknown": [1]}
    assert structure(body, CommandResult, what="r") == CommandResult("power", "g", 3, 1)
    body = {"namespace": "actualtemp", "guid": "g", "comm_obj": 3, "status": 21.5}
    assert structure(body, CommandResult, what="r").status == 21.5
    body = {"namespace": "power", "guid": "g", "comm_obj": 3, "status": None}
    assert structure(body, CommandResult, what="r").status is None


def test_knx_result_from_json() -> None:
    body = {"namespace": "system/sendKNXfloat2bytes", "group": "1/0/1", "value": 85.235}
    assert structure(body, KnxResult, what="r") == KnxResult(
        "system/sendKNXfloat2bytes", "1/0/1", 85.235
    )


@pytest.mark.parametrize(
    "body",
    [
        {"namespace": "power", "guid": "g"},
        {"namespace": "power", "guid": "g", "comm_obj": "3.5"},
        {"namespace": "power", "guid": "g", "comm_obj": 3.5},
        {"namespace": "power", "guid": "g", "comm_obj": False},
        {"namespace": "power", "guid": None, "comm_obj": 3},
        {"namespace": "power", "guid": "g", "comm_obj": " 3"},
        {"namespace": "power", "guid": "g", "comm_obj": "three"},
        [],
        "power",
    ],
)
def test_command_result_broken(body: Any) -> None:
    with pytest.raises(ProtocolError) as caught:
        structure(body, CommandResult, what="power reply")
    assert str(caught.value).startswith("power reply: ")
    assert not isinstance(caught.value, KeyError | TypeError)


def test_broken_reply_message_names_the_field() -> None:
    with pytest.raises(ProtocolError) as caught:
        structure({"namespace": "power", "guid": "g"}, CommandResult, what="power reply")
    assert "comm_obj" in str(caught.value)


def test_models_are_frozen_and_hashable() -> None:
    result = CommandResult("power", "g", 3, 1)
    assert hash(result) == hash(CommandResult("power", "g", 3, 1))
    with pytest.raises(AttributeError):
        result.status = 0  # type: ignore[misc]
    assert hash(structure_server_status(BODY)) == hash(structure_server_status(dict(BODY)))
