"""Cancellation storms: thousands of calls, waiting for a token, for an in-flight slot, for a
pooled connection or for their reply, cancelled at random. Afterwards nothing is held (the
pool's, the sites' and the buckets' own counts are back to zero) and the same session runs at
full capacity again."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from thinknx_async import RateLimit, RetryPolicy, Session, Site, ThinknxError
from thinknx_async.simulator import Faults, Project, Simulator, SimulatorConfig, SimulatorThread

from ..conftest import Transport

SITES = 20
MAX_CONNECTIONS = 24
MAX_IN_FLIGHT = 2


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Simulator, SimulatorThread]]:
    project = Project.generate(sites=SITES, seed=21, devices_per_kind=1)
    sim = Simulator(project, SimulatorConfig(local_ports=0))
    with SimulatorThread(sim) as thread:
        yield sim, thread


def make_session(transport: Transport, timeout: float = 5.0) -> Session:
    return Session(
        rate_limit=RateLimit(rate=40.0, burst=5),
        retry=RetryPolicy(max_attempts=2, backoff=0.01, max_backoff=0.02),
        timeout=timeout,
        max_connections=MAX_CONNECTIONS,
        pool_size=4,
        max_in_flight=MAX_IN_FLIGHT,
        transport=transport,
    )


def open_sites(session: Session, thread: SimulatorThread) -> list[tuple[Site, dict[str, Any]]]:
    return [
        (session.on_premise(thread.relay_url, entry["key"], allow_insecure=True), entry)
        for entry in thread.manifest()["sites"]
    ]


def assert_nothing_held(session: Session, sites: list[tuple[Site, dict[str, Any]]]) -> None:
    stats = session.pool_stats()
    assert stats is not None
    assert (stats.in_flight, stats.waiting) == (0, 0), stats
    for site, _ in sites:
        assert site.in_flight == 0, site
        assert site.bucket is None or site.bucket.waiting == 0, site


async def wait_for(condition: Any, what: str, limit: float = 10.0) -> None:
    """Poll ``condition`` until true; fail (not hang) after ``limit`` seconds."""
    with anyio.move_on_after(limit):
        while not condition():  # noqa: ASYNC110 - the state changes in other threads too
            await anyio.sleep(0.005)
        return
    pytest.fail(f"never reached: {what}")


async def storm(
    sites: list[tuple[Site, dict[str, Any]]], calls: int, rng: random.Random
) -> dict[str, int]:
    """``calls`` calls over every site, most of them cancelled at random; how each ended."""
    ended = {"ok": 0, "error": 0, "cancelled": 0, "timed out": 0}
    scopes: list[anyio.CancelScope] = []

    async def one(site: Site, entry: dict[str, Any], scope: anyio.CancelScope, n: int) -> None:
        deadline = rng.choice([None, None, rng.uniform(0.001, 0.5)])
        with scope:
            with anyio.move_on_after(deadline) as timer:
                try:
                    if n % 3 == 0:
                        await site.knx.send_byte("1/2/3", n % 256)
                    elif n % 3 == 1:
                        await site.light(entry["devices"]["light"][0]).set_level(n % 101)
                    else:
                        await site.button(entry["devices"]["button"][0]).trigger()
                except ThinknxError:
                    ended["error"] += 1
                    return
            if timer.cancelled_caught:
                ended["timed out"] += 1
                return
            ended["ok"] += 1
            return
        ended["cancelled"] += 1

    async with anyio.create_task_group() as group:
        for n in range(calls):
            site, entry = sites[n % len(sites)]
            scope = anyio.CancelScope()
            scopes.append(scope)
            group.start_soon(one, site, entry, scope, n)
        # Cancel random subsets while calls wait at every stage, then everything left.
        for _ in range(20):
            await anyio.sleep(rng.uniform(0.005, 0.05))
            for scope in rng.sample(scopes, len(scopes) // 20):
                scope.cancel()
        for scope in scopes:
            scope.cancel()
    assert sum(ended.values()) == calls  # every call ended one way or another
    return ended


@pytest.mark.anyio
async def test_cancellation_storm_leaks_nothing(
    server: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    sim, thread = server
    sim.set_faults(Faults(latency=0.005, latency_max=0.05))
    rng = random.Random(7)
    async with make_session(transport) as session:
        sites = open_sites(session, thread)
        for _ in range(2):
            with anyio.fail_after(30):
                ended = await storm(sites, 3000, rng)
            assert ended["cancelled"] > 1000
            assert ended["timed out"] > 0
            assert ended["ok"] > 0
            assert_nothing_held(session, sites)

        # Full capacity again: the pool fills to its every connection...
        sim.set_faults(Faults(latency=0.3))
        results: list[object] = []

        async def slow_call(site: Site, entry: dict[str, Any], n: int) -> None:
            results.append(await site.knx.send_bit(f"3/{n // 256 % 8}/{n % 256}", 1))

        # Cancelled requests may still be running in the server: count from when it is quiet.
        counters = sim.counters
        await wait_for(lambda: counters.requests() == counters.responses(), "a quiet server")
        before = counters.total_executed()
        peak_sites = 0
        async with anyio.create_task_group() as group:
            for n in range(SITES * MAX_IN_FLIGHT):
                site, entry = sites[n % SITES]
                group.start_soon(slow_call, site, entry, n)
            stats = session.pool_stats
            await wait_for(
                lambda: getattr(stats(), "in_flight", 0) == MAX_CONNECTIONS,
                "every pooled connection in use",
            )
            peak_sites = max(site.in_flight for site, _ in sites)
        # ... each site reaches its in-flight cap, and every call goes through, once.
        assert peak_sites == MAX_IN_FLIGHT
        assert len(results) == SITES * MAX_IN_FLIGHT
        assert sim.counters.total_executed() - before == SITES * MAX_IN_FLIGHT
        assert_nothing_held(session, sites)
    sim.set_faults(Faults())
    await wait_for(lambda: sim.counters.connected == 0, "every connection closed")


@pytest.mark.anyio
async def test_closing_the_session_under_load_ends_every_call_with_a_typed_error(
    server: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    """Calls queued for a token or a connection when the session closes get SessionError; none
    is sent afterwards and no connection outlives the session."""
    sim, thread = server
    sim.set_faults(Faults(latency=0.05))
    outcomes: list[str] = []
    async with make_session(transport) as session:
        sites = open_sites(session, thread)

        async def one(site: Site, entry: dict[str, Any]) -> None:
            try:
                await site.light(entry["devices"]["light"][0]).turn_on()
            except ThinknxError as error:
                outcomes.append(type(error).__name__)
            else:
                outcomes.append("ok")

        async with anyio.create_task_group() as group:
            for n in range(1000):
                group.start_soon(one, *sites[n % SITES])
            await anyio.sleep(0.3)
            await session.aclose()
            requests = sim.counters.requests()
    sim.set_faults(Faults())
    assert len(outcomes) == 1000
    assert outcomes.count("SessionError") > 500
    assert set(outcomes) <= {"ok", "SessionError", "TransportError"}
    assert sim.counters.requests() == requests  # nothing sent after the close
    await wait_for(lambda: sim.counters.connected == 0, "every connection closed")


@pytest.mark.anyio
async def test_read_timeouts_firing_amid_cancellations_leak_nothing(
    server: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    """Replies slower than the read timeout while callers cancel at random: every call ends,
    in a reply, a typed timeout or its caller's cancellation; nothing is held afterwards, and
    the session works again at once."""
    sim, thread = server
    sim.set_faults(Faults(latency=0.01, latency_max=0.06))
    rng = random.Random(11)
    async with make_session(transport, timeout=0.03) as session:
        sites = open_sites(session, thread)
        with anyio.fail_after(30):
            ended = await storm(sites, 2000, rng)
        assert ended["error"] > 10  # read timeouts, as typed errors (how many: timing)
        assert ended["cancelled"] > 100
        assert ended["ok"] > 0
        assert_nothing_held(session, sites)
        sim.set_faults(Faults())
        site, entry = sites[0]
        result = await site.light(entry["devices"]["light"][0]).turn_on()
        assert result.guid == entry["devices"]["light"][0]
    await wait_for(lambda: sim.counters.connected == 0, "every connection closed")
