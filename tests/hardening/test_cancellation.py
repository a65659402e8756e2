"""Cancellation storms: thousands of calls, waiting for a token, for an in-flight slot, for a
pooled connection or for their reply, cancelled at random. Afterwards nothing is held (the
pool's, the sites' and the buckets' own counts are back to zero) and the same session runs at
full capacity again.

Every call's ending is decided by the test, not by a race: calls to a stalled site (the
simulator's ``down`` fault, held for longer than the test may last) can never get a reply, so
they end by their caller's deadline, by the test's cancellation or by the read timeout, as
planned; calls to a starved site (its one token spent beforehand) wait for a token until
cancelled; calls to a healthy site are never cancelled and get their reply. The session's
timeout is longer than the test's own bound wherever a call must not time out.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from thinknx_async import (
    USE_SESSION_DEFAULT,
    RateLimit,
    RetryPolicy,
    Session,
    Site,
    ThinknxError,
)
from thinknx_async.simulator import Faults, Project, Simulator, SimulatorConfig, SimulatorThread

from .._wait import BOUND, until
from ..conftest import Transport

SITES = 20
MAX_CONNECTIONS = 24
MAX_IN_FLIGHT = 2
NEVER = 3 * BOUND
"""A timeout or a hold that cannot end before the test's own bound fails the test."""
STARVED = RateLimit(rate=1 / NEVER, burst=1, jitter=0.0)
"""One token, then the next one after the test's bound: its calls wait until cancelled."""


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Simulator, SimulatorThread]]:
    project = Project.generate(sites=SITES, seed=21, devices_per_kind=1)
    sim = Simulator(project, SimulatorConfig(local_ports=0))
    with SimulatorThread(sim) as thread:
        yield sim, thread


def make_session(
    transport: Transport, timeout: float = NEVER, max_connections: int = MAX_CONNECTIONS
) -> Session:
    return Session(
        rate_limit=RateLimit(rate=40.0, burst=5),
        retry=RetryPolicy(max_attempts=2, backoff=0.01, max_backoff=0.02),
        timeout=timeout,
        max_connections=max_connections,
        pool_size=4,
        max_in_flight=MAX_IN_FLIGHT,
        transport=transport,
    )


@dataclass
class Plan:
    """The sites of a storm: each site's calls end in one way, chosen here."""

    sites: list[tuple[Site, dict[str, Any]]]
    healthy: set[int] = field(default_factory=set)
    """Sites that answer: their calls end "ok"."""
    stalled: set[int] = field(default_factory=set)
    """Sites that never answer: their calls end by a deadline, a timeout or a cancellation."""
    starved: set[int] = field(default_factory=set)
    """Sites with no token left: their calls wait for one until cancelled."""

    def keys(self, which: set[int]) -> tuple[str, ...]:
        return tuple(self.sites[i][1]["key"] for i in sorted(which))


def open_sites(
    session: Session, thread: SimulatorThread, limits: dict[int, RateLimit | None] | None = None
) -> list[tuple[Site, dict[str, Any]]]:
    """Every site of the simulator; ``limits`` overrides the session's rate limit by index."""
    limits = limits or {}
    return [
        (
            session.on_premise(
                thread.relay_url,
                entry["key"],
                allow_insecure=True,
                rate_limit=limits.get(i, USE_SESSION_DEFAULT),
            ),
            entry,
        )
        for i, entry in enumerate(thread.manifest()["sites"])
    ]


def assert_nothing_held(session: Session, sites: list[tuple[Site, dict[str, Any]]]) -> None:
    stats = session.pool_stats()
    assert stats is not None
    assert (stats.in_flight, stats.waiting) == (0, 0), stats
    for site, _ in sites:
        assert site.in_flight == 0, site
        assert site.bucket is None or site.bucket.waiting == 0, site


async def call(site: Site, entry: dict[str, Any], n: int) -> None:
    """One of three commands, by ``n``."""
    if n % 3 == 0:
        await site.knx.send_byte("1/2/3", n % 256)
    elif n % 3 == 1:
        await site.light(entry["devices"]["light"][0]).set_level(n % 101)
    else:
        await site.button(entry["devices"]["button"][0]).trigger()


async def storm(plan: Plan, calls: int, rng: random.Random, *, timeouts: bool = False) -> None:
    """``calls`` calls over every site, many of them cancelled at random; each ends as planned.

    A stalled site's call has a deadline of its own shorter than the session's timeout
    (ends "timed out"), or is cancelled by the test ("cancelled"), or, with ``timeouts``, is
    left to the session's read timeout (a typed ``TimeoutError``: the first two per site).
    """
    expected: list[str] = []
    ended: list[str] = []
    # A stalled site's first calls, as many as its in-flight slots: they time out together.
    left_to_time_out = dict.fromkeys(plan.stalled, MAX_IN_FLIGHT) if timeouts else {}
    cancel: list[anyio.CancelScope] = []

    async def one(n: int, deadline: float | None, scope: anyio.CancelScope) -> None:
        site, entry = plan.sites[n % len(plan.sites)]
        outcome = "cancelled"
        with scope:
            with anyio.move_on_after(deadline) as timer:
                try:
                    await call(site, entry, n)
                    outcome = "ok"
                except ThinknxError as error:
                    outcome = type(error).__name__
            if timer.cancelled_caught:
                outcome = "timed out"
        ended.append(f"{n}: {outcome}")

    async with anyio.create_task_group() as group:
        for n in range(calls):
            index = n % len(plan.sites)
            deadline = None
            scope = anyio.CancelScope()
            if index in plan.healthy:
                fate = "ok"
            elif index in plan.starved:
                fate = "cancelled"
            else:
                fate = "cancelled"
                if left_to_time_out.get(index, 0):  # each holds a slot for a whole timeout
                    fate = "TimeoutError"
                    left_to_time_out[index] -= 1
                elif rng.random() > 0.5:
                    fate, deadline = "timed out", rng.uniform(0.001, 0.5)
            if fate == "cancelled":
                cancel.append(scope)
            expected.append(f"{n}: {fate}")
            group.start_soon(one, n, deadline, scope)
        # Cancel random subsets while calls wait at every stage, then everything left.
        for _ in range(20):
            await anyio.sleep(rng.uniform(0.005, 0.05))
            for scope in rng.sample(cancel, len(cancel) // 20):
                scope.cancel()
        for scope in cancel:
            scope.cancel()
    assert sorted(ended) == sorted(expected)  # every call ended, and each as planned


async def open_plan(
    session: Session,
    sim: Simulator,
    thread: SimulatorThread,
    *,
    healthy: set[int],
    starved: set[int],
) -> Plan:
    """The sites, the stalled ones (all others) held by the simulator, the starved drained."""
    limits: dict[int, RateLimit | None] = dict.fromkeys(healthy)
    limits.update(dict.fromkeys(starved, STARVED))
    plan = Plan(open_sites(session, thread, limits), healthy, set(), starved)
    plan.stalled = set(range(SITES)) - healthy - starved
    sim.set_faults(Faults(down=True, down_max_hold=NEVER, sites=plan.keys(plan.stalled)))
    for i in sorted(starved):  # spend each starved site's one token
        site, entry = plan.sites[i]
        await site.light(entry["devices"]["light"][0]).turn_on()
    return plan


async def quiet(sim: Simulator) -> None:
    """Wait until every request the simulator received has ended (cancelled ones too)."""
    counters = sim.counters
    await until(lambda: counters.requests() == counters.responses(), "a quiet server")


@pytest.mark.anyio
async def test_cancellation_storm_leaks_nothing(
    server: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    sim, thread = server
    rng = random.Random(7)
    async with make_session(transport) as session:
        # 14 stalled sites want 28 connections of 24: calls wait for the pool too.
        plan = await open_plan(session, sim, thread, healthy={0, 1, 2, 3}, starved={4, 5})
        for _ in range(2):
            with anyio.fail_after(BOUND):
                await storm(plan, 3000, rng)
            assert_nothing_held(session, plan.sites)

        # Full capacity again: the pool fills to its every connection, held by the server...
        await quiet(sim)
        sim.set_faults(Faults(down=True, down_max_hold=NEVER))
        before = sim.counters.total_executed()
        results: list[object] = []

        async def held_call(site: Site, n: int) -> None:
            results.append(await site.knx.send_bit(f"3/{n // 256 % 8}/{n % 256}", 1))

        async with anyio.create_task_group() as group:
            with anyio.fail_after(BOUND):
                unlimited = [plan.sites[i][0] for i in plan.stalled]
                calls = len(unlimited) * MAX_IN_FLIGHT
                for n in range(calls):
                    group.start_soon(held_call, unlimited[n % len(unlimited)], n)
                stats = session.pool_stats
                await until(
                    lambda: getattr(stats(), "in_flight", 0) == MAX_CONNECTIONS,
                    "every pooled connection in use",
                )
                # ... each site reaches its in-flight cap (calls past the pool's wait in it)...
                assert all(site.in_flight == MAX_IN_FLIGHT for site in unlimited)
                sim.set_faults(Faults())
        # ... and every call goes through, once.
        assert len(results) == calls
        assert sim.counters.total_executed() - before == calls
        assert_nothing_held(session, plan.sites)
    await until(lambda: sim.counters.connected == 0, "every connection closed")


@pytest.mark.anyio
async def test_closing_the_session_under_load_ends_every_call_with_a_typed_error(
    server: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    """Calls queued for a token or a connection when the session closes get SessionError; none
    is sent afterwards and no connection outlives the session."""
    sim, thread = server
    await quiet(sim)
    sim.set_faults(Faults(down=True, down_max_hold=NEVER))
    outcomes: list[str] = []
    before = sim.counters.requests()
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
            with anyio.fail_after(BOUND):
                for n in range(1000):
                    group.start_soon(one, *sites[n % SITES])
                # Every connection is in use and its request held: nothing else can be sent.
                await until(
                    lambda: sim.counters.requests() - before == MAX_CONNECTIONS,
                    "every pooled connection's request at the server",
                )
                await session.aclose()
    sim.set_faults(Faults())
    assert len(outcomes) == 1000
    # The requests in flight end as the connections close; all the others were never sent.
    assert outcomes.count("SessionError") >= 1000 - MAX_CONNECTIONS
    assert set(outcomes) <= {"SessionError", "TransportError"}
    assert sim.counters.requests() - before == MAX_CONNECTIONS  # nothing sent after the close
    await until(lambda: sim.counters.connected == 0, "every connection closed")


@pytest.mark.anyio
async def test_read_timeouts_firing_amid_cancellations_leak_nothing(
    server: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    """Replies that never come while callers cancel at random: every call ends, in a reply, a
    typed timeout or its caller's cancellation; nothing is held afterwards, and the session
    works again at once."""
    sim, thread = server
    await quiet(sim)
    rng = random.Random(11)
    # Over the callers' own deadlines (at most 0.5 s), which therefore always fire first, and
    # long enough for a healthy reply on a loaded machine. A connection for every in-flight
    # slot: no call waits for the pool, where it could time out.
    timeout = 2.5
    async with make_session(transport, timeout, SITES * MAX_IN_FLIGHT) as session:
        healthy = set(range(8))
        plan = await open_plan(session, sim, thread, healthy=healthy, starved=set(range(8, 16)))
        with anyio.fail_after(BOUND):
            await storm(plan, 2000, rng, timeouts=True)
        assert_nothing_held(session, plan.sites)
        sim.set_faults(Faults())
        site, entry = plan.sites[0]
        result = await site.light(entry["devices"]["light"][0]).turn_on()
        assert result.guid == entry["devices"]["light"][0]
    await until(lambda: sim.counters.connected == 0, "every connection closed")
