"""Send the parameters in a form body (POST) instead of the query string."""

import asyncio
import os

from thinknx_async import Session

HOST = os.environ.get("THINKNX_HOST", "192.168.1.10")
PORT = int(os.environ.get("THINKNX_PORT", "5051"))
USER = os.environ["THINKNX_USER"]
PASSWORD = os.environ["THINKNX_PASSWORD"]
KITCHEN_LIGHT = "1IzPszHWAEuvzxtXBMkzWQ"


async def main() -> None:
    async with Session(method="POST") as session:  # every site of this session posts...
        home = session.local(HOST, port=PORT, username=USER, password=PASSWORD)
        result = await home.light(KITCHEN_LIGHT).turn_on(feedback=True)
        print("posted:", result.namespace, result.status)

        # ...unless a site says otherwise: this handle on the same server sends GET.
        home_get = session.local(HOST, port=PORT, username=USER, password=PASSWORD, method="GET")
        print("read back with GET:", await home_get.light(KITCHEN_LIGHT).is_on())


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# posted: power 1
# read back with GET: True
