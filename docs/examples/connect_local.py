"""A server on the local network, with each of the three ways to send the credentials."""

import asyncio
import os
import warnings

from thinknx_async import InsecureCredentialsWarning, Session

HOST = os.environ.get("THINKNX_HOST", "192.168.1.10")
PORT = int(os.environ.get("THINKNX_PORT", "5051"))  # 5051 unless the installer changed it
USER = os.environ["THINKNX_USER"]
PASSWORD = os.environ["THINKNX_PASSWORD"]
KITCHEN_LIGHT = "1IzPszHWAEuvzxtXBMkzWQ"


async def main() -> None:
    async with Session() as session:
        # HTTP Digest, the default: the password itself never crosses the network.
        digest = session.local(HOST, port=PORT, username=USER, password=PASSWORD)

        # HTTP Basic: the password travels in a header, base64-encoded (readable on the path).
        basic = session.local(HOST, port=PORT, username=USER, password=PASSWORD, auth="basic")

        # user= and pass= in the query string: plain HTTP only, so the library warns.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureCredentialsWarning)
            query = session.local(HOST, port=PORT, username=USER, password=PASSWORD, auth="query")

        for mode, site in {"digest": digest, "basic": basic, "query": query}.items():
            light = site.light(KITCHEN_LIGHT)
            print(f"{mode}: {site.kind} site, light on: {await light.is_on()}")


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# digest: local site, light on: False
# basic: local site, light on: False
# query: local site, light on: False
