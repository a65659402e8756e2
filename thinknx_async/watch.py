"""Watching state: a poller that keeps devices fresh within each site's budget, as a stream.

:class:`Watch` polls every device it is given, most overdue first, one poll at a time per site,
spending at most ``share`` of each site's rate and only tokens that are free with nobody
queued, so commands sent meanwhile never wait behind a poll. It yields a :class:`Change` each
time a device's known state changes (from its polls, and from any feedback reply sent through the
same session), and a :class:`WatchError` when a poll fails; errors never end the stream::

    async with site.watch([site.light(GUID), site.thermostat(OTHER)], every=5.0) as changes:
        async for change in changes:
            print(change.device, change.old, change.new)

Leaving the block stops every poll. At most one undelivered event is kept per device: a reader
that falls behind sees each device's net change, never an unbounded queue.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Self, TypedDict

import anyio
import attrs
from anyio.abc import TaskGroup

from ._polling import polling
from ._schedule import DEFAULT_EVERY, DEFAULT_SHARE, Grant, SiteSchedule, poll_site
from .devices import Device
from .errors import RateLimitedError, SessionError, ValidationError
from .fanout import leave_workers
from .site import Site
from .state import PASSIVE, READS, Listener, State, store_of
from .throttle import Clock, Sleep

__all__ = [
    "DEFAULT_EVERY",
    "DEFAULT_SHARE",
    "Change",
    "Event",
    "Watch",
    "WatchError",
    "WatchOptions",
]


@attrs.frozen(slots=True)
class Change:
    """A device's known state changed: ``old``, ``new``, and ``when`` it was learned."""

    device: Device
    """The device proxy whose state changed (one of the devices given to the watch)."""
    old: State | None
    """The state before: the one the reader last had from this watch (changes not yet read
    are merged into one). ``None`` for the first state the watch learns of each device,
    whatever was known before: a consumer starts from a full picture."""
    new: State
    """The state now known."""
    when: datetime
    """When ``new`` was learned, as an aware ``datetime`` in UTC."""


@attrs.frozen(slots=True)
class WatchError:
    """A poll of ``device`` failed with ``error`` at ``when``; the watch goes on."""

    device: Device
    """The device proxy whose poll failed."""
    error: Exception
    """The exception the poll raised: the library's typed
    :class:`~thinknx_async.ThinknxError` (a timeout, a 404, a 429...)."""
    when: datetime
    """When the poll failed, as an aware ``datetime`` in UTC."""


Event = Change | WatchError
Every = float | Mapping[str | Device, float]


class WatchOptions(TypedDict, total=False):
    """The options of :meth:`Site.watch` and :meth:`Session.watch` (see :class:`Watch`)."""

    every: Every
    """Seconds between two reads of a device (default 10): one number, or a mapping from a
    device kind (``"light"``, ``"blind"``, ``"thermostat"``) or a device proxy to its
    interval."""
    share: float
    """The part of each site's rate the polls may take, in (0, 1] (default 0.75); the rest is
    left for commands."""
    backoff: float
    """Seconds: a site's pause after a failed poll (default 1), doubling per consecutive
    failure."""
    max_backoff: float
    """Seconds: the longest such pause (default 60); a longer ``Retry-After`` is capped to
    it."""


def _interval(device: Device, every: Every) -> float:
    if isinstance(every, Mapping):
        value = every.get(device, every.get(device.kind or "", DEFAULT_EVERY))
    else:
        value = every
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValidationError(f"every must be a finite number of seconds > 0, got {value!r}")
    return float(value)


def _check_backoff(backoff: float, max_backoff: float) -> None:
    for name, value in (("backoff", backoff), ("max_backoff", max_backoff)):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ValidationError(f"{name} must be a finite number of seconds > 0, got {value!r}")


def _check_share(share: float) -> float:
    if not (isinstance(share, int | float) and 0 < share <= 1):
        raise ValidationError(f"share must be a number in (0, 1], got {share!r}")
    return float(share)


@attrs.define(slots=True, eq=False)
class _SiteWatch:
    """The devices of one site being watched, their schedule and their pending events."""

    site: Site
    devices: list[Device]
    index: dict[str, int]
    schedule: SiteSchedule
    reported: set[int] = attrs.Factory(set)


class Watch:
    """Keep ``devices`` fresh and stream their changes; see the module's documentation.

    - ``every``: seconds between polls of a device: one number, or a mapping from a device kind
      (``"light"``, ``"blind"``, ``"thermostat"``) or a device proxy to its interval;
    - ``share``: the part of each site's rate polls may take (default 0.75);
    - ``backoff`` / ``max_backoff``: a site's pause after a failed poll, doubling per
      consecutive failure up to the maximum (a ``Retry-After`` lengthens it).

    HVAC units have no status read: they are not polled, but their feedback replies are
    reported. Scenes and buttons have no state and are refused. ``clock`` and ``sleep`` drive
    the schedule (injectable for tests; the sites' buckets keep ``time.monotonic``).
    """

    def __init__(
        self,
        devices: Iterable[Device],
        *,
        every: Every = DEFAULT_EVERY,
        share: float = DEFAULT_SHARE,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._share = _check_share(share)
        self._clock, self._sleep = clock, sleep
        self._sites: dict[Site, _SiteWatch] = {}
        _check_backoff(backoff, max_backoff)
        polled: dict[Site, list[tuple[Device, float]]] = {}
        seen: set[tuple[Site, str]] = set()
        for device in devices:
            if not isinstance(device, Device):
                raise ValidationError(f"watch takes device proxies, got {type(device).__name__}")
            kind = device.kind
            if kind not in READS and kind not in PASSIVE:
                raise ValidationError(f"{device!r} has no state to watch")
            entries = polled.setdefault(device.site, [])
            if (device.site, device.guid) not in seen:
                seen.add((device.site, device.guid))
                interval = _interval(device, every) if kind in READS else math.inf
                entries.append((device, interval))
        for site, entries in polled.items():
            schedule = SiteSchedule(
                [i for _, i in entries], backoff=backoff, max_backoff=max_backoff
            )
            for position, (_, interval) in enumerate(entries):
                if interval == math.inf:
                    schedule.learned(position, 0.0)  # never due
            index = {d.guid: n for n, (d, _) in enumerate(entries)}
            self._sites[site] = _SiteWatch(site, [d for d, _ in entries], index, schedule)
        self._pending: dict[tuple[Site, str], Event] = {}
        self._wake: anyio.Event | None = None  # made on entry, inside the event loop
        self._task_group: TaskGroup | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._state = "new"
        self.polls = 0
        """Polls sent so far."""
        self.errors = 0
        """Polls that failed so far."""

    def __repr__(self) -> str:
        devices = sum(len(s.devices) for s in self._sites.values())
        return f"<Watch {devices} devices on {len(self._sites)} sites, {self._state}>"

    @property
    def devices(self) -> tuple[Device, ...]:
        """Every device watched, site by site."""
        return tuple(d for s in self._sites.values() for d in s.devices)

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise SessionError("a watch can be entered only once")
        self._state = "running"
        self._wake = anyio.Event()
        for watched in self._sites.values():
            store = store_of(watched.site)
            self._unsubscribe.append(store.subscribe(self._listener(watched)))
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        for watched in self._sites.values():
            task_group.start_soon(self._run_site, watched)
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        self._state = "closed"
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        self._pending.clear()
        if self._wake is not None:
            self._wake.set()
        task_group = self._task_group
        assert task_group is not None
        task_group.cancel_scope.cancel()
        return await leave_workers(task_group, *exc_info)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._state == "new":
            raise SessionError(
                "enter the watch first: 'async with site.watch(...) as changes:' "
                "then 'async for change in changes:'"
            )
        while not self._pending:
            if self._state == "closed" or self._wake is None:
                raise StopAsyncIteration
            await self._wake.wait()
            self._wake = anyio.Event()
        key = next(iter(self._pending))
        return self._pending.pop(key)

    # Inside ---------------------------------------------------------------------------------

    def _push(self, site: Site, event: Event) -> None:
        key = (site, event.device.guid)
        earlier = self._pending.pop(key, None)
        if isinstance(event, Change) and isinstance(earlier, Change):
            if earlier.old is not None and earlier.old.values == event.new.values:
                self._wakeup()
                return  # changed back before anyone looked: nothing to report
            event = attrs.evolve(event, old=earlier.old)
        self._pending[key] = event
        self._wakeup()

    def _wakeup(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _listener(self, watched: _SiteWatch) -> Listener:
        def listener(guid: str, old: State | None, new: State) -> None:
            position = watched.index.get(guid)
            if position is None or self._state != "running":
                return
            now = self._clock()
            if old is not None and new.learned == old.learned:  # only made unconfirmed
                watched.schedule.unconfirmed(position, now)
                return
            watched.schedule.learned(position, now)
            if position not in watched.reported:  # the watch's first look at this device
                watched.reported.add(position)
                old = None
            elif old is not None and old.values == new.values:
                return
            device = watched.devices[position]
            self._push(watched.site, Change(device, old, new, datetime.now(UTC)))

        return listener

    async def _run_site(self, watched: _SiteWatch) -> None:
        site = watched.site
        schedule = watched.schedule
        if all(schedule.due(n) == math.inf for n in range(len(schedule))):
            return  # only passive devices: nothing to poll
        share = self._share

        def rate() -> float | None:
            """The rate in force that binds this site: its own, or its relay's if lower."""
            bucket, relay = site._buckets()
            rates = [b.rate for b in (bucket, relay) if b is not None]
            return min(rates) if rates else None

        async def poll(position: int, granted: Grant) -> None:
            device = watched.devices[position]
            self.polls += 1
            try:
                with polling(granted):
                    await device.read(READS[device.kind or ""])
            except Exception as error:  # reported as an event: the stream never ends on it
                self.errors += 1
                retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
                schedule.failed(position, self._clock(), retry_after)
                self._push(site, WatchError(device, error, datetime.now(UTC)))
            else:
                schedule.succeeded(position, self._clock())

        await poll_site(
            schedule,
            poll,
            spare=site._spare_token,
            refund=site._refund_spare,
            rate=rate,
            share=share,
            clock=self._clock,
            sleep=self._sleep,
        )
