"""One command over the sites of an inventory: each alias means that site's own GUID."""

import asyncio
import os

from thinknx_async import Inventory, Session

RELAY = os.environ.get("THINKNX_RELAY_URL", "https://relay.example.com")
CA_FILE = os.environ.get("THINKNX_CA_FILE")
# Usually a file (Inventory.load("sites.toml")); secrets stay in the environment.
INVENTORY = f"""
[defaults]
mode = "relay"
url = "{RELAY}"
key = {{ env = "THINKNX_KEY" }}

[aliases]
entrance = "light"

[sites.home]
tags = ["house"]
aliases = {{ entrance = "1IzPszHWAEuvzxtXBMkzWQ" }}

[sites.home-porch]
tags = ["house"]
aliases = {{ entrance = "7Hq2LrT9bWzXc4NpVd8KsA" }}

[sites.cottage]
tags = ["house"]
key = "NotAKeyTheRelayKnows"
aliases = {{ entrance = "1IzPszHWAEuvzxtXBMkzWQ" }}
"""


async def main() -> None:
    inventory = Inventory.loads(INVENTORY)
    async with Session(verify=CA_FILE or True) as session:
        fleet = inventory.select(tags=["house"]).open(session)

        # Every site, collected; one site's failure never stops the others.
        report = await session.gather(
            fleet, lambda site: fleet.light(site, "entrance").turn_on(feedback=True)
        )
        for outcome in report:  # in inventory order
            if outcome.ok:
                print(f"{outcome.site.name}: status {outcome.unwrap().status}")
            else:
                print(f"{outcome.site.name}: {outcome.error_type}")
        summary = report.summary()
        print(f"{summary.succeeded} succeeded, {summary.failed} failed {dict(summary.errors)}")

        # Streamed as they complete; leaving the block early cancels what still runs.
        reading = lambda site: fleet.light(site, "entrance").is_on()  # noqa: E731
        async with session.fan_out(fleet, reading, concurrency=2) as outcomes:
            async for answer in outcomes:
                if answer.ok:
                    print("first answer: on" if answer.value else "first answer: off")
                    break


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# home: status 1
# home-porch: status 1
# cottage: AuthenticationError
# 2 succeeded, 1 failed {'AuthenticationError': 1}
# first answer: on
