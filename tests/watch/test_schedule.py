"""The poll scheduler on a virtual clock: most overdue first, the share held, back-off.

Time moves only when the test says so (``tests/limits/clock.py``); the site's bucket is the real
:class:`~thinknx_async.TokenBucket` on that clock, so commands and polls share it as they do on
the wire.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable

import anyio
import pytest

from thinknx_async import RateLimit, TokenBucket
from thinknx_async._schedule import Grant, SiteSchedule, poll_site

from ..limits.clock import ManualClock

pytestmark = pytest.mark.anyio


def spare_of(bucket: TokenBucket) -> Callable[[], Grant | None]:
    """The poller's view of a bucket: a token only when one is free with nobody queued."""

    def spare() -> Grant | None:
        granted = bucket.try_acquire() if bucket.ready() else None
        return None if granted is None else (granted, 0.0)

    return spare


async def run_polls(
    clock: ManualClock,
    schedule: SiteSchedule,
    seconds: float,
    *,
    bucket: TokenBucket | None = None,
    share: float = 1.0,
    fails: Callable[[int, float], float | bool | None] = lambda index, now: False,
) -> list[tuple[float, int]]:
    """Poll for ``seconds`` of virtual time; returns (time, device) of every poll.

    ``fails(index, now)`` returns False for a success, None or a Retry-After for a failure.
    """
    polls: list[tuple[float, int]] = []

    async def poll(index: int, granted: Grant) -> None:
        polls.append((clock.now, index))
        outcome = fails(index, clock.now)
        if outcome is False:
            schedule.succeeded(index, clock.now)
        else:
            schedule.failed(index, clock.now, outcome if isinstance(outcome, float) else None)

    rate = None if bucket is None else bucket.limit.rate
    async with anyio.create_task_group() as tg:
        tg.start_soon(
            lambda: poll_site(
                schedule,
                poll,
                spare=(lambda: (0.0, 0.0)) if bucket is None else spare_of(bucket),
                refund=(lambda: None) if bucket is None else bucket.give_back,
                rate=lambda: rate,
                share=share,
                clock=clock,
                sleep=clock.sleep,
            )
        )
        await clock.settle()
        step = 0.01
        for _ in range(round(seconds / step)):
            await clock.advance(step)
        tg.cancel_scope.cancel()
    return polls


async def test_the_most_overdue_device_goes_first() -> None:
    clock = ManualClock()
    schedule = SiteSchedule([1.0] * 4, backoff=1.0, max_backoff=8.0)
    schedule.learned(2, -0.9)  # known for longest: overdue first among the known
    schedule.learned(0, -0.6)
    schedule.learned(1, -0.3)
    polls = await run_polls(clock, schedule, 3.0)
    order = [index for _, index in polls]
    # never learned first, then by how long each has been overdue, then round and round
    assert order[:4] == [3, 2, 0, 1]
    assert order[4:8] == [3, 2, 0, 1]
    for (t1, i1), (t2, i2) in zip(polls, polls[4:], strict=False):
        assert i1 == i2 and t2 - t1 == pytest.approx(1.0, abs=0.011)


async def test_kind_intervals_set_how_often_each_device_is_read() -> None:
    clock = ManualClock()
    schedule = SiteSchedule([0.5, 0.5, 2.0, 2.0], backoff=1.0, max_backoff=8.0)
    polls = await run_polls(clock, schedule, 9.9)
    counts = Counter(index for _, index in polls)
    assert counts[0] == counts[1] == 20  # at 0, 0.5, ..., 9.5
    assert counts[2] == counts[3] == 5  # at 0, 2, ..., 8


async def test_polls_keep_to_their_share_in_every_window_and_commands_never_wait_long() -> None:
    clock = ManualClock()
    rate, share = 10.0, 0.75
    bucket = TokenBucket(RateLimit(rate=rate, burst=5, jitter=0.0), clock=clock, sleep=clock.sleep)
    schedule = SiteSchedule([0.01] * 50, backoff=1.0, max_backoff=8.0)  # always hungry
    waits: list[float] = []

    async def commands() -> None:
        for n in range(16):  # 2 per second for 8 s, in bursts of two
            await clock.sleep(1.0 if n % 2 == 0 else 0.0)
            asked = clock.now
            granted = bucket.try_acquire()
            if granted is None:
                granted = await bucket.acquire()
            waits.append(granted - asked)

    async with anyio.create_task_group() as tg:
        tg.start_soon(commands)
        polls = await run_polls(clock, schedule, 10.0, bucket=bucket, share=share)
    times = [t for t, _ in polls]
    assert len(waits) == 16
    assert max(waits) <= 1.0 / rate + 1e-9  # a command waits one token's time at most
    # every window of one second holds at most share * rate polls (+1 for the window's edge)
    for start in times:
        inside = sum(1 for t in times if start <= t < start + 1.0)
        assert inside <= share * rate + 1
    assert len(times) >= 0.9 * share * rate * 9  # and polls do use their share


async def test_failures_back_off_doubling_and_recover() -> None:
    clock = ManualClock()
    schedule = SiteSchedule([0.1] * 3, backoff=1.0, max_backoff=4.0)
    healthy_from = 13.5
    polls = await run_polls(
        clock, schedule, 18.0, fails=lambda index, now: None if now < healthy_from else False
    )
    failing = [t for t, _ in polls if t < healthy_from]
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(failing)]
    assert gaps[:4] == [1.0, 2.0, 4.0, 4.0]  # doubling, up to max_backoff
    # the failed device goes to the back: each one in turn, none holds the site
    assert [i for t, i in polls if t < healthy_from][:3] == [0, 1, 2]
    after = [t for t, _ in polls if t >= healthy_from]
    assert len(after) > 20  # back to the full pace once a poll succeeds


async def test_a_retry_after_longer_than_the_back_off_is_honoured() -> None:
    clock = ManualClock()
    schedule = SiteSchedule([0.1] * 2, backoff=0.5, max_backoff=30.0)
    answered: list[float] = []

    def fails(index: int, now: float) -> float | bool:
        if not answered:
            answered.append(now)
            return 3.0  # a 429 asking for 3 s
        return False

    polls = await run_polls(clock, schedule, 5.0, fails=fails)
    assert polls[1][0] - polls[0][0] == pytest.approx(3.0, abs=0.011)


async def test_a_failing_site_does_not_starve_another() -> None:
    clock = ManualClock()
    bad = SiteSchedule([0.2] * 5, backoff=1.0, max_backoff=4.0)
    good = SiteSchedule([0.2] * 5, backoff=1.0, max_backoff=4.0)
    counts: Counter[str] = Counter()

    async def polling(name: str, schedule: SiteSchedule) -> None:
        async def poll(index: int, granted: Grant) -> None:
            counts[name] += 1
            if name == "bad":
                schedule.failed(index, clock.now)
            else:
                schedule.succeeded(index, clock.now)

        await poll_site(
            schedule,
            poll,
            spare=lambda: (0.0, 0.0),
            refund=lambda: None,
            rate=lambda: 50.0,
            share=1.0,
            clock=clock,
            sleep=clock.sleep,
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(polling, "bad", bad)
        tg.start_soon(polling, "good", good)
        await clock.settle()
        for _ in range(1000):
            await clock.advance(0.01)
        tg.cancel_scope.cancel()
    assert counts["good"] >= 225  # 5 devices every 0.2 s for 10 s: its full pace, within 10 %
    assert counts["bad"] <= 6  # 0, 1, 3, 7, ... s: backing off
