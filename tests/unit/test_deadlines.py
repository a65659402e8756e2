"""Deadlines: one timer for the read deadlines of every request in flight (asyncio only).

Each test runs on an event loop on virtual time (``_virtual_time``): its clock jumps from timer
to timer, so what finishes first is decided by the deadlines and the sleeps alone, exactly,
and a loaded machine cannot turn a request that is in time into a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import pytest

from thinknx_async._transport.deadlines import Deadlines

from ._virtual_time import virtual_time

TIMEOUT = 0.25


async def _request(
    deadlines: Deadlines, work: Callable[[], Awaitable[None]], outcomes: list[str], name: str
) -> None:
    """What the aiohttp pool does around a request."""
    task = deadlines.begin()
    try:
        await work()
    except asyncio.CancelledError:
        if deadlines.expired(task):
            outcomes.append(f"{name}: timed out")
            return
        outcomes.append(f"{name}: cancelled")
        raise
    finally:
        deadlines.end(task)
    outcomes.append(f"{name}: done")


def _sleep(seconds: float) -> Callable[[], Awaitable[None]]:
    return lambda: asyncio.sleep(seconds)


async def _run(*tasks: Awaitable[None]) -> None:
    async with asyncio.timeout(5):  # a hang fails the test instead of the suite
        await asyncio.gather(*tasks, return_exceptions=True)


def _outcomes() -> list[str]:
    return []


def _deadlines(timeout: float = TIMEOUT) -> Deadlines:
    return Deadlines(asyncio.get_running_loop(), timeout)


@virtual_time
async def test_a_request_that_outlives_its_timeout_times_out() -> None:
    deadlines, outcomes = _deadlines(), _outcomes()
    task = asyncio.ensure_future(_request(deadlines, _sleep(10), outcomes, "slow"))
    started = asyncio.get_running_loop().time()
    await _run(task)
    elapsed = asyncio.get_running_loop().time() - started
    assert outcomes == ["slow: timed out"]
    assert elapsed == pytest.approx(TIMEOUT)  # virtual time: exactly when due
    assert not task.cancelled()
    assert len(deadlines) == 0


@virtual_time
async def test_a_fast_request_is_left_alone_and_the_timer_stops_when_nothing_is_left() -> None:
    deadlines, outcomes = _deadlines(), _outcomes()
    await _request(deadlines, _sleep(0), outcomes, "fast")
    assert outcomes == ["fast: done"]
    assert len(deadlines) == 0
    assert deadlines._timer is not None  # armed for the first deadline, not cancelled
    await asyncio.sleep(TIMEOUT * 2)
    assert deadlines._timer is None  # it fired, found nothing due, and stopped


@virtual_time
async def test_only_the_requests_past_their_deadline_are_cancelled() -> None:
    deadlines, outcomes = _deadlines(), _outcomes()
    await _run(
        _request(deadlines, _sleep(10), outcomes, "stuck"),
        _request(deadlines, _sleep(0.001), outcomes, "quick"),
        _request(deadlines, _sleep(TIMEOUT / 10), outcomes, "short"),
    )
    assert sorted(outcomes) == ["quick: done", "short: done", "stuck: timed out"]
    assert len(deadlines) == 0


@virtual_time
async def test_each_request_gets_its_whole_timeout_from_its_own_start() -> None:
    """A request that starts late is not cut short by the timer armed for an earlier one."""
    deadlines, outcomes = _deadlines(), _outcomes()

    async def later() -> None:
        await asyncio.sleep(TIMEOUT * 0.5)  # ends at 1.1 x TIMEOUT, its deadline 1.5 x
        await _request(deadlines, _sleep(TIMEOUT * 0.6), outcomes, "later")

    await _run(_request(deadlines, _sleep(10), outcomes, "first"), later())
    assert sorted(outcomes) == ["first: timed out", "later: done"]


@virtual_time
async def test_many_requests_share_one_timer() -> None:
    deadlines, outcomes = _deadlines(10.0), _outcomes()
    loop = asyncio.get_running_loop()
    armed = 0
    call_at = loop.call_at

    def counting_call_at(when: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        nonlocal armed
        if getattr(callback, "__self__", None) is deadlines:
            armed += 1
        return call_at(when, callback)

    loop.call_at = counting_call_at  # type: ignore[method-assign,assignment]
    try:
        for _ in range(20):
            await asyncio.gather(
                *(_request(deadlines, _sleep(0), outcomes, str(n)) for n in range(50))
            )
    finally:
        del loop.call_at
    assert len(outcomes) == 1000
    assert armed == 1  # 1,000 requests, one timer, still waiting for the first deadline


@virtual_time
async def test_a_cancellation_from_elsewhere_propagates() -> None:
    deadlines, outcomes = _deadlines(), _outcomes()
    task = asyncio.ensure_future(_request(deadlines, _sleep(10), outcomes, "r"))
    await asyncio.sleep(TIMEOUT / 25)
    task.cancel()
    await _run(task)
    assert task.cancelled()
    assert outcomes == ["r: cancelled"]
    assert len(deadlines) == 0


@virtual_time
async def test_a_cancellation_from_elsewhere_wins_over_a_deadline_at_the_same_time() -> None:
    """As with asyncio.timeout: the deadline takes back its own cancellation only."""
    deadlines, outcomes = _deadlines(), _outcomes()
    inner_started = asyncio.Event()

    async def work() -> None:
        inner_started.set()
        await asyncio.sleep(10)

    task = asyncio.ensure_future(_request(deadlines, work, outcomes, "r"))
    await inner_started.wait()
    # Make the deadline due now, fire it, and cancel from outside before the task runs.
    entry = deadlines._pending[task]
    deadlines._pending[task] = (0.0, entry[1])
    deadlines._fire()
    task.cancel()
    await _run(task)
    assert task.cancelled()
    assert outcomes == ["r: cancelled"]


@virtual_time
async def test_a_timed_out_task_is_not_left_cancelling() -> None:
    deadlines, outcomes = _deadlines(), _outcomes()
    cancelling_after: list[int] = []

    async def request_then_check() -> None:
        await _request(deadlines, _sleep(10), outcomes, "r")
        task = asyncio.current_task()
        assert task is not None
        cancelling_after.append(task.cancelling())
        await asyncio.sleep(0)  # a cancellation still pending would land here

    task = asyncio.ensure_future(request_then_check())
    await _run(task)
    assert outcomes == ["r: timed out"]
    assert cancelling_after == [0]
    assert not task.cancelled()


@virtual_time
async def test_a_swallowed_expiry_is_taken_back_when_the_request_ends() -> None:
    """A request that swallows the cancellation and ends normally leaves no cancel request."""
    deadlines = _deadlines()
    seen: list[int] = []

    async def swallowing() -> None:
        task = deadlines.begin()
        try:
            with contextlib.suppress(asyncio.CancelledError):  # cleans up and returns
                await asyncio.sleep(10)
        finally:
            deadlines.end(task)
        seen.append(task.cancelling())

    await _run(swallowing())
    assert seen == [0]
    assert len(deadlines) == 0


@virtual_time
async def test_close_disarms_the_timer() -> None:
    deadlines, outcomes = _deadlines(), _outcomes()
    task = asyncio.ensure_future(_request(deadlines, _sleep(TIMEOUT * 3), outcomes, "r"))
    await asyncio.sleep(0)
    deadlines.close()
    await _run(task)
    assert outcomes == ["r: done"]  # nobody fired the deadline once closed
    deadlines.close()  # idempotent


@pytest.mark.parametrize("seconds", [0.0, 0.02])
@virtual_time
async def test_a_zero_or_tiny_timeout_still_ends_every_request(seconds: float) -> None:
    deadlines, outcomes = _deadlines(seconds), _outcomes()
    await _run(*(_request(deadlines, _sleep(10), outcomes, str(n)) for n in range(10)))
    assert sorted(outcomes) == sorted(f"{n}: timed out" for n in range(10))
    assert len(deadlines) == 0
