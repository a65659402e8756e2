"""A manual clock for the token bucket: time moves only when the test says so."""

from __future__ import annotations

import anyio
import anyio.lowlevel


class ManualClock:
    """``clock()`` reads the time; ``sleep()`` waits until :meth:`advance` passes its deadline."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, anyio.Event]] = []

    def __call__(self) -> float:
        return self.now

    @property
    def sleepers(self) -> int:
        """How many sleeps are pending (the bucket promises at most one: its head waiter)."""
        return len(self._sleepers)

    async def sleep(self, delay: float) -> None:
        entry = (self.now + delay, anyio.Event())
        self._sleepers.append(entry)
        try:
            await entry[1].wait()
        finally:
            self._sleepers.remove(entry)

    async def settle(self) -> None:
        """Let every runnable task run until it blocks again."""
        for _ in range(50):
            await anyio.lowlevel.checkpoint()

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers whose deadline has come."""
        self.now += seconds
        for deadline, event in list(self._sleepers):
            if deadline <= self.now + 1e-12:
                event.set()
        await self.settle()

    async def run_until_idle(self, limit: float = 1e6) -> None:
        """Jump from deadline to deadline until nobody sleeps (or ``limit`` seconds pass)."""
        await self.settle()
        while self._sleepers and self.now < limit:
            await self.advance(max(0.0, min(d for d, _ in self._sleepers) - self.now))
