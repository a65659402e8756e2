"""The ready-made declarations, driven over sockets against a simulator told about them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from thinknx_async import Session, Site, ValidationError
from thinknx_async.controllers import READY_MADE, declare
from thinknx_async.knx import choice
from thinknx_async.simulator import Device, Project, Simulator, SimulatorConfig, SimulatorThread
from thinknx_async.simulator import Site as SimSite
from thinknx_async.simulator.controllers import extra

THERMOSTAT, HVAC, ANALOG = (
    "Thermostat000000000001",
    "Hvac000000000000000001",
    "Analog0000000000000001",
)
#: What the server's page would show for each ready-made declaration, told to the simulator.
SERVER_SIDE = (
    extra("modality", "thermostat", high=4),
    extra("modalitystatus", "thermostat", read=True, state="modality"),
    extra("chronotable", "thermostat"),
    extra("hvacsetpoint", "hvac", decimal=True, feedback=True),
    extra("hvacmodality", "hvac", high=4),
    extra("fanspeed", "hvac", high=100),
    extra("value", "analog", decimal=True),
)


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorThread]:
    devices = (Device(THERMOSTAT, "thermostat"), Device(HVAC, "hvac"), Device(ANALOG, "analog"))
    project = Project((SimSite("house", "HouseKey1", "service", "pw", devices=devices),))
    config = SimulatorConfig(local_ports=0, controllers=SERVER_SIDE)
    with SimulatorThread(Simulator(project, config)) as running:
        yield running


@pytest.fixture
def sim(server: SimulatorThread) -> Simulator:
    server.sim.reset()
    return server.sim


def house(session: Session, server: SimulatorThread) -> Site:
    return session.on_premise(server.relay_url, "HouseKey1", allow_insecure=True)


CASES: list[tuple[str, str, Any, float]] = [
    ("thermostat_modality", THERMOSTAT, 3, 3),
    ("thermostat_chronotable", THERMOSTAT, 1, 1),
    ("hvac_setpoint", HVAC, Decimal("22.5"), 22.5),
    ("hvac_modality", HVAC, 2, 2),
    ("hvac_fanspeed", HVAC, 60, 60),
    ("analog_value", ANALOG, 12.25, 12.25),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("key", "guid", "value", "state"), CASES, ids=[c[0] for c in CASES])
async def test_each_ready_made_declaration_drives_the_server(
    server: SimulatorThread, sim: Simulator, key: str, guid: str, value: Any, state: float
) -> None:
    controller = READY_MADE[key]
    async with Session() as session:
        site = house(session, server)
        device = site.device(controller.kind, guid)
        result = await device.command(controller, value)
    assert result.guid == guid and result.namespace == controller.name
    assert sim.device_state(guid)[controller.name] == state
    assert sim.counters.total_executed() == 1


@pytest.mark.anyio
async def test_feedback_and_a_declared_read(server: SimulatorThread, sim: Simulator) -> None:
    mode_status = declare("modalitystatus", "thermostat", choice(0, 1, 2, 3, 4), read=True)
    async with Session() as session:
        site = house(session, server)
        result = await site.hvac(HVAC).command(READY_MADE["hvac_setpoint"], 19.5, feedback=True)
        assert result.status == 19.5
        await site.thermostat(THERMOSTAT).command(READY_MADE["thermostat_modality"], 4)
        assert await site.thermostat(THERMOSTAT).read(mode_status) == 4


@pytest.mark.anyio
async def test_a_value_outside_the_rule_is_never_sent(
    server: SimulatorThread, sim: Simulator
) -> None:
    async with Session() as session:
        site = house(session, server)
        with pytest.raises(ValidationError):
            await site.hvac(HVAC).command(READY_MADE["hvac_fanspeed"], 101)
        with pytest.raises(ValidationError):
            await site.analog(ANALOG).command(READY_MADE["analog_value"], float("nan"))
    assert sim.counters.total_executed() == 0
