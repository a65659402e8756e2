"""Fault storms against the simulator over real sockets, proved from its exact counters.

Every command's outcome is recorded (see ``benchmarks.soak.Ledger`` and docs/reliability.md):
no command is lost (a success the server did not execute, or a call with neither result nor
error) and no non-idempotent command runs more often than its successes plus its failures that
may have run. Each storm also checks that its faults really happened.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from benchmarks.soak import KNX_CONTROLLERS, Figures, Ledger, Workload, run_round
from thinknx_async import RateLimit, RetryPolicy, Session, Site
from thinknx_async.simulator import Faults, Project, Simulator, SimulatorConfig, SimulatorThread
from thinknx_async.simulator.faults import FaultState

from .._wait import until, until_blocking
from ..conftest import Transport

DEVICES = {"light": 3, "blind": 2, "thermostat": 1, "hvac": 0, "scene": 6, "button": 20}
FAULTY = Faults(
    latency=0.0,
    latency_max=0.005,
    stall_rate=0.03,  # replies that never come: the client's read timeout fires, always
    down_max_hold=60.0,
    error_before_rate=0.05,
    error_after_rate=0.05,
    drop_before_rate=0.03,
    drop_after_rate=0.03,
    slow_rate=0.03,
    slow_seconds=0.1,
)


TIMEOUT = 2.0
"""The client's timeout: only a reply that never comes outlasts it, however loaded the machine."""


def injected(faults: Faults, requests: int) -> tuple[int, int]:
    """500s and unanswered requests (drops, stalls) among the first ``requests`` fates drawn."""
    state = FaultState(faults)
    errors = unanswered = 0
    for _ in range(requests):
        plan = state.plan()  # in the order the simulator applies them
        for fault, is_error in (
            (plan.stall, False),
            (plan.error_before, True),
            (plan.drop_before, False),
            (plan.error_after, True),
            (plan.drop_after, False),
        ):
            if fault:
                errors += is_error
                unanswered += not is_error
                break
    return errors, unanswered


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Simulator, SimulatorThread]]:
    """Four sites (the first also local, with Digest) on a server of their own."""
    project = Project.generate(sites=4, seed=11, devices_per_kind=DEVICES)
    sim = Simulator(project, SimulatorConfig(local_ports=1))
    with SimulatorThread(sim) as thread:
        yield sim, thread


def quiet(sim: Simulator, unanswered: int = 0) -> Callable[[], bool]:
    """Whether the server has answered every request it received.

    A request the client gave up on (a timeout, a cancellation) may still be running in the
    server, and may still execute: the counters are final only once it has answered.
    ``unanswered`` requests were cut short by a server that stopped, and never will be.
    """
    return lambda: sim.counters.requests() - sim.counters.responses() == unanswered


@pytest.fixture
def fresh(server: tuple[Simulator, SimulatorThread]) -> tuple[Simulator, SimulatorThread]:
    sim, thread = server
    sim.set_faults(Faults())
    until_blocking(quiet(sim), "the requests of a previous test ended in the server")
    sim.reset()
    return sim, thread


def executed_in(sim: Simulator) -> Any:
    def executed(controller: str, target: str) -> int:
        if controller in KNX_CONTROLLERS:
            return sim.counters.knx(target, controller)
        return sim.counters.executed(target, controller)

    return executed


def open_sites(session: Session, thread: SimulatorThread) -> list[tuple[Site, dict[str, Any]]]:
    """Every site through the relay, and the first one also locally with Digest."""
    entries = thread.manifest()["sites"]
    sites = [
        (session.on_premise(thread.relay_url, entry["key"], allow_insecure=True), entry)
        for entry in entries
    ]
    local = entries[0]
    host, port = local["local_url"].rsplit(":", 1)
    site = session.local(
        host.removeprefix("http://"),
        port=int(port),
        username=local["username"],
        password=local["password"],
        auth="digest",
    )
    return [*sites, (site, local)]


def session_for(**options: Any) -> Session:
    options.setdefault("retry", RetryPolicy(max_attempts=4, backoff=0.01, max_backoff=0.05))
    options.setdefault("timeout", TIMEOUT)
    options.setdefault("rate_limit", None)
    return Session(max_in_flight=8, **options)


async def settle(sim: Simulator, ledger: Ledger, unanswered: int = 0) -> Figures:
    """Wait (bounded) for requests the client gave up on, then settle the ledger."""
    await until(quiet(sim, unanswered), "every request the client gave up on ended")
    figures = ledger.settle(executed_in(sim))
    assert figures.ok, figures.problems
    assert figures.lost == 0
    assert figures.doubled == 0
    assert figures.crashed == 0
    assert sim.counters.total_executed() == figures.executed  # nothing ran that no call sent
    return figures


def assert_idle(session: Session, sites: list[tuple[Site, dict[str, Any]]]) -> None:
    stats = session.pool_stats()
    assert stats is not None
    assert (stats.in_flight, stats.waiting) == (0, 0)
    assert all(site.in_flight == 0 for site, _ in sites)


@pytest.mark.anyio
async def test_mixed_fault_storm(
    fresh: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    sim, thread = fresh
    sim.set_faults(FAULTY)
    ledger = Ledger()
    async with session_for(transport=transport) as session:
        sites = open_sites(session, thread)
        commands = list(Workload(sites, seed=3).batch(400))
        with anyio.fail_after(60):
            await run_round(ledger, commands, concurrency=60)
        assert_idle(session, sites)
    figures = await settle(sim, ledger)
    assert figures.sent == 400
    # The faults happened: every command drew at least one fate, in a seeded sequence, so the
    # first 400 fates (whoever got them) were all served. Some of them reached the callers.
    errors, unanswered = injected(FAULTY, 400)
    assert errors > 0 and unanswered > 0
    assert sim.counters.responses(500) >= errors
    assert sim.counters.responses(0) >= unanswered  # dropped or stalled connections
    assert figures.failed_may_have_run > 0
    assert ledger.errors["ServerError"] > 0
    assert ledger.errors["TimeoutError"] + ledger.errors["TransportError"] > 0
    assert figures.succeeded > figures.sent // 2


@pytest.mark.anyio
async def test_a_server_that_stops_answering_and_comes_back(
    fresh: tuple[Simulator, SimulatorThread],
) -> None:
    sim, thread = fresh
    ledger = Ledger()
    async with session_for(
        retry=RetryPolicy(max_attempts=6, backoff=0.1, max_backoff=0.3)
    ) as session:
        sites = open_sites(session, thread)
        workload = Workload(sites, seed=4)
        commands = list(workload.batch(300))
        counters = sim.counters
        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                group.start_soon(run_round, ledger, commands, 30)
                # Down a third of the way through (by count, not by time), until callers see it.
                await until(lambda: counters.requests() >= 100, "a third of the commands sent")
                sim.set_faults(Faults(down=True, down_max_hold=60.0))
                await until(lambda: ledger.errors["TimeoutError"] > 0, "the outage seen")
                sim.set_faults(Faults())
        assert_idle(session, sites)
        # Back to normal: a fresh batch all goes through on the same session.
        failures = sum(ledger.errors.values())
        with anyio.fail_after(30):
            await run_round(ledger, list(workload.batch(100)), concurrency=30)
        assert sum(ledger.errors.values()) == failures
        assert_idle(session, sites)
    await settle(sim, ledger)


@pytest.mark.anyio
async def test_a_server_that_reboots_mid_run(caplog: pytest.LogCaptureFixture) -> None:
    """The server process goes away (connections reset, connects refused) and comes back on
    the same port; commands sent meanwhile fail or are retried, none is lost or doubled."""
    project = Project.generate(sites=2, seed=12, devices_per_kind=DEVICES)
    sim = Simulator(project, SimulatorConfig(local_ports=0, faults=Faults(latency=0.02)))
    first = SimulatorThread(sim).start()
    port = int(first.relay_url.rsplit(":", 1)[1])
    ledger = Ledger()
    second: SimulatorThread | None = None
    unanswered = connections = 0
    caplog.set_level(logging.DEBUG, logger="thinknx_async")

    def retries() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "retrying" in r.getMessage()]

    try:
        retry = RetryPolicy(max_attempts=8, backoff=0.1, max_backoff=0.4)
        async with session_for(retry=retry) as session:
            sites = [
                (session.on_premise(first.relay_url, e["key"], allow_insecure=True), e)
                for e in first.manifest()["sites"]
            ]
            commands = list(Workload(sites, seed=5).batch(500))

            def refused() -> bool:  # a call retried after its connection was refused
                return any("cannot connect" in r.getMessage() for r in retries())

            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    group.start_soon(run_round, ledger, commands, 20)
                    # Stopped a fifth of the way through (by count), back once calls see it.
                    await until(lambda: sim.counters.requests() >= 100, "a fifth of them sent")
                    await anyio.to_thread.run_sync(first.stop)
                    unanswered = sim.counters.requests() - sim.counters.responses()
                    connections = sim.counters.tcp_connections_opened
                    await until(refused, "a call refused while the server is away")
                    second = await anyio.to_thread.run_sync(SimulatorThread(sim, port=port).start)
            assert_idle(session, sites)
    finally:
        first.stop()
        if second is not None:
            figures = await settle(sim, ledger, unanswered)
            second.stop()
    assert second is not None
    # Calls made while it was away could not connect, and were retried (whatever the command).
    assert refused()
    assert sim.counters.tcp_connections_opened > connections  # the client reconnected
    assert figures.succeeded > figures.sent // 2


@pytest.mark.anyio
@pytest.mark.parametrize("with_limiter", [False, True])
async def test_a_relay_that_answers_only_429_for_a_while(
    fresh: tuple[Simulator, SimulatorThread], with_limiter: bool
) -> None:
    """Non-idempotent commands only: 429s are retried for them, and each runs exactly once."""
    sim, thread = fresh
    ledger = Ledger()
    retry = RetryPolicy(max_attempts=5, backoff=0.05, max_backoff=0.2, deadline=30.0)
    limit = RateLimit(rate=50.0, burst=10) if with_limiter else None
    async with session_for(retry=retry, rate_limit=limit) as session:
        sites = open_sites(session, thread)
        workload = Workload(sites, seed=6)
        commands = [c for c in workload.batch(400) if not c[1]][:150]
        sim.set_faults(Faults(storm_seconds=1.2))  # just before the first request
        with anyio.fail_after(60):
            await run_round(ledger, commands, concurrency=50)
        assert_idle(session, sites)
    figures = await settle(sim, ledger)
    assert sim.counters.responses(429) > 0
    assert figures.succeeded == figures.sent == len(commands)
    assert figures.executed == figures.sent  # each exactly once
    for tally in ledger.tallies.values():
        assert not tally.idempotent


def test_the_ledger_can_fail() -> None:
    """The accounting catches what it must: a lost success, a double run, a hung call."""
    from thinknx_async import ServerError, TimeoutError

    async def ok() -> None:
        return None

    async def fails_after_running() -> None:
        raise ServerError("x: HTTP 500", status_code=500)

    async def refused() -> None:
        error = TimeoutError("x: connection not opened in time")
        error.never_sent = True
        raise error

    async def crash() -> None:
        raise KeyError("boom")

    async def record(ledger: Ledger) -> None:
        await ledger.run(("trigger", "a"), False, ok)
        await ledger.run(("trigger", "b"), False, fails_after_running)
        await ledger.run(("trigger", "c"), False, refused)
        await ledger.run(("power", "d"), True, ok)
        await ledger.run(("power", "e"), True, crash)

    ledger = Ledger()
    anyio.run(record, ledger)
    counts = {"a": 1, "b": 1, "c": 0, "d": 3, "e": 0}
    figures = ledger.settle(lambda controller, target: counts[target])
    assert figures.ok is False  # the crash
    assert (figures.lost, figures.doubled, figures.crashed) == (1, 0, 1)
    assert figures.idempotent_repeats == 2

    ledger = Ledger()
    anyio.run(record, ledger)
    counts = {"a": 0, "b": 2, "c": 1, "d": 1, "e": 0}
    figures = ledger.settle(lambda controller, target: counts[target])
    assert figures.lost == 2  # "a" succeeded but never ran; "e" crashed
    assert figures.doubled == 2  # "b" ran twice; "c" ran though it could not have been sent
    assert len(figures.problems) == 4
    ledger.tallies[("trigger", "a")].pending += 1  # a call that never ended
    assert ledger.settle(lambda controller, target: counts[target]).lost == 3


def test_every_telegram_of_a_workload_has_its_own_group() -> None:
    workload = Workload([], seed=0)
    groups = [workload._group() for _ in range(70_000)]
    assert len(set(groups)) == len(groups)
    rng = random.Random(1)
    assert all(g.count("/") in (1, 2) for g in rng.sample(groups, 100))
