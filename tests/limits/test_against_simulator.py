"""The throttle and the retry policy against the simulator's own rate limits, over sockets.

Timings are measured by ``benchmarks/rate_limits.py``; these tests assert what must hold on any
machine: counts of 429s, executions per device, order of completions, leaked slots.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import pytest

from thinknx_async import RateLimit, RetryPolicy, Session, Site, ThinknxError
from thinknx_async.simulator import Faults, Project, Simulator, SimulatorConfig, SimulatorThread

from .._wait import until


async def run_all(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Start every call at once; return each result or the ThinknxError it raised."""
    results: list[Any] = [None] * len(calls)

    async def one(i: int) -> None:
        try:
            results[i] = await calls[i]()
        except ThinknxError as error:
            results[i] = error

    async with anyio.create_task_group() as tg:
        for i in range(len(calls)):
            tg.start_soon(one, i)
    return results


def relay_site(session: Session, server: SimulatorThread, index: int = 0, **kw: Any) -> Site:
    entry = server.manifest()["sites"][index]
    insecure = server.ca_file is None
    return session.on_premise(server.relay_url, entry["key"], allow_insecure=insecure, **kw)


@pytest.mark.anyio
async def test_matched_limits_over_https_never_draw_a_429() -> None:
    project = Project.generate(sites=1, seed=21, devices_per_kind=4)
    sim = Simulator(project, SimulatorConfig(rate=20.0, burst=5, tls=True, local_ports=0))
    with SimulatorThread(sim) as server:
        assert server.ca_file is not None
        context = ssl.create_default_context(cafile=str(server.ca_file))
        # The margin is the delay spread the client absorbs. A loaded test machine delays a
        # TLS handshake or a thread by far more than a network does: 200 ms, not the default.
        limit = RateLimit(rate=20.0, burst=5, jitter=0.2)
        async with Session(rate_limit=limit, verify=context, max_in_flight=10) as session:
            site = relay_site(session, server)
            lights = project.sites[0].devices_by_kind()["light"]
            results = await run_all(
                [partial(site.light(lights[i % 4]).set_level, i % 101) for i in range(40)]
            )
    assert all(not isinstance(r, ThinknxError) for r in results)
    assert sim.counters.responses(429) == 0  # new TLS connections bunched nothing into a 429
    assert sum(sim.counters.executed(g, "powerlevel") for g in lights) == 40


@pytest.mark.anyio
async def test_a_client_ten_times_too_fast_gets_every_command_through_exactly_once() -> None:
    project = Project.generate(sites=1, seed=22, devices_per_kind={"button": 30, "light": 2})
    sim = Simulator(project, SimulatorConfig(rate=20.0, burst=5, local_ports=0))
    with SimulatorThread(sim) as server:
        retry = RetryPolicy(max_attempts=8, deadline=60.0)
        too_fast = RateLimit(rate=200.0, burst=50)
        async with Session(rate_limit=too_fast, retry=retry, max_in_flight=50) as session:
            site = relay_site(session, server)
            buttons = project.sites[0].devices_by_kind()["button"]
            results = await run_all([site.button(g).trigger for g in buttons * 2])
            bucket = site.bucket
    assert all(not isinstance(r, ThinknxError) for r in results), results
    assert sim.counters.responses(429) > 0  # the server did push back
    for guid in buttons:  # 429s are never executed, so retrying them doubles nothing
        assert sim.counters.executed(guid, "trigger") == 2
    assert bucket is not None
    assert bucket.decreases >= 1
    assert bucket.rate < 2 * 20.0  # it came down from ten times the server's rate


@pytest.mark.anyio
async def test_twenty_sites_run_in_parallel_each_at_its_own_limit() -> None:
    project = Project.generate(sites=20, seed=23, devices_per_kind=1)
    sim = Simulator(project, SimulatorConfig(rate=10.0, burst=2, local_ports=0))
    finished: list[int] = []
    with SimulatorThread(sim) as server:
        async with Session(rate_limit=RateLimit(rate=10.0, burst=2)) as session:
            sites = [relay_site(session, server, i) for i in range(20)]

            async def drive(index: int) -> None:
                light = sites[index].light(project.sites[index].devices_by_kind()["light"][0])
                for _ in range(6):
                    await light.turn_on()
                    finished.append(index)

            # The server holds what it gets: each site sends one command at a time, so 20 held
            # at once means every site was sending while the others waited for a reply.
            sim.set_faults(Faults(down=True, down_max_hold=120.0))
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    for index in range(20):
                        tg.start_soon(drive, index)
                    await until(lambda: sim.counters.requests() >= 20, "a command per site held")
                    held = sim.counters.requests() - sim.counters.responses()
                    sim.set_faults(Faults())
    assert held == 20
    assert len(finished) == 120
    assert sorted(finished) == sorted(list(range(20)) * 6)


@pytest.mark.anyio
async def test_faults_never_double_a_non_idempotent_command() -> None:
    kinds = {"scene": 40, "button": 40, "light": 40}
    project = Project.generate(sites=1, seed=24, devices_per_kind=kinds)
    faults = Faults(
        error_before_rate=0.15,
        error_after_rate=0.1,
        drop_before_rate=0.05,
        drop_after_rate=0.1,
        seed=24,
    )
    sim = Simulator(project, SimulatorConfig(local_ports=0, faults=faults))
    with SimulatorThread(sim) as server:
        retry = RetryPolicy(max_attempts=12, backoff=0.005, max_backoff=0.05)
        async with Session(rate_limit=None, retry=retry, max_in_flight=16) as session:
            site = relay_site(session, server)
            devices = project.sites[0].devices_by_kind()
            scenes = await run_all([site.scene(g).launch for g in devices["scene"]])
            buttons = await run_all([site.button(g).trigger for g in devices["button"]])
            lights = await run_all([site.light(g).turn_on for g in devices["light"]])
    for guids, results, controller in (
        (devices["scene"], scenes, "scenelaunch"),
        (devices["button"], buttons, "trigger"),
    ):
        for guid, result in zip(guids, results, strict=True):
            executed = sim.counters.executed(guid, controller)
            assert executed <= 1, f"{controller} {guid} ran {executed} times"
            if not isinstance(result, ThinknxError):
                assert executed == 1  # a success is never a command that did not run
    failed = [r for r in scenes + buttons if isinstance(r, ThinknxError)]
    assert failed  # with these fault rates some must be reported as failed, not retried
    assert all(not isinstance(r, ThinknxError) for r in lights)  # idempotent: all get through
    assert all(sim.counters.executed(g, "power") >= 1 for g in devices["light"])


@pytest.mark.anyio
async def test_cancelling_half_the_waiting_calls_leaks_nothing() -> None:
    project = Project.generate(sites=1, seed=25, devices_per_kind=4)
    sim = Simulator(project, SimulatorConfig(local_ports=0))
    rng = random.Random(25)
    with SimulatorThread(sim) as server:
        limit = RateLimit(rate=400.0, burst=20)
        async with Session(rate_limit=limit, max_in_flight=8, max_connections=8) as session:
            site = relay_site(session, server)
            light = site.light(project.sites[0].devices_by_kind()["light"][0])
            scopes = [anyio.CancelScope() for _ in range(300)]
            done = 0

            async def call(scope: anyio.CancelScope) -> None:
                nonlocal done
                with scope:
                    await light.turn_on()
                    done += 1

            # Held by the server until the cancellations are in: none can finish before.
            sim.set_faults(Faults(down=True, down_max_hold=120.0))
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    for scope in scopes:
                        tg.start_soon(call, scope)
                    # Every slot's request at the server, the other calls waiting for a slot.
                    await until(lambda: sim.counters.requests() >= 8, "every slot's request held")
                    for scope in rng.sample(scopes, 150):
                        scope.cancel()
                    sim.set_faults(Faults())
            assert done == 150  # every call not cancelled, and only those
            stats = session.pool_stats()
            assert stats is not None
            assert (stats.in_flight, stats.waiting) == (0, 0)
            assert site.in_flight == 0
            assert site.bucket is not None
            assert site.bucket.waiting == 0
            # Full capacity afterwards: a second wave fills every slot and all of it gets through.
            results = await run_all([light.is_on for _ in range(200)])
            assert all(r is True for r in results)
            assert session.pool_stats() == stats
