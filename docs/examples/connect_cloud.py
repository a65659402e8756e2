"""A server through the Thinknx cloud: the Integration Kit key is the only credential."""

import asyncio
import os

from thinknx_async import Session


async def main() -> None:
    # Keep the key out of the code: it opens the server to anyone who holds it.
    key = os.environ["THINKNX_KEY"]
    async with Session() as session:
        home = session.cloud(key, name="home")
        print(home)  # the name, never the key

        status = await home.server_status()
        print("firmware:", status.version)
        print("configuration deployed:", status.config_time)


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# <Site cloud 'home'>
# firmware: 03.02.01.07
# configuration deployed: 2024-01-15 08:30:00
