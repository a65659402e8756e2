"""Keys and passwords stay out of reprs, messages and log lines."""

import asyncio
import logging
import os

from thinknx_async import DeviceNotFoundError, Session

# Everything the library, httpx and httpcore log, down to DEBUG: no key in any of it.
logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")


async def main() -> None:
    async with Session() as session:
        site = session.cloud(os.environ["THINKNX_KEY"])
        print(site)  # <Site https://data.thinknx.eu/***/api/V1/>
        try:
            await site.light("NoSuchDevice0000000000").turn_on()
        except DeviceNotFoundError as error:
            print(error)  # names the site by its masked URL


if __name__ == "__main__":
    asyncio.run(main())
