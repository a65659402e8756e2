"""The token bucket on a manual clock: bounds, FIFO order, cancellation, burst, adaptation."""

from __future__ import annotations

import math

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thinknx_async import RateLimit, TokenBucket, ValidationError

from .clock import ManualClock


def make(limit: RateLimit) -> tuple[TokenBucket, ManualClock]:
    clock = ManualClock()
    return TokenBucket(limit, clock=clock, sleep=clock.sleep), clock


async def grant_times(bucket: TokenBucket, clock: ManualClock, n: int) -> list[float]:
    times: list[float] = []

    async def one() -> None:
        times.append(await bucket.acquire())

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
        await clock.run_until_idle()
    return times


def max_in_window(times: list[float], window: float) -> int:
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        j = i
        while j < len(ordered) and ordered[j] <= start + window + 1e-9:
            j += 1
        best = max(best, j - i)
    return best


@given(
    rate=st.floats(0.5, 200.0),
    burst=st.integers(1, 20),
    jitter=st.sampled_from([0.0, 0.01, 0.05]),
    n=st.integers(1, 60),
    window=st.floats(0.001, 5.0),
)
@settings(max_examples=60, deadline=None)
def test_any_window_releases_at_most_burst_plus_rate_times_length(
    rate: float, burst: int, jitter: float, n: int, window: float
) -> None:
    limit = RateLimit(rate=rate, burst=burst, jitter=jitter)

    async def main() -> list[float]:
        bucket, clock = make(limit)
        return await grant_times(bucket, clock, n)

    times = anyio.run(main)
    assert len(times) == n
    assert max_in_window(times, window) <= burst + rate * window + 1e-6


@pytest.mark.anyio
async def test_burst_then_one_per_interval() -> None:
    bucket, clock = make(RateLimit(rate=10.0, burst=5, jitter=0.0))
    times = await grant_times(bucket, clock, 8)
    assert times[:5] == [0.0] * 5  # the burst is explicit: capacity tokens at start
    assert times[5:] == pytest.approx([0.1, 0.2, 0.3])
    assert clock.sleepers == 0


@pytest.mark.anyio
async def test_jitter_margin_comes_out_of_the_burst() -> None:
    limit = RateLimit(rate=10.0, burst=5, jitter=0.1)  # one token of margin
    assert limit.capacity == pytest.approx(4.0)
    bucket, clock = make(limit)
    times = await grant_times(bucket, clock, 6)
    assert times[:4] == [0.0] * 4
    assert times[4:] == pytest.approx([0.1, 0.2])


def test_burst_too_small_for_the_margin_spaces_requests_instead() -> None:
    limit = RateLimit(rate=10.0, burst=1, jitter=0.05)
    assert limit.capacity == 1.0
    assert 1 / limit.effective_rate == pytest.approx(0.1 + 0.05)


@pytest.mark.anyio
async def test_waiters_are_served_in_arrival_order() -> None:
    bucket, clock = make(RateLimit(rate=1.0, burst=1, jitter=0.0))
    order: list[int] = []

    async def one(i: int) -> None:
        await bucket.acquire()
        order.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(10):
            tg.start_soon(one, i)
            await clock.settle()  # arrival order is the start order
        assert clock.sleepers == 1  # only the head waits on a timer
        await clock.run_until_idle()
    assert order == list(range(10))


@pytest.mark.anyio
async def test_a_cancelled_waiter_consumes_nothing() -> None:
    bucket, clock = make(RateLimit(rate=1.0, burst=1, jitter=0.0))
    assert await bucket.acquire() == 0.0
    got: dict[str, float] = {}
    scope_x = anyio.CancelScope()

    async def one(name: str) -> None:
        got[name] = await bucket.acquire()

    async def cancellable(name: str) -> None:
        with scope_x:
            await one(name)

    async with anyio.create_task_group() as tg:
        for name in ("b", "x", "c", "d"):
            tg.start_soon(cancellable if name == "x" else one, name)
            await clock.settle()
        assert bucket.waiting == 4
        scope_x.cancel()
        await clock.settle()
        assert bucket.waiting == 3
        await clock.run_until_idle()
    assert "x" not in got
    # The others get the tokens they would have had if x had never queued.
    assert [got[n] for n in "bcd"] == pytest.approx([1.0, 2.0, 3.0])


@pytest.mark.anyio
async def test_cancelling_the_head_hands_the_timer_to_the_next() -> None:
    bucket, clock = make(RateLimit(rate=1.0, burst=1, jitter=0.0))
    await bucket.acquire()
    head = anyio.CancelScope()
    got: list[float] = []

    async def first() -> None:
        with head:
            await bucket.acquire()

    async def second() -> None:
        got.append(await bucket.acquire())

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await clock.settle()
        tg.start_soon(second)
        await clock.settle()
        await clock.advance(0.5)
        head.cancel()
        await clock.settle()
        assert clock.sleepers == 1  # the second waiter took over the one timer
        await clock.run_until_idle()
    assert got == [pytest.approx(1.0)]  # the cancelled head's token was left for it


@pytest.mark.anyio
async def test_try_acquire_never_jumps_the_queue() -> None:
    bucket, clock = make(RateLimit(rate=1.0, burst=1, jitter=0.0))
    assert bucket.try_acquire() == 0.0
    assert bucket.try_acquire() is None
    async with anyio.create_task_group() as tg:
        tg.start_soon(bucket.acquire)
        await clock.settle()
        await clock.advance(0.999)
        assert bucket.try_acquire() is None  # a waiter is queued
        await clock.run_until_idle()


@pytest.mark.anyio
async def test_429_pauses_until_retry_after_and_lowers_the_rate_once_per_episode() -> None:
    bucket, clock = make(RateLimit(rate=10.0, burst=1, jitter=0.0))
    granted = await bucket.acquire()
    # Several 429s for requests sent before the client reacted: one episode, one decrease.
    bucket.record_rate_limited(granted, retry_after=2.0)
    lowered = bucket.rate
    bucket.record_rate_limited(granted, retry_after=2.0)
    assert bucket.decreases == 1
    assert lowered < 10.0
    assert bucket.rate == lowered  # nothing compounded
    times = await grant_times(bucket, clock, 2)
    assert times[0] >= 2.0  # nothing is sent during the pause
    assert times[1] - times[0] == pytest.approx(1 / lowered)  # and at the lowered rate after
    # A 429 for a request granted after the decrease starts a new episode.
    bucket.record_rate_limited(times[1], retry_after=None)
    assert bucket.decreases == 2


@pytest.mark.anyio
async def test_rate_recovers_and_never_exceeds_the_configured_rate() -> None:
    bucket, clock = make(RateLimit(rate=10.0, burst=1, jitter=0.0))
    bucket.record_rate_limited(await bucket.acquire(), retry_after=0.0)
    low = bucket.rate
    for _ in range(400):
        clock.now += 0.1
        bucket.record_success()
    assert low < bucket.rate <= 10.0
    assert bucket.rate == pytest.approx(10.0)


@pytest.mark.anyio
async def test_non_adaptive_limit_pauses_but_keeps_its_rate() -> None:
    bucket, clock = make(RateLimit(rate=10.0, burst=1, jitter=0.0, adaptive=False))
    bucket.record_rate_limited(await bucket.acquire(), retry_after=1.0)
    assert bucket.rate == 10.0
    assert bucket.decreases == 0
    assert (await grant_times(bucket, clock, 1))[0] >= 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0},
        {"rate": -1.0},
        {"rate": math.inf},
        {"rate": math.nan},
        {"rate": 1.0, "burst": 0},
        {"rate": 1.0, "burst": 1.5},
        {"rate": 1.0, "jitter": -0.1},
    ],
)
def test_rate_limit_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        RateLimit(**kwargs)  # type: ignore[arg-type]
