"""Tokens spent at the wire, learned rates and the relay's own limit, over sockets, on both
transports.

Every scenario checks what must hold on a loaded machine: the simulator's 429 count against a
generous bound, and that every command ran exactly once. Times against the ideal are
``benchmarks/rate_limits.py``'s figures, not assertions here.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import pytest

from thinknx_async import RateLimit, RetryPolicy, Session, ThinknxError
from thinknx_async._turn import Turn
from thinknx_async.simulator import Project, Simulator, SimulatorConfig, SimulatorThread
from thinknx_async.throttle import TokenBucket

from ..conftest import Transport
from .clock import ManualClock
from .slow_proxy import SlowProxy
from .test_against_simulator import relay_site, run_all

# Handshakes slowed by 20 to 400 ms, unevenly: requests whose tokens were held over them would
# reach the server late and bunched with the next ones.
HANDSHAKES = [0.05, 0.3, 0.1, 0.4, 0.02, 0.2]
# The jitter margin (of arrival times, not of handshakes) is raised so that a busy machine's
# scheduling delays alone do not bunch requests into a 429.
MATCHED = RateLimit(rate=20.0, burst=5, jitter=0.15)
RETRY = RetryPolicy(max_attempts=10, deadline=90.0)


class _Open:
    closed = False


OPEN = _Open()


@pytest.fixture
def given_back(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times an attempt's tokens went back to the bucket on their way to the wire."""
    count = [0]
    original = Turn.give_back

    def counting(self: Turn) -> None:
        count[0] += 0 if self.returned else 1
        original(self)

    monkeypatch.setattr(Turn, "give_back", counting)
    return count


def powerlevels(project: Project, sim: Simulator, site: int) -> int:
    light = project.sites[site].devices_by_kind()["light"][0]
    return sim.counters.executed(light, "powerlevel")


async def cold_fan_out(
    transport: Transport, sites: int, per_site: int, given_back: list[int]
) -> tuple[Project, Simulator, list[Any], int]:
    project = Project.generate(sites=sites, seed=41, devices_per_kind=1)
    sim = Simulator(project, SimulatorConfig(rate=20.0, burst=5, tls=True, local_ports=0))
    with SimulatorThread(sim) as server:
        assert server.ca_file is not None
        port = int(server.relay_url.rsplit(":", 1)[1])
        with SlowProxy(("127.0.0.1", port), HANDSHAKES) as proxy:
            context = ssl.create_default_context(cafile=server.ca_file)
            async with Session(
                rate_limit=MATCHED, retry=RETRY, verify=context, transport=transport
            ) as session:
                calls: list[Callable[[], Awaitable[Any]]] = []
                for i, entry in enumerate(server.manifest()["sites"]):
                    site = session.on_premise(f"https://127.0.0.1:{proxy.port}", entry["key"])
                    light = site.light(project.sites[i].devices_by_kind()["light"][0])
                    calls += [partial(light.set_level, level) for level in range(per_site)]
                results = await run_all(calls)
        connections = proxy.connections
    return project, sim, results, connections


@pytest.mark.anyio
async def test_twenty_sites_cold_over_slow_tls_handshakes_draw_no_429(
    transport: Transport, given_back: list[int]
) -> None:
    project, sim, results, connections = await cold_fan_out(transport, 20, 10, given_back)
    assert all(not isinstance(r, ThinknxError) for r in results), results
    assert all(powerlevels(project, sim, i) == 10 for i in range(20))  # each exactly once
    assert sim.counters.responses(429) <= 1  # tokens held over handshakes drew 9 to 25
    # Every connection opened for a request gave its tokens back for the handshake.
    assert given_back[0] >= connections > 20


@pytest.mark.anyio
async def test_one_site_cold_over_slow_tls_handshakes_draws_no_429(
    transport: Transport, given_back: list[int]
) -> None:
    project, sim, results, connections = await cold_fan_out(transport, 1, 40, given_back)
    assert all(not isinstance(r, ThinknxError) for r in results), results
    assert powerlevels(project, sim, 0) == 40
    assert sim.counters.responses(429) == 0
    assert given_back[0] >= connections >= 1


@pytest.mark.anyio
async def test_a_turn_given_back_and_cancelled_consumes_nothing() -> None:
    clock = ManualClock()
    limit = RateLimit(rate=10.0, burst=1, jitter=0.0)
    bucket = TokenBucket(limit, clock=clock, sleep=clock.sleep)
    turn = Turn(bucket, None, OPEN)
    await turn.take()  # the bucket is empty now
    async with anyio.create_task_group() as tg:
        tg.start_soon(Turn(bucket, None, OPEN).take)  # a waiter, cancelled before its token
        await clock.settle()
        assert bucket.waiting == 1
        tg.cancel_scope.cancel()
    assert bucket.waiting == 0
    turn.give_back()  # opening a connection: the token goes back
    turn.give_back()  # once only
    assert bucket.try_acquire() is not None  # the cancelled waiter took nothing
    assert bucket.try_acquire() is None
    bucket.give_back()
    await turn()  # the connection is ready: the token is taken again
    assert not turn.returned
    assert bucket.try_acquire() is None
    await turn()  # taken once: nothing more to take
    await clock.advance(0.1)
    assert bucket.try_acquire() is not None


@pytest.mark.anyio
async def test_ten_times_too_fast_gets_every_command_through_once(transport: Transport) -> None:
    project = Project.generate(sites=1, seed=42, devices_per_kind={"button": 50, "light": 1})
    sim = Simulator(project, SimulatorConfig(rate=20.0, burst=5, local_ports=0))
    with SimulatorThread(sim) as server:
        too_fast = RateLimit(rate=200.0, burst=5, jitter=0.0)
        async with Session(rate_limit=too_fast, retry=RETRY, transport=transport) as session:
            site = relay_site(session, server)
            buttons = project.sites[0].devices_by_kind()["button"]
            results = await run_all([site.button(g).trigger for g in buttons * 2])
            bucket = site.bucket
    assert all(not isinstance(r, ThinknxError) for r in results), results
    assert all(sim.counters.executed(g, "trigger") == 2 for g in buttons)
    assert bucket is not None
    # Two episodes settle it; each draws the 429s of the requests already on their way.
    assert 1 <= bucket.decreases <= 4
    assert sim.counters.responses(429) <= 12
    assert bucket.rate <= 1.2 * 20.0


@pytest.mark.anyio
async def test_auto_learns_the_rate_and_a_second_fan_out_starts_at_it(
    transport: Transport,
) -> None:
    project = Project.generate(sites=1, seed=43, devices_per_kind={"button": 50, "light": 1})
    sim = Simulator(project, SimulatorConfig(rate=20.0, burst=5, local_ports=0))
    with SimulatorThread(sim) as server:
        limit = RateLimit.auto()
        async with Session(rate_limit=limit, retry=RETRY, transport=transport) as session:
            buttons = project.sites[0].devices_by_kind()["button"]
            first = relay_site(session, server)
            results = await run_all([first.button(g).trigger for g in buttons * 2])
            learned = first.bucket
            assert learned is not None
            found, found_at = learned.decreases, learned.rate
            second = relay_site(session, server)  # a new handle: the same server and limit
            results += await run_all([second.button(g).trigger for g in buttons])
            assert second.bucket is learned
    assert all(not isinstance(r, ThinknxError) for r in results), results
    assert all(sim.counters.executed(g, "trigger") == 3 for g in buttons)
    assert found >= 1  # it found the limit by a 429, not by starting under it
    assert 0.5 * 20.0 <= found_at <= 1.5 * 20.0
    assert sim.counters.responses(429) <= 12


@pytest.mark.anyio
async def test_a_relay_wide_429_slows_the_relay_not_every_site(transport: Transport) -> None:
    project = Project.generate(sites=10, seed=44, devices_per_kind={"button": 6, "light": 1})
    config = SimulatorConfig(relay_rate=20.0, relay_burst=5, local_ports=0)
    sim = Simulator(project, config)
    with SimulatorThread(sim) as server:
        async with Session(
            rate_limit=RateLimit(rate=50.0, burst=5),  # no site's own limit is reached
            relay_rate_limit=RateLimit(rate=200.0, burst=5, jitter=0.0),  # ten times the relay's
            retry=RETRY,
            transport=transport,
        ) as session:
            sites = [relay_site(session, server, i) for i in range(10)]
            calls: list[Callable[[], Awaitable[Any]]] = [
                site.button(g).trigger
                for i, site in enumerate(sites)
                for g in project.sites[i].devices_by_kind()["button"]
            ]
            results = await run_all(calls)
            relay = sites[0]._relay_bucket
            slowed_sites = sum(1 for s in sites if s.bucket is not None and s.bucket.decreases)
    assert all(not isinstance(r, ThinknxError) for r in results), results
    for i in range(10):
        for guid in project.sites[i].devices_by_kind()["button"]:
            assert sim.counters.executed(guid, "trigger") == 1
    assert relay is not None
    assert relay.decreases >= 1
    assert relay.rate < 200.0
    # The first 429 of an episode may be blamed on its site; the rest go to the relay.
    assert slowed_sites <= 3


@pytest.mark.anyio
async def test_a_token_given_back_is_taken_again_ahead_of_the_queue() -> None:
    clock = ManualClock()
    limit = RateLimit(rate=2.0, burst=1, jitter=0.0)
    bucket = TokenBucket(limit, clock=clock, sleep=clock.sleep)
    turn = Turn(bucket, None, OPEN)
    await turn.take()
    order: list[str] = []

    async def later(name: str) -> None:
        await Turn(bucket, None, OPEN).take()
        order.append(name)

    async with anyio.create_task_group() as tg:
        for name in ("second", "third"):  # queued in this order (trio runs new tasks in any)
            tg.start_soon(later, name)
            await clock.settle()
        turn.give_back()  # its handshake: the token goes back while two others queue
        await clock.advance(0.01)
        await turn()  # ready: it takes its token again at once, not behind the queue
        order.append("first")
        await clock.run_until_idle()
    assert order == ["first", "second", "third"]
    # Its token was spent at 0.01 s, when its connection was ready; the next two followed it.
    assert clock.now == pytest.approx(0.01 + 2 / 2.0)
