"""A controller the spec names without a URL, declared from the server's own page.

The server's *Server -> Integration Kit* page lists every object's commands and their URLs.
Suppose it shows ``/api/V1/fanspeed?guid=...&cmd=[0-100]`` for an HVAC unit: one declaration
makes that a validated, throttled, retried call. Here a simulator stands in for the server,
told about the same controller.
"""

import asyncio

from thinknx_async import Session, ValidationError
from thinknx_async.controllers import declare
from thinknx_async.knx import PERCENT
from thinknx_async.simulator import Device, Project, Simulator, SimulatorConfig, SimulatorThread
from thinknx_async.simulator import Site as SimulatedSite
from thinknx_async.simulator.controllers import extra

LIVING_ROOM_HVAC = "7HvAcLvNgRm01xQ9zPkwAb"

# Copied from the server's page: the name, the device kind, the parameter and its values.
FAN_SPEED = declare("fanspeed", "hvac", PERCENT, param="cmd", help="set the fan speed")


async def main(relay_url: str) -> None:
    async with Session() as session:
        home = session.on_premise(relay_url, "HomeKey0001", allow_insecure=True, name="home")
        unit = home.hvac(LIVING_ROOM_HVAC)

        result = await unit.command(FAN_SPEED, 60)
        print(result.namespace, result.guid)

        try:
            await unit.command(FAN_SPEED, 140)  # refused before anything is sent
        except ValidationError as error:
            print("refused:", error)


if __name__ == "__main__":
    house = SimulatedSite("home", "HomeKey0001", "service", "pw",
                          devices=(Device(LIVING_ROOM_HVAC, "hvac"),))  # fmt: skip
    config = SimulatorConfig(local_ports=0, controllers=(extra("fanspeed", "hvac", high=100),))
    with SimulatorThread(Simulator(Project((house,)), config)) as server:
        asyncio.run(main(server.relay_url))
        print("fan speed now:", server.sim.device_state(LIVING_ROOM_HVAC)["fanspeed"])

# Output:
# fanspeed 7HvAcLvNgRm01xQ9zPkwAb
# refused: fanspeed cmd must be an integer 0..100, got 140
# fan speed now: 60
