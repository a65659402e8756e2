"""Every device proxy and every method, on one house."""

import asyncio
import os

from thinknx_async import Session

KITCHEN_LIGHT = "1IzPszHWAEuvzxtXBMkzWQ"
LIVING_ROOM_BLIND = "3BlNdLvNgRmWnDw0Sth4Ea"
BEDROOM_THERMOSTAT = "5ThRmStAtBdRm01xQ9zPkw"
OFFICE_HVAC = "8HvAcOfFiCeUnIt2LmNq7Y"
EVENING_SCENE = "9EvEnInGsCeNe_kT3rX6pZ"
GATE_BUTTON = "2DoOrBeLlBuTtOn-fW8uJc"


async def main() -> None:
    async with Session() as session:
        home = session.local(
            os.environ.get("THINKNX_HOST", "192.168.1.10"),
            port=int(os.environ.get("THINKNX_PORT", "5051")),
            username=os.environ["THINKNX_USER"],
            password=os.environ["THINKNX_PASSWORD"],
        )

        light = home.light(KITCHEN_LIGHT)
        await light.turn_on()  # power?cmd=1
        await light.turn_off()  # power?cmd=0
        dimmed = await light.set_level(75, feedback=True)  # powerlevel?cmd=75&fb
        print("light:", dimmed.status, await light.is_on())  # powerstatus

        blind = home.blind(LIVING_ROOM_BLIND)
        await blind.down()  # updown?cmd=1
        await blind.stop()  # stop?cmd=1
        await blind.up()  # updown?cmd=0
        await blind.set_height(30, feedback=True)  # heightlevel?val=30&fb
        await blind.set_angle(50)  # blindangle?cmd=50
        print("blind height:", await blind.height())  # heightlevelstatus

        thermostat = home.thermostat(BEDROOM_THERMOSTAT)
        setpoint = await thermostat.set_setpoint(21.5, feedback=True)  # setpoint?cmd=21.5&fb
        print("thermostat:", await thermostat.temperature(), "->", setpoint.status)  # actualtemp

        hvac = home.hvac(OFFICE_HVAC)
        print("hvac on:", (await hvac.turn_on(feedback=True)).status)  # hvacpower?cmd=1&fb
        await hvac.turn_off()  # hvacpower?cmd=0

        scene = home.scene(EVENING_SCENE)
        await scene.launch()  # scenelaunch?cmd=1: kitchen at 40 %, blind down
        print("after the scene:", await light.is_on(), await blind.height())
        await scene.stop()  # scenelaunch?cmd=0: drops the steps not yet run

        await home.button(GATE_BUTTON).trigger()  # trigger?cmd=1
        print("gate opened")


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# light: 75 True
# blind height: 30
# thermostat: 19.5 -> 21.5
# hvac on: 1
# after the scene: True 100
# gate opened
