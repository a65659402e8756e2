"""Every endpoint, in every access mode, against the simulator over real sockets."""

from __future__ import annotations

from typing import Any

import pytest

from thinknx_async import CommandResult, KnxResult, RetryPolicy, ServerStatus, Session, Site
from thinknx_async.simulator import Simulator, SimulatorThread

from ..conftest import Transport
from .conftest import MODES, ca_context, first_site, open_site


async def drive_every_endpoint(site: Site, entry: dict[str, Any], sim: Simulator) -> None:
    devices = entry["devices"]
    light = site.light(devices["light"][0])
    before = sim.counters.executed(light.guid, "power")
    assert isinstance(await light.turn_off(), CommandResult)
    assert await light.is_on() is False
    on = await light.turn_on(feedback=True)
    assert on.status == 1 and on.guid == light.guid and on.namespace == "power"
    assert await light.is_on() is True
    assert sim.counters.executed(light.guid, "power") == before + 2
    assert (await light.set_level(35, feedback=True)).status == 35

    blind = site.blind(devices["blind"][0])
    await blind.down()
    assert await blind.height() == 100  # the API's 1 is down
    await blind.up()
    assert await blind.height() == 0
    await blind.stop()
    assert (await blind.set_height(40, feedback=True)).status == 40
    assert await blind.height() == 40
    assert (await blind.set_angle(70, feedback=True)).status == 70

    thermostat = site.thermostat(devices["thermostat"][0])
    assert isinstance(await thermostat.temperature(), float)
    assert (await thermostat.set_setpoint(20.5, feedback=True)).status == 20.5

    hvac = site.hvac(devices["hvac"][0])
    assert (await hvac.turn_on(feedback=True)).status == 1
    assert (await hvac.turn_off(feedback=True)).status == 0

    scene = site.scene(devices["scene"][0])
    launches = sim.counters.executed(scene.guid, "scenelaunch")
    await scene.launch()
    await scene.stop()
    assert sim.counters.executed(scene.guid, "scenelaunch") == launches + 2

    button = site.button(devices["button"][0])
    await button.trigger()

    group = entry["groups"][0]
    bit = await site.knx.send_bit(group, 1)
    assert isinstance(bit, KnxResult) and bit.group == group and bit.value == 1
    assert (await site.knx.send_byte(group, 30)).value == 30
    assert (await site.knx.send_float(group, 85.235)).value == 85.235

    status = await site.server_status()
    assert isinstance(status, ServerStatus)
    assert status.process_uptime is not None and status.server_uptime is not None
    assert status.config_time is not None

    raw = await site.call("powerstatus", {"guid": light.guid})
    assert raw["status"] in (1, "1")  # call() returns the body as sent: a number, or its text


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_every_endpoint_in_every_mode(
    mode: str,
    method: str,
    transport: Transport,
    plain_server: tuple[Simulator, SimulatorThread],
    tls_server: tuple[Simulator, SimulatorThread],
) -> None:
    sim, server = tls_server if mode == "relay-https" else plain_server
    verify = ca_context(server) if mode == "relay-https" else True
    async with Session(
        rate_limit=None,
        verify=verify,
        method=method,  # type: ignore[arg-type]
        retry=RetryPolicy(max_attempts=1),
        transport=transport,
    ) as session:
        site = open_site(session, server, mode)
        await drive_every_endpoint(site, first_site(server), sim)
