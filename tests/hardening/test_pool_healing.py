"""Storms of asyncio's own task cancellations, the kind that strand connections inside httpcore:
afterwards every internal pool is idle and the same session serves thousands of calls."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import pytest

from thinknx_async import RateLimit, RetryPolicy, Session, Site, ThinknxError
from thinknx_async.simulator import Faults, Project, Simulator, SimulatorConfig, SimulatorThread

from ..conftest import Transport

SITES = 20


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # task.cancel() is asyncio's: it goes through anyio's shields


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Simulator, SimulatorThread]]:
    project = Project.generate(sites=SITES, seed=23, devices_per_kind=1)
    sim = Simulator(project, SimulatorConfig(local_ports=0))
    with SimulatorThread(sim) as thread:
        yield sim, thread


async def calls(sites: list[tuple[Site, dict[str, Any]]], count: int) -> list[asyncio.Task[Any]]:
    def one(n: int) -> asyncio.Task[Any]:
        site, entry = sites[n % len(sites)]
        return asyncio.create_task(site.light(entry["devices"]["light"][0]).set_level(n % 101))

    return [one(n) for n in range(count)]


@pytest.mark.anyio
async def test_native_cancellation_storms_leave_every_pool_usable(
    server: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    sim, thread = server
    rng = random.Random(5)
    retry = RetryPolicy(max_attempts=2, backoff=0.01, max_backoff=0.02)
    limit = RateLimit(rate=500.0, burst=20)
    async with Session(
        rate_limit=limit, retry=retry, max_connections=24, max_in_flight=2, transport=transport
    ) as session:
        sites = [
            (session.on_premise(thread.relay_url, entry["key"], allow_insecure=True), entry)
            for entry in thread.manifest()["sites"]
        ]
        sim.set_faults(Faults(latency=0.002, latency_max=0.03))
        for _ in range(3):
            tasks = await calls(sites, 3000)
            for _ in range(10):  # cancel random tenths while calls wait at every stage
                await asyncio.sleep(rng.uniform(0.005, 0.03))
                for task in rng.sample(tasks, len(tasks) // 10):
                    task.cancel()
            for task in tasks:
                task.cancel()
            ended = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
            assert all(
                isinstance(e, asyncio.CancelledError | ThinknxError)
                or not isinstance(e, BaseException)
                for e in ended
            )
            stats = session.pool_stats()
            assert stats is not None
            assert (stats.in_flight, stats.waiting, stats.held) == (0, 0, 0), stats

        sim.set_faults(Faults())
        results = await asyncio.wait_for(asyncio.gather(*await calls(sites, 3000)), 120)
        assert len(results) == 3000  # every one of them, without an error
        stats = session.pool_stats()
        assert stats is not None and stats.held == 0
