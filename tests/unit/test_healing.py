"""A small pool left holding a connection nobody uses is found and replaced, never routed to."""

from __future__ import annotations

from typing import ClassVar

import anyio
import pytest

from thinknx_async._transport import ConnectionPool, Outgoing, PoolStats, Reply, Tokens

URL = "http://relay.example/KEY/api/V1/power?guid=G&cmd=1"
REQUEST = Outgoing("GET", URL, None, None)


class FakePool:
    """A transport pool that strands a connection when a request through it is cancelled."""

    made: ClassVar[list[FakePool]] = []

    def __init__(self) -> None:
        self.stranded = 0
        self.closed = False
        self.sent = 0
        self.gate = anyio.Event()
        FakePool.made.append(self)

    async def fetch(self, request: Outgoing, tokens: Tokens | None = None) -> Reply:
        assert not self.closed, "a request was routed to a closed pool"
        self.sent += 1
        try:
            await self.gate.wait()
        except anyio.get_cancelled_exc_class():
            self.stranded += 1  # as httpcore does when a cancellation lands mid-clean-up
            raise
        return 200, {}, b"{}"

    def stats(self) -> PoolStats | None:
        return None

    def held(self) -> int:
        return self.stranded

    async def aclose(self) -> None:
        self.closed = True


def make(size: int = 1) -> ConnectionPool:
    FakePool.made = []
    return ConnectionPool(lambda _size, _https: FakePool(), max_connections=4, pool_size=size)


@pytest.mark.anyio
async def test_a_stranded_pool_is_replaced_and_closed() -> None:
    pool = make()
    async with anyio.create_task_group() as group:
        group.start_soon(pool.fetch, REQUEST)
        await anyio.wait_all_tasks_blocked()
        group.cancel_scope.cancel()
    first = FakePool.made[0]
    assert first.closed
    assert pool.stats() == PoolStats(0, 0, 4, pools=1, held=0, replaced=1)
    # The next request goes to the fresh pool, not the stranded one.
    FakePool.made[1].gate.set()
    assert await pool.fetch(REQUEST) == (200, {}, b"{}")
    assert (first.sent, FakePool.made[1].sent) == (1, 1)


@pytest.mark.anyio
async def test_a_pool_is_checked_only_once_nothing_of_ours_is_in_it() -> None:
    """While another request of the session is still in the pool, what it holds is ours."""
    pool = make(size=2)
    async with anyio.create_task_group() as outer:
        outer.start_soon(pool.fetch, REQUEST)  # stays in flight
        await anyio.wait_all_tasks_blocked()
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(pool.fetch, REQUEST)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
        shared = FakePool.made[0]
        assert not shared.closed and pool.stats().replaced == 0
        assert pool.stats().held == 1  # the stranded one, seen in the counts
        shared.gate.set()  # the last request out finds the pool holding a stranded connection
    assert shared.closed
    assert pool.stats().replaced == 1
    assert pool.stats().held == 0


class FailingPool(FakePool):
    async def fetch(self, request: Outgoing, tokens: Tokens | None = None) -> Reply:
        raise OSError("refused")


@pytest.mark.anyio
async def test_a_failure_that_strands_nothing_replaces_nothing() -> None:
    failing = FailingPool()
    pool = ConnectionPool(lambda _size, _https: failing, max_connections=4, pool_size=1)
    for _ in range(3):
        with pytest.raises(OSError, match="refused"):
            await pool.fetch(REQUEST)
    assert not failing.closed
    assert pool.stats() == PoolStats(0, 0, 4, pools=1, held=0, replaced=0)
