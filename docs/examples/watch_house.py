"""Watch one house: every device's state once, then each change as it happens."""

import asyncio
import os

from thinknx_async import Change, Session, State, WatchError

NAMES = {
    "1IzPszHWAEuvzxtXBMkzWQ": "kitchen",
    "7Hq2LrT9bWzXc4NpVd8KsA": "porch",
    "5ThRmStAtBdRm01xQ9zPkw": "bedroom",
}


def show(state: State | None) -> dict[str, object] | None:
    return None if state is None else dict(state.values)


async def main() -> None:
    async with Session() as session:
        home = session.local(
            os.environ.get("THINKNX_HOST", "192.168.1.10"),
            port=int(os.environ.get("THINKNX_PORT", "5051")),
            username=os.environ["THINKNX_USER"],
            password=os.environ["THINKNX_PASSWORD"],
        )
        kitchen, porch = home.light("1IzPszHWAEuvzxtXBMkzWQ"), home.light("7Hq2LrT9bWzXc4NpVd8KsA")
        bedroom = home.thermostat("5ThRmStAtBdRm01xQ9zPkw")

        # Each device read every 30 s, within 3/4 of the site's rate: commands keep the rest.
        async with home.watch([kitchen, porch, bedroom], every=30.0) as changes:
            firsts = [await anext(changes) for _ in range(3)]  # the first state of each
            for change in sorted(firsts, key=lambda c: NAMES[c.device.guid]):
                assert isinstance(change, Change)
                print(NAMES[change.device.guid], show(change.new))

            await kitchen.set_level(60, feedback=True)  # the reply carries the new state
            await porch.turn_on()  # no feedback: the watch reads the porch back at once
            for _ in range(2):
                event = await anext(changes)
                if isinstance(event, WatchError):  # a failed read never ends the stream
                    print("poll failed:", event.error)
                    continue
                print(NAMES[event.device.guid], show(event.old), "->", show(event.new))


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# bedroom {'temperature': 19.5}
# kitchen {'on': False}
# porch {'on': False}
# kitchen {'on': False} -> {'on': True, 'level': 60}
# porch {'on': False} -> {'on': True}
