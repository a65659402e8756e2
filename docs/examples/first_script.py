"""Your first script: dim a light, move a blind, read a thermostat and the server."""

import asyncio
import os

from thinknx_async import Session

# GUIDs are listed on the server's web pages, under Server -> Integration Kit.
KITCHEN_LIGHT = "1IzPszHWAEuvzxtXBMkzWQ"
LIVING_ROOM_BLIND = "3BlNdLvNgRmWnDw0Sth4Ea"
BEDROOM_THERMOSTAT = "5ThRmStAtBdRm01xQ9zPkw"


async def main() -> None:
    async with Session() as session:
        home = session.local(
            os.environ.get("THINKNX_HOST", "192.168.1.10"),
            port=int(os.environ.get("THINKNX_PORT", "5051")),
            username=os.environ["THINKNX_USER"],
            password=os.environ["THINKNX_PASSWORD"],
        )

        light = home.light(KITCHEN_LIGHT)
        result = await light.set_level(60, feedback=True)  # waits for the dimmer's new state
        print("kitchen light level:", result.status)
        print("kitchen light on:", await light.is_on())

        blind = home.blind(LIVING_ROOM_BLIND)
        await blind.set_height(40)
        print("blind height:", await blind.height())

        thermostat = home.thermostat(BEDROOM_THERMOSTAT)
        print("bedroom temperature:", await thermostat.temperature())

        status = await home.server_status()
        print("server firmware:", status.version)


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# kitchen light level: 60
# kitchen light on: True
# blind height: 40
# bedroom temperature: 19.5
# server firmware: 03.02.01.07
