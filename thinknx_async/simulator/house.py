"""House mode: lights switch and temperatures drift by themselves, at random but seeded.

Like the rest of the state, nothing runs in the background: the changes due by now are applied
whenever the site's state is touched, each at its own scheduled time, and each is written to
the site's record (:attr:`HouseLife.log`), the oracle watchers are checked against.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import DeviceState, SiteState

__all__ = ["House", "HouseChange", "HouseLife"]


@dataclass(frozen=True, slots=True)
class House:
    """How a house lives: one change per site every ``interval`` seconds."""

    interval: float = 1.0
    """Seconds between two changes on one site."""
    seed: int = 0
    """Seed of the changes: the same seed, the same house (per site key)."""
    drift: float = 0.5
    """The largest step of a temperature, in °C (steps are multiples of 0.1)."""
    log_size: int = 10_000
    """Changes kept per site (the oldest are dropped)."""


@dataclass(frozen=True, slots=True)
class HouseChange:
    """One change the house made: at ``at`` (monotonic seconds), ``field`` of ``guid``."""

    at: float
    guid: str
    field: str
    old: float | bool
    new: float | bool


class HouseLife:
    """The changes of one site: which device, when, how far."""

    __slots__ = ("_last", "_rng", "candidates", "house", "log", "next_at", "start")

    def __init__(self, house: House, key: str, state: SiteState, start: float) -> None:
        self.house = house
        self._rng = random.Random(f"{house.seed}:{key}")
        self.candidates: list[DeviceState] = [
            s for s in state.devices.values() if s.device.kind in ("light", "thermostat")
        ]
        self.start = start
        self.next_at = start + house.interval
        self._last: DeviceState | None = None
        self.log: deque[HouseChange] = deque(maxlen=house.log_size)

    def advance(self, now: float) -> None:
        """Apply every change due by ``now``, in time order."""
        if not self.candidates:
            return
        while self.next_at <= now:
            self._change(self.next_at)
            self.next_at += self.house.interval

    def _change(self, at: float) -> None:
        choices = [s for s in self.candidates if s is not self._last] or self.candidates
        s = self._rng.choice(choices)  # never the same device twice in a row
        self._last = s
        if s.device.kind == "light":
            was_on = s.level > 0
            s.level = 0 if was_on else (s.memory if s.device.dimmable else 100)
            self.log.append(HouseChange(at, s.device.guid, "on", was_on, not was_on))
            return
        steps = self._rng.randint(1, max(1, round(self.house.drift * 10)))
        sign = self._rng.choice((-1, 1))
        old = s.temperature
        s.temperature = round(old + sign * steps / 10, 1)
        self.log.append(HouseChange(at, s.device.guid, "temperature", old, s.temperature))
