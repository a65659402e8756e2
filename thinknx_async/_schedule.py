"""The poll order of one site: most overdue first, a share of the rate, back-off on errors.

Pure bookkeeping plus one loop (:func:`poll_site`) whose clock and sleep are injected, so the
order, the share and the back-off are tested on a virtual clock. Memory is a few floats per
device.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

import anyio

from .throttle import Clock, Sleep

__all__ = ["DEFAULT_EVERY", "DEFAULT_SHARE", "SiteSchedule", "poll_site"]

DEFAULT_EVERY: Final = 10.0
"""Seconds between two polls of a device when the caller does not say."""
DEFAULT_SHARE: Final = 0.75
"""The share of each site's rate polls may use; the rest is left for commands."""


class SiteSchedule:
    """When each device of one site is next due, and whether the site is backing off.

    A device never learned is due at once (in the order given); one learned is due again one
    interval after; one a command made unconfirmed is due now. After a failure the site holds
    its polls for ``backoff`` seconds, doubling per consecutive failure up to ``max_backoff``
    (or longer when the server's ``Retry-After`` says so); the failed device is due again
    after the pause, behind every device already due, so it cannot hold the others up.
    """

    __slots__ = (
        "_backoff",
        "_due",
        "_failures",
        "_hold_until",
        "_intervals",
        "_max_backoff",
        "nudge",
    )

    def __init__(self, intervals: Sequence[float], *, backoff: float, max_backoff: float) -> None:
        self._intervals = list(intervals)
        self._due = [-math.inf] * len(self._intervals)
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._failures = 0
        self._hold_until = -math.inf
        self.nudge: anyio.Event | None = None
        """Set when a device became due earlier than the poller is sleeping for."""

    def __len__(self) -> int:
        return len(self._due)

    @property
    def failures(self) -> int:
        """Consecutive failed polls (0 after a success)."""
        return self._failures

    def due(self, index: int) -> float:
        """When device ``index`` is next due."""
        return self._due[index]

    def next(self, now: float) -> tuple[int, float]:
        """The most overdue device, and how long until it may be polled (0.0: now)."""
        due = self._due
        index = min(range(len(due)), key=due.__getitem__)
        return index, max(0.0, due[index] - now, self._hold_until - now)

    def learned(self, index: int, now: float) -> None:
        """Device ``index``'s state just arrived (a read or a feedback reply)."""
        self._due[index] = now + self._intervals[index]

    def unconfirmed(self, index: int, now: float) -> None:
        """A command without feedback may have moved device ``index``: poll it soon (a device
        with no status read, watched through feedback replies only, has nothing to poll)."""
        if self._intervals[index] == math.inf:
            return
        self._due[index] = min(self._due[index], now)
        if self.nudge is not None:
            self.nudge.set()

    def succeeded(self, index: int, now: float) -> None:
        """A poll of ``index`` went through."""
        self._failures = 0
        self.learned(index, now)

    def failed(self, index: int, now: float, retry_after: float | None = None) -> float:
        """A poll of ``index`` failed: hold the site; returns the pause."""
        self._failures += 1
        pause = min(self._max_backoff, self._backoff * 2.0 ** (self._failures - 1))
        if retry_after is not None:
            pause = max(pause, min(retry_after, self._max_backoff))
        self._hold_until = now + pause
        self._due[index] = now + pause
        return pause


_NAP: Final = 0.5  # seconds: a sleep longer than this can be cut short by a nudge


async def _nap(schedule: SiteSchedule, sleep: Sleep, delay: float) -> None:
    """Sleep ``delay`` seconds, or less if a device becomes due meanwhile."""
    if delay <= _NAP:
        await sleep(delay)
        return
    nudge = schedule.nudge = anyio.Event()
    async with anyio.create_task_group() as tg:

        async def nap() -> None:
            await sleep(delay)
            tg.cancel_scope.cancel()

        async def woken() -> None:
            await nudge.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(nap)
        tg.start_soon(woken)
    schedule.nudge = None


Grant = tuple[float, float]
"""When a poll's spare tokens were granted: the site's, then the relay's (0.0: no such bucket)."""

Poll = Callable[[int, Grant], Awaitable[None]]
"""Poll device ``index`` with a token granted at the given time (the site's own bookkeeping)."""


async def poll_site(
    schedule: SiteSchedule,
    poll: Poll,
    *,
    spare: Callable[[], Grant | None],
    refund: Callable[[], None],
    rate: Callable[[], float | None],
    share: float,
    clock: Clock,
    sleep: Sleep,
) -> None:
    """Poll one site's devices forever, one at a time, most overdue first.

    ``rate()`` is the site's rate in force (``None``: unthrottled); polls are spaced so they use
    at most ``share`` of it. ``spare()`` takes a token only when one is free with nobody queued:
    while none is, the poll waits one token's time and asks again, so a command never queues
    behind a poll. ``refund()`` returns a spare token that found nothing due after all.
    """
    last = -math.inf
    while True:
        now = clock()
        index, delay = schedule.next(now)
        current = rate()
        if current is not None:
            delay = max(delay, last + 1.0 / (current * share) - now)
        if delay > 0:
            await _nap(schedule, sleep, delay)
            continue
        granted = spare()
        while granted is None:
            await sleep(1.0 / current if current else 0.01)
            granted = spare()
        now = clock()
        index, delay = schedule.next(now)
        last = now
        if delay > 0:
            refund()  # learned from feedback meanwhile: nothing is due after all
            continue
        await poll(index, granted)
