"""Every endpoint of section 5, by GET and POST, in-process and over real sockets."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import anyio
import httpx
import pytest

from thinknx_async.simulator import Project

from .conftest import Target

pytestmark = pytest.mark.anyio

FORM = {"content-type": "application/x-www-form-urlencoded"}


async def call(
    client: httpx.AsyncClient,
    base: str,
    controller: str,
    params: dict[str, Any],
    method: str = "GET",
    fb: str | None = None,
) -> httpx.Response:
    """Send params as a query (GET) or form body (POST); ``fb`` is appended raw (e.g. ``fb``)."""
    encoded = urlencode(params, safe="/")
    if fb is not None:
        encoded = f"{encoded}&{fb}" if encoded else fb
    url = f"{base}/{controller}"
    if method == "GET":
        return await client.get(f"{url}?{encoded}" if encoded else url)
    return await client.post(url, content=encoded.encode(), headers=FORM)


def devices(project: Project, kind: str, site: int = 0) -> list[str]:
    return project.sites[site].devices_by_kind()[kind]


# (controller, kind, params, value reported with fb or by a read)
COMMANDS: list[tuple[str, str, dict[str, Any], Any]] = [
    ("power", "light", {"cmd": 1}, 1),
    ("powerlevel", "light", {"cmd": 40}, 40),
    ("heightlevel", "blind", {"val": 50}, 50),
    ("blindangle", "blind", {"cmd": 30}, 30),
    ("setpoint", "thermostat", {"cmd": "20.5"}, 20.5),
    ("setpoint", "hvac", {"cmd": "23"}, 23),
    ("hvacpower", "hvac", {"cmd": 1}, 1),
]
NO_FEEDBACK: list[tuple[str, str, dict[str, Any]]] = [
    ("updown", "blind", {"cmd": 0}),
    ("updown", "blind", {"cmd": 1}),
    ("stop", "blind", {"cmd": 1}),
    ("scenelaunch", "scene", {"cmd": 1}),
    ("scenelaunch", "scene", {"cmd": 0}),
    ("trigger", "button", {"cmd": 1}),
    ("trigger", "button", {}),
]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("fb", [None, "fb", "fb="])
@pytest.mark.parametrize(("controller", "kind", "params", "status"), COMMANDS)
async def test_commands_with_and_without_feedback(
    target: Target,
    method: str,
    fb: str | None,
    controller: str,
    kind: str,
    params: dict[str, Any],
    status: Any,
) -> None:
    guid = devices(target.sim.project, kind)[0]
    async with target.client() as client:
        r = await call(client, target.site_url(), controller, {"guid": guid, **params}, method, fb)
    assert r.status_code == 200
    body = r.json()
    expected: dict[str, Any] = {"namespace": controller, "guid": guid}
    if fb is not None:
        expected["status"] = status
    comm_obj = body.pop("comm_obj")
    assert isinstance(comm_obj, int)
    assert body == expected
    assert list(r.json())[-1] == "comm_obj"
    assert b" " not in r.content
    assert target.sim.counters.executed(guid, controller) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(("controller", "kind", "params"), NO_FEEDBACK)
async def test_commands_without_status(
    target: Target, method: str, controller: str, kind: str, params: dict[str, Any]
) -> None:
    guid = devices(target.sim.project, kind)[0]
    async with target.client() as client:
        r = await call(
            client, target.site_url(), controller, {"guid": guid, **params}, method, "fb"
        )
    assert r.status_code == 200
    assert set(r.json()) == {"namespace", "guid", "comm_obj"}
    assert target.sim.counters.executed(guid, controller) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_reads_reflect_commands(target: Target, method: str) -> None:
    p = target.sim.project
    light, blind, thermostat = (devices(p, k)[0] for k in ("light", "blind", "thermostat"))
    base = target.site_url()
    async with target.client() as client:

        async def status(controller: str, guid: str) -> Any:
            r = await call(client, base, controller, {"guid": guid}, method)
            assert r.status_code == 200
            assert list(r.json()) == ["namespace", "guid", "status", "comm_obj"]
            assert r.json()["namespace"] == controller
            return r.json()["status"]

        assert await status("powerstatus", light) == 0
        await call(client, base, "powerlevel", {"guid": light, "cmd": 60}, method)
        assert await status("powerstatus", light) == 1
        await call(client, base, "powerlevel", {"guid": light, "cmd": 0}, method)
        assert await status("powerstatus", light) == 0
        r = await call(client, base, "power", {"guid": light, "cmd": 1}, method, "fb")
        assert r.json()["status"] == 1
        assert target.sim.device_state(light)["level"] == 60  # the last level comes back
        await call(client, base, "heightlevel", {"guid": blind, "val": 75}, method)
        assert await status("heightlevelstatus", blind) == 75
        await call(client, base, "updown", {"guid": blind, "cmd": 0}, method)  # 0 = UP
        assert await status("heightlevelstatus", blind) == 0
        await call(client, base, "updown", {"guid": blind, "cmd": 1}, method)  # 1 = DOWN
        assert await status("heightlevelstatus", blind) == 100
        site = target.sim.project.sites[0]
        temperature = next(d.temperature for d in site.devices if d.guid == thermostat)
        assert await status("actualtemp", thermostat) == temperature


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_knx_telegrams(target: Target, method: str) -> None:
    base = target.site_url()
    cases = [
        ("system/sendKNXbit", "1/0/1", "1", 1),
        ("system/sendKNXbyte", "1/2/255", "200", 200),
        ("system/sendKNXfloat2bytes", "31/7/3", "85.235", 85.235),
        ("system/sendKNXfloat2bytes", "2/2047", "-671088.64", -671088.64),
    ]
    async with target.client() as client:
        for controller, group, value, number in cases:
            r = await call(client, base, controller, {"group": group, "value": value}, method)
            assert r.status_code == 200
            assert r.json() == {"namespace": controller, "group": group, "value": number}
            assert target.sim.counters.knx(group, controller) == 1
    assert target.sim.knx_value("site-1", "1/2/255") == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_server_status(target: Target, method: str) -> None:
    async with target.client() as client:
        r = await call(client, target.site_url(1), "system/serverStatus", {}, method)
    assert r.status_code == 200
    body = r.json()
    assert list(body) == [
        "namespace",
        "version",
        "process_uptime",
        "server_uptime",
        "config_time",
        "connected_clients",
        "pbx_users",
    ]
    assert body["namespace"] == "system/serverStatus"
    assert [len(part) for part in body["version"].split(".")] == [2, 2, 2, 2]
    assert body["process_uptime"] == "0 days 0 hours 0 min"
    words = body["server_uptime"].split()
    assert words[1::2] == ["days", "hours", "min"]
    assert all(w.isdigit() for w in words[0::2])
    time_part, date_part = body["config_time"].split()
    assert len(time_part) == 8
    assert len(date_part) == 10
    assert isinstance(body["connected_clients"], int)
    if target.mode == "socket":
        assert body["connected_clients"] >= 1
    assert body["pbx_users"] == "100"


BAD_PARAMS: list[tuple[str, str, dict[str, Any]]] = [
    ("power", "light", {"cmd": 2}),
    ("power", "light", {"cmd": "-1"}),
    ("power", "light", {"cmd": "1.0"}),
    ("power", "light", {}),
    ("powerlevel", "light", {"cmd": 101}),
    ("powerlevel", "light", {"cmd": "abc"}),
    ("updown", "blind", {"cmd": 2}),
    ("stop", "blind", {"cmd": 0}),
    ("stop", "blind", {}),
    ("heightlevel", "blind", {"cmd": 50}),  # the value is ``val``
    ("heightlevel", "blind", {"val": 101}),
    ("blindangle", "blind", {"cmd": 300}),
    ("setpoint", "thermostat", {"cmd": "1e-05"}),
    ("setpoint", "thermostat", {"cmd": "20,5"}),
    ("setpoint", "thermostat", {"cmd": "nan"}),
    ("setpoint", "thermostat", {"cmd": "+20"}),
    ("setpoint", "thermostat", {"cmd": ""}),
    ("hvacpower", "hvac", {"cmd": 3}),
    ("scenelaunch", "scene", {"cmd": 2}),
    ("trigger", "button", {"cmd": 2}),
]


@pytest.mark.parametrize(("controller", "kind", "params"), BAD_PARAMS)
async def test_params_errors(
    target: Target, controller: str, kind: str, params: dict[str, Any]
) -> None:
    guid = devices(target.sim.project, kind)[0]
    async with target.client() as client:
        for method in ("GET", "POST"):
            r = await call(client, target.site_url(), controller, {"guid": guid, **params}, method)
            assert r.status_code == 400
            assert r.json() == {"error": "params errors"}
    assert target.sim.counters.executed(guid) == 0


@pytest.mark.parametrize(
    ("controller", "params"),
    [
        ("system/sendKNXbit", {"group": "1/0/1", "value": 2}),
        ("system/sendKNXbit", {"group": "32/0/1", "value": 1}),
        ("system/sendKNXbit", {"group": "1/8/1", "value": 1}),
        ("system/sendKNXbit", {"group": "1/0/256", "value": 1}),
        ("system/sendKNXbit", {"group": "1/2048", "value": 1}),
        ("system/sendKNXbit", {"group": "1.0.1", "value": 1}),
        ("system/sendKNXbit", {"group": "1/0/1/1", "value": 1}),
        ("system/sendKNXbit", {"value": 1}),
        ("system/sendKNXbyte", {"group": "1/0/1", "value": 256}),
        ("system/sendKNXbyte", {"group": "1/0/1"}),
        ("system/sendKNXfloat2bytes", {"group": "1/0/1", "value": "670760.97"}),
        ("system/sendKNXfloat2bytes", {"group": "1/0/1", "value": "1e-05"}),
        ("system/sendKNXfloat2bytes", {"group": "1/0/1", "value": "inf"}),
    ],
)
async def test_knx_params_errors(target: Target, controller: str, params: dict[str, Any]) -> None:
    async with target.client() as client:
        r = await call(client, target.site_url(), controller, params)
    assert r.status_code == 400
    assert r.json() == {"error": "params errors"}
    assert target.sim.counters.total_executed() == 0


@pytest.mark.parametrize(
    ("controller", "kind"),
    [
        ("heightlevel", "light"),
        ("power", "blind"),
        ("powerstatus", "hvac"),
        ("actualtemp", "hvac"),
        ("setpoint", "light"),
        ("hvacpower", "thermostat"),
        ("scenelaunch", "button"),
        ("trigger", "scene"),
        ("heightlevelstatus", "thermostat"),
    ],
)
async def test_impossible_to_execute(target: Target, controller: str, kind: str) -> None:
    guid = devices(target.sim.project, kind)[0]
    async with target.client() as client:
        params = {"guid": guid, "cmd": 1, "val": 1}
        r = await call(client, target.site_url(), controller, params)
    assert r.status_code == 400
    assert r.json() == {"error": "impossible to execute"}
    assert target.sim.counters.executed(guid) == 0


async def test_not_found_and_forbidden(target: Target) -> None:
    other_site_light = devices(target.sim.project, "light", site=1)[0]
    async with target.client() as client:
        for url, status, error in [
            (
                f"{target.site_url()}/power?guid=AAAAAAAAAAAAAAAAAAAAAA&cmd=1",
                404,
                "device not found",
            ),
            (f"{target.site_url()}/power?guid={other_site_light}&cmd=1", 404, "device not found"),
            (
                f"{target.site_url()}/fanspeed?guid={other_site_light}&cmd=1",
                404,
                "device not found",
            ),
            (f"{target.site_url()}/system/reboot", 404, "device not found"),
            (f"{target.relay}/WrongKey123/api/V1/system/serverStatus", 403, None),
            (f"{target.relay}/api/V1/system/serverStatus", 403, None),
        ]:
            r = await client.get(url)
            assert r.status_code == status, url
            if error:
                assert r.json() == {"error": error}
            else:
                assert r.json() == {"error": "wrong authentication information"}


async def test_post_requires_form_content_type(target: Target) -> None:
    guid = devices(target.sim.project, "light")[0]
    async with target.client() as client:
        url = f"{target.site_url()}/power"
        r = await client.post(url, content=f"guid={guid}&cmd=1".encode())
        assert (r.status_code, r.json()) == (400, {"error": "params errors"})
        r = await client.post(url, json={"guid": guid, "cmd": 1})
        assert (r.status_code, r.json()) == (400, {"error": "params errors"})
        r = await client.post(url, data={"guid": guid, "cmd": "1"})  # httpx sets the form type
        assert r.status_code == 200
        r = await client.put(url, data={"guid": guid, "cmd": "1"})
        assert r.status_code == 405
    assert target.sim.counters.executed(guid, "power") == 1


async def test_query_and_body_params_combine(target: Target) -> None:
    guid = devices(target.sim.project, "light")[0]
    async with target.client() as client:
        r = await client.post(
            f"{target.site_url()}/powerlevel?guid={guid}", content=b"cmd=25&fb", headers=FORM
        )
    assert r.json()["status"] == 25


async def test_lowercase_api_version_accepted(target: Target) -> None:
    key = target.sim.project.sites[0].key
    async with target.client() as client:
        r = await client.get(f"{target.relay}/{key}/api/v1/system/serverStatus")
    assert r.status_code == 200


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_in_process_under_both_backends(sim: Any, anyio_backend: str) -> None:
    from .conftest import asgi_client

    light = devices(sim.project, "light")[0]
    key = sim.project.sites[0].key
    async with asgi_client(sim) as client:
        r = await client.get(f"/{key}/api/V1/power?guid={light}&cmd=1&fb")
        assert r.json()["status"] == 1
        scene = devices(sim.project, "scene")[0]
        r = await client.get(f"/{key}/api/V1/scenelaunch?guid={scene}&cmd=1")
        assert r.status_code == 200


async def test_feedback_delay_and_blind_travel(project: Project) -> None:
    from thinknx_async.simulator import Simulator, SimulatorConfig

    from .conftest import asgi_client

    config = SimulatorConfig(feedback_delay=0.1, blind_travel_time=1.0, uptime_language="it")
    sim = Simulator(project, config)
    key = project.sites[0].key
    blind = devices(project, "blind")[0]
    async with asgi_client(sim) as client:
        start = anyio.current_time()
        r = await client.get(f"/{key}/api/V1/heightlevel?guid={blind}&val=100")
        assert anyio.current_time() - start < 0.1
        start = anyio.current_time()
        r = await client.get(f"/{key}/api/V1/blindangle?guid={blind}&cmd=10&fb")
        assert anyio.current_time() - start >= 0.1
        # The feedback is read after the delay: the blind has travelled about 10 %.
        r = await client.get(f"/{key}/api/V1/heightlevel?guid={blind}&val=100&fb")
        assert 5 <= r.json()["status"] <= 60
        assert sim.device_state(blind)["moving"] is True
        r = await client.get(f"/{key}/api/V1/system/serverStatus")
        assert r.json()["process_uptime"] == "0 giorni 0 ore 0 min"
