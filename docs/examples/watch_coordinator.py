"""Feed a Home-Assistant-style coordinator from a watch, without depending on Home Assistant.

The coordinator owns the watch: entities read its ``data`` and subscribe to updates, exactly as
entities of a ``DataUpdateCoordinator`` do, but nothing here polls on a timer: the watch
spreads the reads over the site's budget and pushes each change as it arrives.
"""

import asyncio
import os
from collections.abc import Callable

from thinknx_async import Change, Device, Light, Session, Site, State, Watch


class Coordinator:
    """The known state of a set of devices, and who to tell when it changes."""

    def __init__(self, site: Site, devices: list[Device], every: float) -> None:
        self.data: dict[str, State] = {}  # GUID -> last known state
        self.last_error: Exception | None = None
        self._watch: Watch = site.watch(devices, every=every)
        self._listeners: list[Callable[[], None]] = []
        self._expected = len(devices)
        self._first_refresh = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after every update; returns the function removing it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def start(self) -> None:
        """Start watching; return once every device has a state (a first refresh)."""
        await self._watch.__aenter__()
        self._task = asyncio.create_task(self._run())
        await self._first_refresh.wait()

    async def stop(self) -> None:
        """Stop watching: every poll ends with the watch."""
        if self._task is not None:
            self._task.cancel()
        await self._watch.__aexit__(None, None, None)

    async def _run(self) -> None:
        async for event in self._watch:
            if isinstance(event, Change):
                self.data[event.device.guid] = event.new
                self.last_error = None
            else:
                self.last_error = event.error  # entities may show "unavailable"
            if len(self.data) == self._expected:
                self._first_refresh.set()
            for listener in list(self._listeners):
                listener()


class LightEntity:
    """What a light entity of a home-automation platform needs: a state and two commands."""

    def __init__(self, coordinator: Coordinator, light: Light, name: str) -> None:
        self.coordinator, self.light, self.name = coordinator, light, name

    @property
    def is_on(self) -> bool | None:
        state = self.coordinator.data.get(self.light.guid)
        return None if state is None else bool(state.get("on"))

    async def turn_on(self) -> None:
        await self.light.turn_on(feedback=True)  # the reply updates the coordinator too

    async def turn_off(self) -> None:
        await self.light.turn_off(feedback=True)


async def main() -> None:
    async with Session() as session:
        home = session.local(
            os.environ.get("THINKNX_HOST", "192.168.1.10"),
            port=int(os.environ.get("THINKNX_PORT", "5051")),
            username=os.environ["THINKNX_USER"],
            password=os.environ["THINKNX_PASSWORD"],
        )
        lights = [home.light("1IzPszHWAEuvzxtXBMkzWQ"), home.light("7Hq2LrT9bWzXc4NpVd8KsA")]
        coordinator = Coordinator(home, list(lights), every=60.0)
        kitchen = LightEntity(coordinator, lights[0], "Kitchen")
        porch = LightEntity(coordinator, lights[1], "Porch")
        updated = asyncio.Event()
        coordinator.add_listener(updated.set)

        await coordinator.start()
        print({e.name: e.is_on for e in (kitchen, porch)})
        updated.clear()
        await kitchen.turn_on()
        await updated.wait()  # pushed by the watch: no refresh to request
        print({e.name: e.is_on for e in (kitchen, porch)})
        await coordinator.stop()


if __name__ == "__main__":
    asyncio.run(main())

# Output:
# {'Kitchen': False, 'Porch': False}
# {'Kitchen': True, 'Porch': False}
