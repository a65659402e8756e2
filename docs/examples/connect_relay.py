"""Servers behind your own on-premise relay, over HTTPS with the relay's own CA."""

import asyncio
import os

from thinknx_async import Session

RELAY = os.environ.get("THINKNX_RELAY_URL", "https://relay.example.com")
# The CA that signed the relay's certificate, when it is not a public one.
CA_FILE = os.environ.get("THINKNX_CA_FILE")
LIVING_ROOM_BLIND = "3BlNdLvNgRmWnDw0Sth4Ea"


async def main() -> None:
    async with Session(verify=CA_FILE or True) as session:
        home = session.on_premise(RELAY, os.environ["THINKNX_KEY"], name="home")
        blind = home.blind(LIVING_ROOM_BLIND)
        await blind.down()  # the API's "1": down
        print("blind height:", await blind.height())
        await blind.up()
        print("blind height:", await blind.height())


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# blind height: 100
# blind height: 0
